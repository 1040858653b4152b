# --- naming and placement -------------------------------------------------------------------

variable "region" {
  type        = string
  description = "AWS region for every resource (Firehose, S3, Glue, Athena, ECS)."
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as us-east-1."
  }
}

variable "name" {
  type        = string
  description = "Name of the deployment; prefixes the ECS, IAM, KMS, Athena and alarm resources."
  default     = "streamer"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 characters: lower-case letters, digits and '-', starting with a letter."
  }
}

variable "stream_prefix" {
  type        = string
  description = "Firehose streams are named <stream_prefix>-<dataset> (the service's STREAMER_FIREHOSE_PREFIX)."
  default     = "crypto"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{1,50}$", var.stream_prefix))
    error_message = "stream_prefix may hold letters, digits, '.', '_' and '-' (1-50 characters), as STREAMER_FIREHOSE_PREFIX."
  }
}

variable "bucket_name" {
  type        = string
  description = "Name of the lake bucket. Default: <name>-lake-<account id>-<region>."
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 lower-case letters, digits, '.', '-')."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "tags keys must be 1-128 characters without the reserved aws: prefix, values at most 256."
  }
}

# --- lake bucket --------------------------------------------------------------------------

variable "bucket_encryption" {
  type        = string
  description = "Lake objects are encrypted with the deployment's customer-managed KMS key (\"kms\") or with S3-managed keys (\"s3\")."
  default     = "kms"

  validation {
    condition     = contains(["kms", "s3"], var.bucket_encryption)
    error_message = "bucket_encryption must be \"kms\" (SSE-KMS, customer key) or \"s3\" (SSE-S3)."
  }
}

variable "raw_transition_days" {
  type        = number
  description = "Days after which market-data objects move to raw_transition_storage_class; 0 keeps them in STANDARD."
  default     = 90

  validation {
    condition     = var.raw_transition_days == 0 || var.raw_transition_days >= 30
    error_message = "raw_transition_days must be 0 (off) or at least 30 (S3's minimum for STANDARD_IA)."
  }
}

variable "raw_transition_storage_class" {
  type        = string
  description = "Storage class for aged market data: STANDARD_IA, INTELLIGENT_TIERING or GLACIER_IR (all still queryable by Athena)."
  default     = "STANDARD_IA"

  validation {
    condition     = contains(["STANDARD_IA", "INTELLIGENT_TIERING", "GLACIER_IR"], var.raw_transition_storage_class)
    error_message = "raw_transition_storage_class must be STANDARD_IA, INTELLIGENT_TIERING or GLACIER_IR."
  }
}

variable "raw_expiration_days" {
  type        = number
  description = "Days after which market-data and rejects objects are deleted; 0 keeps them forever."
  default     = 0

  validation {
    condition     = var.raw_expiration_days == 0 || var.raw_expiration_days > var.raw_transition_days
    error_message = "raw_expiration_days must be 0 (keep) or later than raw_transition_days."
  }
}

variable "error_expiration_days" {
  type        = number
  description = "Days after which Firehose error output (crypto/errors/) is deleted."
  default     = 30

  validation {
    condition     = var.error_expiration_days >= 1
    error_message = "error_expiration_days must be at least 1."
  }
}

