# Offline checks of the plan/apply graph with a mocked AWS provider: what Terraform would create
# must match the Python schema (via schema.json, itself checked against Python by pytest).

mock_provider "aws" {}

variables {
  vpc_id     = "vpc-0123456789abcdef0"
  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
}

run "streams_follow_the_python_schema" {
  command = apply

  assert {
    condition     = toset(keys(aws_kinesis_firehose_delivery_stream.dataset)) == toset([for t in jsondecode(file("schema.json")).tables : t.dataset])
    error_message = "every dataset in schema.json needs exactly one Firehose stream"
  }

  assert {
    condition = alltrue([
      for t in jsondecode(file("schema.json")).tables :
      aws_kinesis_firehose_delivery_stream.dataset[t.dataset].extended_s3_configuration[0].prefix == t.prefix
    ])
    error_message = "a stream's S3 prefix differs from the dataset's template in the Python schema"
  }

  assert {
    condition     = aws_kinesis_firehose_delivery_stream.dataset["trades"].extended_s3_configuration[0].prefix == "crypto/tabular/trades/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"
    error_message = "the trades prefix is not the documented layout"
  }

  assert {
    condition     = aws_kinesis_firehose_delivery_stream.dataset["trades"].name == "crypto-trades" && aws_kinesis_firehose_delivery_stream.dataset["rejects"].name == "crypto-rejects"
    error_message = "streams must be named <stream_prefix>-<dataset>, as the service expects"
  }

  assert {
    condition = alltrue([
      for s in aws_kinesis_firehose_delivery_stream.dataset :
      s.extended_s3_configuration[0].compression_format == "GZIP"
      && strcontains(s.extended_s3_configuration[0].error_output_prefix, "!{firehose:error-output-type}")
      && s.server_side_encryption[0].enabled
    ])
    error_message = "streams must write GZIP, have an error prefix with the error type, and be encrypted"
  }
}

run "glue_tables_have_the_python_columns" {
  command = apply

  assert {
    condition     = toset(keys(aws_glue_catalog_table.dataset)) == toset(keys(jsondecode(file("schema.json")).tables))
    error_message = "every table in schema.json needs a Glue table"
  }

  assert {
    condition     = toset([for t in aws_glue_catalog_table.dataset : t.name]) == toset([for t in jsondecode(file("schema.json")).tables : t.glue_table])
    error_message = "each raw Glue table must carry its schema.json name (crypto_<dataset>_raw, crypto_rejects)"
  }

  assert {
    condition = alltrue([
      for name, t in jsondecode(file("schema.json")).tables :
      [for c in aws_glue_catalog_table.dataset[name].storage_descriptor[0].columns : { name = c.name, type = c.type }] == t.columns
    ])
    error_message = "a Glue table's columns (names, types, order) differ from the Python schema"
  }

  assert {
    condition = alltrue([
      for name, t in aws_glue_catalog_table.dataset :
      t.parameters["projection.enabled"] == "true"
      && t.storage_descriptor[0].ser_de_info[0].parameters["ignore.malformed.json"] == "true"
      && [for k in t.partition_keys : k.name] == ["year", "month", "day", "hour"]
      && endswith(t.parameters["storage.location.template"], "year=$${year}/month=$${month}/day=$${day}/hour=$${hour}/")
    ])
    error_message = "tables need partition projection over year/month/day/hour and a tolerant JSON SerDe"
  }

  assert {
    condition = alltrue([
      for name, t in aws_glue_catalog_table.dataset : alltrue([
        for k, v in jsondecode(file("schema.json")).projection : t.parameters[k] == v
      ])
    ])
    error_message = "a Glue table's projection ranges differ from the Python schema (schema.json projection)"
  }
}

