# table_format = "iceberg": Iceberg v2 tables crypto_<dataset> built from schema.json's iceberg
# section (columns and types, identity partitions on the arrival day, the sort order), Firehose
# streams of the same names delivering into them, Glue's three table optimizers, alarms on the
# Iceberg delivery metrics, the service told to send Iceberg rows, and no daily compaction or
# JSON views. "json" stays the default and keeps all of that out.

mock_provider "aws" {}

variables {
  vpc_id     = "vpc-0123456789abcdef0"
  subnet_ids = ["subnet-0123456789abcdef0"]
}

run "json_is_the_default_and_creates_nothing_of_iceberg" {
  command = apply

  assert {
    condition = (
      var.table_format == "json"
      && length(aws_glue_catalog_table.iceberg) == 0
      && length(aws_glue_catalog_table_optimizer.compaction) + length(aws_glue_catalog_table_optimizer.retention) + length(aws_glue_catalog_table_optimizer.orphan_file_deletion) == 0
      && length(aws_iam_role.optimizer) == 0
      && alltrue([for s in aws_kinesis_firehose_delivery_stream.dataset : s.destination == "extended_s3" && length(s.iceberg_configuration) == 0])
      && length(aws_glue_catalog_table.view) == length(jsondecode(file("schema.json")).compaction.tables)
      && length(aws_ecs_task_definition.compact) == 1
    )
    error_message = "by default the lake is gzip JSON with daily compaction and its views, and nothing of the Iceberg option"
  }

  assert {
    condition     = !contains([for e in jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].environment : e.name], "STREAMER_LAKE_FORMAT")
    error_message = "a JSON deployment's task definition must stay as it was (no STREAMER_LAKE_FORMAT)"
  }

  assert {
    condition     = alltrue([for d, a in aws_cloudwatch_metric_alarm.delivery_failures : a.metric_name == "DeliveryToS3.Success"])
    error_message = "JSON streams keep their S3 delivery alarm"
  }
}

