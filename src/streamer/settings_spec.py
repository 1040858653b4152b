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


def row(
    names: str, default: str, meaning: str, section: str = GENERAL, literal: bool = True
) -> Setting:
    """One row of the settings reference: space-separated `names` share it."""
    return Setting(tuple(names.split()), default, meaning, section, literal)


_s = row


SETTINGS: tuple[Setting, ...] = (
    _s(
        "sink",
        "lake",
        "`lake` (local directory), `firehose` (Amazon Data Firehose, see below) or `null` "
        "(discard; benchmarks)",
    ),
    _s("lake_dir", "./data", "local lake root"),
    _s(
        "lake_format",
        "json",
        "`json`: gzip JSON lines objects under `crypto/tabular/` (compacted daily); `iceberg`: "
        "Apache Iceberg tables of Parquet files (locally a SQLite catalog in the lake; with "
        "`firehose`, the streams deliver into the Glue catalog's Iceberg tables, Terraform's "
        '`table_format = "iceberg"`)',
    ),
    _s(
        "lake_compact_seconds",
        "300",
        "with `STREAMER_LAKE_FORMAT=iceberg`: how often `streamer run` compacts its Iceberg "
        "tables (each day's small files into one sorted file, replacing only those files), "
        "expires snapshots older than 10 minutes and deletes files none references; `0`: never "
        "(`streamer compact` does it on demand)",
    ),
    _s(
        "lake_buffer_mb lake_buffer_seconds",
        "5 / 15",
        "write an object when a dataset's buffer reaches this size (uncompressed) or age; "
        "`0` seconds writes at once",
    ),
    _s(
        "keep_open_candles",
        "false",
        "also keep in-progress candle updates (`is_closed = false`)",
    ),
    _s(
        "stale_seconds",
        "30",
        "a WebSocket connection (or a stream that ticks on its own, such as a ticker or a book) "
        "silent this long is reconnected",
    ),
    _s(
        "shard",
        "0/1",
        "`<i>/<n>`: this process collects shard i (0-based) of n of each exchange's symbols "
        "(rendezvous hashing, so n processes cover them once and a new n moves few); "
        "pollers (not split) run in shard 0 only",
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
        "serve `GET /health` (feed freshness, and whether rows can be stored) on this port "
        "(`8080` in the image; 0 = off); `streamer health` probes it",
    ),
    _s(
        "undelivered_seconds",
        "60",
        "rows that can be neither delivered nor stored this long (a full or unwritable disk, "
        "Firehose down with the spool failing) make `/health` unhealthy, so the container is "
        "replaced",
    ),
    _s(
        "shutdown_seconds",
        "25",
        "SIGTERM to exit: Firehose delivers, then spools the rest; the lake writes its buffers, "
        "retrying a failing disk this long (rows it cannot write stay in its journal)",
    ),
    _s(
        "drain_seconds",
        "20",
        "SIGTERM: the trade and candle holes still open are fetched for up to this long while "
        "the streams keep running, then each symbol's checkpoint is written; with "
        "`STREAMER_SHUTDOWN_SECONDS` it must fit the container's stop timeout (ECS: 120 s)",
    ),
    _s(
        "checkpoint_seconds",
        "5",
        "how often each symbol's position (last trade id, last closed candle) is checkpointed, "
        "once the sink has accepted the rows before it; a restart resumes from there "
        "(`<lake>/.state/checkpoints`, or "
        "`s3://<STREAMER_LAKE_BUCKET>/<STREAMER_FIREHOSE_PREFIX>/state/` with the Firehose "
        "sink; each is an S3 GET and PUT per symbol: Terraform uses 300 s)",
    ),
    _s(
        "health_host",
        "127.0.0.1",
        "the address `/health` listens on (`0.0.0.0` in the image, so a published port reaches it)",
    ),
    _s(
        "strict_settings",
        "false",
        "refuse to start (exit 2) when a `STREAMER_*` variable or a key of the `--config` file "
        "is not a setting; otherwise each one is logged as a warning naming the closest setting",
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
        "2",
        "how long a batch retries in memory before it is spooled (what a kill -9 can lose "
        "besides the last `linger` seconds: see the README's delivery guarantees)",
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
    # `streamer compact --engine athena` (README: "Compaction").
    _s(
        "lake_bucket",
        "none",
        "the lake's S3 bucket (`terraform output bucket`); needed by `--engine athena`, and by "
        "`run` with the Firehose sink to keep checkpoints (without it a restart resumes nothing)",
        COMPACTION,
        literal=False,
    ),
    # Analytics on AWS (README: "Analytics").
    _s(
        "athena_workgroup",
        "none",
        "the Athena workgroup (Terraform output `athena_workgroup`): `streamer report --engine "
        "athena` and the notebooks query in it (the notebooks use Athena when it is set), and "
        "`streamer compact --engine athena` and `streamer audit --engine athena` run their "
        "statements in it (required there)",
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


def markdown_settings(rows: tuple[Setting, ...], section: str) -> str:
    """One settings table (`general`, `firehose`, `compaction` or `analytics`) of `rows`,
    generated so it cannot drift (`settings.markdown_settings` passes every row)."""
    out = ["| variable | default | meaning |", "|---|---|---|"]
    for s in rows:
        if s.section != section:
            continue
        variables = " / ".join(f"`{v}`" for v in s.variables)
        if s.literal:
            default = " / ".join(f"`{d.strip()}`" for d in s.default.split(" / "))
        else:
            default = s.default
        out.append(f"| {variables} | {default} | {s.meaning} |")
    return "\n".join(out) + "\n"
