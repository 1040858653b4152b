# The spool's disk budget (spool_max_mb) must fit in the task's ephemeral storage with 5 GiB to
# spare for the image and /tmp: a budget larger than the disk fails writes instead of dropping.

mock_provider "aws" {}

variables {
  vpc_id     = "vpc-0123456789abcdef0"
  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
}

run "the_default_budget_fits_the_default_storage" {
  command = plan

  assert {
    condition     = var.spool_max_mb == 16384 && aws_ecs_task_definition.service[0].ephemeral_storage[0].size_in_gib == 21
    error_message = "the defaults (16 GiB of spool on 21 GiB of ephemeral storage) must plan"
  }
}

run "a_budget_leaving_exactly_the_headroom_is_accepted" {
  command = plan

  variables {
    ephemeral_storage_gib = 50
    spool_max_mb          = 46080 # (50 - 5) GiB
  }

  assert {
    condition     = aws_ecs_task_definition.service[0].ephemeral_storage[0].size_in_gib == 50
    error_message = "the task must get the ephemeral storage asked for"
  }
}

run "a_budget_one_mib_over_the_headroom_is_refused" {
  command = plan

  variables {
    ephemeral_storage_gib = 50
    spool_max_mb          = 46081
  }

  expect_failures = [var.spool_max_mb]
}

run "the_default_budget_on_less_storage_than_it_needs_is_refused" {
  command = plan

  variables {
    spool_max_mb = 16385 # 21 GiB of storage holds at most 16384 MiB of spool
  }

  expect_failures = [var.spool_max_mb]
}

run "a_fractional_budget_is_refused" {
  command = plan

  variables {
    spool_max_mb = 0.5
  }

  expect_failures = [var.spool_max_mb]
}