run "iceberg_tables_carry_the_python_schema" {
  command = apply

  variables {
    table_format = "iceberg"
  }

  assert {
    condition = (
      toset(keys(aws_glue_catalog_table.iceberg)) == toset(keys(jsondecode(file("schema.json")).iceberg.tables))
      && alltrue([for name, t in aws_glue_catalog_table.iceberg : t.name == name && t.database_name == "crypto"])
      && toset([for t in jsondecode(file("schema.json")).iceberg.tables : t.dataset]) == toset([for t in jsondecode(file("schema.json")).tables : t.dataset if t.dataset != "rejects"])
    )
    error_message = "every dataset but the rejects needs an Iceberg table named crypto_<dataset>, the name users query"
  }

  assert {
    condition = alltrue([
      for name, t in aws_glue_catalog_table.iceberg :
      t.open_table_format_input[0].iceberg_input[0].metadata_operation == "CREATE"
      && t.open_table_format_input[0].iceberg_input[0].version == "2"
      && t.open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].location == "s3://${aws_s3_bucket.lake.bucket}/crypto/iceberg/${jsondecode(file("schema.json")).iceberg.tables[name].dataset}"
      && t.open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].properties["write.target-file-size-bytes"] == tostring(jsondecode(file("schema.json")).iceberg.target_file_bytes)
      && t.open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].properties["write.parquet.compression-codec"] == "zstd"
    ])
    error_message = "Iceberg tables must be format version 2, under crypto/iceberg/<dataset>, with the schema's target file size and ZSTD Parquet"
  }

  # Names, order and required flags of the top-level columns, and their ids 1..N.
  assert {
    condition = alltrue([
      for name, t in jsondecode(file("schema.json")).iceberg.tables :
      [
        for f in aws_glue_catalog_table.iceberg[name].open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].schema[0].fields :
        { id = f.id, name = f.name, required = f.required }
      ] == [for i, c in t.columns : { id = i + 1, name = c.name, required = c.required }]
    ])
    error_message = "an Iceberg table's columns (names, order, required, ids) differ from schema.json's iceberg section"
  }

  # Types: the Iceberg spec's JSON for each Glue type; timestamps stay `timestamp` (µs, no zone).
  assert {
    condition = alltrue(flatten([
      for name, t in jsondecode(file("schema.json")).iceberg.tables : [
        for i, c in t.columns :
        jsondecode(aws_glue_catalog_table.iceberg[name].open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].schema[0].fields[i].type) == lookup(
          { bigint = "long", string = "string", double = "double", boolean = "boolean", timestamp = "timestamp", "decimal(38,18)" = "decimal(38,18)" }, c.type, "nested"
        ) if !startswith(c.type, "array<")
      ]
    ]))
    error_message = "a column's Iceberg type does not follow its Glue type (bigint -> long, decimal(38,18), timestamp, string, double, boolean)"
  }

  assert {
    condition = (
      jsondecode(one([for f in aws_glue_catalog_table.iceberg["crypto_order_books"].open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].schema[0].fields : f.type if f.name == "bids"])).element == {
        type = "struct"
        fields = [
          { id = jsondecode(one([for f in aws_glue_catalog_table.iceberg["crypto_order_books"].open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].schema[0].fields : f.type if f.name == "bids"]))["element-id"] + 1, name = "price", required = false, type = "decimal(38,18)" },
          { id = jsondecode(one([for f in aws_glue_catalog_table.iceberg["crypto_order_books"].open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].schema[0].fields : f.type if f.name == "bids"]))["element-id"] + 2, name = "size", required = false, type = "decimal(38,18)" },
        ]
      }
      && jsondecode(one([for f in aws_glue_catalog_table.iceberg["crypto_order_books"].open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].schema[0].fields : f.type if f.name == "asks"])).type == "list"
      && jsondecode(one([for f in aws_glue_catalog_table.iceberg["crypto_quality"].open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].schema[0].fields : f.type if f.name == "unrecoverable"])).element.fields[*].name == ["first", "last", "reason"]
      && jsondecode(one([for f in aws_glue_catalog_table.iceberg["crypto_quality"].open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].schema[0].fields : f.type if f.name == "unrecoverable"])).element.fields[*].type == ["long", "long", "string"]
    )
    error_message = "book levels must be a list of struct<price decimal(38,18), size decimal(38,18)>, and quality ranges a list of struct<first long, last long[, reason string]>"
  }

  # Iceberg needs every field id (top-level, list element, struct field) unique in the schema.
  assert {
    condition = alltrue([
      for name, t in aws_glue_catalog_table.iceberg : length(flatten([
        for f in t.open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].schema[0].fields : concat(
          [f.id],
          can(jsondecode(f.type)["element-id"]) ? concat([jsondecode(f.type)["element-id"]], jsondecode(f.type).element.fields[*].id) : [],
        )
        ])) == length(distinct(flatten([
          for f in t.open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].schema[0].fields : concat(
            [f.id],
            can(jsondecode(f.type)["element-id"]) ? concat([jsondecode(f.type)["element-id"]], jsondecode(f.type).element.fields[*].id) : [],
          )
      ])))
    ])
    error_message = "field ids repeat within an Iceberg schema"
  }
}

run "iceberg_tables_partition_by_day_and_sort_by_symbol" {
  command = apply

  variables {
    table_format = "iceberg"
  }

  assert {
    condition = alltrue([
      for name, t in jsondecode(file("schema.json")).iceberg.tables :
      [
        for f in aws_glue_catalog_table.iceberg[name].open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].partition_spec[0].fields :
        { name = f.name, source = f.source_id, transform = f.transform }
      ] == [for p in t.partition_columns : { name = p, source = index(t.columns[*].name, p) + 1, transform = "identity" }]
      && t.partition_columns == ["year", "month", "day"]
    ])
    error_message = "Iceberg tables must be partitioned by identity on year, month and day (schema.json), each from its column"
  }

  assert {
    condition = alltrue([
      for name, t in jsondecode(file("schema.json")).iceberg.tables :
      length(t.sort_columns) == 0 ? length(aws_glue_catalog_table.iceberg[name].open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].sort_order) == 0 : (
        [
          for f in aws_glue_catalog_table.iceberg[name].open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].sort_order[0].fields :
          { source = f.source_id, transform = f.transform, direction = f.direction, nulls = f.null_order }
        ] == [for s in t.sort_columns : { source = index(t.columns[*].name, s) + 1, transform = "identity", direction = "asc", nulls = "nulls-first" }]
        && aws_glue_catalog_table.iceberg[name].open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].sort_order[0].order_id == 1
      )
    ])
    error_message = "an Iceberg table's sort order must be schema.json's sort columns, ascending (none when it has none)"
  }

  assert {
    condition = [
      for f in aws_glue_catalog_table.iceberg["crypto_trades"].open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].sort_order[0].fields :
      one([for c in aws_glue_catalog_table.iceberg["crypto_trades"].open_table_format_input[0].iceberg_input[0].iceberg_table_input[0].schema[0].fields : c.name if c.id == f.source_id])
    ] == ["exchange", "symbol", "event_time"]
    error_message = "trades sort by exchange, symbol, event_time"
  }
}

