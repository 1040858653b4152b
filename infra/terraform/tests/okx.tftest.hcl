# OKX (source okx): off unless sources names it; its pairs, swaps or market, its endpoints and
# the egress to its WebSocket port, its share of the shards; its datasets' Firehose streams and
# Glue tables come from schema.json like every other's.

mock_provider "aws" {}

variables {
  vpc_id     = "vpc-0123456789abcdef0"
  subnet_ids = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
}

run "off_by_default_its_settings_and_port_stay_out" {
  command = apply

  assert {
    condition = length([
      for e in jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].environment : e
      if startswith(e.name, "STREAMER_OKX_") || (e.name == "STREAMER_SOURCES" && strcontains(e.value, "okx"))
    ]) == 0
    error_message = "without okx in sources the task definition must not change"
  }

  assert {
    condition     = toset([for r in aws_security_group.task.egress : r.from_port]) == toset([443, 9443])
    error_message = "without okx in sources the security group must not change"
  }
}

run "switched_on_it_gets_its_symbols_endpoints_and_port" {
  command = apply

  variables {
    sources     = ["binance", "coinbase", "coingecko", "okx"]
    okx_symbols = ["BTC-USDT", "ETH-USDT-PERP"]
  }

  assert {
    condition = {
      for e in jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].environment : e.name => e.value
      if startswith(e.name, "STREAMER_OKX_") || e.name == "STREAMER_SOURCES"
      } == {
      STREAMER_SOURCES      = "binance,coinbase,coingecko,okx"
      STREAMER_OKX_SYMBOLS  = "BTC-USDT,ETH-USDT-PERP"
      STREAMER_OKX_WS_URL   = "wss://ws.okx.com:8443"
      STREAMER_OKX_REST_URL = "https://www.okx.com"
    }
    error_message = "okx must run with its symbols and endpoints"
  }

  assert {
    condition = [
      for r in aws_security_group.task.egress : "${r.protocol} ${r.from_port}-${r.to_port} ${join(",", r.cidr_blocks)}"
      if r.from_port == 8443
    ] == ["tcp 8443-8443 0.0.0.0/0"]
    error_message = "OKX's WebSocket port 8443 must be open for egress"
  }
}

run "endpoints_on_443_need_no_port_of_their_own" {
  command = apply

  variables {
    sources       = ["okx"]
    okx_endpoints = { ws_url = "wss://wsaws.okx.com", rest_url = "https://aws.okx.com" }
  }

  assert {
    condition     = toset([for r in aws_security_group.task.egress : r.from_port]) == toset([443, 9443])
    error_message = "an OKX endpoint on 443 must add no egress rule"
  }

  assert {
    condition = {
      for e in jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].environment : e.name => e.value
      if contains(["STREAMER_OKX_WS_URL", "STREAMER_OKX_REST_URL"], e.name)
    } == { STREAMER_OKX_WS_URL = "wss://wsaws.okx.com", STREAMER_OKX_REST_URL = "https://aws.okx.com" }
    error_message = "okx must use the endpoints given"
  }
}

run "a_market_selector_is_accepted" {
  command = plan

  variables {
    sources     = ["okx"]
    okx_symbols = ["perpetual", "quote:USDT", "top:20"]
  }
}

run "a_swap_is_named_perp_not_swap" {
  command = plan

  variables {
    okx_symbols = ["BTC-USDT-SWAP"]
  }

  expect_failures = [var.okx_symbols]
}

run "lower_case_is_refused" {
  command = plan

  variables {
    okx_symbols = ["btc-usdt"]
  }

  expect_failures = [var.okx_symbols]
}

run "symbols_and_a_market_do_not_mix" {
  command = plan

  variables {
    okx_symbols = ["BTC-USDT", "top:10"]
  }

  expect_failures = [var.okx_symbols]
}

run "an_empty_list_is_refused" {
  command = plan

  variables {
    okx_symbols = []
  }

  expect_failures = [var.okx_symbols]
}

run "endpoints_must_be_secure" {
  command = plan

  variables {
    okx_endpoints = { ws_url = "ws://ws.okx.com:8443", rest_url = "https://www.okx.com" }
  }

  expect_failures = [var.okx_endpoints]
}

run "its_symbols_are_split_between_shards" {
  command = apply

  variables {
    shards          = 3
    sources         = ["binance", "okx", "coingecko"]
    binance_symbols = ["BTC-USDT"]
    okx_symbols     = ["BTC-USDT", "BTC-USDT-PERP"]
  }

  assert {
    condition = [
      for td in aws_ecs_task_definition.service : [
        for e in jsondecode(td.container_definitions)[0].environment : e.value
        if contains(["STREAMER_SHARD", "STREAMER_OKX_SYMBOLS"], e.name)
      ]
      ] == [
      ["BTC-USDT,BTC-USDT-PERP", "0/3"],
      ["BTC-USDT,BTC-USDT-PERP", "1/3"],
      ["BTC-USDT,BTC-USDT-PERP", "2/3"],
    ]
    error_message = "each shard gets every OKX symbol and its own STREAMER_SHARD (it keeps its share)"
  }
}

run "more_shards_than_symbols_are_refused" {
  command = plan

  variables {
    shards      = 3
    sources     = ["okx", "coingecko"]
    okx_symbols = ["BTC-USDT", "BTC-USDT-PERP"]
  }

  expect_failures = [aws_ecs_service.service]
}

run "a_market_counts_as_its_top" {
  command = plan

  variables {
    shards      = 3
    sources     = ["okx"]
    okx_symbols = ["perpetual", "top:2"]
  }

  expect_failures = [aws_ecs_service.service]
}

run "a_market_without_a_top_fills_many_shards" {
  command = plan

  variables {
    shards      = 16
    sources     = ["okx"]
    okx_symbols = ["quote:USDT"]
  }
}
