output "bucket" {
  description = "The lake bucket."
  value       = aws_s3_bucket.lake.id
}

output "stream_names" {
  description = "Firehose delivery stream per dataset."
  value       = { for dataset, stream in aws_kinesis_firehose_delivery_stream.dataset : dataset => stream.name }
}

output "glue_database" {
  description = "Glue database holding the crypto_* tables."
  value       = aws_glue_catalog_database.lake.name
}

output "athena_workgroup" {
  description = "Athena workgroup to query in (results encrypted, scans capped)."
  value       = aws_athena_workgroup.lake.name
}

output "ecr_repository_url" {
  description = "Push the service image here: <url>:<image_tag>."
  value       = aws_ecr_repository.service.repository_url
}

output "ecs_cluster" {
  description = "ECS cluster of the service."
  value       = aws_ecs_cluster.service.name
}

output "ecs_service" {
  description = "ECS service running the streamer task when shards = 1 (null otherwise: see ecs_services)."
  value       = var.shards == 1 ? aws_ecs_service.service[0].name : null
}

output "ecs_services" {
  description = "ECS service of each shard, in shard order (index i runs STREAMER_SHARD=i/shards)."
  value       = aws_ecs_service.service[*].name
}

output "log_group" {
  description = "CloudWatch log group of the service (JSON lines, embedded metrics)."
  value       = aws_cloudwatch_log_group.service.name
}

output "kms_key_arn" {
  description = "The deployment's customer-managed KMS key."
  value       = aws_kms_key.lake.arn
}

output "coingecko_secret_arn" {
  description = "Secret to put the CoinGecko key in (null on the keyless plan)."
  value       = local.coingecko_secret_arn
}

output "alarm_topic_arn" {
  description = "SNS topic receiving the alarms (null if none)."
  value       = one(local.alarm_actions)
}

output "compaction_schedule" {
  description = "EventBridge Scheduler schedule running the daily compaction (null when compaction_enabled is false)."
  value       = one(aws_scheduler_schedule.compact[*].name)
}

output "audit_schedule" {
  description = "EventBridge Scheduler schedule running the daily `streamer audit` (null when audit_enabled is false)."
  value       = one(aws_scheduler_schedule.audit[*].name)
}

output "checkpoints_location" {
  description = "Where the service keeps a checkpoint per exchange and symbol (<exchange>/<symbol>.json beneath)."
  value       = "s3://${aws_s3_bucket.lake.bucket}/${local.checkpoints_prefix}"
}

output "compacted_tables" {
  description = "Per view users query (crypto_<dataset>): its raw and compacted Glue tables (empty with table_format = \"iceberg\")."
  value       = local.iceberg ? {} : { for view, t in local.compaction.tables : view => { raw = t.raw_table, compacted = t.compacted_table } }
}

output "quicksight_data_source_arn" {
  description = "QuickSight Athena data source (null unless enable_quicksight)."
  value       = one(aws_quicksight_data_source.athena[*].arn)
}

output "quicksight_data_sets" {
  description = "QuickSight dataset ARN per Glue table (empty unless enable_quicksight)."
  value       = { for table, d in aws_quicksight_data_set.table : table => d.arn }
}

output "table_format" {
  description = "How the lake stores rows: json (gzip JSON plus daily compaction) or iceberg."
  value       = var.table_format
}

output "iceberg_tables" {
  description = "Per Iceberg table users query (crypto_<dataset>), its S3 location (empty unless table_format = \"iceberg\")."
  value       = { for table, location in local.iceberg_locations : table => "s3://${aws_s3_bucket.lake.bucket}/${location}" }
}