run "streams_keep_their_names_and_deliver_into_their_tables" {
  command = apply

  variables {
    table_format                = "iceberg"
    firehose_buffering_interval = 120
    firehose_buffering_size     = 32
  }

  assert {
    condition = alltrue([
      for t in jsondecode(file("schema.json")).tables :
      aws_kinesis_firehose_delivery_stream.dataset[t.dataset].name == "crypto-${t.dataset}"
    ])
    error_message = "the streams keep their names (crypto-<dataset>), one per dataset"
  }

  assert {
    condition = alltrue([
      for name, t in jsondecode(file("schema.json")).iceberg.tables :
      aws_kinesis_firehose_delivery_stream.dataset[t.dataset].destination == "iceberg"
      && length(aws_kinesis_firehose_delivery_stream.dataset[t.dataset].extended_s3_configuration) == 0
      && aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].catalog_arn == "arn:${data.aws_partition.current.partition}:glue:us-east-1:${data.aws_caller_identity.current.account_id}:catalog"
      && aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].role_arn == aws_iam_role.firehose.arn
      && aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].append_only == true
      && aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].buffering_interval == 120
      && aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].buffering_size == 32
      && aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].s3_backup_mode == "FailedDataOnly"
    ])
    error_message = "each dataset's stream must deliver into Iceberg through the account's Glue catalog, append only, with the deployment's buffering"
  }

  assert {
    condition = alltrue([
      for name, t in jsondecode(file("schema.json")).iceberg.tables :
      length(aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].destination_table_configuration) == 1
      && aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].destination_table_configuration[0].database_name == "crypto"
      && aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].destination_table_configuration[0].table_name == name
      && aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].destination_table_configuration[0].s3_error_output_prefix == "crypto/errors/iceberg/${t.dataset}/"
      && aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].destination_table_configuration[0].unique_keys == null
    ])
    error_message = "each stream must write one static table, its own crypto_<dataset>, without unique keys, its failed rows under crypto/errors/iceberg/<dataset>/"
  }

  assert {
    condition = alltrue([
      for name, t in jsondecode(file("schema.json")).iceberg.tables :
      aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].s3_configuration[0].bucket_arn == aws_s3_bucket.lake.arn
      && aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].s3_configuration[0].error_output_prefix == jsondecode(file("schema.json")).error_prefix
      && aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].s3_configuration[0].kms_key_arn == aws_kms_key.lake.arn
      && aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].cloudwatch_logging_options[0].enabled
      && aws_kinesis_firehose_delivery_stream.dataset[t.dataset].iceberg_configuration[0].cloudwatch_logging_options[0].log_stream_name == "crypto-${t.dataset}-IcebergDelivery"
      && aws_kinesis_firehose_delivery_stream.dataset[t.dataset].server_side_encryption[0].key_arn == aws_kms_key.lake.arn
    ])
    error_message = "Iceberg streams need the lake bucket (with the deployment key) for failed rows, CloudWatch logging and encryption at rest"
  }

  assert {
    condition = (
      aws_kinesis_firehose_delivery_stream.dataset["rejects"].destination == "extended_s3"
      && aws_kinesis_firehose_delivery_stream.dataset["rejects"].extended_s3_configuration[0].prefix == jsondecode(file("schema.json")).tables["crypto_rejects"].prefix
      && toset(keys(aws_glue_catalog_table.dataset)) == toset(["crypto_rejects"])
    )
    error_message = "the rejects stay gzip JSON with their table; no other raw JSON table is created"
  }
}

