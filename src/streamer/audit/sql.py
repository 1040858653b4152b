"""The SQL of `streamer audit`, one text for DuckDB and Athena (Trino) but for one clause.

Each query reads the views users query (`crypto_trades`, `crypto_ohlcv`, `crypto_quality`), so
a compacted day is read from its Parquet and any other day from the raw objects, and only the
partitions of the day audited and of the days either side (`window_days`): trades of the day
arrive late (a backfill after a restart, Firehose's buffering) or, in an object started just
before midnight, early, and the day before holds the last id before the day's first. Which day
a trade or candle belongs to is its own time (`event_time`, `open_time`), a `quality` row's
its `minute`, not the arrival hour of its object.

Every query is one pass over its table (Athena inlines a WITH query each time it is named, so
a second reference would read the table again): window functions carry each symbol's totals
onto its rows, and the result is one row per symbol plus one per missing range, at most `cap`
of them per symbol. Results hold only integers and text, which Athena returns as text too.

The one clause the engines spell differently is expanding an array of structs into rows
(`quality.gaps`, `quality.unrecoverable`): Trino's UNNEST makes a column of each field, DuckDB's
does so only with `recursive := true` (`_unnest`). Identifiers are double-quoted throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from streamer.compaction.sql import days_predicate, quote, text

CAP = 100
"""The missing ranges listed per symbol (the totals count every one)."""
HOLES_CAP = 10_000
"""The `quality.unrecoverable` ranges read for the window (they are few: one per lost stretch)."""
EPOCH = "TIMESTAMP '1970-01-01 00:00:00'"
DIALECTS = ("trino", "duckdb")


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    text: str
    columns: tuple[str, ...]
    texts: frozenset[str]
    """The columns holding text; every other one holds an integer (or NULL)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """What to audit: one UTC day, the exchanges (empty: all), and the SQL dialect."""

    day: date
    exchanges: tuple[str, ...] = ()
    dialect: str = "duckdb"

    def __post_init__(self) -> None:
        if self.dialect not in DIALECTS:
            raise ValueError(f"dialect {self.dialect!r} is not one of {DIALECTS}")


def window_days(day: date) -> tuple[date, date, date]:
    return (day - timedelta(days=1), day, day + timedelta(days=1))


def _bounds(day: date) -> tuple[str, str]:
    start, end = day, day + timedelta(days=1)
    return f"TIMESTAMP '{start:%Y-%m-%d} 00:00:00'", f"TIMESTAMP '{end:%Y-%m-%d} 00:00:00'"


def _where(scope: Scope) -> str:
    """The partitions of the window, and the exchanges asked for."""
    where = f"({days_predicate(window_days(scope.day))})"
    if scope.exchanges:
        where += f' AND "exchange" IN ({", ".join(text(e) for e in scope.exchanges)})'
    return where


def _in_day(column: str, day: date) -> str:
    start, end = _bounds(day)
    return f"{quote(column)} >= {start} AND {quote(column)} < {end}"


def _ms(column: str) -> str:
    return f"date_diff('millisecond', {EPOCH}, {column})"


def _by(*names: str) -> str:
    return "PARTITION BY " + ", ".join(quote(n) for n in names)


