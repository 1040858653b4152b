terraform {
  required_version = ">= 1.9" # validations that read other variables

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.66 at least: Iceberg tables with a schema, partition spec and sort order
      # (aws_glue_catalog_table iceberg_table_input), append_only Firehose Iceberg destinations
      # and the compaction optimizer's strategy, as table_format = "iceberg" uses them, are
      # checked against 6.66.0's schema; earlier 6.x releases may lack some of them.
      version = "~> 6.66"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Application = var.name }, var.tags)
  }
}