run "no_daily_compaction_and_no_json_views" {
  command = apply

  variables {
    table_format       = "iceberg"
    compaction_enabled = true
  }

  assert {
    condition = (
      length(aws_glue_catalog_table.compacted) == 0
      && length(aws_glue_catalog_table.view) == 0
      && length(aws_ecs_task_definition.compact) == 0
      && length(aws_scheduler_schedule.compact) == 0
      && length(aws_iam_role.compact) == 0
      && length(aws_iam_role.scheduler) == 0
      && length(aws_cloudwatch_metric_alarm.compaction_failed) == 0
      && length(aws_cloudwatch_metric_alarm.compaction_missing) == 0
      && length(output.compacted_tables) == 0
    )
    error_message = "with Iceberg tables Glue's optimizers compact: no compaction task, schedule, role, alarms, compacted tables or views"
  }

  assert {
    condition = (
      length(aws_ecs_task_definition.audit) == 1
      && contains(one([for s in data.aws_iam_policy_document.audit.statement : s.resources if s.sid == "ReadTheDatasets"]), "${aws_s3_bucket.lake.arn}/crypto/iceberg/*")
      && !contains(one([for s in data.aws_iam_policy_document.audit.statement : s.resources if s.sid == "ReadTheDatasets"]), "${aws_s3_bucket.lake.arn}/crypto/tabular/trades/*")
    )
    error_message = "the audit keeps running and reads the Iceberg tables' files (crypto_<dataset> are Iceberg tables now)"
  }
}

run "glue_optimizers_compact_expire_and_clean" {
  command = apply

  variables {
    table_format                       = "iceberg"
    iceberg_snapshot_retention_days    = 7
    iceberg_snapshots_to_retain        = 2
    iceberg_orphan_file_retention_days = 4
  }

  assert {
    condition = alltrue([
      for name, t in jsondecode(file("schema.json")).iceberg.tables :
      aws_glue_catalog_table_optimizer.compaction[name].type == "compaction"
      && aws_glue_catalog_table_optimizer.compaction[name].table_name == name
      && aws_glue_catalog_table_optimizer.compaction[name].database_name == "crypto"
      && aws_glue_catalog_table_optimizer.compaction[name].catalog_id == data.aws_caller_identity.current.account_id
      && aws_glue_catalog_table_optimizer.compaction[name].configuration[0].enabled
      && aws_glue_catalog_table_optimizer.compaction[name].configuration[0].role_arn == aws_iam_role.optimizer[0].arn
      && aws_glue_catalog_table_optimizer.compaction[name].configuration[0].compaction_configuration[0].iceberg_configuration[0].strategy == (length(t.sort_columns) > 0 ? "sort" : "binpack")
    ])
    error_message = "each Iceberg table needs a compaction optimizer, sorting by the table's sort order (bin-packing a table without one)"
  }

  assert {
    condition = alltrue([
      for name, t in jsondecode(file("schema.json")).iceberg.tables :
      aws_glue_catalog_table_optimizer.retention[name].type == "retention"
      && aws_glue_catalog_table_optimizer.retention[name].configuration[0].retention_configuration[0].iceberg_configuration[0].snapshot_retention_period_in_days == 7
      && aws_glue_catalog_table_optimizer.retention[name].configuration[0].retention_configuration[0].iceberg_configuration[0].number_of_snapshots_to_retain == 2
      && aws_glue_catalog_table_optimizer.retention[name].configuration[0].retention_configuration[0].iceberg_configuration[0].clean_expired_files
      && aws_glue_catalog_table_optimizer.orphan_file_deletion[name].type == "orphan_file_deletion"
      && aws_glue_catalog_table_optimizer.orphan_file_deletion[name].configuration[0].orphan_file_deletion_configuration[0].iceberg_configuration[0].orphan_file_retention_period_in_days == 4
      && aws_glue_catalog_table_optimizer.orphan_file_deletion[name].configuration[0].orphan_file_deletion_configuration[0].iceberg_configuration[0].location == "s3://${aws_s3_bucket.lake.bucket}/crypto/iceberg/${t.dataset}"
    ])
    error_message = "each Iceberg table needs snapshot retention (the set days and count, deleting expired files) and orphan file deletion over its own location"
  }

  assert {
    condition = (
      aws_iam_role_policy.optimizer[0].policy == data.aws_iam_policy_document.optimizer.json
      && one(data.aws_iam_policy_document.optimizer_assume.statement[0].principals[*].identifiers) == toset(["glue.amazonaws.com"])
      && toset(one([for s in data.aws_iam_policy_document.optimizer.statement : s.resources if s.sid == "RewriteTableFiles"])) == toset(["${aws_s3_bucket.lake.arn}/crypto/iceberg/*"])
      && toset(one([for s in data.aws_iam_policy_document.optimizer.statement : s.actions if s.sid == "CommitToTables"])) == toset(["glue:GetTable", "glue:UpdateTable"])
      && toset(one([for s in data.aws_iam_policy_document.optimizer.statement : s.resources if s.sid == "CommitToTables"])) == toset(concat(
        ["arn:${data.aws_partition.current.partition}:glue:us-east-1:${data.aws_caller_identity.current.account_id}:catalog", "arn:${data.aws_partition.current.partition}:glue:us-east-1:${data.aws_caller_identity.current.account_id}:database/crypto"],
        [for name in keys(jsondecode(file("schema.json")).iceberg.tables) : "arn:${data.aws_partition.current.partition}:glue:us-east-1:${data.aws_caller_identity.current.account_id}:table/crypto/${name}"],
      ))
      && alltrue(flatten([for s in data.aws_iam_policy_document.optimizer.statement : [for r in s.resources : r != "*" && !strcontains(r, "crypto/tabular/")]]))
    )
    error_message = "the optimizers' role (assumed by Glue) may rewrite only the Iceberg tables' files and commit only to those tables"
  }
}

