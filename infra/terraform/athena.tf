resource "aws_athena_workgroup" "lake" {
  name          = var.name
  description   = "Queries over the streamer lake (results encrypted, scans capped)"
  state         = "ENABLED"
  force_destroy = var.force_destroy

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.athena_bytes_scanned_cutoff

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location = "s3://${aws_s3_bucket.lake.bucket}/${local.athena_results_prefix}"

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = aws_kms_key.lake.arn
      }
    }
  }
}

# Every query in sql/ becomes a named query of the workgroup (tested on DuckDB with sqlglot).
resource "aws_athena_named_query" "sql" {
  for_each    = fileset(local.sql_dir, "*.sql")
  name        = trimsuffix(each.value, ".sql")
  description = trimspace(trimprefix(split("\n", file("${local.sql_dir}/${each.value}"))[0], "--"))
  workgroup   = aws_athena_workgroup.lake.id
  database    = aws_glue_catalog_database.lake.name
  query       = file("${local.sql_dir}/${each.value}")
}
