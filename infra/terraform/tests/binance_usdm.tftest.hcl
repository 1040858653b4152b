# Binance USD-M (source binance_usdm): off unless sources names it; its contracts or market,
# its endpoints, its share of the shards; its datasets' Firehose streams and Glue tables come
# from schema.json like every other's.

mock_provider "aws" {}

variables {
  vpc_id     = "vpc-0123456789abcdef0"
  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
}

run "off_by_default_its_settings_stay_out_of_the_task" {
  command = apply

  assert {
    condition = length([
      for e in jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].environment : e
      if startswith(e.name, "STREAMER_BINANCE_USDM_") || (e.name == "STREAMER_SOURCES" && strcontains(e.value, "binance_usdm"))
    ]) == 0
    error_message = "without binance_usdm in sources the task definition must not change"
  }

  assert {
    condition = alltrue([
      for d in ["derivative_tickers", "liquidations", "open_interest", "funding_rates", "instruments"] :
      contains(keys(aws_kinesis_firehose_delivery_stream.dataset), d)
      && contains(keys(aws_glue_catalog_table.dataset), "crypto_${d}")
      && contains(keys(aws_glue_catalog_table.view), "crypto_${d}")
    ])
    error_message = "every derivatives dataset of schema.json needs its Firehose stream, raw Glue table and view"
  }

  assert {
    condition = [
      for c in aws_glue_catalog_table.dataset["crypto_derivative_tickers"].storage_descriptor[0].columns : "${c.name}:${c.type}"
      if contains(["funding_rate", "next_funding_time"], c.name)
    ] == ["funding_rate:decimal(38,18)", "next_funding_time:timestamp"]
    error_message = "the derivative tickers' Glue columns must be those of the Python schema"
  }

  assert {
    condition     = length(setsubtract(["funding", "open_interest", "mark_index", "liquidations"], [for q in aws_athena_named_query.sql : q.name])) == 0
    error_message = "the derivatives queries of sql/ must be Athena named queries"
  }
}

run "switched_on_it_gets_its_contracts_and_endpoints" {
  command = apply

  variables {
    region                 = "eu-west-1"
    sources                = ["binance", "binance_usdm", "coinbase", "coingecko"]
    binance_usdm_symbols   = ["BTC-USDT-PERP", "ETH-USDT-260327"]
    binance_usdm_endpoints = { ws_url = "wss://fstream.example", rest_url = "https://fapi.example" }
  }

  assert {
    condition = {
      for e in jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].environment : e.name => e.value
      if startswith(e.name, "STREAMER_BINANCE_USDM_") || e.name == "STREAMER_SOURCES"
      } == {
      STREAMER_SOURCES               = "binance,binance_usdm,coinbase,coingecko"
      STREAMER_BINANCE_USDM_SYMBOLS  = "BTC-USDT-PERP,ETH-USDT-260327"
      STREAMER_BINANCE_USDM_WS_URL   = "wss://fstream.example"
      STREAMER_BINANCE_USDM_REST_URL = "https://fapi.example"
    }
    error_message = "binance_usdm must run with its symbols and endpoints"
  }
}

run "a_market_selector_is_accepted" {
  command = plan

  variables {
    region               = "eu-west-1"
    sources              = ["binance_usdm"]
    binance_usdm_symbols = ["perpetual", "quote:USDT", "top:50"]
  }
}

run "a_spot_pair_is_no_contract" {
  command = plan

  variables {
    binance_usdm_symbols = ["BTC-USDT"]
  }

  expect_failures = [var.binance_usdm_symbols]
}

run "a_quarter_is_named_by_its_day" {
  command = plan

  variables {
    binance_usdm_symbols = ["BTC-USDT-QUARTER"]
  }

  expect_failures = [var.binance_usdm_symbols]
}

run "contracts_and_a_market_do_not_mix" {
  command = plan

  variables {
    binance_usdm_symbols = ["BTC-USDT-PERP", "top:10"]
  }

  expect_failures = [var.binance_usdm_symbols]
}

run "an_empty_list_is_refused" {
  command = plan

  variables {
    binance_usdm_symbols = []
  }

  expect_failures = [var.binance_usdm_symbols]
}

run "endpoints_must_be_secure" {
  command = plan

  variables {
    binance_usdm_endpoints = { ws_url = "ws://fstream.binance.com", rest_url = "https://fapi.binance.com" }
  }

  expect_failures = [var.binance_usdm_endpoints]
}

run "its_contracts_are_split_between_shards" {
  command = apply

  variables {
    region               = "eu-west-1"
    shards               = 4
    sources              = ["binance", "binance_usdm", "coingecko"]
    binance_symbols      = ["BTC-USDT"]
    binance_usdm_symbols = ["BTC-USDT-PERP", "ETH-USDT-PERP", "SOL-USDT-PERP"]
  }

  assert {
    condition = [
      for td in aws_ecs_task_definition.service : [
        for e in jsondecode(td.container_definitions)[0].environment : e.value
        if contains(["STREAMER_SHARD", "STREAMER_BINANCE_USDM_SYMBOLS"], e.name)
      ]
      ] == [
      ["BTC-USDT-PERP,ETH-USDT-PERP,SOL-USDT-PERP", "0/4"],
      ["BTC-USDT-PERP,ETH-USDT-PERP,SOL-USDT-PERP", "1/4"],
      ["BTC-USDT-PERP,ETH-USDT-PERP,SOL-USDT-PERP", "2/4"],
      ["BTC-USDT-PERP,ETH-USDT-PERP,SOL-USDT-PERP", "3/4"],
    ]
    error_message = "each shard gets every contract and its own STREAMER_SHARD (it keeps its share)"
  }
}

run "more_shards_than_contracts_are_refused" {
  command = plan

  variables {
    region               = "eu-west-1"
    shards               = 3
    sources              = ["binance_usdm", "coingecko"]
    binance_usdm_symbols = ["BTC-USDT-PERP", "ETH-USDT-PERP"]
  }

  expect_failures = [aws_ecs_service.service]
}

run "a_market_counts_as_its_top" {
  command = plan

  variables {
    region               = "eu-west-1"
    shards               = 3
    sources              = ["binance_usdm"]
    binance_usdm_symbols = ["quote:USDT", "top:2"]
  }

  expect_failures = [aws_ecs_service.service]
}

run "a_market_without_a_top_fills_many_shards" {
  command = plan

  variables {
    region               = "eu-west-1"
    shards               = 16
    sources              = ["binance_usdm"]
    binance_usdm_symbols = ["quote:USDT"]
  }
}

run "from_a_us_region_it_is_warned_about" {
  command = plan

  variables {
    region  = "us-east-1"
    sources = ["binance_usdm"]
  }

  expect_failures = [check.binance_usdm_outside_the_us]
}
