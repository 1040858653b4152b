# Daily audit: EventBridge Scheduler runs one Fargate task of
# `streamer audit --day yesterday --engine athena --metrics`, an hour after compaction
# (audit_schedule), which proves yesterday's completeness from the lake and the `quality` rows
# and logs the MissingTrades and UnrecoveredHoles metrics (namespace Streamer, Service =
# streamer-audit). Three alarms: missing trades, unrecovered holes, and no audit reported.
#
# A task of its own rather than a second command of the compaction task: the audit only reads,
# so it gets a role that cannot write a table (compaction's may), and it runs even on a day
# compaction failed. An hour later, not at the same time: compaction replaces the views and
# tags the raw objects, and an audit reading the day then would race it.

locals {
  audit_count = var.audit_enabled ? 1 : 0

  audit_command = ["audit", "--day", "yesterday", "--engine", "athena", "--metrics"]

  audit_environment = {
    STREAMER_LAKE_BUCKET      = aws_s3_bucket.lake.bucket
    STREAMER_ATHENA_WORKGROUP = aws_athena_workgroup.lake.name
    STREAMER_LOG_FORMAT       = "json"
    AWS_REGION                = var.region
  }

  # What its queries read: every dataset's raw and compacted objects (or Iceberg tables), and
  # Athena's results.
  audit_read_prefixes = local.table_read_prefixes

  audit_dimensions = { Service = "streamer-audit" }
}

# --- the task's role ----------------------------------------------------------------------

resource "aws_iam_role" "audit" {
  count              = local.audit_count
  name               = "${var.name}-audit"
  description        = "streamer audit: Athena queries over the lake, reading its Glue tables and objects (no writes to them)"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "audit" {
  statement {
    sid       = "RunQueriesInTheWorkgroup"
    actions   = ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution"]
    resources = [aws_athena_workgroup.lake.arn]
  }

  statement {
    sid     = "ReadTheCatalog"
    actions = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions"]
    resources = [
      "${local.glue_arn_prefix}:catalog",
      "${local.glue_arn_prefix}:database/${aws_glue_catalog_database.lake.name}",
      "${local.glue_arn_prefix}:table/${aws_glue_catalog_database.lake.name}/*",
    ]
  }

  statement {
    sid       = "ListTheLake"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [aws_s3_bucket.lake.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [for p in concat(local.audit_read_prefixes, [local.athena_results_prefix]) : "${p}*"]
    }
  }

  statement {
    sid       = "ReadTheDatasets"
    actions   = ["s3:GetObject"]
    resources = [for p in local.audit_read_prefixes : "${aws_s3_bucket.lake.arn}/${p}*"]
  }

  # Athena writes each query's result under the workgroup's output location as the caller.
  statement {
    sid       = "AthenaResults"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${aws_s3_bucket.lake.arn}/${local.athena_results_prefix}*"]
  }

  # The lake's objects (bucket_encryption = "kms") and Athena's results (always) use the key.
  statement {
    sid       = "UseTheDeploymentKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.lake.arn]
  }
}

resource "aws_iam_role_policy" "audit" {
  count  = local.audit_count
  name   = "audit-the-lake"
  role   = aws_iam_role.audit[0].id
  policy = data.aws_iam_policy_document.audit.json
}

# --- the task -----------------------------------------------------------------------------

resource "aws_ecs_task_definition" "audit" {
  count                    = local.audit_count
  family                   = "${var.name}-audit"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "512"
  memory                   = "1024"
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.audit[0].arn

  container_definitions = jsonencode([{
    name                   = "audit"
    image                  = "${aws_ecr_repository.service.repository_url}:${var.image_tag}"
    essential              = true
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    entryPoint             = ["streamer"]
    command                = local.audit_command
    environment            = [for k in sort(keys(local.audit_environment)) : { name = k, value = local.audit_environment[k] }]
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    linuxParameters        = { initProcessEnabled = true }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.service.name
        "awslogs-region"        = var.region
        "awslogs-stream-prefix" = "audit"
      }
    }
  }])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "tmp"
  }
}

