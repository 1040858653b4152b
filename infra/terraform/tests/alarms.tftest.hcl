# The alarms on the service's own metrics (namespace Streamer, {Service, Sink} as every shard
# emits them): each reads the right metric and statistic, follows its variable, and treats
# missing data as the failure it stands for.

mock_provider "aws" {}

variables {
  vpc_id     = "vpc-0123456789abcdef0"
  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
}

run "every_service_alarm_reads_the_dimensions_every_shard_emits" {
  command = plan

  assert {
    condition = alltrue([
      for a in [
        aws_cloudwatch_metric_alarm.no_rows_delivered,
        aws_cloudwatch_metric_alarm.spool_filling,
        aws_cloudwatch_metric_alarm.rows_dropped,
        aws_cloudwatch_metric_alarm.firehose_calls_failing,
        aws_cloudwatch_metric_alarm.storage_errors,
        aws_cloudwatch_metric_alarm.sink_failing,
        aws_cloudwatch_metric_alarm.silent_subscriptions,
      ] : a.namespace == "Streamer" && a.dimensions == tomap({ Service = "streamer", Sink = "firehose" })
    ])
    error_message = "the service's alarms must read namespace Streamer with exactly {Service=streamer, Sink=firehose} (no Shard), so they cover every shard"
  }
}

run "no_rows_delivered_breaches_when_nothing_arrives" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.no_rows_delivered.metric_name == "RowsDelivered"
      && aws_cloudwatch_metric_alarm.no_rows_delivered.statistic == "Sum"
      && aws_cloudwatch_metric_alarm.no_rows_delivered.comparison_operator == "LessThanThreshold"
      && aws_cloudwatch_metric_alarm.no_rows_delivered.threshold == 1
    )
    error_message = "no_rows_delivered must alarm on RowsDelivered Sum < 1"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.no_rows_delivered.treat_missing_data == "breaching"
    error_message = "a dead task or a silent producer reports nothing: missing RowsDelivered must breach"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.no_rows_delivered.period * aws_cloudwatch_metric_alarm.no_rows_delivered.evaluation_periods == 600
      && aws_cloudwatch_metric_alarm.no_rows_delivered.datapoints_to_alarm == aws_cloudwatch_metric_alarm.no_rows_delivered.evaluation_periods
    )
    error_message = "by default no_rows_delivered must need 10 minutes, every one without a row"
  }
}

run "no_rows_delivered_follows_its_variable" {
  command = plan

  variables {
    no_delivery_alarm_minutes = 30
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.no_rows_delivered.period * aws_cloudwatch_metric_alarm.no_rows_delivered.evaluation_periods == 1800
      && aws_cloudwatch_metric_alarm.no_rows_delivered.datapoints_to_alarm == aws_cloudwatch_metric_alarm.no_rows_delivered.evaluation_periods
    )
    error_message = "no_delivery_alarm_minutes = 30 must make no_rows_delivered wait 30 minutes"
  }
}

run "spool_filling_alarms_at_half_the_budget" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.spool_filling.metric_name == "SpoolBytes"
      && aws_cloudwatch_metric_alarm.spool_filling.statistic == "Maximum"
      && aws_cloudwatch_metric_alarm.spool_filling.comparison_operator == "GreaterThanThreshold"
      && aws_cloudwatch_metric_alarm.spool_filling.threshold == 8589934592 # 50 % of 16384 MiB
      && aws_cloudwatch_metric_alarm.spool_filling.treat_missing_data == "notBreaching"
    )
    error_message = "spool_filling must alarm on the worst shard's SpoolBytes above 50 % of spool_max_mb (in bytes)"
  }
}

run "spool_filling_follows_the_budget_and_the_percentage" {
  command = plan

  variables {
    ephemeral_storage_gib = 40
    spool_max_mb          = 30000
    spool_alarm_percent   = 80
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.spool_filling.threshold == 30000 * 1048576 * 0.8
    error_message = "spool_filling's threshold must be spool_alarm_percent of spool_max_mb, in bytes"
  }
}

run "rows_dropped_pages_on_any_drop" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.rows_dropped.metric_name == "RowsDropped"
      && aws_cloudwatch_metric_alarm.rows_dropped.statistic == "Sum"
      && aws_cloudwatch_metric_alarm.rows_dropped.comparison_operator == "GreaterThanThreshold"
      && aws_cloudwatch_metric_alarm.rows_dropped.threshold == 0
      && aws_cloudwatch_metric_alarm.rows_dropped.treat_missing_data == "notBreaching"
    )
    error_message = "rows_dropped must alarm on RowsDropped Sum > 0"
  }
}

run "a_silent_subscription_pages" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.silent_subscriptions.metric_name == "SilentSubscriptions"
      && aws_cloudwatch_metric_alarm.silent_subscriptions.statistic == "Sum"
      && aws_cloudwatch_metric_alarm.silent_subscriptions.comparison_operator == "GreaterThanThreshold"
      && aws_cloudwatch_metric_alarm.silent_subscriptions.threshold == 0
      && aws_cloudwatch_metric_alarm.silent_subscriptions.treat_missing_data == "notBreaching"
    )
    error_message = "silent_subscriptions must alarm on SilentSubscriptions Sum > 0"
  }
}

