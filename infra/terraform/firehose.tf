# One Direct PUT stream per dataset (and one for rejects), each writing GZIP JSON lines under the
# dataset's prefix from the Python schema: the same layout the local lake renders. With
# table_format = "iceberg" the datasets' streams keep their names and deliver into the dataset's
# Iceberg table instead (iceberg.tf), one static table per stream; the rejects stay JSON.
#
# One stream per dataset rather than one routed stream: a Direct PUT stream into Iceberg tables
# is capped at 5 MiB/s (1 MiB/s outside us-east-1, us-west-2 and eu-west-1), so thirteen streams
# have thirteen caps, and a static destination table needs no JSONQuery routing expression read
# from every record (docs/iceberg.md).

locals {
  # Dataset -> where its Firehose log stream's name says it delivers.
  firehose_log_streams = {
    for dataset in keys(local.datasets) :
    dataset => "${local.stream_names[dataset]}-${contains(keys(local.iceberg_datasets), dataset) ? "IcebergDelivery" : "S3Delivery"}"
  }
}

resource "aws_cloudwatch_log_group" "firehose" {
  name              = local.log_group_names.firehose
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.lake.arn
}

resource "aws_cloudwatch_log_stream" "firehose" {
  for_each       = local.datasets
  name           = local.firehose_log_streams[each.key]
  log_group_name = aws_cloudwatch_log_group.firehose.name
}

resource "aws_kinesis_firehose_delivery_stream" "dataset" {
  for_each    = local.datasets
  name        = local.stream_names[each.key]
  destination = contains(keys(local.iceberg_datasets), each.key) ? "iceberg" : "extended_s3"

  server_side_encryption {
    enabled  = true
    key_type = "CUSTOMER_MANAGED_CMK"
    key_arn  = aws_kms_key.lake.arn
  }

  dynamic "extended_s3_configuration" {
    for_each = contains(keys(local.iceberg_datasets), each.key) ? [] : [each.value]
    content {
      role_arn            = aws_iam_role.firehose.arn
      bucket_arn          = aws_s3_bucket.lake.arn
      prefix              = extended_s3_configuration.value.prefix
      error_output_prefix = local.schema.error_prefix
      compression_format  = "GZIP"
      buffering_interval  = var.firehose_buffering_interval
      buffering_size      = var.firehose_buffering_size
      kms_key_arn         = var.bucket_encryption == "kms" ? aws_kms_key.lake.arn : null

      cloudwatch_logging_options {
        enabled         = true
        log_group_name  = aws_cloudwatch_log_group.firehose.name
        log_stream_name = aws_cloudwatch_log_stream.firehose[each.key].name
      }
    }
  }

  # Rows whose columns or types do not match the table go, with the reason, under
  # crypto/errors/iceberg/<dataset>/; the s3_configuration is where Firehose writes them.
  dynamic "iceberg_configuration" {
    for_each = contains(keys(local.iceberg_datasets), each.key) ? [local.iceberg_datasets[each.key]] : []
    content {
      role_arn           = aws_iam_role.firehose.arn
      catalog_arn        = "${local.glue_arn_prefix}:catalog"
      buffering_interval = var.firehose_buffering_interval
      buffering_size     = var.firehose_buffering_size
      # Inserts only (no unique keys): Firehose raises the stream's throughput as it throttles.
      append_only    = true
      s3_backup_mode = "FailedDataOnly"

      destination_table_configuration {
        database_name          = aws_glue_catalog_database.lake.name
        table_name             = aws_glue_catalog_table.iceberg[iceberg_configuration.value.table].name
        s3_error_output_prefix = local.iceberg_error_prefixes[iceberg_configuration.value.table]
      }

      s3_configuration {
        role_arn            = aws_iam_role.firehose.arn
        bucket_arn          = aws_s3_bucket.lake.arn
        prefix              = local.iceberg_error_prefixes[iceberg_configuration.value.table]
        error_output_prefix = local.schema.error_prefix
        compression_format  = "GZIP"
        buffering_interval  = var.firehose_buffering_interval
        buffering_size      = var.firehose_buffering_size
        kms_key_arn         = var.bucket_encryption == "kms" ? aws_kms_key.lake.arn : null
      }

      cloudwatch_logging_options {
        enabled         = true
        log_group_name  = aws_cloudwatch_log_group.firehose.name
        log_stream_name = aws_cloudwatch_log_stream.firehose[each.key].name
      }
    }
  }
}
