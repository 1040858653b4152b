# Sharding (var.shards): one ECS service, task definition and running-tasks alarm per shard,
# each task told its shard by STREAMER_SHARD=<i>/<n>; one shard keeps the unsharded names.

mock_provider "aws" {}

variables {
  vpc_id     = "vpc-0123456789abcdef0"
  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
}

run "three_shards_run_three_services_of_one_task" {
  command = apply

  variables {
    shards = 3
  }

  assert {
    condition     = length(aws_ecs_service.service) == 3 && alltrue([for s in aws_ecs_service.service : s.desired_count == 1])
    error_message = "three shards need three services of one task each"
  }

  assert {
    condition = [
      for td in aws_ecs_task_definition.service :
      [for e in jsondecode(td.container_definitions)[0].environment : e.value if e.name == "STREAMER_SHARD"]
    ] == [["0/3"], ["1/3"], ["2/3"]]
    error_message = "shard i's container must carry STREAMER_SHARD=i/3, once"
  }

  assert {
    condition     = [for s in aws_ecs_service.service : s.task_definition] == aws_ecs_task_definition.service[*].arn
    error_message = "each service must run its own shard's task definition"
  }

  assert {
    condition = (
      aws_ecs_service.service[*].name == ["streamer-shard-0", "streamer-shard-1", "streamer-shard-2"]
      && aws_ecs_task_definition.service[*].family == aws_ecs_service.service[*].name
    )
    error_message = "services and task definition families must be named <name>-shard-<i>"
  }

  assert {
    condition = length(distinct([
      for td in aws_ecs_task_definition.service :
      merge(jsondecode(td.container_definitions)[0], {
        environment      = [for e in jsondecode(td.container_definitions)[0].environment : e if e.name != "STREAMER_SHARD"]
        logConfiguration = null
      })
    ])) == 1
    error_message = "apart from STREAMER_SHARD and the log stream prefix, the shards' containers must be the same (same symbol lists)"
  }

  assert {
    condition = [
      for td in aws_ecs_task_definition.service :
      jsondecode(td.container_definitions)[0].logConfiguration.options["awslogs-stream-prefix"]
    ] == ["streamer-shard-0", "streamer-shard-1", "streamer-shard-2"]
    error_message = "each shard must log under its own stream prefix"
  }

  assert {
    condition = length(aws_cloudwatch_metric_alarm.tasks_below_desired) == 3 && [
      for a in aws_cloudwatch_metric_alarm.tasks_below_desired :
      toset(flatten([for q in a.metric_query : [for m in q.metric : m.dimensions.ServiceName]]))
    ] == [for s in aws_ecs_service.service : toset([s.name])]
    error_message = "each shard's service needs its own running-tasks alarm on its own ServiceName"
  }

  assert {
    condition     = length(distinct(aws_cloudwatch_metric_alarm.tasks_below_desired[*].alarm_name)) == 3
    error_message = "the running-tasks alarms must have distinct names"
  }

  assert {
    condition     = output.ecs_services == aws_ecs_service.service[*].name && output.ecs_service == null
    error_message = "ecs_services must list the shards' services in order; ecs_service is only for one shard"
  }
}

run "one_shard_keeps_the_unsharded_service" {
  command = apply

  assert {
    condition = (
      length(aws_ecs_service.service) == 1
      && aws_ecs_service.service[0].name == "streamer"
      && aws_ecs_service.service[0].desired_count == 1
      && aws_ecs_task_definition.service[0].family == "streamer"
    )
    error_message = "one shard must keep the service and family named <name>"
  }

  assert {
    condition     = !contains([for e in jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].environment : e.name], "STREAMER_SHARD")
    error_message = "one shard must not set STREAMER_SHARD (the service's default 0/1), so its task definition is unchanged"
  }

  assert {
    condition = (
      length(aws_cloudwatch_metric_alarm.tasks_below_desired) == 1
      && aws_cloudwatch_metric_alarm.tasks_below_desired[0].alarm_name == "streamer-running-below-desired"
      && output.ecs_service == "streamer"
    )
    error_message = "one shard must keep the alarm <name>-running-below-desired and the ecs_service output"
  }
}

run "zero_shards_are_refused" {
  command = plan

  variables {
    shards = 0
  }

  expect_failures = [var.shards]
}

run "more_than_64_shards_are_refused" {
  command = plan

  variables {
    shards = 65
  }

  expect_failures = [var.shards]
}

run "fractional_shards_are_refused" {
  command = plan

  variables {
    shards = 2.5
  }

  expect_failures = [var.shards]
}

run "extra_environment_cannot_set_the_shard" {
  command = plan

  variables {
    extra_environment = { STREAMER_SHARD = "1/2" }
  }

  expect_failures = [var.extra_environment]
}

run "more_shards_than_symbols_are_refused" {
  command = plan

  variables {
    shards           = 3
    sources          = ["binance", "coingecko"]
    binance_symbols  = ["BTC-USDT", "ETH-USDT"]
    coinbase_symbols = ["BTC-USD", "ETH-USD", "SOL-USD"]
  }

  expect_failures = [aws_ecs_service.service]
}

# The venues come from schema.json (the Python registry): a poller's coins are not split.
run "a_pollers_coins_do_not_count_as_symbols_to_split" {
  command = plan

  variables {
    shards          = 2
    sources         = ["binance", "coingecko"]
    binance_symbols = ["BTC-USDT"]
    coingecko_coins = ["bitcoin", "ethereum", "solana"]
  }

  expect_failures = [aws_ecs_service.service]
}

run "a_source_that_is_no_venue_of_schema_json_is_refused" {
  command = plan

  variables {
    sources = ["binance", "bitstamp"]
  }

  expect_failures = [var.sources]
}
