# table_format = "iceberg": every dataset with an Iceberg layout in the Python schema
# (schema.json "iceberg", from src/streamer/iceberg_layout.py) becomes an Apache Iceberg v2 table
# named as users query it, crypto_<dataset>, which Firehose writes (firehose.tf) and Glue's table
# optimizers compact, expire and clean (below). The rejects keep their gzip JSON table.
# docs/iceberg.md has the reasons and the limits.

locals {
  iceberg_layout = local.schema.iceberg

  # Iceberg table name -> its layout (dataset, columns, partition and sort columns).
  iceberg_tables = { for d, t in local.iceberg_datasets : t.table => t }

  # Data and metadata of crypto_<dataset> under crypto/iceberg/<dataset>/, outside the raw
  # prefixes' lifecycle rules (s3.tf): an expired Iceberg file would break its table.
  iceberg_locations = { for table, t in local.iceberg_tables : table => "${local.iceberg_prefix}${t.dataset}" }

  # Rows Firehose could not write into a table (wrong columns or types), per table.
  iceberg_error_prefixes = { for table, t in local.iceberg_tables : table => "${local.iceberg_error_prefix}${t.dataset}/" }

  # Glue/Hive column types (schema.json) as Iceberg types (the Iceberg spec's JSON): bigint is
  # long; decimal(p,s), string, double, boolean and timestamp (microseconds, no zone) keep their
  # names. Book levels and quality ranges, array<struct<...>>, become a list of structs.
  iceberg_primitives = { bigint = "long", int = "int", string = "string", double = "double", boolean = "boolean", timestamp = "timestamp", date = "date" }

  iceberg_columns = {
    for table, t in local.iceberg_tables : table => [
      for c in t.columns : merge(c, {
        struct_fields = can(regex("^array<struct<(.+)>>$", c.type)) ? [
          for m in regexall("(\\w+):(decimal\\(\\d+,\\d+\\)|\\w+)", regex("^array<struct<(.+)>>$", c.type)[0]) : { name = m[0], type = m[1] }
        ] : []
      })
    ]
  }

  # Field ids: the top-level columns 1..N in table order (iceberg_layout.py), then each nested
  # list's element and struct fields, column after column. Nested fields are optional, so a
  # missing inner value is a null, not a rejected row.
  iceberg_fields = {
    for table, cols in local.iceberg_columns : table => [
      for i, c in cols : {
        id       = i + 1
        name     = c.name
        required = c.required
        type = length(c.struct_fields) == 0 ? jsonencode(lookup(local.iceberg_primitives, c.type, c.type)) : jsonencode({
          type = "list"
          # The element's id follows the ids taken by the columns and the lists before this one.
          "element-id"       = length(cols) + 1 + sum(concat([0], [for p in slice(cols, 0, i) : length(p.struct_fields) == 0 ? 0 : 1 + length(p.struct_fields)]))
          "element-required" = false
          element = {
            type = "struct"
            fields = [
              for j, f in c.struct_fields : {
                id       = length(cols) + 2 + j + sum(concat([0], [for p in slice(cols, 0, i) : length(p.struct_fields) == 0 ? 0 : 1 + length(p.struct_fields)]))
                name     = f.name
                required = false
                type     = lookup(local.iceberg_primitives, f.type, f.type)
              }
            ]
          }
        })
      }
    ]
  }

  # Column name -> field id, for the partition spec and the sort order.
  iceberg_field_ids = { for table, fields in local.iceberg_fields : table => { for f in fields : f.name => f.id } }
}

resource "aws_glue_catalog_table" "iceberg" {
  for_each      = local.iceberg_tables
  name          = each.key
  database_name = aws_glue_catalog_database.lake.name
  description   = "${local.tables[each.key].description} Apache Iceberg v2, written by Firehose ${local.stream_names[each.value.dataset]}."
  table_type    = "EXTERNAL_TABLE"

  open_table_format_input {
    iceberg_input {
      metadata_operation = "CREATE"
      version            = tostring(local.iceberg_layout.format_version)

      iceberg_table_input {
        location = "s3://${aws_s3_bucket.lake.bucket}/${local.iceberg_locations[each.key]}"

        # What compaction aims for (iceberg_layout.TARGET_FILE_BYTES) and ZSTD Parquet, as
        # `streamer compact` writes on the JSON path. Iceberg writers that read the table's
        # properties keep the metadata log short: one metadata file per Firehose commit would
        # otherwise pile up.
        properties = {
          "write.target-file-size-bytes"               = tostring(local.iceberg_layout.target_file_bytes)
          "write.parquet.compression-codec"            = "zstd"
          "write.metadata.delete-after-commit.enabled" = "true"
          "write.metadata.previous-versions-max"       = "100"
        }

        schema {
          schema_id = 0
          type      = "struct"

          dynamic "fields" {
            for_each = local.iceberg_fields[each.key]
            content {
              id       = fields.value.id
              name     = fields.value.name
              required = fields.value.required
              type     = fields.value.type
            }
          }
        }

        # Identity partitions on the arrival day (year, month, day): the same predicates the
        # JSON path's partitions answer, so every query written for it prunes here too.
        partition_spec {
          spec_id = 0

          dynamic "fields" {
            for_each = each.value.partition_columns
            content {
              field_id  = 1000 + fields.key
              name      = fields.value
              source_id = local.iceberg_field_ids[each.key][fields.value]
              transform = "identity"
            }
          }
        }

        # exchange, symbol, event_time where the dataset has them: what the sort compaction
        # rewrites each partition by.
        dynamic "sort_order" {
          for_each = length(each.value.sort_columns) > 0 ? [each.value.sort_columns] : []
          content {
            order_id = 1

            dynamic "fields" {
              for_each = sort_order.value
              content {
                source_id  = local.iceberg_field_ids[each.key][fields.value]
                transform  = "identity"
                direction  = "asc"
                null_order = "nulls-first"
              }
            }
          }
        }
      }
    }
  }

  # The JSON path's view carried this name: it must be gone before the table is created
  # (docs/iceberg.md, "Switching an existing deployment").
  depends_on = [aws_glue_catalog_table.view]
}

