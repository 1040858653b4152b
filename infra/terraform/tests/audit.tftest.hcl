# The daily audit: an EventBridge Scheduler schedule an hour after compaction runs
# `streamer audit --day yesterday --engine athena --metrics` on Fargate with a role that may
# query and read the lake but write no table; three alarms page on missing trades, unrecovered
# holes, and an audit that did not report at all.

mock_provider "aws" {}

variables {
  vpc_id     = "vpc-0123456789abcdef0"
  subnet_ids = ["subnet-0123456789abcdef0"]
}

run "the_audit_runs_daily_an_hour_after_compaction" {
  command = apply

  assert {
    condition = (
      aws_scheduler_schedule.audit[0].schedule_expression == "cron(30 1 * * ? *)"
      && aws_scheduler_schedule.compact[0].schedule_expression == "cron(30 0 * * ? *)"
      && aws_scheduler_schedule.audit[0].schedule_expression_timezone == "UTC"
    )
    error_message = "by default the audit runs at 01:30 UTC, an hour after the 00:30 compaction"
  }

  assert {
    condition = (
      aws_scheduler_schedule.audit[0].target[0].arn == aws_ecs_cluster.service.arn
      && aws_scheduler_schedule.audit[0].target[0].role_arn == aws_iam_role.audit_scheduler[0].arn
      && aws_scheduler_schedule.audit[0].target[0].ecs_parameters[0].task_definition_arn == aws_ecs_task_definition.audit[0].arn
      && aws_scheduler_schedule.audit[0].target[0].ecs_parameters[0].launch_type == "FARGATE"
      && aws_scheduler_schedule.audit[0].kms_key_arn == aws_kms_key.lake.arn
    )
    error_message = "the schedule must run the audit task on the cluster, as Fargate, with its own scheduler role"
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.audit[0].container_definitions)[0].entryPoint == ["streamer"]
      && jsondecode(aws_ecs_task_definition.audit[0].container_definitions)[0].command == ["audit", "--day", "yesterday", "--engine", "athena", "--metrics"]
      && jsondecode(aws_ecs_task_definition.audit[0].container_definitions)[0].image == jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].image
      && jsondecode(aws_ecs_task_definition.audit[0].container_definitions)[0].logConfiguration.options["awslogs-stream-prefix"] == "audit"
    )
    error_message = "the task must run `streamer audit --day yesterday --engine athena --metrics` from the service's image, logging under audit/"
  }

  assert {
    condition = alltrue([
      for pair in [
        ["STREAMER_LAKE_BUCKET", aws_s3_bucket.lake.bucket],
        ["STREAMER_ATHENA_WORKGROUP", aws_athena_workgroup.lake.name],
        ["STREAMER_LOG_FORMAT", "json"],
      ] : contains([for e in jsondecode(aws_ecs_task_definition.audit[0].container_definitions)[0].environment : "${e.name}=${e.value}"], "${pair[0]}=${pair[1]}")
    ])
    error_message = "the task must be told the bucket and workgroup, and log JSON (its metrics are embedded in the log)"
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.audit[0].container_definitions)[0].readonlyRootFilesystem
      && jsondecode(aws_ecs_task_definition.audit[0].container_definitions)[0].user != "root"
      && aws_ecs_task_definition.audit[0].task_role_arn == aws_iam_role.audit[0].arn
      && !contains([aws_iam_role.task.arn, aws_iam_role.compact[0].arn], aws_iam_role.audit[0].arn)
    )
    error_message = "the audit runs non-root on a read-only filesystem with a role of its own (not compaction's, which writes tables)"
  }
}

