# Completeness on AWS: every shard's task is told the lake bucket (its checkpoints live there)
# and how long to drain on SIGTERM; its role may read and write the checkpoints and no other
# object; drain and shutdown together fit the stop timeout; old checkpoint versions expire; the
# `quality` dataset has its stream, raw table, compacted table and view like every dataset.

mock_provider "aws" {}

variables {
  vpc_id     = "vpc-0123456789abcdef0"
  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
}

run "every_shard_is_told_the_bucket_the_drain_and_the_checkpoint_interval" {
  command = apply

  variables {
    shards = 2
  }

  assert {
    condition = alltrue([
      for td in aws_ecs_task_definition.service : alltrue([
        for pair in [
          ["STREAMER_LAKE_BUCKET", aws_s3_bucket.lake.bucket],
          ["STREAMER_DRAIN_SECONDS", "20"],
          ["STREAMER_CHECKPOINT_SECONDS", "300"],
          ["STREAMER_SHUTDOWN_SECONDS", "90"],
          ["STREAMER_FIREHOSE_PREFIX", "crypto"],
        ] : contains([for e in jsondecode(td.container_definitions)[0].environment : "${e.name}=${e.value}"], "${pair[0]}=${pair[1]}")
      ])
    ])
    error_message = "each shard needs STREAMER_LAKE_BUCKET (else it resumes nothing), STREAMER_DRAIN_SECONDS and STREAMER_CHECKPOINT_SECONDS"
  }

  assert {
    condition     = alltrue([for td in aws_ecs_task_definition.service : jsondecode(td.container_definitions)[0].stopTimeout == 120])
    error_message = "the drain and shutdown budget assumes the container's 120 s stopTimeout"
  }
}

run "drain_and_checkpoint_interval_follow_their_variables" {
  command = apply

  variables {
    drain_seconds      = 45
    shutdown_seconds   = 60
    checkpoint_seconds = 10
  }

  assert {
    condition = (
      contains([for e in jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].environment : "${e.name}=${e.value}"], "STREAMER_DRAIN_SECONDS=45")
      && contains([for e in jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].environment : "${e.name}=${e.value}"], "STREAMER_CHECKPOINT_SECONDS=10")
    )
    error_message = "drain_seconds and checkpoint_seconds must reach the task as STREAMER_DRAIN_SECONDS and STREAMER_CHECKPOINT_SECONDS"
  }
}

run "the_task_reads_and_writes_its_checkpoints_and_no_other_object" {
  command = apply

  assert {
    condition = (
      toset(one([for s in data.aws_iam_policy_document.task.statement : s.actions if s.sid == "ReadAndWriteCheckpoints"])) == toset(["s3:GetObject", "s3:PutObject"])
      && toset(one([for s in data.aws_iam_policy_document.task.statement : s.resources if s.sid == "ReadAndWriteCheckpoints"])) == toset(["${aws_s3_bucket.lake.arn}/crypto/state/checkpoints/*"])
    )
    error_message = "the task may get and put objects under <stream_prefix>/state/checkpoints/ of the lake bucket, where S3Checkpoints keeps them"
  }

  assert {
    condition = alltrue(flatten([
      for s in data.aws_iam_policy_document.task.statement : [
        for r in s.resources : r == aws_s3_bucket.lake.arn || r == "${aws_s3_bucket.lake.arn}/crypto/state/checkpoints/*"
      ] if anytrue([for a in s.actions : startswith(a, "s3:")])
    ]))
    error_message = "no S3 permission of the service may reach beyond its checkpoints (the datasets are Firehose's to write)"
  }

  assert {
    condition = !anytrue(flatten([
      for s in data.aws_iam_policy_document.task.statement : [for a in s.actions : contains(["s3:DeleteObject", "s3:*", "s3:PutObjectAcl"], a)]
    ]))
    error_message = "the service never deletes a checkpoint"
  }

  assert {
    condition = (
      toset(one([for s in data.aws_iam_policy_document.task.statement : s.actions if s.sid == "TellAMissingCheckpointFromADeniedOne"])) == toset(["s3:ListBucket"])
      && toset([
        for c in one([for s in data.aws_iam_policy_document.task.statement : s.condition if s.sid == "TellAMissingCheckpointFromADeniedOne"]) :
        { test = c.test, variable = c.variable, values = toset(c.values) }
      ]) == toset([{ test = "StringLike", variable = "s3:prefix", values = toset(["crypto/state/checkpoints/*"]) }])
    )
    error_message = "a first start must get 404 for a missing checkpoint, not 403: ListBucket, limited to the checkpoints' prefix"
  }

  assert {
    condition     = aws_iam_role_policy.task.policy == data.aws_iam_policy_document.task.json
    error_message = "the task role must carry this policy"
  }
}