# --- Glue table optimizers ------------------------------------------------------------------
# Firehose commits one small Parquet file per buffer flush and partition; the optimizers
# compact them (sorted by the table's sort order where it has one), expire old snapshots with
# their files, and delete files no snapshot references. One role for the three, as AWS's
# "Table optimization prerequisites" allows.

data "aws_iam_policy_document" "optimizer_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "optimizer" {
  count              = local.iceberg ? 1 : 0
  name               = "${var.name}-iceberg-optimizer"
  description        = "Glue table optimizers of the streamer Iceberg tables: compaction, snapshot retention, orphan file deletion"
  assume_role_policy = data.aws_iam_policy_document.optimizer_assume.json
}

data "aws_iam_policy_document" "optimizer" {
  statement {
    sid       = "RewriteTableFiles"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.lake.arn}/${local.iceberg_prefix}*"]
  }

  statement {
    sid       = "ListTableFiles"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.lake.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.iceberg_prefix}*"]
    }
  }

  statement {
    sid     = "CommitToTables"
    actions = ["glue:GetTable", "glue:UpdateTable"]
    resources = concat(
      ["${local.glue_arn_prefix}:catalog", "${local.glue_arn_prefix}:database/${aws_glue_catalog_database.lake.name}"],
      [for table in keys(local.iceberg_tables) : "${local.glue_arn_prefix}:table/${aws_glue_catalog_database.lake.name}/${table}"],
    )
  }

  statement {
    sid     = "WriteOptimizerLogs"
    actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [
      for group in ["iceberg-compaction", "iceberg-retention", "iceberg-orphan-file-deletion"] :
      "arn:${data.aws_partition.current.partition}:logs:${var.region}:${local.account_id}:log-group:/aws-glue/${group}/logs:*"
    ]
  }

  # SSE-KMS objects (bucket_encryption = "kms"): S3 uses the key on the optimizer's behalf.
  statement {
    sid       = "UseDeploymentKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.lake.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "optimizer" {
  count  = local.iceberg ? 1 : 0
  name   = "optimize-iceberg-tables"
  role   = aws_iam_role.optimizer[0].id
  policy = data.aws_iam_policy_document.optimizer.json
}

resource "aws_glue_catalog_table_optimizer" "compaction" {
  for_each      = local.iceberg_tables
  catalog_id    = local.account_id
  database_name = aws_glue_catalog_database.lake.name
  table_name    = aws_glue_catalog_table.iceberg[each.key].name
  type          = "compaction"

  configuration {
    enabled  = true
    role_arn = aws_iam_role.optimizer[0].arn

    compaction_configuration {
      iceberg_configuration {
        # sort and z-order need a sort order; a table without one (spot_prices) bin-packs.
        strategy = length(each.value.sort_columns) > 0 ? var.iceberg_compaction_strategy : "binpack"
      }
    }
  }

  depends_on = [aws_iam_role_policy.optimizer]
}

resource "aws_glue_catalog_table_optimizer" "retention" {
  for_each      = local.iceberg_tables
  catalog_id    = local.account_id
  database_name = aws_glue_catalog_database.lake.name
  table_name    = aws_glue_catalog_table.iceberg[each.key].name
  type          = "retention"

  configuration {
    enabled  = true
    role_arn = aws_iam_role.optimizer[0].arn

    retention_configuration {
      iceberg_configuration {
        snapshot_retention_period_in_days = var.iceberg_snapshot_retention_days
        number_of_snapshots_to_retain     = var.iceberg_snapshots_to_retain
        clean_expired_files               = true
      }
    }
  }

  depends_on = [aws_iam_role_policy.optimizer]
}

resource "aws_glue_catalog_table_optimizer" "orphan_file_deletion" {
  for_each      = local.iceberg_tables
  catalog_id    = local.account_id
  database_name = aws_glue_catalog_database.lake.name
  table_name    = aws_glue_catalog_table.iceberg[each.key].name
  type          = "orphan_file_deletion"

  configuration {
    enabled  = true
    role_arn = aws_iam_role.optimizer[0].arn

    orphan_file_deletion_configuration {
      iceberg_configuration {
        orphan_file_retention_period_in_days = var.iceberg_orphan_file_retention_days
        location                             = "s3://${aws_s3_bucket.lake.bucket}/${local.iceberg_locations[each.key]}"
      }
    }
  }

  depends_on = [aws_iam_role_policy.optimizer]
}
