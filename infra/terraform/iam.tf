# Three roles, least privilege: the task may only put records to its streams and keep its
# checkpoints; Firehose may only write its prefixes, use its key and log; the execution role
# may only pull the image, write the service's logs and read the CoinGecko secret.

# --- the service (task role) --------------------------------------------------------------

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  description        = "streamer service: put records to its Firehose streams, read and write its checkpoints"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

locals {
  # Where the service keeps a checkpoint per exchange and symbol (S3Checkpoints in
  # src/streamer/checkpoints.py: STREAMER_FIREHOSE_PREFIX + "/state/checkpoints/").
  checkpoints_prefix = "${var.stream_prefix}/state/checkpoints/"
}

data "aws_iam_policy_document" "task" {
  statement {
    sid = "PutToOwnStreams"
    # DescribeDeliveryStream: the service checks at start that each stream exists.
    actions   = ["firehose:DescribeDeliveryStream", "firehose:PutRecord", "firehose:PutRecordBatch"]
    resources = [for stream in aws_kinesis_firehose_delivery_stream.dataset : stream.arn]
  }

  # A save reads the checkpoint before it writes (merging, so an older one never wins).
  statement {
    sid       = "ReadAndWriteCheckpoints"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.lake.arn}/${local.checkpoints_prefix}*"]
  }

  # Without s3:ListBucket, S3 answers a GET of a key that does not exist yet (every symbol's
  # first start) with 403 AccessDenied instead of 404 NoSuchKey, and the service would take
  # that for a broken store: no checkpoint would ever be saved. S3 checks the key against
  # s3:prefix, so this lists the checkpoints and nothing else.
  statement {
    sid       = "TellAMissingCheckpointFromADeniedOne"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.lake.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.checkpoints_prefix}*"]
    }
  }

  # SSE-KMS objects: S3 uses the key on the task's behalf. With the bucket key on, S3 names
  # the bucket (not the object) in the encryption context.
  dynamic "statement" {
    for_each = var.bucket_encryption == "kms" ? [1] : []
    content {
      sid       = "UseDeploymentKeyForCheckpoints"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [aws_kms_key.lake.arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${var.region}.amazonaws.com"]
      }

      condition {
        test     = "StringLike"
        variable = "kms:EncryptionContext:aws:s3:arn"
        values   = [aws_s3_bucket.lake.arn, "${aws_s3_bucket.lake.arn}/${local.checkpoints_prefix}*"]
      }
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "put-records"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# --- the ECS agent (execution role) -------------------------------------------------------

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  description        = "ECS agent for streamer: pull the image, write logs, read the CoinGecko secret"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions
  }

  statement {
    sid       = "PullOwnImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [aws_ecr_repository.service.arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.service.arn}:*"]
  }

  dynamic "statement" {
    for_each = local.coingecko_secret_arn == null ? [] : [local.coingecko_secret_arn]
    content {
      sid       = "ReadCoinGeckoKey"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value]
    }
  }

  statement {
    sid       = "DecryptWithDeploymentKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.lake.arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-log-secret"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# --- Firehose (delivery role) -------------------------------------------------------------

data "aws_iam_policy_document" "firehose_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "firehose" {
  name               = "${var.name}-firehose"
  description        = "Firehose delivery of the streamer datasets into the lake bucket"
  assume_role_policy = data.aws_iam_policy_document.firehose_assume.json
}

data "aws_iam_policy_document" "firehose" {
  statement {
    sid       = "BucketLevel"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
    resources = [aws_s3_bucket.lake.arn]
  }

  statement {
    sid     = "WriteOwnPrefixes"
    actions = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
    resources = concat(
      [for prefix in distinct([for t in values(local.raw_tables) : t.location]) : "${aws_s3_bucket.lake.arn}/${prefix}*"],
      ["${aws_s3_bucket.lake.arn}/${split("!{", local.schema.error_prefix)[0]}*"],
    )
  }

  # table_format = "iceberg": what the Firehose developer guide's Iceberg destination policy
  # grants, narrowed to this database, its Iceberg tables and their location. Firehose reads the
  # table, writes Parquet data and metadata files under the table's location, and commits each
  # flush by updating the table's metadata pointer in the catalog.
  dynamic "statement" {
    for_each = local.iceberg ? [1] : []
    content {
      sid     = "CommitToIcebergTables"
      actions = ["glue:GetDatabase", "glue:GetTable", "glue:UpdateTable"]
      resources = concat(
        ["${local.glue_arn_prefix}:catalog", "${local.glue_arn_prefix}:database/${aws_glue_catalog_database.lake.name}"],
        [for table in keys(local.iceberg_tables) : "${local.glue_arn_prefix}:table/${aws_glue_catalog_database.lake.name}/${table}"],
      )
    }
  }

  dynamic "statement" {
    for_each = local.iceberg ? [1] : []
    content {
      sid       = "WriteIcebergTableFiles"
      actions   = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
      resources = ["${aws_s3_bucket.lake.arn}/${local.iceberg_prefix}*"]
    }
  }

  # With the bucket key on (bucket_encryption = "kms"), S3 names the bucket, not the object, in
  # the encryption context: both forms are this bucket.
  statement {
    sid       = "UseDeploymentKeyForS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.lake.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = [aws_s3_bucket.lake.arn, "${aws_s3_bucket.lake.arn}/*"]
    }
  }

  statement {
    sid       = "LogDeliveryErrors"
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.firehose.arn}:*"]
  }
}

resource "aws_iam_role_policy" "firehose" {
  name   = "deliver-to-lake"
  role   = aws_iam_role.firehose.id
  policy = data.aws_iam_policy_document.firehose.json
}
