# The key policy: AWS services may use the deployment's key only on behalf of this account's
# and this deployment's own resources (its alarms, its log groups), and the names the policy
# allows are the names the alarms and log groups really get.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
}

variables {
  vpc_id     = "vpc-0123456789abcdef0"
  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
}

run "cloudwatch_may_use_the_key_only_for_this_deployments_alarms" {
  command = plan

  assert {
    condition = toset([
      for c in one([for s in data.aws_iam_policy_document.kms.statement : s.condition if s.sid == "CloudWatchAlarmsPublishToEncryptedTopic"]) :
      { test = c.test, variable = c.variable, values = toset(c.values) }
      ]) == toset([
      { test = "StringEquals", variable = "aws:SourceAccount", values = toset(["123456789012"]) },
      { test = "ArnLike", variable = "aws:SourceArn", values = toset([
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:streamer-*",
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:crypto-*",
      ]) },
    ])
    error_message = "CloudWatch must be held to this account (aws:SourceAccount) and to alarms named <name>-* or <stream_prefix>-* in this region (aws:SourceArn)"
  }
}

run "the_alarms_are_named_as_the_key_policy_allows" {
  command = plan

  variables {
    name          = "lake-prod"
    stream_prefix = "md"
    shards        = 2
  }

  assert {
    condition = alltrue([
      for name in concat(
        [for a in aws_cloudwatch_metric_alarm.freshness : a.alarm_name],
        [for a in aws_cloudwatch_metric_alarm.delivery_failures : a.alarm_name],
        [for a in aws_cloudwatch_metric_alarm.throttled : a.alarm_name],
        aws_cloudwatch_metric_alarm.tasks_below_desired[*].alarm_name,
        aws_cloudwatch_metric_alarm.compaction_failed[*].alarm_name,
        aws_cloudwatch_metric_alarm.compaction_missing[*].alarm_name,
        aws_cloudwatch_metric_alarm.missing_trades[*].alarm_name,
        aws_cloudwatch_metric_alarm.unrecovered_holes[*].alarm_name,
        aws_cloudwatch_metric_alarm.audit_missing[*].alarm_name,
        [
          aws_cloudwatch_metric_alarm.no_rows_delivered.alarm_name,
          aws_cloudwatch_metric_alarm.spool_filling.alarm_name,
          aws_cloudwatch_metric_alarm.rows_dropped.alarm_name,
          aws_cloudwatch_metric_alarm.firehose_calls_failing.alarm_name,
          aws_cloudwatch_metric_alarm.storage_errors.alarm_name,
          aws_cloudwatch_metric_alarm.sink_failing.alarm_name,
          aws_cloudwatch_metric_alarm.silent_subscriptions.alarm_name,
        ],
      ) : startswith(name, "lake-prod-") || startswith(name, "md-")
    ])
    error_message = "an alarm outside <name>-* and <stream_prefix>-* could not publish to the encrypted topic (the key policy's aws:SourceArn)"
  }

  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.kms.statement : [for c in s.condition : c.values if c.variable == "aws:SourceArn"]
      ])) == toset([
      "arn:aws:cloudwatch:us-east-1:123456789012:alarm:lake-prod-*",
      "arn:aws:cloudwatch:us-east-1:123456789012:alarm:md-*",
    ])
    error_message = "the key policy's alarm patterns must follow name and stream_prefix"
  }
}

run "logs_may_use_the_key_only_for_this_deployments_log_groups" {
  command = plan

  assert {
    condition = toset(one([
      for c in one([for s in data.aws_iam_policy_document.kms.statement : s.condition if s.sid == "CloudWatchLogsEncrypts"]) :
      c.values if c.test == "ArnLike" && c.variable == "kms:EncryptionContext:aws:logs:arn"
      ])) == toset([
      "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/streamer",
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws/kinesisfirehose/streamer",
    ])
    error_message = "CloudWatch Logs must be held to the service's and Firehose's log groups of this account and region"
  }

  assert {
    condition     = toset([aws_cloudwatch_log_group.service.name, aws_cloudwatch_log_group.firehose.name]) == toset(["/ecs/streamer", "/aws/kinesisfirehose/streamer"])
    error_message = "the log groups must carry the names the key policy allows"
  }
}

run "the_crawlers_log_groups_are_allowed_only_with_the_crawler" {
  command = plan

  variables {
    enable_crawler = true
  }

  assert {
    condition = contains(one([
      for c in one([for s in data.aws_iam_policy_document.kms.statement : s.condition if s.sid == "CloudWatchLogsEncrypts"]) : c.values
    ]), "arn:aws:logs:us-east-1:123456789012:log-group:/aws-glue/crawlers-*")
    error_message = "with enable_crawler the crawler's encrypted log group must be allowed"
  }
}

run "no_service_principal_goes_unconditioned" {
  command = plan

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.kms.statement :
      length(s.condition) > 0 if anytrue([for p in s.principals : p.type == "Service"])
    ])
    error_message = "every statement granting an AWS service the key must carry conditions (confused deputy)"
  }

  assert {
    condition     = aws_kms_key.lake.policy == data.aws_iam_policy_document.kms.json && aws_kms_key.lake.enable_key_rotation
    error_message = "the key must carry the policy document and rotate"
  }
}
