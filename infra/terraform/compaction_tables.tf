# Compaction in the catalog, generated from schema.json (`compaction` section, from the Python
# schema): per dataset a Parquet table of the compacted days and the view users query. Not with
# table_format = "iceberg": crypto_<dataset> is then an Iceberg table (iceberg.tf).

locals {
  compaction = local.schema.compaction
}

# crypto_<dataset>_compacted: one row per record_id, sorted, in at most max_files_per_day ZSTD
# Parquet files per day under crypto/compacted/<dataset>/year=/month=/day=/, written by
# `streamer compact`. Projection over year/month/day, as the raw tables over the hour.
resource "aws_glue_catalog_table" "compacted" {
  for_each      = local.iceberg ? {} : local.compaction.tables
  name          = each.value.compacted_table
  database_name = aws_glue_catalog_database.lake.name
  description   = "Compacted days of ${each.key} (Parquet, one row per record_id), written by streamer compact"
  table_type    = "EXTERNAL_TABLE"

  parameters = merge(local.compaction.projection, {
    "classification"            = "parquet"
    "EXTERNAL"                  = "TRUE"
    "parquet.compression"       = "ZSTD"
    "storage.location.template" = "s3://${aws_s3_bucket.lake.bucket}/${each.value.location}${local.compaction.location_template_suffix}"
  })

  dynamic "partition_keys" {
    for_each = local.compaction.partition_keys
    content {
      name = partition_keys.value.name
      type = partition_keys.value.type
    }
  }

  storage_descriptor {
    location      = "s3://${aws_s3_bucket.lake.bucket}/${each.value.location}"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      name                  = "parquet"
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }

    dynamic "columns" {
      for_each = each.value.columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

# crypto_<dataset>: compacted days from the Parquet table, every other day from the raw one.
# Terraform creates the view in its first form (no day compacted: all raw) and then leaves it to
# `streamer compact`, which rewrites it with each compacted day as a constant, so Athena prunes
# partitions when it plans (a view that looked the days up at run time would still scan the raw
# objects of compacted days). After a schema change the view gains new columns at the next
# compaction run.
resource "aws_glue_catalog_table" "view" {
  for_each      = local.iceberg ? {} : local.compaction.tables
  name          = each.key
  database_name = aws_glue_catalog_database.lake.name
  description   = "${local.tables[each.key].description} Compacted days from ${each.value.compacted_table}, the others from ${each.value.raw_table}."
  table_type    = "VIRTUAL_VIEW"

  parameters = {
    presto_view = "true"
    comment     = "Presto View"
  }

  # Athena reads the view from this text: its SQL and its columns in Trino's types.
  view_original_text = "/* Presto View: ${base64encode(jsonencode({
    originalSql = each.value.view_sql
    catalog     = "awsdatacatalog"
    schema      = aws_glue_catalog_database.lake.name
    columns     = [for c in each.value.view_columns : { name = c.name, type = c.trino }]
  }))} */"
  view_expanded_text = "/* Presto View */"

  # The same columns in Hive types, for the Glue console and metadata clients.
  storage_descriptor {
    dynamic "columns" {
      for_each = each.value.view_columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }

  lifecycle {
    ignore_changes = all # streamer compact owns the view once it exists
  }

  # The raw table used to carry this name: it must be gone (replaced) before the view is created.
  depends_on = [aws_glue_catalog_table.dataset, aws_glue_catalog_table.compacted]
}