run "the_audit_role_reads_the_lake_and_writes_only_athena_results" {
  command = apply

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.audit.statement : alltrue([
        for a in s.actions : contains([
          "athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution",
          "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions",
          "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
          "kms:Decrypt", "kms:GenerateDataKey",
        ], a)
      ])
    ])
    error_message = "the audit may only query Athena, read Glue, read S3 and use the key: no Glue or table writes"
  }

  assert {
    condition = alltrue(flatten([
      for s in data.aws_iam_policy_document.audit.statement : [
        for r in s.resources : r == "${aws_s3_bucket.lake.arn}/athena-results/*"
      ] if anytrue([for a in s.actions : contains(["s3:PutObject", "s3:AbortMultipartUpload"], a)])
    ]))
    error_message = "the audit may write Athena's results and no object of the lake's datasets"
  }

  assert {
    condition = alltrue(concat(
      [for t in jsondecode(file("schema.json")).tables : contains(one([for s in data.aws_iam_policy_document.audit.statement : s.resources if s.sid == "ReadTheDatasets"]), "${aws_s3_bucket.lake.arn}/${t.location}*")],
      [for t in jsondecode(file("schema.json")).compaction.tables : contains(one([for s in data.aws_iam_policy_document.audit.statement : s.resources if s.sid == "ReadTheDatasets"]), "${aws_s3_bucket.lake.arn}/${t.location}*")],
    ))
    error_message = "the views read raw and compacted objects alike: the audit must read every dataset's raw and compacted prefix (quality and trades among them)"
  }

  assert {
    condition = (
      toset(one([for s in data.aws_iam_policy_document.audit.statement : s.resources if s.sid == "RunQueriesInTheWorkgroup"])) == toset([aws_athena_workgroup.lake.arn])
      && alltrue(flatten([for s in data.aws_iam_policy_document.audit.statement : [for r in s.resources : r != "*"]]))
      && alltrue(flatten([for s in data.aws_iam_policy_document.audit.statement : [for r in s.resources : !strcontains(r, "/state/")]]))
    )
    error_message = "Athena only in the deployment's workgroup, no statement on every resource, and no access to the service's checkpoints"
  }

  assert {
    condition = (
      toset(one([for s in data.aws_iam_policy_document.audit_scheduler.statement : s.actions if s.sid == "RunTheAuditTask"])) == toset(["ecs:RunTask"])
      && toset(one([for s in data.aws_iam_policy_document.audit_scheduler.statement : s.resources if s.sid == "RunTheAuditTask"])) == toset(["arn:${data.aws_partition.current.partition}:ecs:us-east-1:${data.aws_caller_identity.current.account_id}:task-definition/streamer-audit:*"])
      && toset(one([for s in data.aws_iam_policy_document.audit_scheduler.statement : s.resources if s.sid == "PassItsRoles"])) == toset([aws_iam_role.execution.arn, aws_iam_role.audit[0].arn])
      && aws_iam_role_policy.audit_scheduler[0].policy == data.aws_iam_policy_document.audit_scheduler.json
      && aws_iam_role_policy.audit[0].policy == data.aws_iam_policy_document.audit.json
    )
    error_message = "the audit's scheduler may only run the audit task and pass its two roles"
  }
}