run "firehose_may_commit_only_to_its_iceberg_tables" {
  command = apply

  variables {
    table_format = "iceberg"
  }

  assert {
    condition = (
      toset(one([for s in data.aws_iam_policy_document.firehose.statement : s.actions if s.sid == "CommitToIcebergTables"])) == toset(["glue:GetDatabase", "glue:GetTable", "glue:UpdateTable"])
      && toset(one([for s in data.aws_iam_policy_document.firehose.statement : s.resources if s.sid == "CommitToIcebergTables"])) == toset(concat(
        ["arn:${data.aws_partition.current.partition}:glue:us-east-1:${data.aws_caller_identity.current.account_id}:catalog", "arn:${data.aws_partition.current.partition}:glue:us-east-1:${data.aws_caller_identity.current.account_id}:database/crypto"],
        [for name in keys(jsondecode(file("schema.json")).iceberg.tables) : "arn:${data.aws_partition.current.partition}:glue:us-east-1:${data.aws_caller_identity.current.account_id}:table/crypto/${name}"],
      ))
      && toset(one([for s in data.aws_iam_policy_document.firehose.statement : s.resources if s.sid == "WriteIcebergTableFiles"])) == toset(["${aws_s3_bucket.lake.arn}/crypto/iceberg/*"])
      && toset(one([for s in data.aws_iam_policy_document.firehose.statement : s.resources if s.sid == "WriteOwnPrefixes"])) == toset([
        "${aws_s3_bucket.lake.arn}/${jsondecode(file("schema.json")).tables["crypto_rejects"].location}*", "${aws_s3_bucket.lake.arn}/crypto/errors/*"
      ])
    )
    error_message = "Firehose may read and commit only to this database's Iceberg tables, write their files, and write the rejects' and error prefixes, not the raw dataset prefixes"
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.firehose.statement : s if contains(["CommitToIcebergTables", "WriteIcebergTableFiles"], s.sid)]) == 2
    error_message = "the Iceberg statements belong to the Iceberg option"
  }

  assert {
    condition = toset(one([
      for s in data.aws_iam_policy_document.firehose.statement : one([for c in s.condition : c.values if c.variable == "kms:EncryptionContext:aws:s3:arn"]) if s.sid == "UseDeploymentKeyForS3"
    ])) == toset([aws_s3_bucket.lake.arn, "${aws_s3_bucket.lake.arn}/*"])
    error_message = "Firehose writes the tables' files through S3 with the deployment key: the bucket key names the bucket in the encryption context"
  }
}

