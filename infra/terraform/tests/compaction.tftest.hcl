# Compaction: the compacted Glue tables and the views follow the Python schema (schema.json), a
# daily EventBridge Scheduler schedule runs `streamer compact --engine athena --day yesterday`
# on Fargate with a role limited to Athena, Glue and the lake, alarms watch it, and the raw
# objects of compacted days expire only when asked.

mock_provider "aws" {}

variables {
  vpc_id     = "vpc-0123456789abcdef0"
  subnet_ids = ["subnet-0123456789abcdef0"]
}

run "compacted_tables_follow_the_python_schema" {
  command = apply

  assert {
    condition = (
      toset(keys(aws_glue_catalog_table.compacted)) == toset(keys(jsondecode(file("schema.json")).compaction.tables))
      && toset([for t in jsondecode(file("schema.json")).compaction.tables : t.dataset]) == toset([for t in jsondecode(file("schema.json")).tables : t.dataset if t.dataset != "rejects"])
    )
    error_message = "every dataset but the rejects needs a compacted table"
  }

  assert {
    condition = alltrue([
      for view, t in jsondecode(file("schema.json")).compaction.tables :
      aws_glue_catalog_table.compacted[view].name == t.compacted_table
      && [for c in aws_glue_catalog_table.compacted[view].storage_descriptor[0].columns : { name = c.name, type = c.type }] == t.columns
    ])
    error_message = "a compacted table's name or columns (names, types, order) differ from the Python schema"
  }

  assert {
    condition = alltrue([
      for view, t in aws_glue_catalog_table.compacted :
      t.parameters["projection.enabled"] == "true"
      && t.parameters["classification"] == "parquet"
      && [for k in t.partition_keys : k.name] == ["year", "month", "day"]
      && t.parameters["storage.location.template"] == "s3://${aws_s3_bucket.lake.bucket}/crypto/compacted/${jsondecode(file("schema.json")).compaction.tables[view].dataset}/year=$${year}/month=$${month}/day=$${day}/"
      && t.storage_descriptor[0].ser_de_info[0].serialization_library == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      && alltrue([for k, v in jsondecode(file("schema.json")).compaction.projection : t.parameters[k] == v])
    ])
    error_message = "compacted tables need Parquet and partition projection over year/month/day from the Python schema"
  }

  assert {
    condition     = alltrue([for name, t in jsondecode(file("schema.json")).tables : aws_glue_catalog_table.dataset[name].name == t.glue_table])
    error_message = "the raw tables must carry the raw names (crypto_<dataset>_raw), leaving crypto_<dataset> to the views"
  }
}

run "views_keep_the_names_users_query" {
  command = apply

  assert {
    condition = alltrue([
      for view, t in jsondecode(file("schema.json")).compaction.tables :
      aws_glue_catalog_table.view[view].name == view
      && aws_glue_catalog_table.view[view].table_type == "VIRTUAL_VIEW"
      && aws_glue_catalog_table.view[view].parameters["presto_view"] == "true"
    ])
    error_message = "each crypto_<dataset> must be an Athena (Presto) view"
  }

  assert {
    condition = alltrue([
      for view, t in jsondecode(file("schema.json")).compaction.tables :
      jsondecode(base64decode(trimsuffix(trimprefix(aws_glue_catalog_table.view[view].view_original_text, "/* Presto View: "), " */"))) == {
        originalSql = t.view_sql
        catalog     = "awsdatacatalog"
        schema      = "crypto"
        columns     = [for c in t.view_columns : { name = c.name, type = c.trino }]
      }
    ])
    error_message = "a view's definition must be the Python schema's SQL and columns (Trino types)"
  }

  assert {
    condition = alltrue([
      for view, t in jsondecode(file("schema.json")).compaction.tables :
      [for c in aws_glue_catalog_table.view[view].storage_descriptor[0].columns : c.name] == concat([for c in jsondecode(file("schema.json")).tables[view].columns : c.name], ["year", "month", "day", "hour"])
    ])
    error_message = "a view must expose the raw table's columns and partitions, so queries written before compaction keep working"
  }
}

