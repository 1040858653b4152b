"""Every `STREAMER_*` setting: its documented default and what it means.

The one list of settings. `settings.load` refuses to read a name that is not here, a test checks
that `load` reads every name here and that each literal default below is the one `load` applies,
and the README's settings tables are generated from it (`markdown_settings`), so code, docs and
defaults cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

GENERAL = "general"
FIREHOSE = "firehose"
COMPACTION = "compaction"
ANALYTICS = "analytics"


@dataclass(frozen=True, slots=True)
class Setting:
    names: tuple[str, ...]
    """Lower-case names without `STREAMER_`; several names share one row of the table."""
    default: str
    """As documented; `/` separates the defaults of several names."""
    meaning: str
    section: str = GENERAL
    literal: bool = True
    """The default is the literal text `load` applies (checked by a test); False for prose."""

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(f"STREAMER_{n.upper()}" for n in self.names)

    def defaults(self) -> tuple[str, ...]:
        """The default text of each name (empty when not literal)."""
        if not self.literal:
            return ()
        parts = tuple(p.strip() for p in self.default.split(" / "))
        return parts if len(parts) == len(self.names) else ()


def _s(
    names: str, default: str, meaning: str, section: str = GENERAL, literal: bool = True
) -> Setting:
    return Setting(tuple(names.split()), default, meaning, section, literal)


SETTINGS: tuple[Setting, ...] = (
    _s("sources", "binance,coinbase,coingecko", "which sources run"),
    _s(
        "sink",
        "lake",
        "`lake` (local directory), `firehose` (Amazon Data Firehose, see below) or `null` "
        "(discard; benchmarks)",
    ),
    _s("lake_dir", "./data", "local lake root"),
    _s(
        "lake_buffer_mb lake_buffer_seconds",
        "5 / 15",
        "write an object when a dataset's buffer reaches this size (uncompressed) or age; "
        "`0` seconds writes at once",
    ),
    _s(
        "binance_symbols",
        "BTC-USDT,ETH-USDT,SOL-USDT",
        "normalized `BASE-QUOTE` symbols, or a market: `all` (every trading spot symbol), "
        "`quote:<Q>`, `top:<N>` (by 24 h quote volume), combined as an intersection, e.g. "
        "`quote:USDT,top:100`; resolved from `exchangeInfo` at start and every "
        "`STREAMER_DISCOVERY_SECONDS`",
    ),
    _s(
        "binance_ws_url binance_rest_url",
        "wss://stream.binance.com:9443 / https://api.binance.com",
        "also `wss://data-stream.binance.vision`, Binance.US",
    ),
    _s("binance_kline_interval", "1m", "any Binance interval, `1s` included"),
    _s("binance_trades", "trade", "`trade` or `aggTrade`"),
    _s(
        "binance_depth",
        "20",
        "levels of the published books: 5, 10 or 20, every 100 ms (the partial book stream, or "
        "the top of the full book)",
    ),
    _s(
        "binance_book_updates",
        "false",
        "`true`: keep each full book from the diff stream `<s>@depth@100ms` (REST snapshots of "
        "5,000 levels, weight 250, at most 12 a minute) and write every level change to "
        "`book_updates`; the published books are its top levels",
    ),
    _s(
        "coinbase_symbols",
        "BTC-USD,ETH-USD,SOL-USD",
        "Coinbase product ids, or a market as for Binance (`quote:USD,top:16`), resolved from "
        "`market/products` at start and every `STREAMER_DISCOVERY_SECONDS` (SPOT, online, trading "
        "not disabled)",
    ),
    _s(
        "coinbase_ws_url coinbase_rest_url",
        "wss://advanced-trade-ws.coinbase.com / https://api.coinbase.com",
        "",
    ),
    _s(
        "coinbase_book_depth coinbase_book_interval",
        "20 / 1",
        "top-N levels published every N seconds from the local level2 book",
    ),
    _s(
        "coinbase_book_updates",
        "false",
        "`true`: also write every change of the local level2 book (the whole book) to "
        "`book_updates`",
    ),
    _s(
        "coinbase_max_frame_bytes",
        "67108864",
        "level2 snapshots are several MiB (minimum 10 MiB)",
    ),
    _s(
        "keep_open_candles",
        "false",
        "also keep in-progress candle updates (`is_closed = false`)",
    ),
    _s(
        "stale_seconds",
        "30",
        "a WebSocket connection (or a Binance ticker/book stream) silent this long is reconnected",
    ),
    _s(
        "binance_rotate_seconds",
        "84600",
        "replace each Binance connection through an overlapping one before the venue's 24 h cut "
        "(23.5 h)",
    ),
    _s("coingecko_coins", "bitcoin,ethereum,solana", "CoinGecko API ids"),
    _s(
        "coingecko_api_key coingecko_plan",
        "none / `keyless` (`demo` with a key)",
        "`keyless`, `demo` (`x-cg-demo-api-key`) or `pro` (`pro-api.coingecko.com`, "
        "`x-cg-pro-api-key`)",
        literal=False,
    ),
    _s("coingecko_url", "by plan", "", literal=False),
    _s(
        "coingecko_poll_seconds",
        "keyless 120, demo 60, pro 20",
        "each poll makes 2 calls; Demo allows 30 calls/min and caches 60 s. A Demo key's monthly "
        "credits (about 10,000) last about 3.5 days at 60 s: use `600` to stay inside a month",
        literal=False,
    ),
    _s(
        "shard",
        "0/1",
        "`<i>/<n>`: this process collects shard i (0-based) of n of each exchange's symbols "
        "(rendezvous hashing, so n processes cover them once and a new n moves few); "
        "CoinGecko runs in shard 0 only",
    ),
    _s(
        "discovery_seconds",
        "3600",
        "how often a market selector (`all`, `quote:`, `top:`) is resolved again: new listings "
        "get new connections, halted or delisted symbols are unsubscribed, other connections are "
        "left alone; a failed refresh keeps the current set, and so does one that would drop "
        "more than half of it (a venue-wide halt is not a delisting)",
    ),
    _s(
        "queue_size",
        "10000",
        "rows held between the sources and the sink; when it is full the sources wait "
        "(back-pressure), nothing is dropped",
    ),
    _s(
        "log_format",
        "text",
        "`json` for one JSON object per line (CloudWatch embedded metrics included)",
    ),
    _s(
        "health_port",
        "0",
        "serve `GET /health` (feed freshness) on this port (`8080` in the image; 0 = off); "
        "`streamer health` probes it",
    ),
    _s(
        "stats_interval",
        "30",
        "seconds between `feed.stats`, `pipeline.stats` and `sink.stats` log lines",
    ),
    # Firehose delivery (README: "Delivering to Amazon Data Firehose").
    _s(
        "firehose_prefix",
        "crypto",
        "streams are `<prefix>-<dataset>` (letters, digits, `.`, `_`, `-`); also names the lake "
        "objects",
        FIREHOSE,
    ),
    _s(
        "firehose_linger_seconds",
        "2",
        "longest a row waits before it is sent; higher is cheaper, lower is fresher (see below)",
        FIREHOSE,
    ),
    _s(
        "firehose_max_in_flight",
        "4",
        "concurrent PutRecordBatch calls (one per stream at a time)",
        FIREHOSE,
    ),
    _s(
        "firehose_retry_seconds",
        "10",
        "how long a batch retries in memory before it is spooled",
        FIREHOSE,
    ),
    _s("firehose_request_timeout", "10", "connect and read timeout of one call", FIREHOSE),
    _s(
        "firehose_buffer_mb",
        "64",
        "undelivered bytes held in memory before batches are spooled",
        FIREHOSE,
    ),
    _s(
        "spool_dir",
        "data/spool",
        "the on-disk spool (on Fargate: the task's ephemeral storage)",
        FIREHOSE,
    ),
    _s("spool_max_mb", "2048", "disk budget of the spool, all streams together", FIREHOSE),
    _s(
        "shutdown_seconds",
        "25",
        "SIGTERM to exit: deliver, then spool the rest",
        FIREHOSE,
    ),
    # `streamer compact --engine athena` (README: "Compaction").
    _s(
        "lake_bucket",
        "none",
        "the lake's S3 bucket (`terraform output bucket`); needed by `--engine athena`",
        COMPACTION,
        literal=False,
    ),
    # Analytics on AWS (README: "Analytics").
    _s(
        "athena_workgroup",
        "none",
        "the Athena workgroup (Terraform output `athena_workgroup`): `streamer report --engine "
        "athena` and the notebooks query in it (the notebooks use Athena when it is set), and "
        "`streamer compact --engine athena` runs its statements in it (required there)",
        ANALYTICS,
        literal=False,
    ),
    _s(
        "athena_database",
        "crypto",
        "the Glue database (Terraform output `glue_database`)",
        ANALYTICS,
    ),
)

KNOWN: frozenset[str] = frozenset(n for s in SETTINGS for n in s.names)


def markdown_settings(section: str) -> str:
    """One README settings table (`general`, `firehose`, `compaction` or `analytics`),
    generated so it cannot drift."""
    out = ["| variable | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        if s.section != section:
            continue
        variables = " / ".join(f"`{v}`" for v in s.variables)
        if s.literal:
            default = " / ".join(f"`{d.strip()}`" for d in s.default.split(" / "))
        else:
            default = s.default
        out.append(f"| {variables} | {default} | {s.meaning} |")
    return "\n".join(out) + "\n"
