# One table per dataset over its raw JSON objects, generated from schema.json (the Python
# schema): `crypto_<dataset>_raw` (rejects keep `crypto_rejects`). Partition projection over
# year/month/day/hour makes each new hour queryable the moment Firehose writes it; the OpenX JSON
# SerDe skips malformed lines instead of failing the query. The name users query,
# `crypto_<dataset>`, is the view in compaction_tables.tf over these and the compacted tables.
# With table_format = "iceberg" only the rejects keep a table here; the datasets' are the
# Iceberg tables of iceberg.tf.

resource "aws_glue_catalog_database" "lake" {
  name        = local.schema.database
  description = "streamer market-data lake (tables generated from the Python schema)"
}

resource "aws_glue_catalog_table" "dataset" {
  for_each      = local.raw_tables
  name          = each.value.glue_table
  database_name = aws_glue_catalog_database.lake.name
  description   = each.value.description
  table_type    = "EXTERNAL_TABLE"

  # Projection ranges and digits come from the Python schema (schema.py PROJECTION_RANGES).
  parameters = merge(local.schema.projection, {
    "classification"            = "json"
    "EXTERNAL"                  = "TRUE"
    "storage.location.template" = "s3://${aws_s3_bucket.lake.bucket}/${each.value.location}${local.schema.location_template_suffix}"
  })

  dynamic "partition_keys" {
    for_each = local.schema.partition_keys
    content {
      name = partition_keys.value.name
      type = partition_keys.value.type
    }
  }

  storage_descriptor {
    location      = "s3://${aws_s3_bucket.lake.bucket}/${each.value.location}"
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    ser_de_info {
      name                  = "openx-json"
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
      parameters = {
        "ignore.malformed.json" = "true"
      }
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

# --- optional crawler (enable_crawler), into its own database ----------------------------
# The projected tables above never need it; it is for users who want Glue's auto-detection.
# It writes to "<database>_crawled" and only logs schema changes, so it cannot rewrite the
# tables Terraform owns.

resource "aws_glue_catalog_database" "crawled" {
  count       = var.enable_crawler ? 1 : 0
  name        = "${local.schema.database}_crawled"
  description = "Tables detected by the optional streamer crawler"
}

resource "aws_glue_security_configuration" "crawler" {
  count = var.enable_crawler ? 1 : 0
  name  = "${var.name}-crawler"

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = aws_kms_key.lake.arn
    }

    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = aws_kms_key.lake.arn
    }

    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = aws_kms_key.lake.arn
    }
  }
}

data "aws_iam_policy_document" "glue_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "crawler" {
  count              = var.enable_crawler ? 1 : 0
  name               = "${var.name}-crawler"
  description        = "Optional Glue crawler over the streamer lake"
  assume_role_policy = data.aws_iam_policy_document.glue_assume.json
}

resource "aws_iam_role_policy_attachment" "crawler_service" {
  count      = var.enable_crawler ? 1 : 0
  role       = aws_iam_role.crawler[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSGlueServiceRole"
}

data "aws_iam_policy_document" "crawler" {
  statement {
    sid       = "ReadLake"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = [aws_s3_bucket.lake.arn, "${aws_s3_bucket.lake.arn}/crypto/*"]
  }

  statement {
    sid       = "DecryptLake"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"]
    resources = [aws_kms_key.lake.arn]
  }
}

resource "aws_iam_role_policy" "crawler" {
  count  = var.enable_crawler ? 1 : 0
  name   = "read-lake"
  role   = aws_iam_role.crawler[0].id
  policy = data.aws_iam_policy_document.crawler.json
}

resource "aws_glue_crawler" "lake" {
  count                  = var.enable_crawler ? 1 : 0
  name                   = "${var.name}-lake"
  role                   = aws_iam_role.crawler[0].arn
  database_name          = aws_glue_catalog_database.crawled[0].name
  schedule               = var.crawler_schedule
  security_configuration = aws_glue_security_configuration.crawler[0].name

  dynamic "s3_target" {
    for_each = local.raw_tables
    content {
      path = "s3://${aws_s3_bucket.lake.bucket}/${s3_target.value.location}"
    }
  }

  schema_change_policy {
    update_behavior = "LOG"
    delete_behavior = "LOG"
  }

  recrawl_policy {
    recrawl_behavior = "CRAWL_NEW_FOLDERS_ONLY"
  }
}
