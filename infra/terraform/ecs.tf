# The service: one Fargate service per shard (var.shards), each running one task of
# `streamer run` with the Firehose sink and its own STREAMER_SHARD=<i>/<n>.

resource "aws_ecr_repository" "service" {
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_destroy

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.lake.arn
  }
}

resource "aws_ecr_lifecycle_policy" "service" {
  repository = aws_ecr_repository.service.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the 30 newest images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 30 }
      action       = { type = "expire" }
    }]
  })
}

resource "aws_ecs_cluster" "service" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "service" {
  name              = local.log_group_names.service
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.lake.arn
}

resource "aws_security_group" "task" {
  name        = "${var.name}-task"
  description = "streamer task: no inbound; outbound HTTPS to the exchanges and AWS APIs"
  vpc_id      = var.vpc_id

  egress {
    description = "HTTPS and WSS: Coinbase, CoinGecko, AWS APIs, Binance REST"
    protocol    = "tcp"
    from_port   = 443
    to_port     = 443
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    description = "Binance WebSocket streams (wss://stream.binance.com:9443)"
    protocol    = "tcp"
    from_port   = 9443
    to_port     = 9443
    cidr_blocks = ["0.0.0.0/0"]
  }

  # OKX's WebSockets listen on 8443 (wss://ws.okx.com:8443): opened only when okx runs there.
  dynamic "egress" {
    for_each = contains(var.sources, "okx") && !contains([443, 9443], local.okx_ws_port) ? [local.okx_ws_port] : []
    content {
      description = "OKX WebSockets (${var.okx_endpoints.ws_url})"
      protocol    = "tcp"
      from_port   = egress.value
      to_port     = egress.value
      cidr_blocks = ["0.0.0.0/0"]
    }
  }
}

locals {
  # The port of okx_endpoints.ws_url (443 when it names none).
  okx_ws_port = tonumber(try(regex("^wss://[^/:]+:([0-9]+)", var.okx_endpoints.ws_url)[0], "443"))
}

# The CoinGecko key (demo and pro plans). Terraform creates an empty secret; put the key in it
# with `aws secretsmanager put-secret-value` so it never enters the Terraform state.
resource "aws_secretsmanager_secret" "coingecko" {
  #checkov:skip=CKV2_AWS_57:A CoinGecko API key is issued by CoinGecko's dashboard; it cannot be rotated by a Lambda.
  count                   = var.coingecko_plan != "keyless" && var.coingecko_api_key_secret_arn == null ? 1 : 0
  name                    = "${var.name}/coingecko-api-key"
  description             = "CoinGecko API key for the streamer service (${var.coingecko_plan} plan)"
  kms_key_id              = aws_kms_key.lake.arn
  recovery_window_in_days = 7
}