run "compaction_runs_daily_on_fargate" {
  command = apply

  assert {
    condition = (
      aws_scheduler_schedule.compact[0].schedule_expression == "cron(30 0 * * ? *)"
      && aws_scheduler_schedule.compact[0].schedule_expression_timezone == "UTC"
      && aws_scheduler_schedule.compact[0].target[0].arn == aws_ecs_cluster.service.arn
      && aws_scheduler_schedule.compact[0].target[0].role_arn == aws_iam_role.scheduler[0].arn
      && aws_scheduler_schedule.compact[0].target[0].ecs_parameters[0].task_definition_arn == aws_ecs_task_definition.compact[0].arn
      && aws_scheduler_schedule.compact[0].target[0].ecs_parameters[0].launch_type == "FARGATE"
    )
    error_message = "a daily UTC schedule must run the compaction task on the cluster, as Fargate"
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.compact[0].container_definitions)[0].entryPoint == ["streamer"]
      && jsondecode(aws_ecs_task_definition.compact[0].container_definitions)[0].command == ["compact", "--engine", "athena", "--day", "yesterday"]
      && jsondecode(aws_ecs_task_definition.compact[0].container_definitions)[0].image == jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].image
    )
    error_message = "the task must run `streamer compact --engine athena --day yesterday` from the service's image"
  }

  assert {
    condition = alltrue([
      for pair in [
        ["STREAMER_LAKE_BUCKET", aws_s3_bucket.lake.bucket],
        ["STREAMER_ATHENA_WORKGROUP", aws_athena_workgroup.lake.name],
        ["STREAMER_LOG_FORMAT", "json"],
      ] : contains([for e in jsondecode(aws_ecs_task_definition.compact[0].container_definitions)[0].environment : "${e.name}=${e.value}"], "${pair[0]}=${pair[1]}")
    ])
    error_message = "the task must be told the bucket and workgroup, and log JSON (its metrics are embedded in the log)"
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.compact[0].container_definitions)[0].readonlyRootFilesystem
      && jsondecode(aws_ecs_task_definition.compact[0].container_definitions)[0].user != "root"
      && aws_ecs_task_definition.compact[0].task_role_arn == aws_iam_role.compact[0].arn
      && aws_iam_role.compact[0].arn != aws_iam_role.task.arn
    )
    error_message = "the task must run non-root on a read-only filesystem with its own role"
  }
}

run "compaction_role_is_athena_glue_and_the_lake_only" {
  command = apply

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.compact.statement : alltrue([
        for a in s.actions : anytrue([for service in ["athena:", "glue:", "s3:", "kms:"] : startswith(a, service)])
      ])
    ])
    error_message = "the compaction role may only use Athena, Glue, S3 and the lake's key"
  }

  assert {
    condition = alltrue(flatten([
      for s in data.aws_iam_policy_document.compact.statement : [
        for r in s.resources : !strcontains(r, "*") || endswith(r, "*")
      ]
    ])) && !anytrue(flatten([for s in data.aws_iam_policy_document.compact.statement : [for r in s.resources : r == "*"]]))
    error_message = "no statement of the compaction role may grant every resource"
  }

  assert {
    condition = (
      toset(one([for s in data.aws_iam_policy_document.compact.statement : s.resources if s.sid == "RunQueriesInTheWorkgroup"])) == toset([aws_athena_workgroup.lake.arn])
      && alltrue(flatten([for s in data.aws_iam_policy_document.compact.statement : [for r in s.resources : startswith(r, "${aws_s3_bucket.lake.arn}/crypto/") || startswith(r, "${aws_s3_bucket.lake.arn}/athena-results/") || r == aws_s3_bucket.lake.arn] if anytrue([for a in s.actions : startswith(a, "s3:")])]))
    )
    error_message = "Athena only in the deployment's workgroup, S3 only in the lake's prefixes"
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.compact.statement :
      !contains(s.actions, "s3:DeleteObject") || alltrue([for r in s.resources : !strcontains(r, "crypto/tabular/")])
    ])
    error_message = "the job may never delete raw objects"
  }

  assert {
    condition     = toset(one([for s in data.aws_iam_policy_document.compact.statement : s.resources if s.sid == "ReplaceTheViews"])) == toset([for view in keys(jsondecode(file("schema.json")).compaction.tables) : "${local.glue_arn_prefix}:table/crypto/${view}"])
    error_message = "the job may rewrite the views, and no other table of the lake"
  }

  assert {
    condition = (
      toset(one([for s in data.aws_iam_policy_document.scheduler.statement : s.actions if s.sid == "RunTheCompactionTask"])) == toset(["ecs:RunTask"])
      && toset(one([for s in data.aws_iam_policy_document.scheduler.statement : s.resources if s.sid == "PassItsRoles"])) == toset([aws_iam_role.execution.arn, aws_iam_role.compact[0].arn])
      && aws_iam_role_policy.scheduler[0].policy == data.aws_iam_policy_document.scheduler.json
      && aws_iam_role_policy.compact[0].policy == data.aws_iam_policy_document.compact.json
    )
    error_message = "the scheduler may only run the task and pass its two roles"
  }
}

