# Daily compaction: EventBridge Scheduler runs one Fargate task of
# `streamer compact --engine athena --day yesterday` (Athena does the work; the task only
# orchestrates), with its own least-privilege role: Athena in this workgroup, Glue in this
# database, S3 in this lake. Two alarms: a failed dataset, and no successful run for 26 hours.

locals {
  # With table_format = "iceberg" Glue's table optimizers compact (iceberg.tf).
  compaction_count = var.compaction_enabled && !local.iceberg ? 1 : 0

  compaction_command = ["compact", "--engine", "athena", "--day", "yesterday"]

  compaction_environment = {
    STREAMER_LAKE_BUCKET      = aws_s3_bucket.lake.bucket
    STREAMER_ATHENA_WORKGROUP = aws_athena_workgroup.lake.name
    STREAMER_LOG_FORMAT       = "json"
    AWS_REGION                = var.region
  }

  # Where the job reads and writes, from schema.json.
  compaction_raw_prefixes = [for table, t in local.compaction.tables : local.tables[table].location]
  compaction_out_prefixes = distinct(concat(
    [for t in values(local.compaction.tables) : t.location],
    [local.compaction.manifest_prefix],
  ))

}

# --- the task's role ----------------------------------------------------------------------

resource "aws_iam_role" "compact" {
  count              = local.compaction_count
  name               = "${var.name}-compact"
  description        = "streamer compact: Athena queries over the lake, Glue tables of the lake, the lake's objects"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "compact" {
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
    sid       = "WriteOwnTables"
    actions   = ["glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable"]
    resources = ["${local.glue_arn_prefix}:table/${aws_glue_catalog_database.lake.name}/compaction_tmp_*"]
  }

  statement {
    sid       = "ReplaceTheViews"
    actions   = ["glue:CreateTable", "glue:UpdateTable"]
    resources = [for view in keys(local.compaction.tables) : "${local.glue_arn_prefix}:table/${aws_glue_catalog_database.lake.name}/${view}"]
  }

  statement {
    sid       = "ListTheLake"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [aws_s3_bucket.lake.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [for p in concat(local.compaction_raw_prefixes, local.compaction_out_prefixes, [local.athena_results_prefix]) : "${p}*"]
    }
  }

  statement {
    sid       = "ReadAndTagRawObjects"
    actions   = ["s3:GetObject", "s3:PutObjectTagging"]
    resources = [for p in local.compaction_raw_prefixes : "${aws_s3_bucket.lake.arn}/${p}*"]
  }

  statement {
    sid       = "WriteCompactedDaysAndManifests"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [for p in local.compaction_out_prefixes : "${aws_s3_bucket.lake.arn}/${p}*"]
  }

  statement {
    sid       = "AthenaResultsAndStaging"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${aws_s3_bucket.lake.arn}/${local.athena_results_prefix}*"]
  }

  statement {
    sid       = "UseTheDeploymentKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.lake.arn]
  }
}

resource "aws_iam_role_policy" "compact" {
  count  = local.compaction_count
  name   = "compact-the-lake"
  role   = aws_iam_role.compact[0].id
  policy = data.aws_iam_policy_document.compact.json
}

# --- the task -----------------------------------------------------------------------------

resource "aws_ecs_task_definition" "compact" {
  count                    = local.compaction_count
  family                   = "${var.name}-compact"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "512"
  memory                   = "1024"
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.compact[0].arn

  container_definitions = jsonencode([{
    name                   = "compact"
    image                  = "${aws_ecr_repository.service.repository_url}:${var.image_tag}"
    essential              = true
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    entryPoint             = ["streamer"]
    command                = local.compaction_command
    environment            = [for k in sort(keys(local.compaction_environment)) : { name = k, value = local.compaction_environment[k] }]
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    linuxParameters        = { initProcessEnabled = true }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.service.name
        "awslogs-region"        = var.region
        "awslogs-stream-prefix" = "compact"
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

# --- the schedule -------------------------------------------------------------------------

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count              = local.compaction_count
  name               = "${var.name}-compact-scheduler"
  description        = "EventBridge Scheduler: start the streamer compaction task"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "RunTheCompactionTask"
    actions   = ["ecs:RunTask"]
    resources = ["arn:${data.aws_partition.current.partition}:ecs:${var.region}:${local.account_id}:task-definition/${var.name}-compact:*"]

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
    resources = concat([aws_iam_role.execution.arn], aws_iam_role.compact[*].arn)

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "scheduler" {
  count  = local.compaction_count
  name   = "run-compaction"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "compact" {
  count                        = local.compaction_count
  name                         = "${var.name}-compact"
  description                  = "streamer compact --engine athena --day yesterday"
  schedule_expression          = var.compaction_schedule
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = aws_kms_key.lake.arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_ecs_cluster.service.arn
    role_arn = aws_iam_role.scheduler[0].arn

    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.compact[0].arn
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

# --- alarms (the job's embedded metrics: namespace Streamer, Service/Job dimensions) ----------

resource "aws_cloudwatch_metric_alarm" "compaction_failed" {
  count               = local.compaction_count
  alarm_name          = "${var.name}-compaction-failed"
  alarm_description   = "streamer compact could not compact a dataset's day (the task log names it and why); the day stays readable from its raw objects."
  namespace           = "Streamer"
  metric_name         = "CompactionFailures"
  dimensions          = { Service = "streamer", Job = "compact" }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Catches what cannot report itself: a task that never started, crashed or was stopped.
resource "aws_cloudwatch_metric_alarm" "compaction_missing" {
  count               = local.compaction_count
  alarm_name          = "${var.name}-compaction-missing"
  alarm_description   = "No successful streamer compact run for 26 hours (schedule ${var.compaction_schedule})."
  namespace           = "Streamer"
  metric_name         = "CompactionRuns"
  dimensions          = { Service = "streamer", Job = "compact" }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 26
  datapoints_to_alarm = 26
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
