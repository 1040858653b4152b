"""Typed settings from `STREAMER_*` environment variables and an optional TOML file.

Precedence: environment variable > TOML file > default. Every value is validated once, here; a
bad value raises `ConfigError` naming the variable and the fix. The TOML file uses the same
names in lower case without the `STREAMER_` prefix, e.g. `binance_symbols = ["BTC-USDT"]`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from streamer.errors import ConfigError
from streamer.selectors import Selector, parse_selector
from streamer.settings_spec import KNOWN
from streamer.sharding import Shard, parse_shard

SOURCES = ("binance", "coinbase", "coingecko")
SINKS = ("lake", "firehose", "null")
BINANCE_KLINE_INTERVALS = (
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
    "1M",
)  # fmt: skip
COINGECKO_PLANS = ("keyless", "demo", "pro")
COINGECKO_URLS = {
    "keyless": "https://api.coingecko.com/api/v3",
    "demo": "https://api.coingecko.com/api/v3",
    "pro": "https://pro-api.coingecko.com/api/v3",
}
# Default poll interval per plan. Each poll costs two calls (/simple/price, /coins/markets).
# Keyless shares ~5 calls/min per IP; Demo allows 30/min and CoinGecko caches its answers 60 s,
# so polling faster returns the same data; paid plans are cached 20 s at the edge.
COINGECKO_POLL_SECONDS = {"keyless": 120.0, "demo": 60.0, "pro": 20.0}
_SYMBOL = re.compile(r"[A-Z0-9]{1,20}-[A-Z0-9]{1,20}")
_STREAM_PREFIX = re.compile(r"[a-zA-Z0-9_.-]{1,50}")
_COIN_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
_ATHENA_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")


@dataclass(frozen=True, slots=True)
class BinanceSettings:
    symbols: tuple[str, ...] = ("BTC-USDT", "ETH-USDT", "SOL-USDT")
    selector: Selector | None = None  # symbols chosen from the venue's listing at start
    ws_url: str = "wss://stream.binance.com:9443"
    rest_url: str = "https://api.binance.com"
    kline_interval: str = "1m"
    trades: str = "trade"  # or "aggTrade"
    depth: int = 20  # 5, 10 or 20 (partial book stream depth<N>@100ms; top N of the full book)
    book_updates: bool = False  # the full book from `<s>@depth@100ms`, into `book_updates`
    keep_open_candles: bool = False
    stale_seconds: float = 30.0  # no frame on the connection (or a ticker/book stream): reconnect
    rotate_seconds: float = 23.5 * 3600  # replace each connection before the venue's 24 h cut


@dataclass(frozen=True, slots=True)
class CoinbaseSettings:
    symbols: tuple[str, ...] = ("BTC-USD", "ETH-USD", "SOL-USD")
    selector: Selector | None = None  # products chosen from the venue's listing at start
    ws_url: str = "wss://advanced-trade-ws.coinbase.com"
    rest_url: str = "https://api.coinbase.com"
    book_depth: int = 20
    book_interval: float = 1.0  # seconds between published top-N snapshots per symbol
    book_updates: bool = False  # every change of the level2 book, into `book_updates`
    max_frame_bytes: int = 64 * 1024 * 1024  # level2 snapshots of BTC-USD are several MiB
    keep_open_candles: bool = False
    stale_seconds: float = 30.0  # no frame (heartbeats arrive every second): reconnect


@dataclass(frozen=True, slots=True)
class CoinGeckoSettings:
    coins: tuple[str, ...] = ("bitcoin", "ethereum", "solana")
    url: str = COINGECKO_URLS["keyless"]
    api_key: str | None = None
    plan: str = "keyless"
    poll_seconds: float = COINGECKO_POLL_SECONDS["keyless"]
    vs_currencies: tuple[str, ...] = ("usd", "eur", "btc")
    markets_per_page: int = 100

    def __repr__(self) -> str:  # never print the key
        key = "set" if self.api_key else None
        return f"CoinGeckoSettings(plan={self.plan!r}, url={self.url!r}, api_key={key})"


@dataclass(frozen=True, slots=True)
class LakeSettings:
    root: Path = Path("data")
    buffer_bytes: int = 5 * 1024 * 1024  # uncompressed, like Firehose's SizeInMBs
    buffer_seconds: float = 15.0  # like Firehose's IntervalInSeconds; 0 = write at once
    stream_prefix: str = "crypto"


@dataclass(frozen=True, slots=True)
class FirehoseSettings:
    stream_prefix: str = "crypto"  # streams are <prefix>-<dataset>, e.g. crypto-tickers
    linger: float = 2.0  # seconds a partly filled record may wait (billed/payload <= 1.02)
    max_in_flight: int = 4  # concurrent PutRecordBatch calls (one per stream at a time)
    retry_seconds: float = 10.0  # a batch retries this long in memory, then goes to the spool
    backoff_base: float = 0.1
    backoff_cap: float = 5.0
    request_timeout: float = 10.0
    buffer_bytes: int = 64 * 1024 * 1024  # packed but undelivered bytes held in memory
    spool_dir: Path = Path("data/spool")
    spool_max_bytes: int = 2 * 1024 * 1024 * 1024
    shutdown_seconds: float = 25.0  # SIGTERM to exit; keep under ECS stopTimeout

    def __post_init__(self) -> None:
        if not _STREAM_PREFIX.fullmatch(self.stream_prefix):
            raise ConfigError(
                "STREAMER_FIREHOSE_PREFIX",
                f"{self.stream_prefix!r} cannot start a delivery stream name",
                "Use letters, digits, '.', '_' or '-' (at most 50 characters).",
            )


@dataclass(frozen=True, slots=True)
class AthenaSettings:
    """Where `streamer.analytics` and `streamer report --engine athena` query on AWS."""

    workgroup: str | None = None  # the Terraform output athena_workgroup; None = not on AWS
    database: str = "crypto"


@dataclass(frozen=True, slots=True)
class Settings:
    sources: tuple[str, ...] = SOURCES
    sink: str = "lake"
    binance: BinanceSettings = BinanceSettings()
    coinbase: CoinbaseSettings = CoinbaseSettings()
    coingecko: CoinGeckoSettings = CoinGeckoSettings()
    lake: LakeSettings = LakeSettings()
    firehose: FirehoseSettings = FirehoseSettings()
    shard: Shard = field(default_factory=Shard)  # this process collects shard i of n
    discovery_seconds: float = 3600.0  # market selectors are resolved again this often
    health_port: int = 0  # GET /health on this port (the container uses 8080); 0 = off
    queue_size: int = 10_000
    log_format: str = "text"  # or "json"
    stats_interval: float = 30.0
    lake_bucket: str | None = None  # `streamer compact --engine athena`
    athena: AthenaSettings = AthenaSettings()


class _Reader:
    """Looks a setting up in the environment, then the TOML table, and validates it."""

    def __init__(self, env: Mapping[str, str], toml: Mapping[str, Any]) -> None:
        self.env = env
        self.toml = toml
        self.read: set[str] = set()

    def raw(self, name: str) -> Any:
        if name not in KNOWN:
            raise KeyError(f"setting {name!r} is missing from settings_spec.SETTINGS")
        self.read.add(name)
        var = f"STREAMER_{name.upper()}"
        if var in self.env and self.env[var].strip() != "":
            return self.env[var].strip()
        return self.toml.get(name.lower())

    def text(self, name: str, default: str) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise ConfigError(_var(name), f"expected text, got {value!r}", "Quote the value.")
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in allowed:
            raise ConfigError(
                _var(name), f"{value!r} is not allowed", f"Use one of: {', '.join(allowed)}."
            )
        return value

    def items(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",")]
        elif isinstance(value, list) and all(isinstance(p, str) for p in value):
            parts = [p.strip() for p in value]
        else:
            raise ConfigError(_var(name), f"expected a list, got {value!r}", "Use a, b, c.")
        parts = [p for p in parts if p]
        if len(set(parts)) != len(parts):
            raise ConfigError(_var(name), "lists an item twice", "Remove the duplicate.")
        return tuple(parts)

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(_var(name), f"{value!r} is not a number", "Use e.g. 1.5.") from None
        if not low <= number <= high:
            raise ConfigError(
                _var(name), f"{number:g} is out of range", f"Use a value from {low:g} to {high:g}."
            )
        return number

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        number = self.number(name, default, low, high)
        if number != int(number):
            raise ConfigError(_var(name), f"{number:g} is not a whole number", "Use e.g. 20.")
        return int(number)

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        lowered = str(value).lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(_var(name), f"{value!r} is not a boolean", "Use true or false.")

    def url(self, name: str, default: str, schemes: tuple[str, ...]) -> str:
        value = self.text(name, default).rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            raise ConfigError(
                _var(name),
                f"{value!r} is not a {'/'.join(schemes)} URL",
                f"Use e.g. {default}.",
            )
        return value


def _var(name: str) -> str:
    return f"STREAMER_{name.upper()}"


def _market(
    reader: _Reader, name: str, default: tuple[str, ...]
) -> tuple[tuple[str, ...], Selector | None]:
    """An explicit symbol list, or (no symbols yet, the selector that names them)."""
    tokens = reader.items(name, default)
    selector = parse_selector(tokens, _var(name))
    if selector is not None:
        return (), selector
    return _symbols(tokens, name), None


def _symbols(symbols: tuple[str, ...], name: str) -> tuple[str, ...]:
    for symbol in symbols:
        if not _SYMBOL.fullmatch(symbol):
            raise ConfigError(
                _var(name),
                f"{symbol!r} is not a normalized symbol",
                "Write BASE-QUOTE in upper case, e.g. BTC-USDT.",
            )
    return symbols


def load(env: Mapping[str, str] | None = None, config_file: Path | None = None) -> Settings:
    """Read and validate every setting. Raises `ConfigError` on the first bad one."""
    env = os.environ if env is None else env
    toml: dict[str, Any] = {}
    if config_file is not None:
        try:
            toml = tomllib.loads(config_file.read_text())
        except FileNotFoundError:
            raise ConfigError(
                "--config", f"{config_file} does not exist", "Fix the path."
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("--config", f"{config_file} is not valid TOML ({exc})", "") from None
    return _build(_Reader(env, toml))


def names_read(env: Mapping[str, str]) -> frozenset[str]:
    """Every setting name `load(env)` looks up (for the test that the spec is complete)."""
    reader = _Reader(env, {})
    _build(reader)
    return frozenset(reader.read)


def _build(r: _Reader) -> Settings:
    d = Settings()

    sources = r.items("sources", d.sources)
    for s in sources:
        if s not in SOURCES:
            raise ConfigError(
                "STREAMER_SOURCES", f"unknown source {s!r}", f"Use any of: {', '.join(SOURCES)}."
            )

    db = d.binance
    binance_symbols, binance_selector = _market(r, "binance_symbols", db.symbols)
    binance = BinanceSettings(
        symbols=binance_symbols,
        selector=binance_selector,
        ws_url=r.url("binance_ws_url", db.ws_url, ("ws", "wss")),
        rest_url=r.url("binance_rest_url", db.rest_url, ("http", "https")),
        kline_interval=r.choice(
            "binance_kline_interval", db.kline_interval, BINANCE_KLINE_INTERVALS
        ),
        trades=r.choice("binance_trades", db.trades, ("trade", "aggTrade")),
        depth=int(r.choice("binance_depth", str(db.depth), ("5", "10", "20"))),
        book_updates=r.flag("binance_book_updates", db.book_updates),
        keep_open_candles=r.flag("keep_open_candles", db.keep_open_candles),
        stale_seconds=r.number("stale_seconds", db.stale_seconds, 1, 3600),
        rotate_seconds=r.number("binance_rotate_seconds", db.rotate_seconds, 1, 86_000),
    )

    dc = d.coinbase
    coinbase_symbols, coinbase_selector = _market(r, "coinbase_symbols", dc.symbols)
    coinbase = CoinbaseSettings(
        symbols=coinbase_symbols,
        selector=coinbase_selector,
        ws_url=r.url("coinbase_ws_url", dc.ws_url, ("ws", "wss")),
        rest_url=r.url("coinbase_rest_url", dc.rest_url, ("http", "https")),
        book_depth=r.integer("coinbase_book_depth", dc.book_depth, 1, 1000),
        book_interval=r.number("coinbase_book_interval", dc.book_interval, 0.05, 3600),
        book_updates=r.flag("coinbase_book_updates", dc.book_updates),
        max_frame_bytes=r.integer(
            "coinbase_max_frame_bytes", dc.max_frame_bytes, 10 * 1024 * 1024, 1024**3
        ),
        keep_open_candles=r.flag("keep_open_candles", dc.keep_open_candles),
        stale_seconds=r.number("stale_seconds", dc.stale_seconds, 1, 3600),
    )

    api_key = r.text("coingecko_api_key", "") or None
    plan = r.choice("coingecko_plan", "demo" if api_key else "keyless", COINGECKO_PLANS)
    if plan != "keyless" and not api_key:
        raise ConfigError(
            "STREAMER_COINGECKO_API_KEY",
            f"plan {plan!r} needs an API key",
            "Set the key, or STREAMER_COINGECKO_PLAN=keyless.",
        )
    coingecko = CoinGeckoSettings(
        coins=r.items("coingecko_coins", d.coingecko.coins),
        url=r.url("coingecko_url", COINGECKO_URLS[plan], ("http", "https")),
        api_key=api_key if plan != "keyless" else None,
        plan=plan,
        poll_seconds=r.number("coingecko_poll_seconds", COINGECKO_POLL_SECONDS[plan], 1, 86400),
    )
    for coin in coingecko.coins:
        if not _COIN_ID.fullmatch(coin):
            raise ConfigError(
                "STREAMER_COINGECKO_COINS",
                f"{coin!r} is not a CoinGecko coin id",
                "Use API ids such as bitcoin, ethereum (see /coins/list).",
            )

    df = d.firehose
    prefix = r.text("firehose_prefix", df.stream_prefix)
    lake = LakeSettings(
        root=Path(r.text("lake_dir", str(d.lake.root))),
        buffer_bytes=int(r.number("lake_buffer_mb", 5, 0.001, 128) * 1024 * 1024),
        buffer_seconds=r.number("lake_buffer_seconds", d.lake.buffer_seconds, 0, 900),
        stream_prefix=prefix,
    )
    firehose = FirehoseSettings(
        stream_prefix=prefix,
        linger=r.number("firehose_linger_seconds", df.linger, 0, 900),
        max_in_flight=r.integer("firehose_max_in_flight", df.max_in_flight, 1, 64),
        retry_seconds=r.number("firehose_retry_seconds", df.retry_seconds, 0, 3600),
        request_timeout=r.number("firehose_request_timeout", df.request_timeout, 0.1, 300),
        buffer_bytes=int(r.number("firehose_buffer_mb", df.buffer_bytes / 2**20, 1, 65536) * 2**20),
        spool_dir=Path(r.text("spool_dir", str(df.spool_dir))),
        spool_max_bytes=int(
            r.number("spool_max_mb", df.spool_max_bytes / 2**20, 1, 16 * 2**20) * 2**20
        ),
        shutdown_seconds=r.number("shutdown_seconds", df.shutdown_seconds, 1, 3600),
    )
    return Settings(
        sources=sources,
        sink=r.choice("sink", d.sink, SINKS),
        binance=binance,
        coinbase=coinbase,
        coingecko=coingecko,
        lake=lake,
        firehose=firehose,
        shard=parse_shard(r.text("shard", str(d.shard))),
        discovery_seconds=r.number("discovery_seconds", d.discovery_seconds, 1, 7 * 86400),
        health_port=r.integer("health_port", d.health_port, 0, 65535),
        queue_size=r.integer("queue_size", d.queue_size, 10, 10_000_000),
        log_format=r.choice("log_format", d.log_format, ("text", "json")),
        stats_interval=r.number("stats_interval", d.stats_interval, 1, 86400),
        lake_bucket=_pattern(r, "lake_bucket", "", _BUCKET, "a bucket name, e.g. my-lake") or None,
        athena=_athena(r, d.athena),
    )


_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def _pattern(r: _Reader, name: str, default: str, pattern: re.Pattern[str], example: str) -> str:
    value = r.text(name, default)
    if value and not pattern.fullmatch(value):
        raise ConfigError(_var(name), f"{value!r} is not valid", f"Use {example}.")
    return value


def _athena(r: _Reader, d: AthenaSettings) -> AthenaSettings:
    names = {"athena_workgroup": r.text("athena_workgroup", ""),
             "athena_database": r.text("athena_database", d.database)}  # fmt: skip
    for name, value in names.items():
        if value and not _ATHENA_NAME.fullmatch(value):
            raise ConfigError(
                _var(name),
                f"{value!r} is not an Athena name",
                "Use letters, digits, '_', '-' or '.' (the Terraform outputs athena_workgroup "
                "and glue_database).",
            )
    return AthenaSettings(names["athena_workgroup"] or None, names["athena_database"] or "crypto")
