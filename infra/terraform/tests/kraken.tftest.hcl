# Kraken (source kraken): off unless sources names it; its pairs or market, its endpoints and
# book depth, its share of the shards; its datasets' Firehose streams and Glue tables come from
# schema.json like every other's.

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
      if startswith(e.name, "STREAMER_KRAKEN_") || (e.name == "STREAMER_SOURCES" && strcontains(e.value, "kraken"))
    ]) == 0
    error_message = "without kraken in sources the task definition must not change"
  }
}

run "switched_on_it_gets_its_pairs_endpoints_and_depth" {
  command = apply

  variables {
    sources           = ["binance", "coinbase", "coingecko", "kraken"]
    kraken_symbols    = ["BTC-USD", "ETH-EUR"]
    kraken_endpoints  = { ws_url = "wss://beta-ws.kraken.com/v2", rest_url = "https://api.kraken.example" }
    kraken_book_depth = 100
  }

  assert {
    condition = {
      for e in jsondecode(aws_ecs_task_definition.service[0].container_definitions)[0].environment : e.name => e.value
      if startswith(e.name, "STREAMER_KRAKEN_") || e.name == "STREAMER_SOURCES"
      } == {
      STREAMER_SOURCES           = "binance,coinbase,coingecko,kraken"
      STREAMER_KRAKEN_SYMBOLS    = "BTC-USD,ETH-EUR"
      STREAMER_KRAKEN_WS_URL     = "wss://beta-ws.kraken.com/v2"
      STREAMER_KRAKEN_REST_URL   = "https://api.kraken.example"
      STREAMER_KRAKEN_BOOK_DEPTH = "100"
    }
    error_message = "kraken must run with its pairs, endpoints and book depth"
  }

  assert {
    condition     = toset([for r in aws_security_group.task.egress : r.from_port]) == toset([443, 9443])
    error_message = "Kraken needs no port beyond 443"
  }
}

run "a_market_selector_is_accepted" {
  command = plan

  variables {
    sources        = ["kraken"]
    kraken_symbols = ["quote:USD", "top:20"]
  }
}

run "a_perpetual_is_no_kraken_spot_pair" {
  command = plan

  variables {
    kraken_symbols = ["BTC-USD-PERP"]
  }

  expect_failures = [var.kraken_symbols]
}

run "kraken_takes_no_perpetual_selector" {
  command = plan

  variables {
    kraken_symbols = ["perpetual"]
  }

  expect_failures = [var.kraken_symbols]
}

run "pairs_and_a_market_do_not_mix" {
  command = plan

  variables {
    kraken_symbols = ["BTC-USD", "top:10"]
  }

  expect_failures = [var.kraken_symbols]
}

run "an_empty_list_is_refused" {
  command = plan

  variables {
    kraken_symbols = []
  }

  expect_failures = [var.kraken_symbols]
}

run "a_depth_the_channel_does_not_take_is_refused" {
  command = plan

  variables {
    kraken_book_depth = 50
  }

  expect_failures = [var.kraken_book_depth]
}

run "endpoints_must_be_secure" {
  command = plan

  variables {
    kraken_endpoints = { ws_url = "wss://ws.kraken.com/v2", rest_url = "http://api.kraken.com" }
  }

  expect_failures = [var.kraken_endpoints]
}

run "its_pairs_are_split_between_shards" {
  command = apply

  variables {
    shards         = 2
    sources        = ["kraken", "coingecko"]
    kraken_symbols = ["BTC-USD", "ETH-USD"]
  }

  assert {
    condition = [
      for td in aws_ecs_task_definition.service : [
        for e in jsondecode(td.container_definitions)[0].environment : e.value
        if contains(["STREAMER_SHARD", "STREAMER_KRAKEN_SYMBOLS"], e.name)
      ]
      ] == [
      ["BTC-USD,ETH-USD", "0/2"],
      ["BTC-USD,ETH-USD", "1/2"],
    ]
    error_message = "each shard gets every Kraken pair and its own STREAMER_SHARD (it keeps its share)"
  }
}

run "more_shards_than_pairs_are_refused" {
  command = plan

  variables {
    shards         = 3
    sources        = ["kraken", "coingecko"]
    kraken_symbols = ["BTC-USD", "ETH-USD"]
  }

  expect_failures = [aws_ecs_service.service]
}

run "a_market_counts_as_its_top" {
  command = plan

  variables {
    shards         = 4
    sources        = ["kraken"]
    kraken_symbols = ["quote:USD", "top:3"]
  }

  expect_failures = [aws_ecs_service.service]
}