run "the_checkpoints_follow_the_stream_prefix" {
  command = apply

  variables {
    stream_prefix = "md"
  }

  assert {
    condition     = toset(one([for s in data.aws_iam_policy_document.task.statement : s.resources if s.sid == "ReadAndWriteCheckpoints"])) == toset(["${aws_s3_bucket.lake.arn}/md/state/checkpoints/*"])
    error_message = "the service keeps its checkpoints under STREAMER_FIREHOSE_PREFIX/state/checkpoints/: the role must follow stream_prefix"
  }

  assert {
    condition     = output.checkpoints_location == "s3://${aws_s3_bucket.lake.bucket}/md/state/checkpoints/"
    error_message = "the output must name where the checkpoints are"
  }
}

run "with_a_kms_bucket_the_task_may_use_the_key_through_s3_only" {
  command = apply

  assert {
    condition = (
      toset(one([for s in data.aws_iam_policy_document.task.statement : s.actions if s.sid == "UseDeploymentKeyForCheckpoints"])) == toset(["kms:Decrypt", "kms:GenerateDataKey"])
      && toset(one([for s in data.aws_iam_policy_document.task.statement : s.resources if s.sid == "UseDeploymentKeyForCheckpoints"])) == toset([aws_kms_key.lake.arn])
      && contains([
        for c in one([for s in data.aws_iam_policy_document.task.statement : s.condition if s.sid == "UseDeploymentKeyForCheckpoints"]) :
        "${c.variable}=${join(",", c.values)}"
      ], "kms:ViaService=s3.us-east-1.amazonaws.com")
    )
    error_message = "SSE-KMS checkpoints need kms:Decrypt and kms:GenerateDataKey on the deployment's key, only through S3"
  }
}

run "with_an_s3_managed_bucket_the_task_gets_no_key" {
  command = apply

  variables {
    bucket_encryption = "s3"
  }

  assert {
    condition     = !anytrue(flatten([for s in data.aws_iam_policy_document.task.statement : [for a in s.actions : startswith(a, "kms:")]]))
    error_message = "with SSE-S3 the service needs no KMS permission"
  }
}

run "old_checkpoint_versions_expire_after_a_day" {
  command = plan

  assert {
    condition = anytrue([
      for r in aws_s3_bucket_lifecycle_configuration.lake.rule :
      r.id == "expire-old-checkpoint-versions" && r.status == "Enabled"
      && r.filter[0].prefix == "crypto/state/checkpoints/"
      && r.noncurrent_version_expiration[0].noncurrent_days == 1
      && length(r.expiration) == 0
    ])
    error_message = "overwritten checkpoint versions must expire after a day, and the current checkpoint never"
  }
}

run "drain_plus_shutdown_within_the_stop_timeout_is_accepted" {
  command = plan

  variables {
    drain_seconds    = 10
    shutdown_seconds = 100
  }

  assert {
    condition     = contains([for e in jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].environment : "${e.name}=${e.value}"], "STREAMER_DRAIN_SECONDS=10")
    error_message = "10 s of drain plus 100 s of shutdown fit the 120 s stop timeout"
  }
}

run "drain_plus_shutdown_beyond_the_stop_timeout_is_refused" {
  command = plan

  variables {
    drain_seconds = 30 # + the default 90 s of shutdown: ECS would kill the task mid-shutdown
  }

  expect_failures = [var.drain_seconds]
}

run "a_negative_drain_is_refused" {
  command = plan

  variables {
    drain_seconds = -1
  }

  expect_failures = [var.drain_seconds]
}

run "a_checkpoint_interval_under_a_second_is_refused" {
  command = plan

  variables {
    checkpoint_seconds = 0
  }

  expect_failures = [var.checkpoint_seconds]
}

run "quality_is_a_dataset_like_every_other" {
  command = apply

  assert {
    condition = (
      aws_kinesis_firehose_delivery_stream.dataset["quality"].name == "crypto-quality"
      && aws_kinesis_firehose_delivery_stream.dataset["quality"].extended_s3_configuration[0].prefix == "crypto/tabular/quality/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"
    )
    error_message = "quality rows need their Firehose stream crypto-quality, writing under crypto/tabular/quality/"
  }

  assert {
    condition = (
      aws_glue_catalog_table.dataset["crypto_quality"].name == "crypto_quality_raw"
      && aws_glue_catalog_table.compacted["crypto_quality"].name == "crypto_quality_compacted"
      && aws_glue_catalog_table.view["crypto_quality"].name == "crypto_quality"
    )
    error_message = "quality needs a raw table, a compacted table and the crypto_quality view users (and streamer audit) query"
  }

  assert {
    condition = alltrue([
      for column in ["exchange", "symbol", "stream", "minute", "gaps", "backfilled", "unrecoverable", "resyncs_sequence_break", "resyncs_checksum_mismatch", "resyncs_venue_reset", "silent_subscriptions", "connected_ms", "disconnected_ms", "shard"] :
      contains([for c in aws_glue_catalog_table.dataset["crypto_quality"].storage_descriptor[0].columns : c.name], column)
    ])
    error_message = "the quality table lacks a column the audit reads"
  }

  assert {
    condition     = contains(one([for s in data.aws_iam_policy_document.compact.statement : s.resources if s.sid == "ReadAndTagRawObjects"]), "${aws_s3_bucket.lake.arn}/crypto/tabular/quality/*")
    error_message = "compaction must read the raw quality objects"
  }
}