variable "athena_results_expiration_days" {
  type        = number
  description = "Days after which Athena query results are deleted."
  default     = 7

  validation {
    condition     = var.athena_results_expiration_days >= 1
    error_message = "athena_results_expiration_days must be at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days after which overwritten or deleted object versions are removed (versioning is on)."
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "force_destroy" {
  type        = bool
  description = "Let `terraform destroy` delete a non-empty lake bucket and Athena workgroup (loses data)."
  default     = false
}

# --- Firehose -----------------------------------------------------------------------------

variable "firehose_buffering_interval" {
  type        = number
  description = "Seconds Firehose buffers before writing an S3 object (0 = deliver within seconds, more objects)."
  default     = 60

  validation {
    condition     = var.firehose_buffering_interval >= 0 && var.firehose_buffering_interval <= 900
    error_message = "firehose_buffering_interval must be between 0 and 900 seconds."
  }
}

variable "firehose_buffering_size" {
  type        = number
  description = "MiB (before compression) Firehose buffers before writing an S3 object."
  default     = 64

  validation {
    condition     = var.firehose_buffering_size >= 1 && var.firehose_buffering_size <= 128
    error_message = "firehose_buffering_size must be between 1 and 128 MiB."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the service's and Firehose's CloudWatch log groups (days)."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

# --- Glue and Athena ----------------------------------------------------------------------

variable "athena_bytes_scanned_cutoff" {
  type        = number
  description = "Athena cancels any query of the workgroup that scans more bytes than this."
  default     = 10737418240

  validation {
    condition     = var.athena_bytes_scanned_cutoff >= 10485760
    error_message = "athena_bytes_scanned_cutoff must be at least 10485760 (10 MiB)."
  }
}

variable "enable_crawler" {
  type        = bool
  description = "Also run a Glue crawler over the lake (into its own database) for users who want schema auto-detection."
  default     = false
}

variable "crawler_schedule" {
  type        = string
  description = "Glue cron schedule of the optional crawler (UTC; at most every 5 minutes)."
  default     = "cron(0 */6 * * ? *)"

  validation {
    condition     = can(regex("^cron\\(.+\\)$", var.crawler_schedule))
    error_message = "crawler_schedule must be a Glue cron expression such as cron(0 */6 * * ? *)."
  }
}

# --- table format ---------------------------------------------------------------------------

variable "table_format" {
  type        = string
  description = "How the lake stores rows: \"json\" (gzip JSON objects per hour, compacted daily into Parquet by `streamer compact`) or \"iceberg\" (Firehose writes Apache Iceberg v2 tables in the Glue catalog, compacted by Glue's table optimizers). See docs/iceberg.md."
  default     = "json"

  validation {
    condition     = contains(["json", "iceberg"], var.table_format)
    error_message = "table_format must be \"json\" (gzip JSON plus daily compaction, the default) or \"iceberg\" (Firehose into Apache Iceberg tables, docs/iceberg.md)."
  }

  # Firehose has no Iceberg destination in the China and GovCloud partitions (Firehose
  # developer guide, apache-iceberg-considerations).
  validation {
    condition     = var.table_format == "json" || !can(regex("^(cn|us-gov)-", var.region))
    error_message = "table_format = \"iceberg\" needs a Region where Firehose delivers to Apache Iceberg tables (not China or GovCloud); keep table_format = \"json\" in ${var.region}."
  }
}

variable "iceberg_compaction_strategy" {
  type        = string
  description = "Strategy of the Glue compaction optimizer on the Iceberg tables: \"sort\" (rewrites by the tables' sort order exchange, symbol, event_time, so one symbol's rows share few files), \"binpack\" or \"z-order\". Only with table_format = \"iceberg\"."
  default     = "sort"

  validation {
    condition     = contains(["sort", "binpack", "z-order"], var.iceberg_compaction_strategy)
    error_message = "iceberg_compaction_strategy must be \"sort\", \"binpack\" or \"z-order\" (Glue IcebergCompactionConfiguration.strategy)."
  }
}

variable "iceberg_snapshot_retention_days" {
  type        = number
  description = "Days the Glue retention optimizer keeps Iceberg snapshots (time travel) before expiring them and deleting their files. Only with table_format = \"iceberg\"."
  default     = 5

  validation {
    condition     = var.iceberg_snapshot_retention_days >= 1 && floor(var.iceberg_snapshot_retention_days) == var.iceberg_snapshot_retention_days
    error_message = "iceberg_snapshot_retention_days must be a whole number of days, at least 1."
  }
}

variable "iceberg_snapshots_to_retain" {
  type        = number
  description = "Snapshots the Glue retention optimizer always keeps, however old. Only with table_format = \"iceberg\"."
  default     = 1

  validation {
    condition     = var.iceberg_snapshots_to_retain >= 1 && floor(var.iceberg_snapshots_to_retain) == var.iceberg_snapshots_to_retain
    error_message = "iceberg_snapshots_to_retain must be a whole number, at least 1."
  }
}

variable "iceberg_orphan_file_retention_days" {
  type        = number
  description = "Days a file under an Iceberg table's location that no snapshot references must age before the Glue orphan file deletion optimizer deletes it (files of a commit in progress are young). Only with table_format = \"iceberg\"."
  default     = 3

  validation {
    condition     = var.iceberg_orphan_file_retention_days >= 1 && floor(var.iceberg_orphan_file_retention_days) == var.iceberg_orphan_file_retention_days
    error_message = "iceberg_orphan_file_retention_days must be a whole number of days, at least 1."
  }
}

# --- compaction ---------------------------------------------------------------------------

variable "compaction_enabled" {
  type        = bool
  description = "Run `streamer compact --engine athena --day yesterday` daily (a scheduled Fargate task) and alarm when it fails. Ignored with table_format = \"iceberg\" (Glue's table optimizers compact)."
  default     = true
}

variable "compaction_schedule" {
  type        = string
  description = "EventBridge Scheduler expression (UTC) of the daily compaction; after midnight plus Firehose's buffering, so yesterday's objects are all written."
  default     = "cron(30 0 * * ? *)"

  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.compaction_schedule))
    error_message = "compaction_schedule must be an EventBridge Scheduler expression such as cron(30 0 * * ? *)."
  }
}

variable "audit_enabled" {
  type        = bool
  description = "Run `streamer audit --day yesterday --engine athena --metrics` daily (a scheduled Fargate task) and alarm on missing trades, unrecovered holes and an audit that did not report."
  default     = true
}

variable "audit_schedule" {
  type        = string
  description = "EventBridge Scheduler expression (UTC) of the daily audit: an hour after compaction_schedule, so the audit reads yesterday once compaction has replaced its views."
  default     = "cron(30 1 * * ? *)"

  validation {
    condition     = can(regex("^(cron|rate)\\(.+\\)$", var.audit_schedule))
    error_message = "audit_schedule must be an EventBridge Scheduler expression such as cron(30 1 * * ? *)."
  }
}

variable "raw_expire_after_compaction_days" {
  type        = number
  description = "Delete a raw market-data object this many days after it was written, once its day is compacted (the job tags it); 0 keeps raw objects (see raw_expiration_days for all of them)."
  default     = 0

  validation {
    condition     = var.raw_expire_after_compaction_days >= 0 && floor(var.raw_expire_after_compaction_days) == var.raw_expire_after_compaction_days
    error_message = "raw_expire_after_compaction_days must be a whole number of days, 0 (keep) or more."
  }
}

# --- the service on Fargate ---------------------------------------------------------------

variable "image_tag" {
  type        = string
  description = "Tag of the streamer image in this deployment's ECR repository (tags are immutable: use a version or commit)."
  default     = "0.1.0"

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a valid Docker tag other than \"latest\" (the repository's tags are immutable)."
  }
}

