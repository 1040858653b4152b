data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  # One source of truth: the Python schema, exported by `make schema` (checked by a test).
  schema = jsondecode(file("${path.module}/schema.json"))

  # Glue table name -> table (dataset, description, prefix, location, columns).
  tables = local.schema.tables
  # Dataset name -> its table, for the Firehose streams.
  datasets = { for table, t in local.tables : t.dataset => merge(t, { table = table }) }

  stream_names = { for dataset in keys(local.datasets) : dataset => "${var.stream_prefix}-${dataset}" }
  stream_arns = [
    for dataset in keys(local.datasets) :
    "arn:${data.aws_partition.current.partition}:firehose:${var.region}:${data.aws_caller_identity.current.account_id}:deliverystream/${local.stream_names[dataset]}"
  ]

  account_id      = data.aws_caller_identity.current.account_id
  glue_arn_prefix = "arn:${data.aws_partition.current.partition}:glue:${var.region}:${local.account_id}"
  bucket_name     = coalesce(var.bucket_name, "${var.name}-lake-${data.aws_caller_identity.current.account_id}-${var.region}")

  # Named once: the key policy lets CloudWatch Logs use the key for these groups only (kms.tf).
  log_group_names = { service = "/ecs/${var.name}", firehose = "/aws/kinesisfirehose/${var.name}" }

  athena_results_prefix = "athena-results/"
  spool_path            = "/var/lib/streamer"
  # Ephemeral storage the spool may not take (var.spool_max_mb): the image's layers, /tmp, and
  # the segment being written when the budget is reached.
  ephemeral_headroom_gib = 5

  alarm_actions = compact([var.alarm_topic_arn, one(aws_sns_topic.alarms[*].arn)])

  sql_dir = "${path.module}/sql" # a link to the repository's sql/
}
