data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  # One source of truth: the Python schema, exported by `make schema` (checked by a test).
  schema = jsondecode(file("${path.module}/schema.json"))

  # Glue table name -> table (dataset, description, prefix, location, columns).
  tables = local.schema.tables
  # Dataset name -> its table, for the Firehose streams.
  datasets = { for table, t in local.tables : t.dataset => merge(t, { table = table }) }

  # table_format (variables.tf): with "iceberg", each dataset that has an Iceberg layout
  # (schema.json "iceberg") is delivered into its Iceberg table (iceberg.tf); the others (the
  # rejects) stay gzip JSON. Dataset name -> its Iceberg layout, empty with "json".
  iceberg = var.table_format == "iceberg"
  iceberg_datasets = local.iceberg ? {
    for table, t in local.schema.iceberg.tables : t.dataset => merge(t, { table = table })
  } : {}
  iceberg_prefix       = "crypto/iceberg/"
  iceberg_error_prefix = "crypto/errors/iceberg/"

  # Glue tables over gzip JSON objects (glue.tf): every dataset's, or with "iceberg" only those
  # of the datasets without an Iceberg table.
  raw_tables = { for table, t in local.tables : table => t if !contains(keys(local.iceberg_datasets), t.dataset) }

  # Where a query of the tables users read reads objects: the raw JSON objects, and the
  # compacted Parquet or the Iceberg tables' data and metadata.
  table_read_prefixes = distinct(concat(
    [for t in values(local.raw_tables) : t.location],
    local.iceberg ? [local.iceberg_prefix] : [for t in values(local.schema.compaction.tables) : t.location],
  ))

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