locals {
  coingecko_secret_arn = (
    var.coingecko_plan == "keyless" ? null :
    coalesce(var.coingecko_api_key_secret_arn, one(aws_secretsmanager_secret.coingecko[*].arn))
  )

  environment = merge(
    {
      STREAMER_SINK             = "firehose"
      STREAMER_FIREHOSE_PREFIX  = var.stream_prefix
      STREAMER_SOURCES          = join(",", var.sources)
      STREAMER_BINANCE_SYMBOLS  = join(",", var.binance_symbols)
      STREAMER_BINANCE_WS_URL   = var.binance_endpoints.ws_url
      STREAMER_BINANCE_REST_URL = var.binance_endpoints.rest_url
      STREAMER_COINBASE_SYMBOLS = join(",", var.coinbase_symbols)
      STREAMER_COINGECKO_COINS  = join(",", var.coingecko_coins)
      STREAMER_COINGECKO_PLAN   = var.coingecko_plan
      STREAMER_SPOOL_DIR        = "${local.spool_path}/spool"
      STREAMER_SPOOL_MAX_MB     = tostring(var.spool_max_mb)
      STREAMER_SHUTDOWN_SECONDS = tostring(var.shutdown_seconds)
      STREAMER_LOG_FORMAT       = "json"
      STREAMER_HEALTH_PORT      = "8080"
      AWS_REGION                = var.region

      # Completeness: checkpoints in the lake bucket (<stream_prefix>/state/checkpoints/), a
      # restart fetching from them what it missed, and the holes still open served on SIGTERM
      # for drain_seconds before the sink's shutdown_seconds.
      STREAMER_LAKE_BUCKET        = aws_s3_bucket.lake.bucket
      STREAMER_DRAIN_SECONDS      = tostring(var.drain_seconds)
      STREAMER_CHECKPOINT_SECONDS = tostring(var.checkpoint_seconds)
    },
    # Only when they run: a deployment without USD-M, OKX or Kraken keeps its task definitions
    # unchanged.
    contains(var.sources, "binance_usdm") ? {
      STREAMER_BINANCE_USDM_SYMBOLS  = join(",", var.binance_usdm_symbols)
      STREAMER_BINANCE_USDM_WS_URL   = var.binance_usdm_endpoints.ws_url
      STREAMER_BINANCE_USDM_REST_URL = var.binance_usdm_endpoints.rest_url
    } : {},
    contains(var.sources, "okx") ? {
      STREAMER_OKX_SYMBOLS  = join(",", var.okx_symbols)
      STREAMER_OKX_WS_URL   = var.okx_endpoints.ws_url
      STREAMER_OKX_REST_URL = var.okx_endpoints.rest_url
    } : {},
    contains(var.sources, "kraken") ? {
      STREAMER_KRAKEN_SYMBOLS    = join(",", var.kraken_symbols)
      STREAMER_KRAKEN_WS_URL     = var.kraken_endpoints.ws_url
      STREAMER_KRAKEN_REST_URL   = var.kraken_endpoints.rest_url
      STREAMER_KRAKEN_BOOK_DEPTH = tostring(var.kraken_book_depth)
    } : {},
    # The sink sends Iceberg-shaped rows (the tables' exact top-level columns, timestamps in
    # microseconds) when the streams deliver into Iceberg tables.
    local.iceberg ? { STREAMER_LAKE_FORMAT = "iceberg" } : {},
    var.extra_environment,
  )

  container = {
    name                   = "streamer"
    image                  = "${aws_ecr_repository.service.repository_url}:${var.image_tag}"
    essential              = true
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    stopTimeout            = 120
    secrets = local.coingecko_secret_arn == null ? [] : [
      { name = "STREAMER_COINGECKO_API_KEY", valueFrom = local.coingecko_secret_arn }
    ]
    mountPoints = [
      { sourceVolume = "spool", containerPath = local.spool_path, readOnly = false },
      { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
    ]
    healthCheck = {
      command     = ["CMD", "streamer", "health"]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 60
    }
    linuxParameters = { initProcessEnabled = true }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.service.name
        "awslogs-region"        = var.region
        "awslogs-stream-prefix" = "streamer"
        "mode"                  = "non-blocking"
        "max-buffer-size"       = "25m"
      }
    }
  }

  # One entry per shard. With one shard the names, the environment (no STREAMER_SHARD: the
  # service's default is 0/1) and the log streams are those of the unsharded service, so
  # upgrading to this version changes nothing in AWS (see the moved blocks below).
  shards = [
    for i in range(var.shards) : {
      name          = var.shards == 1 ? var.name : "${var.name}-shard-${i}"
      shard         = "${i}/${var.shards}"
      environment   = var.shards == 1 ? local.environment : merge(local.environment, { STREAMER_SHARD = "${i}/${var.shards}" })
      stream_prefix = var.shards == 1 ? "streamer" : "streamer-shard-${i}"
    }
  ]

  containers = [
    for s in local.shards : merge(local.container, {
      environment = [for k in sort(keys(s.environment)) : { name = k, value = s.environment[k] }]
      logConfiguration = merge(local.container.logConfiguration, {
        options = merge(local.container.logConfiguration.options, { "awslogs-stream-prefix" = s.stream_prefix })
      })
    })
  ]

  # Symbols the shards split between them: those of the venues schema.json marks shardable
  # (a poller such as CoinGecko is not split: shard 0 runs it). A market named by a selector
  # (USD-M, OKX, Kraken) counts as its top:<N>, or as many as shards may be (the listing
  # decides); named symbols hold a '-', selectors never do.
  markets = { binance_usdm = var.binance_usdm_symbols, okx = var.okx_symbols, kraken = var.kraken_symbols }
  market_symbols = {
    for venue, tokens in local.markets : venue => (
      can(regex("-", join("", tokens))) ? length(tokens) :
      length([for s in tokens : s if startswith(s, "top:")]) > 0 ? min([for s in tokens : tonumber(trimprefix(s, "top:")) if startswith(s, "top:")]...) : 64
    )
  }
  symbols_by_venue = merge(local.market_symbols, {
    binance   = length(var.binance_symbols)
    coinbase  = length(var.coinbase_symbols)
    coingecko = length(var.coingecko_coins)
  })
  splittable_symbols = sum(concat([0], [
    for v in local.schema.venues : lookup(local.symbols_by_venue, v.name, 0)
    if v.shardable && contains(var.sources, v.name)
  ]))
}

