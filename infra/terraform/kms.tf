# One customer-managed key for the deployment: lake objects (unless bucket_encryption = "s3"),
# Firehose at rest, Athena results, log groups, ECR, the CoinGecko secret and the alarm topic.

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:A key policy's "*" resource means this key only; writes are limited to the account and to conditioned service principals.
  #checkov:skip=CKV_AWS_356:A key policy's "*" resource means this key only (key policies cannot name their own ARN).
  #checkov:skip=CKV_AWS_109:The account root statement is AWS's default key policy, delegating key access to IAM policies.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs names the log group it encrypts for in the encryption context
  # (kms:EncryptionContext:aws:logs:arn), the condition AWS documents for it: only this
  # deployment's log groups, in this account and region. Logs is not documented to send
  # aws:SourceArn or aws:SourceAccount with these calls, and a condition on a key the request
  # lacks would refuse every log group.
  statement {
    sid       = "CloudWatchLogsEncrypts"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = [for group in local.encrypted_log_groups : "${local.logs_arn_prefix}:log-group:${group}"]
    }
  }

  # CloudWatch alarms publish to the encrypted alarm topic: only alarms of this account
  # (aws:SourceAccount) whose names this deployment gives them (aws:SourceArn), in its region.
  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [for prefix in local.alarm_name_prefixes : "${local.alarms_arn_prefix}:alarm:${prefix}-*"]
    }
  }
}

locals {
  logs_arn_prefix   = "arn:${data.aws_partition.current.partition}:logs:${var.region}:${local.account_id}"
  alarms_arn_prefix = "arn:${data.aws_partition.current.partition}:cloudwatch:${var.region}:${local.account_id}"

  # The service's, Firehose's, and the optional crawler's (Glue names it after its role and
  # security configuration).
  encrypted_log_groups = concat(values(local.log_group_names), var.enable_crawler ? ["/aws-glue/crawlers-*"] : [])

  # Every alarm is named <name>-... (the service, its shards, compaction) or
  # <stream_prefix>-<dataset>-... (the Firehose streams'); a test holds them to it.
  alarm_name_prefixes = distinct([var.name, var.stream_prefix])
}

resource "aws_kms_key" "lake" {
  description             = "${var.name}: market-data lake, streams, logs and secrets"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "lake" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.lake.key_id
}