def trade_ids(scope: Scope, cap: int = CAP) -> Query:
    """Per symbol: the day's first and last trade id, how many distinct ids it holds, the ids
    missing between them (and between the last id before the day and its first), the missing
    ranges (the first `cap`); the last id before and the first after the window's day for a
    symbol with no trade that day; and how many of its trades have an id that is no integer
    (such a symbol's ids are not checked)."""
    start, end = _bounds(scope.day)
    by = _by("exchange", "symbol")
    in_day = _in_day("event_time", scope.day)
    columns = ("exchange", "symbol", "first_id", "last_id", "ids", "missing", "gaps",
               "before_id", "after_id", "not_integer", "gap_first", "gap_last")  # fmt: skip
    body = f"""WITH "ids" AS (
  SELECT "exchange", "symbol", try_cast("trade_id" AS bigint) AS "id",
    max(CASE WHEN "event_time" < {start} THEN 1 ELSE 0 END) AS "before",
    max(CASE WHEN {in_day} THEN 1 ELSE 0 END) AS "in_day",
    max(CASE WHEN "event_time" >= {end} THEN 1 ELSE 0 END) AS "after",
    sum(CASE WHEN {in_day} THEN 1 ELSE 0 END) AS "day_rows"
  FROM "crypto_trades"
  WHERE {_where(scope)}
  GROUP BY "exchange", "symbol", try_cast("trade_id" AS bigint)
), "steps" AS (
  SELECT "exchange", "symbol", "id", "in_day",
    lag("id") OVER ({by} ORDER BY "id") AS "prev",
    min(CASE WHEN "in_day" = 1 THEN "id" END) OVER ({by}) AS "first_id",
    max(CASE WHEN "in_day" = 1 THEN "id" END) OVER ({by}) AS "last_id",
    max(CASE WHEN "in_day" = 0 AND "before" = 1 THEN "id" END) OVER ({by}) AS "before_id",
    min(CASE WHEN "in_day" = 0 AND "after" = 1 THEN "id" END) OVER ({by}) AS "after_id",
    sum(CASE WHEN "id" IS NULL THEN "day_rows" ELSE 0 END) OVER ({by}) AS "not_integer"
  FROM "ids"
), "marked" AS (
  SELECT *,
    CASE WHEN "id" - "prev" > 1 AND "id" BETWEEN "first_id" AND "last_id" THEN 1 ELSE 0 END
      AS "is_gap"
  FROM "steps"
), "totals" AS (
  SELECT *,
    sum(CASE WHEN "id" IS NOT NULL THEN "in_day" ELSE 0 END) OVER ({by}) AS "ids",
    sum(CASE WHEN "is_gap" = 1 THEN "id" - "prev" - 1 ELSE 0 END) OVER ({by}) AS "missing",
    sum("is_gap") OVER ({by}) AS "gaps",
    sum("is_gap") OVER ({by} ORDER BY "id" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
      AS "gap_number",
    row_number() OVER ({by} ORDER BY "id") AS "row_number"
  FROM "marked"
)
SELECT "exchange", "symbol", "first_id", "last_id", "ids", "missing", "gaps", "before_id",
  "after_id", "not_integer",
  CASE WHEN "is_gap" = 1 THEN "prev" + 1 END AS "gap_first",
  CASE WHEN "is_gap" = 1 THEN "id" - 1 END AS "gap_last"
FROM "totals"
WHERE "row_number" = 1 OR ("is_gap" = 1 AND "gap_number" <= {cap:d})
ORDER BY "exchange", "symbol", "gap_first\""""
    return Query("trade_ids", body, columns, frozenset({"exchange", "symbol"}))


def candles(scope: Scope, cap: int = CAP) -> Query:
    """Per symbol and interval: the day's closed candles (distinct open times), the first and
    last, the candles missing between them and the missing ranges (open times of the first
    and last missing candle, epoch ms; the first `cap`). `step` is the interval in ms."""
    by = _by("exchange", "symbol", "interval")
    columns = ("exchange", "symbol", "interval", "step", "candles", "first_open", "last_open",
               "missing", "gaps", "gap_first", "gap_last")  # fmt: skip
    missing = 'CAST(round(CAST("open_ms" - "prev" AS double) / "step") AS bigint) - 1'
    body = f"""WITH "opens" AS (
  SELECT "exchange", "symbol", "interval", {_ms('"open_time"')} AS "open_ms",
    max(date_diff('millisecond', "open_time", "close_time")) + 1 AS "length_ms"
  FROM "crypto_ohlcv"
  WHERE {_where(scope)} AND "is_closed" AND {_in_day("open_time", scope.day)}
  GROUP BY "exchange", "symbol", "interval", "open_time"
), "steps" AS (
  SELECT "exchange", "symbol", "interval", "open_ms",
    lag("open_ms") OVER ({by} ORDER BY "open_ms") AS "prev",
    min("length_ms") OVER ({by}) AS "step"
  FROM "opens"
), "marked" AS (
  SELECT *, CASE WHEN "open_ms" - "prev" > "step" THEN 1 ELSE 0 END AS "is_gap"
  FROM "steps"
), "totals" AS (
  SELECT *,
    count(*) OVER ({by}) AS "candles",
    min("open_ms") OVER ({by}) AS "first_open",
    max("open_ms") OVER ({by}) AS "last_open",
    sum(CASE WHEN "is_gap" = 1 THEN {missing} ELSE 0 END) OVER ({by}) AS "missing",
    sum("is_gap") OVER ({by}) AS "gaps",
    sum("is_gap") OVER ({by} ORDER BY "open_ms" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
      AS "gap_number",
    row_number() OVER ({by} ORDER BY "open_ms") AS "row_number"
  FROM "marked"
)
SELECT "exchange", "symbol", "interval", "step", "candles", "first_open", "last_open",
  "missing", "gaps",
  CASE WHEN "is_gap" = 1 THEN "prev" + "step" END AS "gap_first",
  CASE WHEN "is_gap" = 1 THEN "open_ms" - "step" END AS "gap_last"
FROM "totals"
WHERE "row_number" = 1 OR ("is_gap" = 1 AND "gap_number" <= {cap:d})
ORDER BY "exchange", "symbol", "interval", "gap_first\""""
    return Query("candles", body, columns, frozenset({"exchange", "symbol", "interval"}))


_QUALITY_COLUMNS = ("exchange", "symbol", "stream", "minute", "messages", "rows", "gaps",
                    "backfilled", "unrecoverable", "resyncs_sequence_break",
                    "resyncs_checksum_mismatch", "resyncs_venue_reset", "silent_subscriptions",
                    "connected_ms", "disconnected_ms", "rejects")  # fmt: skip


