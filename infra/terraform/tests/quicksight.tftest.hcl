# QuickSight (enable_quicksight): off by default; on, an Athena data source on the deployment's
# workgroup through its own least-privilege role, and one dataset per Glue table with the
# Python schema's columns, all shared with the given QuickSight principal.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
}

variables {
  vpc_id     = "vpc-0123456789abcdef0"
  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
}

run "off_by_default" {
  command = plan

  assert {
    condition     = length(aws_quicksight_data_source.athena) == 0 && length(aws_quicksight_data_set.table) == 0 && length(aws_iam_role.quicksight) == 0
    error_message = "QuickSight must be opt-in: nothing is created without enable_quicksight"
  }
}

run "a_data_source_on_the_workgroup_and_a_dataset_per_table" {
  command = apply

  variables {
    enable_quicksight        = true
    quicksight_principal_arn = "arn:aws:quicksight:us-east-1:123456789012:group/default/analysts"
  }

  assert {
    condition = (
      aws_quicksight_data_source.athena[0].type == "ATHENA"
      && aws_quicksight_data_source.athena[0].parameters[0].athena[0].work_group == aws_athena_workgroup.lake.name
      && aws_quicksight_data_source.athena[0].parameters[0].athena[0].role_arn == aws_iam_role.quicksight[0].arn
    )
    error_message = "the data source must be Athena on the deployment's workgroup, through the QuickSight role"
  }

  assert {
    condition     = toset(keys(aws_quicksight_data_set.table)) == toset(keys(jsondecode(file("schema.json")).tables))
    error_message = "every Glue table needs one QuickSight dataset"
  }

  assert {
    condition = alltrue([
      for name, d in aws_quicksight_data_set.table :
      one(d.physical_table_map).relational_table[0].name == name
      && one(d.physical_table_map).relational_table[0].schema == aws_glue_catalog_database.lake.name
      && one(d.physical_table_map).relational_table[0].data_source_arn == aws_quicksight_data_source.athena[0].arn
    ])
    error_message = "each dataset must read its own table in the deployment's database through the data source"
  }

  assert {
    condition = [
      for c in one(aws_quicksight_data_set.table["crypto_trades"].physical_table_map).relational_table[0].input_columns : "${c.name}:${c.type}"
      ] == [
      "exchange:STRING", "symbol:STRING", "event_time:DATETIME", "received_at:DATETIME",
      "trade_id:STRING", "price:DECIMAL", "size:DECIMAL", "side:STRING", "record_id:STRING",
      "year:STRING", "month:STRING", "day:STRING", "hour:STRING",
    ]
    error_message = "crypto_trades' dataset must have the schema's columns with QuickSight types, then the partitions"
  }

  assert {
    condition = alltrue([
      for name, t in jsondecode(file("schema.json")).tables :
      [for c in one(aws_quicksight_data_set.table[name].physical_table_map).relational_table[0].input_columns : c.name] ==
      concat([for c in t.columns : c.name if !startswith(c.type, "array")], ["year", "month", "day", "hour"])
    ])
    error_message = "each dataset must list its table's scalar columns in the schema's order (levels arrays left out)"
  }

  assert {
    condition = (
      one(aws_quicksight_data_source.athena[0].permission).principal == var.quicksight_principal_arn
      && alltrue([for d in aws_quicksight_data_set.table : one(d.permissions).principal == var.quicksight_principal_arn])
      && contains(one(aws_quicksight_data_set.table["crypto_ohlcv"].permissions).actions, "quicksight:PassDataSet")
    )
    error_message = "the data source and every dataset must be shared with the given principal"
  }

  assert {
    condition     = aws_quicksight_data_set.table["crypto_ohlcv"].import_mode == "DIRECT_QUERY"
    error_message = "datasets query Athena directly by default"
  }

  assert {
    condition     = output.quicksight_data_source_arn == aws_quicksight_data_source.athena[0].arn && length(output.quicksight_data_sets) == length(aws_quicksight_data_set.table)
    error_message = "the outputs must name the data source and the datasets"
  }
}

run "the_quicksight_role_is_least_privilege" {
  command = apply

  variables {
    enable_quicksight        = true
    quicksight_principal_arn = "arn:aws:quicksight:us-east-1:123456789012:user/default/ana"
  }

  assert {
    condition = (
      toset(one(one(data.aws_iam_policy_document.quicksight_assume.statement).principals).identifiers) == toset(["quicksight.amazonaws.com"])
      && toset(one(one(data.aws_iam_policy_document.quicksight_assume.statement).condition).values) == toset(["123456789012"])
      && aws_iam_role.quicksight[0].assume_role_policy == data.aws_iam_policy_document.quicksight_assume.json
    )
    error_message = "only QuickSight, on behalf of this account, may assume the role"
  }

  assert {
    condition     = aws_iam_role_policy.quicksight[0].policy == data.aws_iam_policy_document.quicksight.json && aws_iam_role_policy.quicksight[0].role == aws_iam_role.quicksight[0].id
    error_message = "the role must carry the QuickSight policy document"
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.quicksight.statement :
      !contains(s.resources, "*") && !anytrue([for a in s.actions : endswith(a, "*")])
    ])
    error_message = "no statement may name every resource or a wildcard action"
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.quicksight.statement : s.resources if s.sid == "QueryInOwnWorkgroup"
    ][0] == toset(["arn:aws:athena:us-east-1:123456789012:workgroup/streamer"])
    error_message = "Athena queries only in the deployment's workgroup"
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.quicksight.statement : s.resources if s.sid == "ReadLakeData"
    ][0] == toset([for l in concat([for t in jsondecode(file("schema.json")).tables : t.location], [for t in jsondecode(file("schema.json")).compaction.tables : t.location]) : "${aws_s3_bucket.lake.arn}/${l}*"])
    error_message = "objects may be read only under the raw and compacted tables' locations"
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.quicksight.statement :
      length(setintersection(s.actions, toset(["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]))) == 0
      || s.resources == toset(["${aws_s3_bucket.lake.arn}/athena-results/*"])
    ])
    error_message = "the role may write only Athena's results prefix"
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.quicksight.statement :
      toset(s.resources) == toset([aws_kms_key.lake.arn]) && toset(one(s.condition).values) == toset(["s3.us-east-1.amazonaws.com"])
      if anytrue([for a in s.actions : startswith(a, "kms:")])
    ])
    error_message = "the deployment key may be used only through S3"
  }
}

run "enabled_without_a_principal_is_refused" {
  command = plan

  variables {
    enable_quicksight = true
  }

  expect_failures = [aws_quicksight_data_source.athena]
}

run "a_bad_principal_or_mode_is_refused" {
  command = plan

  variables {
    quicksight_principal_arn = "analysts"
    quicksight_import_mode   = "LIVE"
  }

  expect_failures = [var.quicksight_principal_arn, var.quicksight_import_mode]
}