run "findings_page_per_day_and_a_silent_audit_pages_too" {
  command = apply

  variables {
    name            = "lake-prod"
    alarm_topic_arn = "arn:aws:sns:us-east-1:123456789012:oncall"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.missing_trades[0].alarm_name == "lake-prod-missing-trades"
      && aws_cloudwatch_metric_alarm.unrecovered_holes[0].alarm_name == "lake-prod-unrecovered-holes"
      && aws_cloudwatch_metric_alarm.audit_missing[0].alarm_name == "lake-prod-audit-missing"
    )
    error_message = "the audit's alarms are <name>-missing-trades, <name>-unrecovered-holes and <name>-audit-missing"
  }

  assert {
    condition = alltrue([
      for pair in [[aws_cloudwatch_metric_alarm.missing_trades[0], "MissingTrades"], [aws_cloudwatch_metric_alarm.unrecovered_holes[0], "UnrecoveredHoles"]] :
      pair[0].metric_name == pair[1]
      && pair[0].namespace == "Streamer"
      && pair[0].dimensions == tomap({ Service = "streamer-audit" })
      && pair[0].comparison_operator == "GreaterThanThreshold" && pair[0].threshold == 0
      && pair[0].period == 86400 && pair[0].evaluation_periods == 1
      && pair[0].treat_missing_data == "notBreaching"
    ])
    error_message = "each finding alarms when the day's audit reports more than 0 (namespace Streamer, Service=streamer-audit); a day without an audit is audit_missing's to report"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.audit_missing[0].namespace == "Streamer"
      && aws_cloudwatch_metric_alarm.audit_missing[0].dimensions == tomap({ Service = "streamer-audit" })
      && contains(["MissingTrades", "UnrecoveredHoles"], aws_cloudwatch_metric_alarm.audit_missing[0].metric_name)
      && aws_cloudwatch_metric_alarm.audit_missing[0].comparison_operator == "LessThanThreshold"
      && aws_cloudwatch_metric_alarm.audit_missing[0].treat_missing_data == "breaching"
      && aws_cloudwatch_metric_alarm.audit_missing[0].period * aws_cloudwatch_metric_alarm.audit_missing[0].evaluation_periods > 86400
      && aws_cloudwatch_metric_alarm.audit_missing[0].period * aws_cloudwatch_metric_alarm.audit_missing[0].evaluation_periods <= 604800
      && aws_cloudwatch_metric_alarm.audit_missing[0].datapoints_to_alarm == aws_cloudwatch_metric_alarm.audit_missing[0].evaluation_periods
    )
    error_message = "an audit that did not report for more than a day (never started, crashed, Athena refused) must page"
  }

  assert {
    condition = alltrue([
      for a in [aws_cloudwatch_metric_alarm.missing_trades[0], aws_cloudwatch_metric_alarm.unrecovered_holes[0], aws_cloudwatch_metric_alarm.audit_missing[0]] :
      a.alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:oncall"]) && a.ok_actions == a.alarm_actions
    ])
    error_message = "the audit's alarms notify the alarm topic when they fire and when they clear"
  }
}

run "the_audit_runs_without_compaction" {
  command = plan

  variables {
    compaction_enabled = false
  }

  assert {
    condition = (
      length(aws_scheduler_schedule.audit) == 1 && length(aws_ecs_task_definition.audit) == 1
      && length(aws_iam_role.audit_scheduler) == 1 && length(aws_cloudwatch_metric_alarm.audit_missing) == 1
      && length(aws_scheduler_schedule.compact) == 0
    )
    error_message = "the audit reads the raw objects through the views just as well: it runs with compaction off"
  }
}

run "the_audit_can_be_turned_off" {
  command = plan

  variables {
    audit_enabled = false
  }

  assert {
    condition = (
      length(aws_scheduler_schedule.audit) == 0 && length(aws_ecs_task_definition.audit) == 0
      && length(aws_iam_role.audit) == 0 && length(aws_iam_role.audit_scheduler) == 0
      && length(aws_cloudwatch_metric_alarm.missing_trades) == 0 && length(aws_cloudwatch_metric_alarm.unrecovered_holes) == 0
      && length(aws_cloudwatch_metric_alarm.audit_missing) == 0
      && output.audit_schedule == null
    )
    error_message = "without the audit there is no schedule, task, role or alarm (audit_missing would page forever)"
  }
}

run "the_audit_schedule_follows_its_variable" {
  command = plan

  variables {
    audit_schedule = "cron(0 4 * * ? *)"
  }

  assert {
    condition     = aws_scheduler_schedule.audit[0].schedule_expression == "cron(0 4 * * ? *)" && strcontains(aws_cloudwatch_metric_alarm.audit_missing[0].alarm_description, "cron(0 4 * * ? *)")
    error_message = "audit_schedule must set the schedule, and the missing-audit alarm must name it"
  }
}

run "a_bad_audit_schedule_is_refused" {
  command = plan

  variables {
    audit_schedule = "daily at 1:30"
  }

  expect_failures = [var.audit_schedule]
}