# A task definition per shard: an ECS service cannot override a container's environment (only
# RunTask can), so each shard's STREAMER_SHARD lives in its own family, named like its service.
resource "aws_ecs_task_definition" "service" {
  count                    = var.shards
  family                   = local.shards[count.index].name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.task_cpu)
  memory                   = tostring(var.task_memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.containers[count.index]])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  ephemeral_storage {
    size_in_gib = var.ephemeral_storage_gib
  }

  # Task-local volumes live on the ephemeral storage: the spool survives container restarts
  # within the task, and the read-only root filesystem stays read-only.
  volume {
    name = "spool"
  }

  volume {
    name = "tmp"
  }
}

resource "aws_ecs_service" "service" {
  count                  = var.shards
  name                   = local.shards[count.index].name
  cluster                = aws_ecs_cluster.service.id
  task_definition        = aws_ecs_task_definition.service[count.index].arn
  desired_count          = 1
  launch_type            = "FARGATE"
  platform_version       = "LATEST"
  propagate_tags         = "SERVICE"
  enable_execute_command = false

  # One ingester per shard at a time unless the user accepts overlap (and duplicates) for no gap.
  deployment_minimum_healthy_percent = var.allow_deployment_overlap ? 100 : 0
  deployment_maximum_percent         = var.allow_deployment_overlap ? 200 : 100

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.task.id]
    assign_public_ip = var.assign_public_ip
  }

  # Rendezvous hashing is not computable here (no BLAKE2 in Terraform), so this only refuses
  # the certain case; a shard can still draw no symbol by chance when symbols are few per shard.
  lifecycle {
    precondition {
      condition     = var.shards <= max(1, local.splittable_symbols)
      error_message = "shards (${var.shards}) exceeds the ${local.splittable_symbols} symbols of the sharded sources (Binance, Binance USD-M, Coinbase, OKX, Kraken) to split: some shard would collect nothing, and a streamer with no feed exits (a restart loop)."
    }
  }
}

# Binance refuses US addresses (HTTP 451) and Binance.US has no futures: a warning, not an
# error, as a deployment may reach the venue another way (a NAT elsewhere, a proxy).
check "binance_usdm_outside_the_us" {
  assert {
    condition     = !(contains(var.sources, "binance_usdm") && startswith(var.region, "us-") && var.binance_usdm_endpoints.ws_url == "wss://fstream.binance.com")
    error_message = "sources holds binance_usdm in ${var.region}: Binance answers HTTP 451 to US addresses, so the feed will fail; deploy in a region outside the US."
  }
}

# Addresses of the unsharded version (one task definition, one service): kept in place.
moved {
  from = aws_ecs_task_definition.service
  to   = aws_ecs_task_definition.service[0]
}

moved {
  from = aws_ecs_service.service
  to   = aws_ecs_service.service[0]
}
