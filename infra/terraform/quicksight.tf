# Optional QuickSight on the Athena workgroup (enable_quicksight): one Athena data source and a
# dataset per Glue table, shared with one QuickSight user or group. QuickSight reaches the lake
# through its own role (the data source's role_arn), which may only run queries in this
# workgroup, read the Glue tables, read the lake's data prefixes, write Athena's results prefix
# and use the deployment key through S3. Needs an existing QuickSight subscription.

locals {
  quicksight_count = var.enable_quicksight ? 1 : 0

  # Glue column types as QuickSight input column types; order-book levels (arrays) have none,
  # so they stay out of the datasets (best bid and ask are in crypto_tickers).
  quicksight_types = {
    "string"         = "STRING"
    "bigint"         = "INTEGER"
    "boolean"        = "BOOLEAN"
    "double"         = "DECIMAL"
    "decimal(38,18)" = "DECIMAL"
    "timestamp"      = "DATETIME"
  }

  quicksight_tables = var.enable_quicksight ? {
    for table, t in local.tables : table => concat(
      [for c in t.columns : { name = c.name, type = local.quicksight_types[c.type] } if contains(keys(local.quicksight_types), c.type)],
      [for k in local.schema.partition_keys : { name = k.name, type = "STRING" }],
    )
  } : {}

  quicksight_data_source_actions = [
    "quicksight:DescribeDataSource",
    "quicksight:DescribeDataSourcePermissions",
    "quicksight:PassDataSource",
    "quicksight:UpdateDataSource",
    "quicksight:UpdateDataSourcePermissions",
    "quicksight:DeleteDataSource",
  ]
  quicksight_data_set_actions = [
    "quicksight:DescribeDataSet",
    "quicksight:DescribeDataSetPermissions",
    "quicksight:PassDataSet",
    "quicksight:DescribeIngestion",
    "quicksight:ListIngestions",
    "quicksight:CreateIngestion",
    "quicksight:CancelIngestion",
    "quicksight:UpdateDataSet",
    "quicksight:UpdateDataSetPermissions",
    "quicksight:DeleteDataSet",
  ]
  athena_workgroup_arn = "arn:${data.aws_partition.current.partition}:athena:${var.region}:${local.account_id}:workgroup/${aws_athena_workgroup.lake.name}"
}

data "aws_iam_policy_document" "quicksight_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["quicksight.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "quicksight" {
  count              = local.quicksight_count
  name               = "${var.name}-quicksight"
  description        = "QuickSight's access to the streamer lake: Athena in one workgroup, read-only data"
  assume_role_policy = data.aws_iam_policy_document.quicksight_assume.json
}

data "aws_iam_policy_document" "quicksight" {
  statement {
    sid = "QueryInOwnWorkgroup"
    actions = [
      "athena:GetWorkGroup",
      "athena:StartQueryExecution",
      "athena:StopQueryExecution",
      "athena:GetQueryExecution",
      "athena:GetQueryResults",
      "athena:GetQueryResultsStream",
    ]
    resources = [local.athena_workgroup_arn]
  }

  statement {
    sid = "BrowseTheCatalog"
    actions = [
      "athena:GetDataCatalog",
      "athena:ListDatabases",
      "athena:GetDatabase",
      "athena:ListTableMetadata",
      "athena:GetTableMetadata",
    ]
    resources = ["arn:${data.aws_partition.current.partition}:athena:${var.region}:${local.account_id}:datacatalog/AwsDataCatalog"]
  }

  statement {
    sid     = "ReadGlueTables"
    actions = ["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition"]
    resources = [
      "${local.glue_arn_prefix}:catalog",
      "${local.glue_arn_prefix}:database/${aws_glue_catalog_database.lake.name}",
      "${local.glue_arn_prefix}:table/${aws_glue_catalog_database.lake.name}/*",
    ]
  }

  statement {
    sid       = "ListLakeBucket"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
    resources = [aws_s3_bucket.lake.arn]
  }

  # Each crypto_<dataset> view reads raw days and compacted days (compaction.tf), or with
  # table_format = "iceberg" each is an Iceberg table (iceberg.tf).
  statement {
    sid       = "ReadLakeData"
    actions   = ["s3:GetObject"]
    resources = [for prefix in local.table_read_prefixes : "${aws_s3_bucket.lake.arn}/${prefix}*"]
  }

  statement {
    sid       = "WriteAthenaResults"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${aws_s3_bucket.lake.arn}/${local.athena_results_prefix}*"]
  }

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

resource "aws_iam_role_policy" "quicksight" {
  count  = local.quicksight_count
  name   = "athena-lake-read"
  role   = aws_iam_role.quicksight[0].id
  policy = data.aws_iam_policy_document.quicksight.json
}

resource "aws_quicksight_data_source" "athena" {
  count          = local.quicksight_count
  data_source_id = "${var.name}-athena"
  name           = "${var.name} lake (Athena ${aws_athena_workgroup.lake.name})"
  type           = "ATHENA"

  parameters {
    athena {
      work_group = aws_athena_workgroup.lake.name
      role_arn   = aws_iam_role.quicksight[0].arn
    }
  }

  ssl_properties {
    disable_ssl = false
  }

  permission {
    principal = var.quicksight_principal_arn
    actions   = local.quicksight_data_source_actions
  }

  lifecycle {
    precondition {
      condition     = var.quicksight_principal_arn != null
      error_message = "enable_quicksight needs quicksight_principal_arn: the QuickSight user or group to share the data source and datasets with."
    }
  }

  depends_on = [aws_iam_role_policy.quicksight]
}

resource "aws_quicksight_data_set" "table" {
  for_each    = local.quicksight_tables
  data_set_id = "${var.name}-${each.key}"
  name        = each.key
  import_mode = var.quicksight_import_mode

  physical_table_map {
    physical_table_map_id = replace(each.key, "_", "-")

    relational_table {
      data_source_arn = aws_quicksight_data_source.athena[0].arn
      catalog         = "AwsDataCatalog"
      schema          = aws_glue_catalog_database.lake.name
      name            = each.key

      dynamic "input_columns" {
        for_each = each.value
        content {
          name = input_columns.value.name
          type = input_columns.value.type
        }
      }
    }
  }

  permissions {
    principal = var.quicksight_principal_arn
    actions   = local.quicksight_data_set_actions
  }
}
