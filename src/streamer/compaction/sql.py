"""The SQL of compaction, one text for both engines (pure).

Every statement here parses as Trino (Athena engine 3) and runs on DuckDB, with the same result:
`tests/compaction/test_compaction_sql.py` checks both. Identifiers are always double-quoted (the
OHLCV dataset has a column named `interval`), partition values are zero-padded strings.

* `dedupe_select`: one day of raw rows, one row per `record_id` (the copy from the earliest
  arrival hour), sorted by (exchange, symbol, event_time) where those exist, then `record_id`;
  the time runs backwards in every other market (`_order`).
  The compacted files hold the dataset's columns and `hour`, the raw partition the row came
  from, so `hour` keeps meaning what it means for raw days.
* `unread_decimals`: a raw row whose `decimal(38,18)` value did not fit (written by a version
  that let any number through) reads as NULL in both engines (Athena's OpenX JSON reader gives
  NULL for a decimal that overflows its precision; the DuckDB engine reads with
  `ignore_errors`, which does the same). Such a row of a column that is never NULL, or of a
  book level, is left out of the compacted rows and selected by `rejects_select` instead.
  The one place the engines' SQL differs: a lambda over a book side (`dialect`), which Trino
  writes `level -> ...` and DuckDB (since 1.3) `lambda level: ...`.
* `view_select`: what `crypto_<dataset>` is. The compacted days are written into the view as
  constants (ranges of days within a month), so both engines prune partitions at planning time:
  a compacted day reads only its Parquet, any other day only its raw objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

from streamer.compaction.layout import MAX_FILES_PER_DAY, compacted_table
from streamer.schema import DECIMAL, PARTITION_KEYS, Dataset

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


_UNREAD_LEVEL = {
    "trino": "cardinality(filter({0}, level -> level.price IS NULL OR level.size IS NULL)) > 0",
    "duckdb": "len(list_filter({0}, lambda level: level.price IS NULL OR level.size IS NULL)) > 0",
}


def unread_decimals(dataset: Dataset, dialect: str = "trino") -> dict[str, str]:
    """Column -> a predicate true when its decimal did not read (NULL where it never is, or a
    book level with a NULL price or size)."""
    checks = {}
    for c in dataset.columns:
        name = quote(c.name)
        if c.glue_type == DECIMAL and not c.nullable:
            checks[c.name] = f"{name} IS NULL"
        elif c.kind == "levels":
            checks[c.name] = f"{name} IS NULL OR " + _UNREAD_LEVEL[dialect].format(name)
    return checks


def _unread(dataset: Dataset, dialect: str) -> str:
    checks = unread_decimals(dataset, dialect)
    return " OR ".join(f"({p})" for p in checks.values()) if checks else "false"


def _serpentine(dataset: Dataset) -> bool:
    names = {c.name for c in dataset.columns}
    return all(c in names for c in SORT_COLUMNS)


def _order(dataset: Dataset) -> str:
    """The compacted rows' order: by exchange and symbol, then by time forwards in every other
    market (the first, third, ...: `"lane"` 1, from `_raw_day`) and backwards in the others.
    A row group that holds the end of one market and the start of the next then covers the
    same few hours of both, instead of the whole day (the last hours of one, the first of the
    other), so a one-hour query skips it. Then `record_id`, so the order is total."""
    if not _serpentine(dataset):
        return ", ".join(quote(c) for c in sort_key(dataset))
    return (
        '"exchange", "symbol", CASE WHEN "lane" = 1 THEN "event_time" END, '
        f'CASE WHEN "lane" = 0 THEN "event_time" END DESC, "{DEDUPE_KEY}"'
    )


def _raw_day(dataset: Dataset, source: str, day: date) -> str:
    columns = ", ".join(quote(c) for c in compacted_columns(dataset))
    lane = (
        '    dense_rank() OVER (ORDER BY "exchange", "symbol") % 2 AS "lane",\n'
        if _serpentine(dataset)
        else ""
    )
    return (
        "FROM (\n"
        f"  SELECT {columns},\n"
        f"{lane}"
        f'    row_number() OVER (PARTITION BY "{DEDUPE_KEY}" ORDER BY "hour", "received_at")'
        ' AS "copy"\n'
        f"  FROM {source}\n"
        f"  WHERE {day_filter(day)}\n"
        ") AS raw_day\n"
    )


def dedupe_select(dataset: Dataset, source: str, day: date, dialect: str = "trino") -> str:
    """One day of `source` (the raw table), de-duplicated and sorted: the compacted rows (bar
    those whose decimals did not read, see `rejects_select`)."""
    columns = ", ".join(quote(c) for c in compacted_columns(dataset))
    order = _order(dataset)
    return (
        f"SELECT {columns}\n"
        f"{_raw_day(dataset, source, day)}"
        f'WHERE "copy" = 1 AND NOT ({_unread(dataset, dialect)})\n'
        f"ORDER BY {order}"
    )


def rejects_select(dataset: Dataset, source: str, day: date, dialect: str = "trino") -> str:
    """The rows `dedupe_select` leaves out: (reason, raw, received_at as text, hour), one per
    `record_id`. The value itself did not read, so `raw` names the row by its `record_id`."""
    named = ", ".join(
        f"CASE WHEN {p} THEN {text(c)} END" for c, p in unread_decimals(dataset, dialect).items()
    )
    reason = (
        f"{text(f'compaction of {dataset.name}: ')} || concat_ws(', ', {named}) || "
        f"{text(f' did not read as {DECIMAL} (a value out of range): row left out')}"
        if named
        else "''"
    )
    return (
        f'SELECT {reason} AS "reason",\n'
        f"  'record_id ' || coalesce(\"{DEDUPE_KEY}\", 'null') AS \"raw\",\n"
        '  CAST("received_at" AS VARCHAR) AS "received_at", "hour"\n'
        f"{_raw_day(dataset, source, day)}"
        f'WHERE "copy" = 1 AND ({_unread(dataset, dialect)})\n'
        f'ORDER BY "hour", "{DEDUPE_KEY}"'
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
