"""Typed settings from `STREAMER_*` environment variables and an optional TOML file.

Precedence: environment variable > TOML file > default. Every value is validated once, here; a
bad value raises `ConfigError` naming the variable and the fix. The TOML file uses the same
names in lower case without the `STREAMER_` prefix, e.g. `lake_dir = "/srv/lake"`.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamer.errors import ConfigError
from streamer.settings_read import PREFIX, Reader, var
from streamer.settings_spec import SETTINGS, Setting, row
from streamer.settings_spec import markdown_settings as _table
from streamer.sharding import Shard, parse_shard
from streamer.venues import VENUES

SINKS = ("lake", "firehose", "null")
LAKE_FORMATS = ("json", "iceberg")
_STREAM_PREFIX = re.compile(r"[a-zA-Z0-9_.-]{1,50}")
_ATHENA_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_HOST = re.compile(r"[A-Za-z0-9_.:-]{1,253}")

READ_ELSEWHERE = frozenset(
    {"STREAMER_FIXTURES", "STREAMER_CHAOS_SECONDS", "STREAMER_CHAOS_REPORT",
     "STREAMER_OUTAGE_SECONDS"}
)  # fmt: skip
"""`STREAMER_*` variables that are not settings but are read elsewhere (the test suite's
recorded fixtures and the length of its chaos and outage runs): never reported as unknown."""


@dataclass(frozen=True, slots=True)
class LakeSettings:
    root: Path = Path("data")
    buffer_bytes: int = 5 * 1024 * 1024  # uncompressed, like Firehose's SizeInMBs
    buffer_seconds: float = 15.0  # like Firehose's IntervalInSeconds; 0 = write at once
    stream_prefix: str = "crypto"
    shutdown_seconds: float = 25.0  # SIGTERM to exit: a failing disk is retried this long
    format: str = "json"  # gzip JSON lines objects, or Iceberg tables (`iceberg_layout.py`)
    compact_seconds: float = 300.0  # iceberg: compaction and snapshot expiry every so often


@dataclass(frozen=True, slots=True)
class FirehoseSettings:
    stream_prefix: str = "crypto"  # streams are <prefix>-<dataset>, e.g. crypto-tickers
    format: str = "json"  # what the streams deliver into: S3 JSON objects or Iceberg tables
    linger: float = 2.0  # seconds a partly filled record may wait (billed/payload <= 1.02)
    max_in_flight: int = 4  # concurrent PutRecordBatch calls (one per stream at a time)
    retry_seconds: float = 2.0  # a batch retries this long in memory, then goes to the spool
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
    sources: tuple[str, ...] = field(
        default_factory=lambda: tuple(s.name for s in VENUES if s.default_on)
    )
    sink: str = "lake"
    venues: Mapping[str, Any] = field(default_factory=lambda: {s.name: s.defaults for s in VENUES})
    """Each venue's own settings record, by venue name (`VenueSpec.load`)."""
    lake: LakeSettings = LakeSettings()
    firehose: FirehoseSettings = FirehoseSettings()
    shard: Shard = field(default_factory=Shard)  # this process collects shard i of n
    discovery_seconds: float = 3600.0  # market selectors are resolved again this often
    health_port: int = 0  # GET /health on this port (the container uses 8080); 0 = off
    undelivered_seconds: float = 60.0  # rows neither delivered nor stored this long: unhealthy
    health_host: str = "127.0.0.1"  # the address it listens on (the container: 0.0.0.0)
    queue_size: int = 10_000
    log_format: str = "text"  # or "json"
    stats_interval: float = 30.0
    drain_seconds: float = 20.0  # SIGTERM: open holes are served this long, then checkpoints
    checkpoint_seconds: float = 5.0  # how often each feed's positions are checkpointed
    lake_bucket: str | None = None  # `streamer compact --engine athena`
    athena: AthenaSettings = AthenaSettings()
    unknown: tuple[str, ...] = ()
    """Each `STREAMER_*` variable or config key that is not a setting, with the closest one
    (`unknown_settings`): the CLI logs them as warnings."""


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
    return _build(Reader(env, toml, known()))


def names_read(env: Mapping[str, str]) -> frozenset[str]:
    """Every setting name `load(env)` looks up (for the test that the spec is complete)."""
    reader = Reader(env, {}, known())
    _build(reader)
    return frozenset(reader.read)