variable "task_cpu" {
  type        = number
  description = "Fargate task CPU units (256 = 0.25 vCPU)."
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.task_cpu)
    error_message = "task_cpu must be 256, 512, 1024, 2048 or 4096."
  }
}

variable "task_memory" {
  type        = number
  description = "Fargate task memory in MiB; must be allowed for task_cpu (e.g. 512 CPU: 1024-4096)."
  default     = 1024

  validation {
    condition     = var.task_memory >= 512 && var.task_memory <= 30720
    error_message = "task_memory must be between 512 and 30720 MiB, in a combination Fargate allows for task_cpu."
  }
}

variable "cpu_architecture" {
  type        = string
  description = "CPU architecture of the image and the task: X86_64 or ARM64 (Graviton)."
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "ephemeral_storage_gib" {
  type        = number
  description = "Task ephemeral storage (GiB), which holds the spool during Firehose outages."
  default     = 21

  validation {
    condition     = var.ephemeral_storage_gib >= 21 && var.ephemeral_storage_gib <= 200
    error_message = "ephemeral_storage_gib must be between 21 and 200."
  }
}

variable "spool_max_mb" {
  type        = number
  description = "Disk budget of the service's spool in MiB (STREAMER_SPOOL_MAX_MB); at most ephemeral_storage_gib less 5 GiB, which the image, /tmp and the spool's last segment need."
  default     = 16384

  validation {
    condition     = var.spool_max_mb >= 1 && floor(var.spool_max_mb) == var.spool_max_mb
    error_message = "spool_max_mb must be a whole number of MiB, 1 or more."
  }

  # The spool shares the task's ephemeral storage with the image's layers and the /tmp volume:
  # a budget the disk cannot hold fails writes (StorageErrors) before the budget drops rows.
  validation {
    condition     = var.spool_max_mb <= (var.ephemeral_storage_gib - local.ephemeral_headroom_gib) * 1024
    error_message = "spool_max_mb (${var.spool_max_mb} MiB) must leave ${local.ephemeral_headroom_gib} GiB of ephemeral_storage_gib (${var.ephemeral_storage_gib} GiB) free for the image and /tmp: at most ${(var.ephemeral_storage_gib - local.ephemeral_headroom_gib) * 1024} MiB."
  }
}

variable "shutdown_seconds" {
  type        = number
  description = "Seconds the service delivers after SIGTERM before spooling the rest (STREAMER_SHUTDOWN_SECONDS); under the 120 s stopTimeout."
  default     = 90

  validation {
    condition     = var.shutdown_seconds >= 1 && var.shutdown_seconds <= 110
    error_message = "shutdown_seconds must be between 1 and 110 (the task's stopTimeout is 120 s)."
  }
}

variable "drain_seconds" {
  type        = number
  description = "Seconds the service keeps fetching the trade and candle holes still open after SIGTERM, before it checkpoints and shuts its sink down (STREAMER_DRAIN_SECONDS); drain_seconds + shutdown_seconds must fit the 120 s stopTimeout."
  default     = 20

  validation {
    condition     = var.drain_seconds >= 0 && var.drain_seconds + var.shutdown_seconds <= 110
    error_message = "drain_seconds (${var.drain_seconds}) + shutdown_seconds (${var.shutdown_seconds}) must be between 0 and 110: both run one after the other after SIGTERM, and ECS kills the task 120 s after it (stopTimeout), leaving 10 s to exit. Lower drain_seconds or shutdown_seconds."
  }
}

variable "checkpoint_seconds" {
  type        = number
  description = "How often each symbol's checkpoint is written to s3://<lake bucket>/<stream_prefix>/state/checkpoints/ (STREAMER_CHECKPOINT_SECONDS). Each write is an S3 GET and PUT per trading symbol: about $0.05 a symbol a month at 300 s, $0.47 at 30 s, $2.80 at the service's own default of 5 s. A longer interval only makes a task killed without SIGTERM fetch more history at its restart (duplicates, never holes); a SIGTERM writes the checkpoints after the drain."
  default     = 300

  validation {
    condition     = var.checkpoint_seconds >= 1 && var.checkpoint_seconds <= 3600
    error_message = "checkpoint_seconds must be between 1 and 3600 (STREAMER_CHECKPOINT_SECONDS)."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the task's security group."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets for the task: private subnets with a NAT gateway, or public ones with assign_public_ip = true (the feeds need internet egress)."

  validation {
    condition     = length(var.subnet_ids) > 0 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must list at least one subnet id (subnet-...)."
  }
}

variable "assign_public_ip" {
  type        = bool
  description = "Give the task a public IP (public subnets without NAT)."
  default     = false
}

variable "allow_deployment_overlap" {
  type        = bool
  description = "If true, deployments start the new task before stopping the old (no gap, but both ingest for a while: duplicates). If false, the old task stops first (a gap of about a minute, no overlap)."
  default     = false
}

variable "shards" {
  type        = number
  description = "Number of shards: one ECS service (one task) per shard, shard i of n running with STREAMER_SHARD=i/n and splitting each exchange's symbols by rendezvous hashing; CoinGecko runs in shard 0. Services are named <name> for one shard, <name>-shard-<i> otherwise."
  default     = 1

  validation {
    condition     = var.shards >= 1 && var.shards <= 64 && floor(var.shards) == var.shards
    error_message = "shards must be a whole number from 1 to 64."
  }
}

variable "sources" {
  type        = list(string)
  description = "Sources the service runs (STREAMER_SOURCES): venues of the registry, as schema.json lists them (`make schema`). Add binance_usdm for Binance USD-M perpetuals and futures (binance_usdm_symbols; not from US regions, see binance_usdm_endpoints), okx for OKX spot and perpetual swaps (okx_symbols), kraken for Kraken spot (kraken_symbols)."
  default     = ["binance", "coinbase", "coingecko"]

  validation {
    condition     = length(var.sources) > 0 && alltrue([for s in var.sources : contains([for v in jsondecode(file("${path.module}/schema.json")).venues : v.name], s)])
    error_message = "sources may only contain the venues schema.json lists: ${join(", ", [for v in jsondecode(file("${path.module}/schema.json")).venues : v.name])}."
  }
}

variable "binance_symbols" {
  type        = list(string)
  description = "Binance symbols as BASE-QUOTE (STREAMER_BINANCE_SYMBOLS)."
  default     = ["BTC-USDT", "ETH-USDT", "SOL-USDT"]

  validation {
    condition     = alltrue([for s in var.binance_symbols : can(regex("^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$", s))])
    error_message = "binance_symbols must be upper-case BASE-QUOTE pairs such as BTC-USDT."
  }
}

variable "binance_endpoints" {
  type        = object({ ws_url = string, rest_url = string })
  description = "Binance WebSocket and REST base URLs. Binance answers HTTP 451 to US IP addresses: use Binance.US (wss://stream.binance.us:9443, https://api.binance.us) in US regions."
  default     = { ws_url = "wss://stream.binance.com:9443", rest_url = "https://api.binance.com" }

  validation {
    condition     = startswith(var.binance_endpoints.ws_url, "wss://") && startswith(var.binance_endpoints.rest_url, "https://")
    error_message = "binance_endpoints needs a wss:// ws_url and an https:// rest_url."
  }
}

variable "binance_usdm_symbols" {
  type        = list(string)
  description = "Binance USD-M contracts (STREAMER_BINANCE_USDM_SYMBOLS), used when sources holds binance_usdm: BASE-QUOTE-PERP (perpetual) or BASE-QUOTE-YYMMDD (delivered that UTC day), or a market resolved from the venue's listing at start: all, perpetual, delivery, quote:<Q>, top:<N>, combined (e.g. [\"quote:USDT\", \"top:50\"]), never mixed with contracts."
  default     = ["BTC-USDT-PERP", "ETH-USDT-PERP"]

  validation {
    condition = length(var.binance_usdm_symbols) > 0 && (
      alltrue([for s in var.binance_usdm_symbols : can(regex("^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}-(PERP|[0-9]{6})$", s))])
      || alltrue([for s in var.binance_usdm_symbols : can(regex("^(all|perpetual|delivery|quote:[A-Z0-9]{1,20}|top:[1-9][0-9]{0,4})$", s))])
    )
    error_message = "binance_usdm_symbols must be contracts such as BTC-USDT-PERP or BTC-USDT-260327, or a market such as [\"quote:USDT\", \"top:50\"] (all, perpetual, delivery, quote:<Q>, top:<N>), not both."
  }
}

variable "binance_usdm_endpoints" {
  type        = object({ ws_url = string, rest_url = string })
  description = "Binance USD-M WebSocket and REST base URLs (the routed /public and /market paths are added to ws_url). Binance answers HTTP 451 to US IP addresses and Binance.US lists no futures: run binance_usdm from a region outside the US."
  default     = { ws_url = "wss://fstream.binance.com", rest_url = "https://fapi.binance.com" }

  validation {
    condition     = startswith(var.binance_usdm_endpoints.ws_url, "wss://") && startswith(var.binance_usdm_endpoints.rest_url, "https://")
    error_message = "binance_usdm_endpoints needs a wss:// ws_url and an https:// rest_url."
  }
}

variable "okx_symbols" {
  type        = list(string)
  description = "OKX markets (STREAMER_OKX_SYMBOLS), used when sources holds okx: spot pairs BASE-QUOTE and linear perpetual swaps BASE-QUOTE-PERP (OKX's BASE-QUOTE-SWAP, sizes in contracts), or a market resolved from /api/v5/public/instruments at start: all, spot, perpetual, quote:<Q>, top:<N>, combined (e.g. [\"perpetual\", \"quote:USDT\", \"top:20\"]), never mixed with symbols."
  default     = ["BTC-USDT", "BTC-USDT-PERP"]

  validation {
    condition = length(var.okx_symbols) > 0 && (
      alltrue([for s in var.okx_symbols : can(regex("^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}(-PERP)?$", s))])
      || alltrue([for s in var.okx_symbols : can(regex("^(all|spot|perpetual|quote:[A-Z0-9]{1,20}|top:[1-9][0-9]{0,4})$", s))])
    )
    error_message = "okx_symbols must be pairs such as BTC-USDT or swaps such as BTC-USDT-PERP, or a market such as [\"perpetual\", \"top:20\"] (all, spot, perpetual, quote:<Q>, top:<N>), not both."
  }
}

variable "okx_endpoints" {
  type        = object({ ws_url = string, rest_url = string })
  description = "OKX WebSocket and REST base URLs (/ws/v5/public and /ws/v5/business are added to ws_url; its default port, 8443, gets its own egress rule)."
  default     = { ws_url = "wss://ws.okx.com:8443", rest_url = "https://www.okx.com" }

  validation {
    condition     = startswith(var.okx_endpoints.ws_url, "wss://") && startswith(var.okx_endpoints.rest_url, "https://")
    error_message = "okx_endpoints needs a wss:// ws_url and an https:// rest_url."
  }
}

variable "kraken_symbols" {
  type        = list(string)
  description = "Kraken spot pairs (STREAMER_KRAKEN_SYMBOLS), used when sources holds kraken: BASE-QUOTE with WebSocket v2's asset names (BTC-USD, not XBT), or a market resolved from AssetPairs at start: all, quote:<Q>, top:<N>, combined (e.g. [\"quote:USD\", \"top:20\"]), never mixed with pairs."
  default     = ["BTC-USD", "ETH-USD"]

  validation {
    condition = length(var.kraken_symbols) > 0 && (
      alltrue([for s in var.kraken_symbols : can(regex("^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$", s))])
      || alltrue([for s in var.kraken_symbols : can(regex("^(all|quote:[A-Z0-9]{1,20}|top:[1-9][0-9]{0,4})$", s))])
    )
    error_message = "kraken_symbols must be pairs such as BTC-USD, or a market such as [\"quote:USD\", \"top:20\"] (all, quote:<Q>, top:<N>), not both."
  }
}

variable "kraken_endpoints" {
  type        = object({ ws_url = string, rest_url = string })
  description = "Kraken WebSocket v2 and REST base URLs."
  default     = { ws_url = "wss://ws.kraken.com/v2", rest_url = "https://api.kraken.com" }

  validation {
    condition     = startswith(var.kraken_endpoints.ws_url, "wss://") && startswith(var.kraken_endpoints.rest_url, "https://")
    error_message = "kraken_endpoints needs a wss:// ws_url and an https:// rest_url."
  }
}

variable "kraken_book_depth" {
  type        = number
  description = "Depth Kraken's book channel is subscribed with (STREAMER_KRAKEN_BOOK_DEPTH); every message is proven by its CRC32 checksum over the top 10 levels."
  default     = 10

  validation {
    condition     = contains([10, 25, 100, 500, 1000], var.kraken_book_depth)
    error_message = "kraken_book_depth must be 10, 25, 100, 500 or 1000 (the depths Kraken's book channel takes)."
  }
}

variable "coinbase_symbols" {
  type        = list(string)
  description = "Coinbase product ids (STREAMER_COINBASE_SYMBOLS)."
  default     = ["BTC-USD", "ETH-USD", "SOL-USD"]

  validation {
    condition     = alltrue([for s in var.coinbase_symbols : can(regex("^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$", s))])
    error_message = "coinbase_symbols must be upper-case product ids such as BTC-USD."
  }
}

variable "coingecko_coins" {
  type        = list(string)
  description = "CoinGecko API coin ids (STREAMER_COINGECKO_COINS)."
  default     = ["bitcoin", "ethereum", "solana"]

  validation {
    condition     = alltrue([for c in var.coingecko_coins : can(regex("^[a-z0-9][a-z0-9-]{0,99}$", c))])
    error_message = "coingecko_coins must be CoinGecko API ids such as bitcoin."
  }
}

variable "coingecko_plan" {
  type        = string
  description = "CoinGecko plan: keyless, demo or pro. demo and pro read the key from Secrets Manager."
  default     = "keyless"

  validation {
    condition     = contains(["keyless", "demo", "pro"], var.coingecko_plan)
    error_message = "coingecko_plan must be keyless, demo or pro."
  }
}

variable "coingecko_api_key_secret_arn" {
  type        = string
  description = "ARN of an existing Secrets Manager secret holding the CoinGecko key. If null and coingecko_plan is not keyless, an empty secret is created for you to fill."
  default     = null

  validation {
    condition     = var.coingecko_api_key_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:", var.coingecko_api_key_secret_arn))
    error_message = "coingecko_api_key_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "extra_environment" {
  type        = map(string)
  description = "More STREAMER_* settings for the container (see the README's settings tables)."
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : startswith(k, "STREAMER_")])
    error_message = "extra_environment keys must be STREAMER_* settings."
  }

  validation {
    condition     = !contains(keys(var.extra_environment), "STREAMER_SHARD")
    error_message = "extra_environment must not set STREAMER_SHARD: set shards, which gives each service its own."
  }

  # The sink's record shape must match the streams' destination: JSON rows into an Iceberg
  # table (or Iceberg rows into gzip JSON) would all go to the error prefix.
  validation {
    condition     = !contains(keys(var.extra_environment), "STREAMER_LAKE_FORMAT")
    error_message = "extra_environment must not set STREAMER_LAKE_FORMAT: set table_format, which sets it to match the Firehose destinations."
  }
}