run "task_role_may_only_put_to_its_streams" {
  command = apply

  assert {
    condition     = toset([for s in data.aws_iam_policy_document.task.statement : s.sid]) == toset(["PutToOwnStreams", "ReadAndWriteCheckpoints", "TellAMissingCheckpointFromADeniedOne", "UseDeploymentKeyForCheckpoints"])
    error_message = "the task role's policy must hold the Firehose statement and the checkpoints' (completeness.tftest.hcl checks those), nothing else"
  }

  assert {
    condition     = toset(one([for s in data.aws_iam_policy_document.task.statement : s.actions if s.sid == "PutToOwnStreams"])) == toset(["firehose:DescribeDeliveryStream", "firehose:PutRecord", "firehose:PutRecordBatch"])
    error_message = "the task role may only describe its streams and put to them"
  }

  assert {
    condition     = toset(one([for s in data.aws_iam_policy_document.task.statement : s.resources if s.sid == "PutToOwnStreams"])) == toset([for s in aws_kinesis_firehose_delivery_stream.dataset : s.arn])
    error_message = "the task role's policy must name exactly the delivery streams' ARNs"
  }

  assert {
    condition     = !anytrue(flatten([for s in data.aws_iam_policy_document.task.statement : [for a in s.actions : startswith(a, "firehose:")] if s.sid != "PutToOwnStreams"]))
    error_message = "only the Firehose statement may name Firehose actions"
  }

  assert {
    condition     = aws_iam_role_policy.task.policy == data.aws_iam_policy_document.task.json && aws_ecs_task_definition.service[0].task_role_arn == aws_iam_role.task.arn
    error_message = "the task must run with the role carrying that policy"
  }

  assert {
    condition     = aws_iam_role.task.arn != aws_iam_role.execution.arn
    error_message = "task and execution roles must differ"
  }
}

run "bucket_denies_plain_http" {
  command = apply

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.lake_bucket.statement :
      s.effect == "Deny"
      && contains(s.actions, "s3:*")
      && toset(s.resources) == toset([aws_s3_bucket.lake.arn, "${aws_s3_bucket.lake.arn}/*"])
      && anytrue([for p in s.principals : p.type == "*" && contains(p.identifiers, "*")])
      && anytrue([for c in s.condition : c.test == "Bool" && c.variable == "aws:SecureTransport" && toset(c.values) == toset(["false"])])
    ])
    error_message = "the bucket policy must deny every request made without TLS"
  }

  assert {
    condition     = aws_s3_bucket_policy.lake.policy == data.aws_iam_policy_document.lake_bucket.json
    error_message = "the TLS-only document must be the bucket's policy"
  }

  assert {
    condition     = aws_s3_bucket_public_access_block.lake.block_public_policy && aws_s3_bucket_public_access_block.lake.restrict_public_buckets
    error_message = "public access must be blocked"
  }
}

run "container_matches_the_service_settings" {
  command = apply

  assert {
    condition = alltrue([
      for pair in [
        ["STREAMER_SINK", "firehose"],
        ["STREAMER_FIREHOSE_PREFIX", "crypto"],
        ["STREAMER_SPOOL_DIR", "/var/lib/streamer/spool"],
        ["STREAMER_LOG_FORMAT", "json"],
        ["STREAMER_HEALTH_PORT", "8080"],
      ] : contains([for e in jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].environment : "${e.name}=${e.value}"], "${pair[0]}=${pair[1]}")
    ])
    error_message = "the container environment must select the Firehose sink, the spool volume and JSON logs"
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].readonlyRootFilesystem
      && jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].stopTimeout == 120
      && jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].user != "root"
      && jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].healthCheck.command == ["CMD", "streamer", "health"]
    )
    error_message = "the container must be non-root, read-only, health-checked, with stopTimeout 120"
  }

  assert {
    condition     = aws_ecs_service.service[0].deployment_maximum_percent == 100 && aws_ecs_service.service[0].deployment_minimum_healthy_percent == 0
    error_message = "by default two ingesters must never overlap during a deployment"
  }

  assert {
    condition     = aws_ecs_service.service[0].deployment_circuit_breaker[0].enable && aws_ecs_service.service[0].deployment_circuit_breaker[0].rollback
    error_message = "deployments must roll back on failure"
  }

  assert {
    condition     = length(aws_athena_named_query.sql) == 9
    error_message = "every query in sql/ must become an Athena named query"
  }
}

run "overlap_is_opt_in" {
  command = plan

  variables {
    allow_deployment_overlap = true
  }

  assert {
    condition     = aws_ecs_service.service[0].deployment_maximum_percent == 200 && aws_ecs_service.service[0].deployment_minimum_healthy_percent == 100
    error_message = "allow_deployment_overlap must start the new task before stopping the old"
  }
}

run "bad_settings_are_refused" {
  command = plan

  variables {
    firehose_buffering_interval = 901
    stream_prefix               = "no spaces"
    image_tag                   = "latest"
  }

  expect_failures = [
    var.firehose_buffering_interval,
    var.stream_prefix,
    var.image_tag,
  ]
}