def _build(r: Reader) -> Settings:
    d = Settings()

    names = tuple(spec.name for spec in VENUES)
    sources = r.items("sources", d.sources)
    for s in sources:
        if s not in names:
            raise ConfigError(
                "STREAMER_SOURCES", f"unknown source {s!r}", f"Use any of: {', '.join(names)}."
            )
    venues = {spec.name: spec.load(r) for spec in VENUES}

    df = d.firehose
    prefix = r.text("firehose_prefix", df.stream_prefix)
    shutdown = r.number("shutdown_seconds", df.shutdown_seconds, 1, 3600)
    lake_format = r.choice("lake_format", d.lake.format, LAKE_FORMATS)
    lake = LakeSettings(
        root=Path(r.text("lake_dir", str(d.lake.root))),
        buffer_bytes=int(r.number("lake_buffer_mb", 5, 0.001, 128) * 1024 * 1024),
        buffer_seconds=r.number("lake_buffer_seconds", d.lake.buffer_seconds, 0, 900),
        stream_prefix=prefix,
        shutdown_seconds=shutdown,
        format=lake_format,
        compact_seconds=r.number("lake_compact_seconds", d.lake.compact_seconds, 0, 86400),
    )
    firehose = FirehoseSettings(
        stream_prefix=prefix,
        format=lake_format,
        linger=r.number("firehose_linger_seconds", df.linger, 0, 900),
        max_in_flight=r.integer("firehose_max_in_flight", df.max_in_flight, 1, 64),
        retry_seconds=r.number("firehose_retry_seconds", df.retry_seconds, 0, 3600),
        request_timeout=r.number("firehose_request_timeout", df.request_timeout, 0.1, 300),
        buffer_bytes=int(r.number("firehose_buffer_mb", df.buffer_bytes / 2**20, 1, 65536) * 2**20),
        spool_dir=Path(r.text("spool_dir", str(df.spool_dir))),
        spool_max_bytes=int(
            r.number("spool_max_mb", df.spool_max_bytes / 2**20, 1, 16 * 2**20) * 2**20
        ),
        shutdown_seconds=shutdown,
    )
    return Settings(
        sources=sources,
        sink=r.choice("sink", d.sink, SINKS),
        venues=venues,
        lake=lake,
        firehose=firehose,
        shard=parse_shard(r.text("shard", str(d.shard))),
        discovery_seconds=r.number("discovery_seconds", d.discovery_seconds, 1, 7 * 86400),
        health_port=r.integer("health_port", d.health_port, 0, 65535),
        undelivered_seconds=r.number("undelivered_seconds", d.undelivered_seconds, 1, 86400),
        health_host=_pattern(r, "health_host", d.health_host, _HOST, "an address, e.g. 0.0.0.0"),
        queue_size=r.integer("queue_size", d.queue_size, 10, 10_000_000),
        log_format=r.choice("log_format", d.log_format, ("text", "json")),
        stats_interval=r.number("stats_interval", d.stats_interval, 1, 86400),
        drain_seconds=r.number("drain_seconds", d.drain_seconds, 0, 600),
        checkpoint_seconds=r.number("checkpoint_seconds", d.checkpoint_seconds, 0.1, 3600),
        lake_bucket=_pattern(r, "lake_bucket", "", _BUCKET, "a bucket name, e.g. my-lake") or None,
        athena=_athena(r, d.athena),
        unknown=_unknown(r),
    )


def unknown_settings(
    env: Mapping[str, str], toml: Mapping[str, Any] | None = None
) -> tuple[str, ...]:
    """Each `STREAMER_*` variable in `env` (and each key of the TOML table) that is not a
    setting, as `STREAMER_SINKK (did you mean STREAMER_SINK?)`. With `strict_settings` on,
    raises `ConfigError` naming them all instead."""
    return _unknown(Reader(env, toml or {}, known()))


def _unknown(r: Reader) -> tuple[str, ...]:
    names = sorted(known())
    variables = {var(name) for name in names} | READ_ELSEWHERE
    found = [
        _closest(key, key.removeprefix(PREFIX).lower(), names, var)
        for key in sorted(r.env)
        if key.startswith(PREFIX) and key not in variables
    ]
    found += [
        _closest(f"{key} (in the config file)", key, names, str)
        for key in sorted(r.toml)
        if key not in names
    ]
    if r.flag("strict_settings", False) and found:
        raise ConfigError(
            "STREAMER_STRICT_SETTINGS",
            f"not settings: {'; '.join(found)}",
            "Fix or remove them, or set STREAMER_STRICT_SETTINGS=false to only warn",
        )
    return tuple(found)


def _closest(shown: str, name: str, names: list[str], spell: Callable[[str], str]) -> str:
    """`shown`, and the setting `name` was most likely meant to be (spelt by `spell`)."""
    match = difflib.get_close_matches(name, names, n=1)
    return f"{shown} (did you mean {spell(match[0])}?)" if match else shown


_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def _pattern(r: Reader, name: str, default: str, pattern: re.Pattern[str], example: str) -> str:
    value = r.text(name, default)
    if value and not pattern.fullmatch(value):
        raise ConfigError(var(name), f"{value!r} is not valid", f"Use {example}.")
    return value


def _athena(r: Reader, d: AthenaSettings) -> AthenaSettings:
    names = {"athena_workgroup": r.text("athena_workgroup", ""),
             "athena_database": r.text("athena_database", d.database)}  # fmt: skip
    for name, value in names.items():
        if value and not _ATHENA_NAME.fullmatch(value):
            raise ConfigError(
                var(name),
                f"{value!r} is not an Athena name",
                "Use letters, digits, '_', '-' or '.' (the Terraform outputs athena_workgroup "
                "and glue_database).",
            )
    return AthenaSettings(names["athena_workgroup"] or None, names["athena_database"] or "crypto")


def rows() -> tuple[Setting, ...]:
    """Every documented setting: the core's, then each venue's (registry order)."""
    names = ",".join(spec.name for spec in VENUES if spec.default_on)
    others = [spec.name for spec in VENUES if not spec.default_on]
    also = f"; also {', '.join(f'`{name}`' for name in others)}" if others else ""
    sources = row("sources", names, f"which sources run (the venues of `streamer.venues`){also}")
    return (sources, *SETTINGS, *(r for spec in VENUES for r in spec.rows))


def known() -> frozenset[str]:
    """Every setting name `load` may read."""
    return frozenset(n for s in rows() for n in s.names)


def markdown_settings(section: str) -> str:
    """One table of the settings reference (`general`, `firehose`, `compaction`, `analytics`)."""
    return _table(rows(), section)