# --- alarms -------------------------------------------------------------------------------

variable "alarm_topic_arn" {
  type        = string
  description = "Existing SNS topic for alarm notifications. If null and create_alarm_topic is true, a topic is created."
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN."
  }
}

variable "create_alarm_topic" {
  type        = bool
  description = "Create an encrypted SNS topic for the alarms."
  default     = false
}

variable "alarm_email" {
  type        = string
  description = "E-mail address subscribed to the created alarm topic (confirm the subscription mail)."
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@ ]+@[^@ ]+\\.[^@ ]+$", var.alarm_email))
    error_message = "alarm_email must be an e-mail address."
  }
}

variable "freshness_alarm_seconds" {
  type        = number
  description = "Alarm when a stream's oldest undelivered record is older than this (DeliveryToS3.DataFreshness)."
  default     = 900

  validation {
    condition     = var.freshness_alarm_seconds >= 60
    error_message = "freshness_alarm_seconds must be at least 60."
  }
}

variable "no_delivery_alarm_minutes" {
  type        = number
  description = "Alarm when the service, all shards together, delivered no row to Firehose for this many minutes, or reported nothing at all (a stopped task, a silent producer)."
  default     = 10

  validation {
    condition     = var.no_delivery_alarm_minutes >= 5 && var.no_delivery_alarm_minutes <= 1440 && floor(var.no_delivery_alarm_minutes) == var.no_delivery_alarm_minutes
    error_message = "no_delivery_alarm_minutes must be a whole number from 5 (a deployment's gap is about a minute) to 1440."
  }
}

