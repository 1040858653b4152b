terraform {
  required_version = ">= 1.9" # validations that read other variables

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Application = var.name }, var.tags)
  }
}