# --- the schedule (its own role: it must work with compaction_enabled = false) ------------

resource "aws_iam_role" "audit_scheduler" {
  count              = local.audit_count
  name               = "${var.name}-audit-scheduler"
  description        = "EventBridge Scheduler: start the streamer audit task"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "audit_scheduler" {
  statement {
    sid       = "RunTheAuditTask"
    actions   = ["ecs:RunTask"]
    resources = ["arn:${data.aws_partition.current.partition}:ecs:${var.region}:${local.account_id}:task-definition/${var.name}-audit:*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.service.arn]
    }
  }

  statement {
    sid       = "DecryptTheSchedule" # encrypted with the deployment's key
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.lake.arn]
  }

  statement {
    sid       = "PassItsRoles"
    actions   = ["iam:PassRole"]
    resources = concat([aws_iam_role.execution.arn], aws_iam_role.audit[*].arn)

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "audit_scheduler" {
  count  = local.audit_count
  name   = "run-audit"
  role   = aws_iam_role.audit_scheduler[0].id
  policy = data.aws_iam_policy_document.audit_scheduler.json
}

resource "aws_scheduler_schedule" "audit" {
  count                        = local.audit_count
  name                         = "${var.name}-audit"
  description                  = "streamer audit --day yesterday --engine athena --metrics"
  schedule_expression          = var.audit_schedule
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = aws_kms_key.lake.arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_ecs_cluster.service.arn
    role_arn = aws_iam_role.audit_scheduler[0].arn

    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.audit[0].arn
      launch_type         = "FARGATE"
      platform_version    = "LATEST"
      task_count          = 1

      network_configuration {
        subnets          = var.subnet_ids
        security_groups  = [aws_security_group.task.id]
        assign_public_ip = var.assign_public_ip
      }
    }

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }
  }
}

# --- alarms -------------------------------------------------------------------------------
#
# The audit logs one datapoint of each metric per run, 0 included. The two findings read the
# largest value of the last 24 hours (a sliding day): one audit that finds a hole pages once
# and the alarm stays in ALARM for that day. Missing data does not breach them: a day without
# an audit is not a day with missing trades, and is audit_missing's page, which names the cause.

resource "aws_cloudwatch_metric_alarm" "missing_trades" {
  count               = local.audit_count
  alarm_name          = "${var.name}-missing-trades"
  alarm_description   = "streamer audit found trade ids missing from the lake for yesterday (the audit's log names the venues, symbols and id ranges; rerun `streamer audit --day <day> --engine athena` for the table)."
  namespace           = "Streamer"
  metric_name         = "MissingTrades"
  dimensions          = local.audit_dimensions
  statistic           = "Maximum"
  period              = 86400
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "unrecovered_holes" {
  count               = local.audit_count
  alarm_name          = "${var.name}-unrecovered-holes"
  alarm_description   = "streamer audit found holes no backfill could fill (history limits, a delisted symbol): the `quality` rows name each hole's reason."
  namespace           = "Streamer"
  metric_name         = "UnrecoveredHoles"
  dimensions          = local.audit_dimensions
  statistic           = "Maximum"
  period              = 86400
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Catches what cannot report itself: a task that never started, crashed, or failed before its
# metrics (Athena refused a query, a scan cap was reached). 26 hours, not 24: a daily run's
# start drifts by minutes, and a day's window would flap.
resource "aws_cloudwatch_metric_alarm" "audit_missing" {
  count               = local.audit_count
  alarm_name          = "${var.name}-audit-missing"
  alarm_description   = "No streamer audit reported for 26 hours (schedule ${var.audit_schedule}): yesterday's completeness is unproven (see the audit's log stream, prefix audit/)."
  namespace           = "Streamer"
  metric_name         = "UnrecoveredHoles"
  dimensions          = local.audit_dimensions
  statistic           = "SampleCount"
  period              = 3600
  evaluation_periods  = 26
  datapoints_to_alarm = 26
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
