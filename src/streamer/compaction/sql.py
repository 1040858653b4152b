"""The SQL of compaction, one text for both engines (pure).

Every statement here parses as Trino (Athena engine 3) and runs on DuckDB, with the same result:
`tests/compaction/test_compaction_sql.py` checks both. Identifiers are always double-quoted (the
OHLCV dataset has a column named `interval`), partition values are zero-padded strings.

* `dedupe_select`: one day of raw rows, one row per `record_id` (the copy from the earliest
  arrival hour), sorted by (exchange, symbol, event_time) where those exist, then `record_id`.
  The compacted files hold the dataset's columns and `hour`, the raw partition the row came
  from, so `hour` keeps meaning what it means for raw days.
* `view_select`: what `crypto_<dataset>` is. The compacted days are written into the view as
  constants (ranges of days within a month), so both engines prune partitions at planning time:
  a compacted day reads only its Parquet, any other day only its raw objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

from streamer.compaction.layout import MAX_FILES_PER_DAY, compacted_table
from streamer.schema import PARTITION_KEYS, Dataset

SORT_COLUMNS = ("exchange", "symbol", "event_time")
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]*")
DEDUPE_KEY = "record_id"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sort_key(dataset: Dataset) -> tuple[str, ...]:
    names = {c.name for c in dataset.columns}
    return (*(c for c in SORT_COLUMNS if c in names), DEDUPE_KEY)


def compacted_columns(dataset: Dataset) -> tuple[str, ...]:
    """The columns of a compacted file: the dataset's, then the raw arrival `hour`."""
    _require_dedupe_key(dataset)
    return (*(c.name for c in dataset.columns), "hour")


def _require_dedupe_key(dataset: Dataset) -> None:
    names = {c.name for c in dataset.columns}
    if DEDUPE_KEY not in names or "received_at" not in names:
        raise TypeError(f"dataset {dataset.name!r} needs record_id and received_at to compact")


def day_filter(day: date) -> str:
    return (
        f'"year" = {text(f"{day:%Y}")} AND "month" = {text(f"{day:%m}")} '
        f'AND "day" = {text(f"{day:%d}")}'
    )


def dedupe_select(dataset: Dataset, source: str, day: date) -> str:
    """One day of `source` (the raw table), de-duplicated and sorted: the compacted rows."""
    columns = ", ".join(quote(c) for c in compacted_columns(dataset))
    order = ", ".join(quote(c) for c in sort_key(dataset))
    return (
        f"SELECT {columns}\n"
        "FROM (\n"
        f"  SELECT {columns},\n"
        f'    row_number() OVER (PARTITION BY "{DEDUPE_KEY}" ORDER BY "hour", "received_at")'
        ' AS "copy"\n'
        f"  FROM {source}\n"
        f"  WHERE {day_filter(day)}\n"
        ") AS raw_day\n"
        'WHERE "copy" = 1\n'
        f"ORDER BY {order}"
    )


def day_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days folded into (first, last) runs that never cross a month."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges:
            first, last = ranges[-1]
            if day == last + timedelta(days=1) and day.month == last.month:
                ranges[-1] = (first, day)
                continue
        ranges.append((day, day))
    return ranges


def days_predicate(days: Iterable[date]) -> str:
    """True for rows of the given days (`false` for none), over the partition columns."""
    terms = []
    for first, last in day_ranges(days):
        month = f'"year" = {text(f"{first:%Y}")} AND "month" = {text(f"{first:%m}")}'
        if first == last:
            terms.append(f'({month} AND "day" = {text(f"{first:%d}")})')
        else:
            bounds = f"{text(f'{first:%d}')} AND {text(f'{last:%d}')}"
            terms.append(f'({month} AND "day" BETWEEN {bounds})')
    return " OR ".join(terms) if terms else "false"


def view_columns(dataset: Dataset) -> tuple[str, ...]:
    """The columns of `crypto_<dataset>`: as the raw table's, partitions last."""
    return (*(c.name for c in dataset.columns), *PARTITION_KEYS)


def view_select(dataset: Dataset, days: Iterable[date]) -> str:
    """`crypto_<dataset>`: the compacted `days` from Parquet, every other day from raw."""
    columns = ", ".join(quote(c) for c in view_columns(dataset))
    raw = f"SELECT {columns}\nFROM {quote(dataset.glue_table)}"
    predicate = days_predicate(days)
    if predicate == "false":
        return raw
    return (
        f"SELECT {columns}\nFROM {quote(compacted_table(dataset))}\nWHERE {predicate}\n"
        f"UNION ALL\n{raw}\nWHERE NOT ({predicate})"
    )


def create_view(dataset: Dataset, days: Iterable[date]) -> str:
    return f"CREATE OR REPLACE VIEW {quote(dataset.table)} AS\n{view_select(dataset, days)}"


def bucket_column(dataset: Dataset) -> str:
    """What Athena buckets a day's rows by: whole symbols per file where there are symbols."""
    names = {c.name for c in dataset.columns}
    return "symbol" if "symbol" in names else DEDUPE_KEY


def create_table_as(dataset: Dataset, day: date, table: str) -> str:
    """Athena CTAS of one compacted day into `table` (the workgroup picks its location): at
    most `MAX_FILES_PER_DAY` ZSTD Parquet files."""
    return (
        f"CREATE TABLE {quote(table)}\n"
        "WITH (\n"
        "  format = 'PARQUET',\n"
        "  write_compression = 'ZSTD',\n"
        f"  bucketed_by = ARRAY[{text(bucket_column(dataset))}],\n"
        f"  bucket_count = {MAX_FILES_PER_DAY}\n"
        ") AS\n"
        f"{dedupe_select(dataset, quote(dataset.glue_table), day)}"
    )


def drop_table(table: str) -> str:
    """A CTAS table is external: dropping it keeps its files. Athena runs DROP as Hive DDL
    (backtick quoting) and Trino cannot parse backticks, so the name must need no quoting."""
    if not _PLAIN_NAME.fullmatch(table):
        raise ValueError(f"table name {table!r} needs quoting")
    return f"DROP TABLE IF EXISTS {table}"
