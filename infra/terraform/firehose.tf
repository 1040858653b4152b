# One Direct PUT stream per dataset (and one for rejects), each writing GZIP JSON lines under the
# dataset's prefix from the Python schema: the same layout the local lake renders.

resource "aws_cloudwatch_log_group" "firehose" {
  name              = local.log_group_names.firehose
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.lake.arn
}

resource "aws_cloudwatch_log_stream" "firehose" {
  for_each       = local.datasets
  name           = "${local.stream_names[each.key]}-S3Delivery"
  log_group_name = aws_cloudwatch_log_group.firehose.name
}

resource "aws_kinesis_firehose_delivery_stream" "dataset" {
  for_each    = local.datasets
  name        = local.stream_names[each.key]
  destination = "extended_s3"

  server_side_encryption {
    enabled  = true
    key_type = "CUSTOMER_MANAGED_CMK"
    key_arn  = aws_kms_key.lake.arn
  }

  extended_s3_configuration {
    role_arn            = aws_iam_role.firehose.arn
    bucket_arn          = aws_s3_bucket.lake.arn
    prefix              = each.value.prefix
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
