resource "aws_s3_bucket" "lake" {
  #checkov:skip=CKV_AWS_18:Access logs would need a second bucket per deployment; CloudTrail data events are the user's choice.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; market data can be re-collected, so it is left to the user.
  #checkov:skip=CKV2_AWS_62:Nothing consumes S3 event notifications: Athena reads through partition projection.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_ownership_controls" "lake" {
  bucket = aws_s3_bucket.lake.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "lake" {
  bucket                  = aws_s3_bucket.lake.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "lake" {
  bucket = aws_s3_bucket.lake.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.bucket_encryption == "kms" ? "aws:kms" : "AES256"
      kms_master_key_id = var.bucket_encryption == "kms" ? aws_kms_key.lake.arn : null
    }
    bucket_key_enabled = var.bucket_encryption == "kms"
  }
}

data "aws_iam_policy_document" "lake_bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.lake.arn,
      "${aws_s3_bucket.lake.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "lake" {
  bucket = aws_s3_bucket.lake.id
  policy = data.aws_iam_policy_document.lake_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.lake]
}

resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id

  rule {
    id     = "abort-incomplete-uploads-and-old-versions"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  dynamic "rule" {
    for_each = toset(["crypto/tabular/", "crypto/rejects/"])
    content {
      id     = "age-${trimsuffix(replace(rule.value, "/", "-"), "-")}"
      status = var.raw_transition_days > 0 || var.raw_expiration_days > 0 ? "Enabled" : "Disabled"

      filter {
        prefix = rule.value
      }

      dynamic "transition" {
        for_each = var.raw_transition_days > 0 ? [1] : []
        content {
          days          = var.raw_transition_days
          storage_class = var.raw_transition_storage_class
        }
      }

      dynamic "expiration" {
        for_each = var.raw_expiration_days > 0 ? [1] : []
        content {
          days = var.raw_expiration_days
        }
      }
    }
  }

  # Raw objects of compacted days: `streamer compact` tags each one once its day's Parquet and
  # manifest are in place, so an object that was never compacted is never expired by this rule.
  dynamic "rule" {
    for_each = var.raw_expire_after_compaction_days > 0 ? [1] : []
    content {
      id     = "expire-compacted-raw"
      status = "Enabled"

      filter {
        and {
          prefix = "crypto/tabular/"
          tags   = { (local.schema.compaction.raw_tag.key) = local.schema.compaction.raw_tag.value }
        }
      }

      expiration {
        days = var.raw_expire_after_compaction_days
      }
    }
  }

  # A checkpoint is overwritten every checkpoint_seconds per symbol: with versioning on, the
  # old versions would pile up by the million before noncurrent_version_expiration_days. Only
  # the newest is ever read, so the old ones go after a day.
  rule {
    id     = "expire-old-checkpoint-versions"
    status = "Enabled"

    filter {
      prefix = local.checkpoints_prefix
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  rule {
    id     = "expire-firehose-errors"
    status = "Enabled"

    filter {
      prefix = "crypto/errors/"
    }

    expiration {
      days = var.error_expiration_days
    }
  }

  rule {
    id     = "expire-athena-results"
    status = "Enabled"

    filter {
      prefix = local.athena_results_prefix
    }

    expiration {
      days = var.athena_results_expiration_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.lake]
}