run "iceberg_delivery_has_its_alarms" {
  command = apply

  variables {
    table_format = "iceberg"
  }

  assert {
    condition = alltrue([
      for name, t in jsondecode(file("schema.json")).iceberg.tables :
      aws_cloudwatch_metric_alarm.delivery_failures[t.dataset].metric_name == "DeliveryToIceberg.FailedRowCount"
      && aws_cloudwatch_metric_alarm.delivery_failures[t.dataset].namespace == "AWS/Firehose"
      && aws_cloudwatch_metric_alarm.delivery_failures[t.dataset].statistic == "Sum"
      && aws_cloudwatch_metric_alarm.delivery_failures[t.dataset].comparison_operator == "GreaterThanThreshold"
      && aws_cloudwatch_metric_alarm.delivery_failures[t.dataset].threshold == 0
      && aws_cloudwatch_metric_alarm.delivery_failures[t.dataset].treat_missing_data == "notBreaching"
      && aws_cloudwatch_metric_alarm.delivery_failures[t.dataset].dimensions["DeliveryStreamName"] == "crypto-${t.dataset}"
      && strcontains(aws_cloudwatch_metric_alarm.delivery_failures[t.dataset].alarm_description, "crypto/errors/iceberg/${t.dataset}/")
      && aws_cloudwatch_metric_alarm.freshness[t.dataset].metric_name == "DeliveryToIceberg.DataFreshness"
      && aws_cloudwatch_metric_alarm.throttled[t.dataset].metric_name == "ThrottledRecords"
    ])
    error_message = "Iceberg streams alarm on rows that failed into the error prefix, on DeliveryToIceberg.DataFreshness and on throttling"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.delivery_failures["rejects"].metric_name == "DeliveryToS3.Success"
      && aws_cloudwatch_metric_alarm.freshness["rejects"].metric_name == "DeliveryToS3.DataFreshness"
    )
    error_message = "the rejects stream still delivers to S3 and keeps its S3 alarms"
  }
}

run "the_service_sends_iceberg_rows" {
  command = apply

  variables {
    table_format = "iceberg"
    shards       = 2
  }

  assert {
    condition = alltrue([
      for td in aws_ecs_task_definition.service :
      contains([for e in jsondecode(td.container_definitions)[0].environment : "${e.name}=${e.value}"], "STREAMER_LAKE_FORMAT=iceberg")
    ])
    error_message = "every shard's container must get STREAMER_LAKE_FORMAT=iceberg, so the sink sends the tables' exact columns"
  }

  assert {
    condition     = output.table_format == "iceberg" && output.iceberg_tables["crypto_trades"] == "s3://${aws_s3_bucket.lake.bucket}/crypto/iceberg/trades"
    error_message = "the outputs name the format and each Iceberg table's location"
  }
}

run "an_unknown_table_format_is_refused" {
  command = plan

  variables {
    table_format = "delta"
  }

  expect_failures = [var.table_format]
}

run "iceberg_where_firehose_has_no_iceberg_destination_is_refused" {
  command = plan

  variables {
    table_format = "iceberg"
    region       = "cn-north-1"
  }

  expect_failures = [var.table_format]
}

run "an_unknown_compaction_strategy_is_refused" {
  command = plan

  variables {
    table_format                = "iceberg"
    iceberg_compaction_strategy = "zorder"
  }

  expect_failures = [var.iceberg_compaction_strategy]
}

run "fractional_retention_days_are_refused" {
  command = plan

  variables {
    table_format                    = "iceberg"
    iceberg_snapshot_retention_days = 1.5
  }

  expect_failures = [var.iceberg_snapshot_retention_days]
}

run "extra_environment_cannot_set_the_lake_format" {
  command = plan

  variables {
    extra_environment = { STREAMER_LAKE_FORMAT = "iceberg" }
  }

  expect_failures = [var.extra_environment]
}