run "firehose_calls_failing_needs_failures_in_every_minute" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.firehose_calls_failing.metric_name == "FailedCalls"
      && aws_cloudwatch_metric_alarm.firehose_calls_failing.statistic == "Sum"
      && aws_cloudwatch_metric_alarm.firehose_calls_failing.comparison_operator == "GreaterThanThreshold"
      && aws_cloudwatch_metric_alarm.firehose_calls_failing.threshold == 0
      && aws_cloudwatch_metric_alarm.firehose_calls_failing.treat_missing_data == "notBreaching"
    )
    error_message = "firehose_calls_failing must alarm on FailedCalls Sum > 0"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.firehose_calls_failing.period == 60
      && aws_cloudwatch_metric_alarm.firehose_calls_failing.evaluation_periods == 5
      && aws_cloudwatch_metric_alarm.firehose_calls_failing.datapoints_to_alarm == 5
    )
    error_message = "by default firehose_calls_failing must need failures in each of 5 one-minute periods, not one failed call"
  }
}

run "storage_errors_page_on_any_failed_write" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.storage_errors.metric_name == "StorageErrors"
      && aws_cloudwatch_metric_alarm.storage_errors.statistic == "Sum"
      && aws_cloudwatch_metric_alarm.storage_errors.comparison_operator == "GreaterThanThreshold"
      && aws_cloudwatch_metric_alarm.storage_errors.threshold == 0
      && aws_cloudwatch_metric_alarm.storage_errors.evaluation_periods == 1
      && aws_cloudwatch_metric_alarm.storage_errors.treat_missing_data == "notBreaching"
    )
    error_message = "storage_errors must alarm on StorageErrors Sum > 0 in one period"
  }
}

run "sink_failing_alarms_on_the_worst_shard" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.sink_failing.metric_name == "FailingSeconds"
      && aws_cloudwatch_metric_alarm.sink_failing.statistic == "Maximum"
      && aws_cloudwatch_metric_alarm.sink_failing.comparison_operator == "GreaterThanOrEqualToThreshold"
      && aws_cloudwatch_metric_alarm.sink_failing.threshold == 300
      && aws_cloudwatch_metric_alarm.sink_failing.treat_missing_data == "notBreaching"
    )
    error_message = "sink_failing must alarm when the worst shard's FailingSeconds reaches 5 minutes"
  }
}

run "the_failing_alarms_follow_their_variable" {
  command = plan

  variables {
    failing_alarm_minutes = 15
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.firehose_calls_failing.evaluation_periods == 15
      && aws_cloudwatch_metric_alarm.firehose_calls_failing.datapoints_to_alarm == 15
      && aws_cloudwatch_metric_alarm.sink_failing.threshold == 900
    )
    error_message = "failing_alarm_minutes = 15 must set 15 failing minutes and a 900 s FailingSeconds threshold"
  }
}

run "the_firehose_alarms_do_not_breach_on_idle_streams" {
  command = plan

  assert {
    condition = alltrue(flatten([
      for alarms in [aws_cloudwatch_metric_alarm.freshness, aws_cloudwatch_metric_alarm.delivery_failures, aws_cloudwatch_metric_alarm.throttled] :
      [for a in alarms : a.treat_missing_data == "notBreaching"]
    ]))
    error_message = "Firehose reports these metrics only when there is something to report: an idle stream (rejects) must not alarm"
  }
}

run "every_alarm_notifies_the_topic" {
  command = plan

  variables {
    alarm_topic_arn = "arn:aws:sns:us-east-1:123456789012:oncall"
  }

  assert {
    condition = alltrue([
      for a in [
        aws_cloudwatch_metric_alarm.no_rows_delivered,
        aws_cloudwatch_metric_alarm.spool_filling,
        aws_cloudwatch_metric_alarm.rows_dropped,
        aws_cloudwatch_metric_alarm.firehose_calls_failing,
        aws_cloudwatch_metric_alarm.storage_errors,
        aws_cloudwatch_metric_alarm.sink_failing,
        aws_cloudwatch_metric_alarm.silent_subscriptions,
      ] : a.alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:oncall"]) && a.ok_actions == a.alarm_actions
    ])
    error_message = "every service alarm must notify the alarm topic when it fires and when it clears"
  }
}

run "a_no_delivery_window_shorter_than_a_deployment_is_refused" {
  command = plan

  variables {
    no_delivery_alarm_minutes = 4
  }

  expect_failures = [var.no_delivery_alarm_minutes]
}

run "a_spool_alarm_at_the_full_budget_is_refused" {
  command = plan

  variables {
    spool_alarm_percent = 100
  }

  expect_failures = [var.spool_alarm_percent]
}

run "fractional_failing_minutes_are_refused" {
  command = plan

  variables {
    failing_alarm_minutes = 2.5
  }

  expect_failures = [var.failing_alarm_minutes]
}
