resource "aws_sns_topic" "alarms" {
  count             = var.create_alarm_topic ? 1 : 0
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.lake.arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.create_alarm_topic && var.alarm_email != null ? 1 : 0
  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# --- Firehose, per stream -----------------------------------------------------------------

# A stream into an Iceberg table (table_format = "iceberg") reports DeliveryToIceberg.* instead
# of DeliveryToS3.* (Firehose developer guide, "Monitor metrics" for Apache Iceberg Tables):
# freshness is DeliveryToIceberg.DataFreshness, and a failure is a row Firehose could not write
# into the table (DeliveryToIceberg.FailedRowCount: it went to the table's error prefix).
locals {
  delivery_metrics = {
    for dataset in keys(local.datasets) : dataset => contains(keys(local.iceberg_datasets), dataset) ? {
      freshness   = "DeliveryToIceberg.DataFreshness"
      destination = "the Iceberg table ${local.iceberg_datasets[dataset].table}"
      failure = {
        metric      = "DeliveryToIceberg.FailedRowCount"
        statistic   = "Sum"
        threshold   = 0
        comparison  = "GreaterThanThreshold"
        evaluations = 1
        description = "Firehose could not write rows into the Iceberg table ${local.iceberg_datasets[dataset].table} (columns or types that do not match, or a failed commit): see s3://${aws_s3_bucket.lake.bucket}/${local.iceberg_error_prefix}${dataset}/ and the Firehose log group."
      }
      } : {
      freshness   = "DeliveryToS3.DataFreshness"
      destination = "S3"
      failure = {
        metric      = "DeliveryToS3.Success"
        statistic   = "Minimum"
        threshold   = 1
        comparison  = "LessThanThreshold"
        evaluations = 2
        description = "Firehose failed to write objects to S3 (see the error prefix and the Firehose log group)."
      }
    }
  }
}

# Missing data: Firehose reports these metrics only while it has something to report, so for
# each a missing datapoint means "nothing happened", not "unknown"; a producer that stopped is
# the no_rows_delivered alarm's job (below), which breaches on missing data.

# DataFreshness exists only while records wait in the stream: none waiting is fresh.
resource "aws_cloudwatch_metric_alarm" "freshness" {
  for_each            = local.datasets
  alarm_name          = "${local.stream_names[each.key]}-data-freshness"
  alarm_description   = "Records wait in Firehose longer than ${var.freshness_alarm_seconds} s before reaching ${local.delivery_metrics[each.key].destination}."
  namespace           = "AWS/Firehose"
  metric_name         = local.delivery_metrics[each.key].freshness
  dimensions          = { DeliveryStreamName = aws_kinesis_firehose_delivery_stream.dataset[each.key].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.freshness_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# DeliveryToS3.Success exists only for delivery attempts: the rejects stream and the sparse
# datasets go hours without one, and breaching on missing data would keep them in alarm.
# DeliveryToIceberg.FailedRowCount exists only when rows were delivered: none, none failed.
resource "aws_cloudwatch_metric_alarm" "delivery_failures" {
  for_each            = local.datasets
  alarm_name          = "${local.stream_names[each.key]}-delivery-failures"
  alarm_description   = local.delivery_metrics[each.key].failure.description
  namespace           = "AWS/Firehose"
  metric_name         = local.delivery_metrics[each.key].failure.metric
  dimensions          = { DeliveryStreamName = aws_kinesis_firehose_delivery_stream.dataset[each.key].name }
  statistic           = local.delivery_metrics[each.key].failure.statistic
  period              = 300
  evaluation_periods  = local.delivery_metrics[each.key].failure.evaluations
  threshold           = local.delivery_metrics[each.key].failure.threshold
  comparison_operator = local.delivery_metrics[each.key].failure.comparison
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# ThrottledRecords exists only when records were sent: no records, nothing throttled.
resource "aws_cloudwatch_metric_alarm" "throttled" {
  for_each            = local.datasets
  alarm_name          = "${local.stream_names[each.key]}-throttled-records"
  alarm_description   = "Firehose throttled records of this stream (quota reached): the service retries and spools."
  namespace           = "AWS/Firehose"
  metric_name         = "ThrottledRecords"
  dimensions          = { DeliveryStreamName = aws_kinesis_firehose_delivery_stream.dataset[each.key].name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- the service ----------------------------------------------------------------------------

# One alarm per shard's service: a shard that stops loses its share of the symbols even while
# the others run, so the tasks are not summed over the cluster.
resource "aws_cloudwatch_metric_alarm" "tasks_below_desired" {
  count               = var.shards
  alarm_name          = "${local.shards[count.index].name}-running-below-desired"
  alarm_description   = "Fewer streamer tasks run than desired${var.shards == 1 ? "" : " in shard ${local.shards[count.index].shard}"} (crash loop, failed deployment, capacity)."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "missing"
    expression  = "desired - running"
    label       = "tasks missing"
    return_data = true
  }

  metric_query {
    id = "desired"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      dimensions  = { ClusterName = aws_ecs_cluster.service.name, ServiceName = aws_ecs_service.service[count.index].name }
      period      = 60
      stat        = "Maximum"
    }
  }

  metric_query {
    id = "running"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions  = { ClusterName = aws_ecs_cluster.service.name, ServiceName = aws_ecs_service.service[count.index].name }
      period      = 60
      stat        = "Minimum"
    }
  }
}

moved {
  from = aws_cloudwatch_metric_alarm.tasks_below_desired
  to   = aws_cloudwatch_metric_alarm.tasks_below_desired[0]
}

# --- the service's own metrics (what Firehose cannot see) ------------------------------------
#
# The service publishes embedded metrics (namespace Streamer) every STREAMER_STATS_INTERVAL
# (30 s): counters as per-interval deltas, gauges as current values, each under
# {Service, Sink} and under {Service, Sink, Shard}. Every shard emits the same {Service, Sink},
# so these alarms read that set: Sum adds the shards' counters up, Maximum takes the worst
# shard's gauge. A task that reports nothing at all is caught by no_rows_delivered (missing data
# breaches) and by tasks_below_desired; the other alarms treat missing data as not breaching, so
# a stopped task raises one clear alarm instead of six.

locals {
  service_metric_dimensions = { Service = "streamer", Sink = "firehose" }
  spool_alarm_bytes         = var.spool_max_mb * 1048576 * var.spool_alarm_percent / 100
}

# Data stops: no row reached Firehose for no_delivery_alarm_minutes, from any shard. Missing
# data breaches: a dead task, a service that never started or lost its log shipping, and a
# producer that sends nothing all look the same here, and all mean the lake stops growing.
resource "aws_cloudwatch_metric_alarm" "no_rows_delivered" {
  alarm_name          = "${var.name}-no-rows-delivered"
  alarm_description   = "No row was delivered to Firehose for ${var.no_delivery_alarm_minutes} minutes (or the service reported nothing): the lake has stopped growing."
  namespace           = "Streamer"
  metric_name         = "RowsDelivered"
  dimensions          = local.service_metric_dimensions
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = var.no_delivery_alarm_minutes
  datapoints_to_alarm = var.no_delivery_alarm_minutes
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# The spool fills: the worst shard's spool holds more than spool_alarm_percent of its budget
# (each shard has its own spool_max_mb). A fill level, not growth: the spool grows in every
# Firehose hiccup and drains by whole segments, so growth alone pages for blips, while a
# sustained outage already raises no_rows_delivered and firehose_calls_failing within minutes.
# What this alarm adds is the warning before rows_dropped: at 50 % the time left until drops
# is about the time the outage has already lasted.
resource "aws_cloudwatch_metric_alarm" "spool_filling" {
  alarm_name          = "${var.name}-spool-filling"
  alarm_description   = "A shard's spool holds more than ${var.spool_alarm_percent} % of its ${var.spool_max_mb} MiB budget: Firehose is not keeping up, and at 100 % rows are dropped."
  namespace           = "Streamer"
  metric_name         = "SpoolBytes"
  dimensions          = local.service_metric_dimensions
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = local.spool_alarm_bytes
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Rows lost because Firehose was unavailable and the spool's budget was full: the one way the
# service loses rows by design, so any one pages.
resource "aws_cloudwatch_metric_alarm" "rows_dropped" {
  alarm_name          = "${var.name}-rows-dropped"
  alarm_description   = "The service dropped rows: Firehose was unavailable and the spool's disk budget was full."
  namespace           = "Streamer"
  metric_name         = "RowsDropped"
  dimensions          = local.service_metric_dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Firehose calls keep failing: some call failed in each of failing_alarm_minutes minutes. One
# failed call is retried and is no news; failures in every minute mean rows go to the spool
# (a missing stream, denied access, an outage) even while other streams still deliver.
resource "aws_cloudwatch_metric_alarm" "firehose_calls_failing" {
  alarm_name          = "${var.name}-firehose-calls-failing"
  alarm_description   = "Firehose calls failed in each of the last ${var.failing_alarm_minutes} minutes: rows are being spooled (see the service log for the stream and the error)."
  namespace           = "Streamer"
  metric_name         = "FailedCalls"
  dimensions          = local.service_metric_dimensions
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = var.failing_alarm_minutes
  datapoints_to_alarm = var.failing_alarm_minutes
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# A write to the spool's disk failed (full, read-only, I/O error): the spool is the service's
# only guard against loss while Firehose is down, so one failure pages.
resource "aws_cloudwatch_metric_alarm" "storage_errors" {
  alarm_name          = "${var.name}-storage-errors"
  alarm_description   = "The service could not write to its spool's disk: rows it cannot deliver cannot be kept either."
  namespace           = "Streamer"
  metric_name         = "StorageErrors"
  dimensions          = local.service_metric_dimensions
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# A shard could neither deliver nor store rows for failing_alarm_minutes (FailingSeconds, the
# worst shard's): the case the summed RowsDelivered hides while the other shards deliver.
resource "aws_cloudwatch_metric_alarm" "sink_failing" {
  alarm_name          = "${var.name}-sink-failing"
  alarm_description   = "A shard has neither delivered rows to Firehose nor stored them in its spool for ${var.failing_alarm_minutes} minutes (FailingSeconds): its rows are at risk."
  namespace           = "Streamer"
  metric_name         = "FailingSeconds"
  dimensions          = local.service_metric_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = var.failing_alarm_minutes * 60
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# A venue acknowledged a subscription and then sent nothing on it for the stale limit (Binance
# USD-M does this to a `/market` stream asked on the wrong route). The service reconnects, but
# a stream that stays silent is data that never arrives, so any one pages.
resource "aws_cloudwatch_metric_alarm" "silent_subscriptions" {
  alarm_name          = "${var.name}-silent-subscriptions"
  alarm_description   = "A venue acknowledged a subscription and then delivered nothing on it: a wrong route or a venue change (the log line *.subscription_silent names the streams)."
  namespace           = "Streamer"
  metric_name         = "SilentSubscriptions"
  dimensions          = local.service_metric_dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