def _quality(scope: Scope) -> str:
    """The window's `quality` rows, one per `record_id` (a row delivered twice is one row: the
    copy from the earliest arrival hour, as compaction keeps)."""
    names = ", ".join(quote(c) for c in _QUALITY_COLUMNS)
    return f"""(
  SELECT {names} FROM (
    SELECT {names},
      row_number() OVER (PARTITION BY "record_id" ORDER BY "hour", "received_at") AS "copy"
    FROM "crypto_quality"
    WHERE {_where(scope)}
  ) AS "copies"
  WHERE "copy" = 1
) AS "q\""""


def _unnest(column: str, fields: Sequence[str], dialect: str) -> str:
    """`CROSS JOIN` the elements of the array of structs `q.<column>`, one column per field."""
    names = ", ".join(quote(f) for f in fields)
    if dialect == "trino":
        return f'CROSS JOIN UNNEST("q".{quote(column)}) AS "u" ({names})'
    return (
        f'CROSS JOIN LATERAL (SELECT unnest("q".{quote(column)}, recursive := true)) '
        f'AS "u" ({names})'
    )


def quality_counts(scope: Scope) -> Query:
    """The day's `quality` counters per exchange, symbol and stream; the `connection` stream's
    per hour of the day as well (`hour_of_day`, -1 for the other streams)."""
    sums = ("messages", "rows", "backfilled", "resyncs_sequence_break",
            "resyncs_checksum_mismatch", "resyncs_venue_reset", "silent_subscriptions",
            "connected_ms", "disconnected_ms", "rejects")  # fmt: skip
    hour = 'CASE WHEN "stream" = \'connection\' THEN hour("minute") ELSE -1 END'
    totals = ",\n  ".join(f"sum({quote(s)}) AS {quote(s)}" for s in sums)
    body = f"""SELECT "exchange", "symbol", "stream", {hour} AS "hour_of_day",
  {totals}
FROM {_quality(scope)}
WHERE {_in_day("minute", scope.day)}
GROUP BY "exchange", "symbol", "stream", {hour}
ORDER BY "exchange", "symbol", "stream", "hour_of_day\""""
    columns = ("exchange", "symbol", "stream", "hour_of_day", *sums)
    return Query("quality_counts", body, columns, frozenset({"exchange", "symbol", "stream"}))


def quality_gaps(scope: Scope) -> Query:
    """The gaps the feeds detected that day, per exchange, symbol and stream: how many ranges
    and how many ids (or candles' open times) they held."""
    body = f"""SELECT "q"."exchange", "q"."symbol", "q"."stream", count(*) AS "ranges",
  sum("u"."last" - "u"."first" + 1) AS "span"
FROM {_quality(scope)}
{_unnest("gaps", ("first", "last"), scope.dialect)}
WHERE {_in_day("minute", scope.day).replace('"minute"', '"q"."minute"')}
GROUP BY "q"."exchange", "q"."symbol", "q"."stream"
ORDER BY "q"."exchange", "q"."symbol", "q"."stream\""""
    columns = ("exchange", "symbol", "stream", "ranges", "span")
    return Query("quality_gaps", body, columns, frozenset({"exchange", "symbol", "stream"}))


def quality_holes(scope: Scope, cap: int = HOLES_CAP) -> Query:
    """Every range the feeds could not recover (`quality.unrecoverable`) reported in the window,
    once, with its reason, the first minute it was reported (epoch ms) and whether it was
    reported on the day audited (`in_day` 1)."""
    minute = '"q"."minute"'
    in_day = _in_day("minute", scope.day).replace('"minute"', minute)
    body = f"""SELECT "q"."exchange", "q"."symbol", "q"."stream", "u"."first", "u"."last",
  "u"."reason", min({_ms(minute)}) AS "reported",
  max(CASE WHEN {in_day} THEN 1 ELSE 0 END) AS "in_day"
FROM {_quality(scope)}
{_unnest("unrecoverable", ("first", "last", "reason"), scope.dialect)}
GROUP BY "q"."exchange", "q"."symbol", "q"."stream", "u"."first", "u"."last", "u"."reason"
ORDER BY "q"."exchange", "q"."symbol", "q"."stream", "u"."first", "u"."last", "u"."reason"
LIMIT {cap:d}"""
    columns = ("exchange", "symbol", "stream", "first", "last", "reason", "reported", "in_day")
    return Query("quality_holes", body, columns, frozenset({"exchange", "symbol", "stream",
                                                             "reason"}))  # fmt: skip


def queries(scope: Scope) -> tuple[Query, ...]:
    """Every query of one audit, in the order `build.audit` takes their rows."""
    return (trade_ids(scope), candles(scope), quality_counts(scope), quality_gaps(scope),
            quality_holes(scope))  # fmt: skip