run "alarms_watch_failures_and_missing_runs" {
  command = apply

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.compaction_failed[0].metric_name == "CompactionFailures"
      && aws_cloudwatch_metric_alarm.compaction_failed[0].comparison_operator == "GreaterThanThreshold"
      && aws_cloudwatch_metric_alarm.compaction_failed[0].dimensions == tomap({ Service = "streamer", Job = "compact" })
    )
    error_message = "an alarm must fire when a dataset fails to compact"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.compaction_missing[0].metric_name == "CompactionRuns"
      && aws_cloudwatch_metric_alarm.compaction_missing[0].treat_missing_data == "breaching"
      && aws_cloudwatch_metric_alarm.compaction_missing[0].period * aws_cloudwatch_metric_alarm.compaction_missing[0].evaluation_periods > 86400
      && aws_cloudwatch_metric_alarm.compaction_missing[0].period * aws_cloudwatch_metric_alarm.compaction_missing[0].evaluation_periods <= 604800
    )
    error_message = "an alarm must fire when no run succeeded for more than a day (a task that never started, or crashed)"
  }
}

run "raw_objects_expire_after_compaction_only_when_asked" {
  command = plan

  assert {
    condition     = !anytrue([for r in aws_s3_bucket_lifecycle_configuration.lake.rule : r.id == "expire-compacted-raw"])
    error_message = "by default raw objects are kept after compaction"
  }
}

run "raw_objects_of_compacted_days_expire_when_asked" {
  command = plan

  variables {
    raw_expire_after_compaction_days = 3
  }

  assert {
    condition = anytrue([
      for r in aws_s3_bucket_lifecycle_configuration.lake.rule :
      r.id == "expire-compacted-raw" && r.status == "Enabled"
      && r.expiration[0].days == 3
      && r.filter[0].and[0].prefix == "crypto/tabular/"
      && r.filter[0].and[0].tags == tomap({ "streamer-compacted" = "true" })
    ])
    error_message = "raw_expire_after_compaction_days must expire only raw objects tagged as compacted"
  }
}

run "compaction_can_be_turned_off" {
  command = plan

  variables {
    compaction_enabled = false
  }

  assert {
    condition = (
      length(aws_scheduler_schedule.compact) == 0 && length(aws_ecs_task_definition.compact) == 0
      && length(aws_cloudwatch_metric_alarm.compaction_missing) == 0 && length(aws_iam_role.compact) == 0
      && length(aws_glue_catalog_table.view) == length(aws_glue_catalog_table.compacted)
    )
    error_message = "without compaction there is no schedule, task or alarm, while the views (all raw) stay"
  }
}

run "bad_compaction_settings_are_refused" {
  command = plan

  variables {
    compaction_schedule              = "every day"
    raw_expire_after_compaction_days = 1.5
  }

  expect_failures = [
    var.compaction_schedule,
    var.raw_expire_after_compaction_days,
  ]
}
