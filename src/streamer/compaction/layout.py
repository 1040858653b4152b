"""Where compaction reads and writes, named once for both engines (pure functions).

The keys are relative to the lake root: a directory locally, the bucket on S3.

    crypto/tabular/<dataset>/year=Y/month=M/day=D/hour=H/*.gz     raw objects (read, tagged)
    crypto/compacted/<dataset>/year=Y/month=M/day=D/<run>-N.parquet  the compacted day
    crypto/compaction/<dataset>/<Y>-<M>-<D>.json                   its manifest, written last

A run id is unique per run (UTC time and a random token), so a run's files never collide with
the files of the run they replace.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from streamer.errors import ConfigError
from streamer.partitioning import render_prefix
from streamer.schema import Dataset

COMPACTED_ROOT = "crypto/compacted/"
MANIFEST_ROOT = "crypto/compaction/"
COMPACTED_PARTITION_KEYS: tuple[str, ...] = ("year", "month", "day")
COMPACTED_SUFFIX = "_compacted"
MAX_FILES_PER_DAY = 8
"""The most Parquet files one compacted day has: Athena's `bucket_count` (DuckDB writes one)."""
RAW_TAG = ("streamer-compacted", "true")
"""Set on each raw object of a compacted day; the optional S3 lifecycle rule expires on it."""

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_RUN = re.compile(r"[0-9]{8}t[0-9]{6}z_[0-9a-f]{8}")


def compacted_table(dataset: Dataset) -> str:
    return f"{dataset.table}{COMPACTED_SUFFIX}"


def compacted_location(dataset: Dataset) -> str:
    return f"{COMPACTED_ROOT}{dataset.name}/"


def compacted_day_prefix(dataset: Dataset, day: date) -> str:
    return f"{compacted_location(dataset)}{partition_path(day)}"


def partition_path(day: date) -> str:
    return f"year={day:%Y}/month={day:%m}/day={day:%d}/"


def raw_day_prefix(dataset: Dataset, day: date) -> str:
    """The raw objects' folder of one arrival day, rendered from the dataset's prefix template."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    rendered = render_prefix(dataset.prefix_template, int(midnight.timestamp() * 1000))
    return rendered.split("hour=")[0]


def manifest_prefix(dataset: Dataset) -> str:
    return f"{MANIFEST_ROOT}{dataset.name}/"


def manifest_key(dataset: Dataset, day: date) -> str:
    return f"{manifest_prefix(dataset)}{day.isoformat()}.json"


def day_of_manifest_key(key: str) -> date | None:
    """The day a manifest key names, or None for anything else under the manifest prefix."""
    name = key.rsplit("/", 1)[-1]
    if not name.endswith(".json") or not _DAY.fullmatch(name[:-5]):
        return None
    return date.fromisoformat(name[:-5])


def file_key(dataset: Dataset, day: date, run: str, index: int) -> str:
    return f"{compacted_day_prefix(dataset, day)}{run}-{index:05d}.parquet"


def new_run_id(now: datetime, token: str) -> str:
    """`20251125t003000z_1a2b3c4d`: sortable, and usable in Glue table names."""
    run = f"{now.astimezone(UTC):%Y%m%dt%H%M%Sz}_{token}"
    if not _RUN.fullmatch(run):
        raise ValueError(f"run token must be 8 hex digits, not {token!r}")
    return run


def parse_day(text: str, today: date) -> date:
    """`--day`: `YYYY-MM-DD`, `today` or `yesterday` (UTC days, as the lake's partitions)."""
    if text == "today":
        return today
    if text == "yesterday":
        return today - timedelta(days=1)
    if _DAY.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ConfigError(
        "--day", f"{text!r} is not a day", "Use YYYY-MM-DD (UTC), `yesterday` or `today`."
    )