variable "failing_alarm_minutes" {
  type        = number
  description = "Alarm when Firehose calls fail in every minute for this many minutes (FailedCalls), or when a shard could neither deliver nor store rows for as long (FailingSeconds)."
  default     = 5

  validation {
    condition     = var.failing_alarm_minutes >= 1 && var.failing_alarm_minutes <= 1440 && floor(var.failing_alarm_minutes) == var.failing_alarm_minutes
    error_message = "failing_alarm_minutes must be a whole number from 1 to 1440."
  }
}

variable "spool_alarm_percent" {
  type        = number
  description = "Alarm when a shard's spool holds more than this share of spool_max_mb (SpoolBytes); at 100 % it drops rows."
  default     = 50

  validation {
    condition     = var.spool_alarm_percent > 0 && var.spool_alarm_percent < 100
    error_message = "spool_alarm_percent must be above 0 and below 100 (at 100 the spool already drops rows)."
  }
}

# --- QuickSight (quicksight.tf) ------------------------------------------------------------

variable "enable_quicksight" {
  type        = bool
  description = "Create a QuickSight Athena data source on the workgroup and a dataset per table. The account must already have a QuickSight subscription."
  default     = false
}

variable "quicksight_principal_arn" {
  type        = string
  description = "QuickSight user or group given the data source and datasets (arn:aws:quicksight:<region>:<account>:user/<namespace>/<name> or .../group/...). Required with enable_quicksight."
  default     = null

  validation {
    condition     = var.quicksight_principal_arn == null || can(regex("^arn:aws[a-z-]*:quicksight:[a-z0-9-]+:[0-9]{12}:(user|group)/[^/]+/.+$", var.quicksight_principal_arn))
    error_message = "quicksight_principal_arn must be a QuickSight user or group ARN: arn:aws:quicksight:<region>:<account>:user/default/<name>."
  }
}

variable "quicksight_import_mode" {
  type        = string
  description = "DIRECT_QUERY (every visual queries Athena, always fresh) or SPICE (QuickSight's in-memory copy, refreshed on a schedule you set in QuickSight)."
  default     = "DIRECT_QUERY"

  validation {
    condition     = contains(["DIRECT_QUERY", "SPICE"], var.quicksight_import_mode)
    error_message = "quicksight_import_mode must be DIRECT_QUERY or SPICE."
  }
}
