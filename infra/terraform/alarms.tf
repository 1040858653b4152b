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

resource "aws_cloudwatch_metric_alarm" "freshness" {
  for_each            = local.datasets
  alarm_name          = "${local.stream_names[each.key]}-data-freshness"
  alarm_description   = "Records wait in Firehose longer than ${var.freshness_alarm_seconds} s before reaching S3."
  namespace           = "AWS/Firehose"
  metric_name         = "DeliveryToS3.DataFreshness"
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

resource "aws_cloudwatch_metric_alarm" "delivery_failures" {
  for_each            = local.datasets
  alarm_name          = "${local.stream_names[each.key]}-delivery-failures"
  alarm_description   = "Firehose failed to write objects to S3 (see the error prefix and the Firehose log group)."
  namespace           = "AWS/Firehose"
  metric_name         = "DeliveryToS3.Success"
  dimensions          = { DeliveryStreamName = aws_kinesis_firehose_delivery_stream.dataset[each.key].name }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

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

# The service's own embedded metrics (namespace Streamer): rows lost because the spool's disk
# budget was full. Firehose cannot see these; only the service can. Every shard emits them with
# the same dimensions (Service, Sink; no shard), so this one alarm sums the drops of all shards.
resource "aws_cloudwatch_metric_alarm" "rows_dropped" {
  alarm_name          = "${var.name}-rows-dropped"
  alarm_description   = "The service dropped rows: Firehose was unavailable and the spool's disk budget was full."
  namespace           = "Streamer"
  metric_name         = "RowsDropped"
  dimensions          = { Service = "streamer", Sink = "firehose" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
