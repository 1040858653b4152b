"""From the rows of the audit's queries (`sql.queries`) to one `DayAudit` (pure).

Each query's rows come as mappings by column name, integers already typed (the engines see to
it). The trades and candles queries give one row per symbol carrying its totals, and one more
per listed missing range; `quality` gives counters, detected gaps and unrecoverable holes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from streamer.audit.explain import check, explain
from streamer.audit.findings import (
    Candles,
    DayAudit,
    Hole,
    StreamQuality,
    SymbolAudit,
    TradeIds,
    VenueAudit,
)

Row = Mapping[str, Any]
Results = Mapping[str, Sequence[Row]]
"""Query name -> its rows."""
Key = tuple[str, str]
"""(exchange, symbol)."""

TRADES_STREAM = "trades"
CANDLES_STREAM = "ohlcv"
CONNECTION_STREAM = "connection"
VENUE_SYMBOL = "*"


@dataclass(frozen=True, slots=True)
class _Checked:
    """What the lake checked of one symbol's stream: its missing ranges (those listed), the
    range it covers, and whether every missing range there was listed."""

    gaps: tuple[tuple[int, int], ...]
    span: tuple[int, int] | None
    complete: bool


def _grouped(rows: Iterable[Row], *names: str) -> dict[tuple[Any, ...], list[Row]]:
    out: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for row in rows:
        out[tuple(row[n] for n in names)].append(row)
    return out


def _gaps(rows: Sequence[Row]) -> tuple[tuple[int, int], ...]:
    return tuple(
        sorted((r["gap_first"], r["gap_last"]) for r in rows if r["gap_first"] is not None)
    )


def _holes(rows: Iterable[Row]) -> list[Hole]:
    return [
        Hole(
            r["exchange"],
            r["symbol"],
            r["stream"],
            r["first"],
            r["last"],
            r["reason"] or "",
            r["reported"],
            bool(r["in_day"]),
        )
        for r in rows
    ]


def _trades(
    rows: Sequence[Row], holes: Mapping[tuple[str, str, str], list[Hole]]
) -> tuple[dict[Key, TradeIds], dict[tuple[str, str, str], _Checked]]:
    found: dict[Key, TradeIds] = {}
    checked: dict[tuple[str, str, str], _Checked] = {}
    for (exchange, symbol), group in _grouped(rows, "exchange", "symbol").items():
        head, gaps = group[0], _gaps(group)
        first, last = head["first_id"], head["last_id"]
        missing, count = head["missing"] or 0, head["gaps"] or 0
        if first is None:  # no trade that day: the ids between the last before and first after
            before, after = head["before_id"], head["after_id"]
            if before is None or after is None or after - before <= 1:
                if head["not_integer"]:
                    unchecked = TradeIds(None, None, 0, 0, 0, (), not_integer=head["not_integer"])
                    found[(exchange, symbol)] = unchecked
                continue
            gaps, missing, count = ((before + 1, after - 1),), after - before - 1, 1
        own = holes.get((exchange, symbol, TRADES_STREAM), [])
        found[(exchange, symbol)] = TradeIds(
            first_id=first,
            last_id=last,
            ids=head["ids"] or 0,
            missing=missing,
            gaps=count,
            ranges=explain(gaps, 1, own),
            listed=len(gaps),
            before_id=head["before_id"],
            not_integer=head["not_integer"] or 0,
        )
        low = min([first, *(g[0] for g in gaps)] if first is not None else [g[0] for g in gaps])
        high = last if last is not None else gaps[-1][1]
        checked[(exchange, symbol, TRADES_STREAM)] = _Checked(gaps, (low, high), len(gaps) == count)
    return found, checked


def _candles(
    rows: Sequence[Row], holes: Mapping[tuple[str, str, str], list[Hole]]
) -> tuple[dict[Key, Candles], dict[tuple[str, str, str], _Checked]]:
    """Each symbol's finest interval (the shortest candles it has that day)."""
    series = _grouped(rows, "exchange", "symbol", "interval")
    finest: dict[Key, list[Row]] = {}
    for (exchange, symbol, _interval), group in sorted(series.items()):
        chosen = finest.get((exchange, symbol))
        if chosen is None or group[0]["step"] < chosen[0]["step"]:
            finest[(exchange, symbol)] = group
    found: dict[Key, Candles] = {}
    checked: dict[tuple[str, str, str], _Checked] = {}
    for (exchange, symbol), group in finest.items():
        head, gaps = group[0], _gaps(group)
        step = head["step"]
        own = holes.get((exchange, symbol, CANDLES_STREAM), [])
        found[(exchange, symbol)] = Candles(
            interval=head["interval"],
            step_ms=step,
            candles=head["candles"],
            first_open=head["first_open"],
            last_open=head["last_open"],
            missing=head["missing"] or 0,
            gaps=head["gaps"] or 0,
            ranges=explain(gaps, step, own),
            listed=len(gaps),
        )
        span = (head["first_open"], head["last_open"])
        complete = len(gaps) == (head["gaps"] or 0)
        checked[(exchange, symbol, CANDLES_STREAM)] = _Checked(gaps, span, complete)
    return found, checked


_COUNTERS = ("messages", "rows", "backfilled", "resyncs_sequence_break",
             "resyncs_checksum_mismatch", "resyncs_venue_reset")  # fmt: skip


def _quality(counts: Sequence[Row], gaps: Sequence[Row]) -> dict[Key, dict[str, StreamQuality]]:
    """Each symbol's streams (the venue-wide `connection` rows left out)."""
    sums: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in counts:
        if row["stream"] == CONNECTION_STREAM or row["symbol"] == VENUE_SYMBOL:
            continue
        totals = sums[(row["exchange"], row["symbol"], row["stream"])]
        for name in _COUNTERS:
            totals[name] += row[name] or 0
    for row in gaps:
        if row["symbol"] == VENUE_SYMBOL:
            continue
        totals = sums[(row["exchange"], row["symbol"], row["stream"])]
        totals["gaps_detected"] += row["ranges"] or 0
        totals["gap_span"] += row["span"] or 0
    out: dict[Key, dict[str, StreamQuality]] = defaultdict(dict)
    for (exchange, symbol, stream), totals in sorted(sums.items()):
        out[(exchange, symbol)][stream] = StreamQuality(**totals)
    return out


def _venues(counts: Sequence[Row]) -> tuple[VenueAudit, ...]:
    rows = [r for r in counts if r["stream"] == CONNECTION_STREAM]
    venues = []
    for (exchange,), group in sorted(_grouped(rows, "exchange").items()):
        hours: dict[int, int] = defaultdict(int)
        for row in group:
            hours[row["hour_of_day"]] += row["disconnected_ms"] or 0

        def total(name: str, group: list[Row] = group) -> int:
            return sum(r[name] or 0 for r in group)

        venues.append(VenueAudit(
            exchange=exchange,
            disconnected_ms=total("disconnected_ms"),
            connected_ms=total("connected_ms"),
            silent_subscriptions=total("silent_subscriptions"),
            messages=total("messages"),
            rejects=total("rejects"),
            disconnected_by_hour=tuple((h, ms) for h, ms in sorted(hours.items()) if ms),
        ))  # fmt: skip
    return tuple(venues)


def audit(day: date, source: str, exchanges: Sequence[str], results: Results) -> DayAudit:
    """The day's findings from the rows of every query in `sql.queries`."""
    holes = _holes(results["quality_holes"])
    by_stream: dict[tuple[str, str, str], list[Hole]] = defaultdict(list)
    for hole in holes:
        by_stream[(hole.exchange, hole.symbol, hole.stream)].append(hole)
    trades, checked = _trades(results["trade_ids"], by_stream)
    candles, checked_candles = _candles(results["candles"], by_stream)
    checked.update(checked_candles)
    quality = _quality(results["quality_counts"], results["quality_gaps"])
    keys = sorted({*trades, *candles, *quality} - {k for k in quality if k[1] == VENUE_SYMBOL})
    symbols = [
        SymbolAudit(exchange, symbol, trades.get((exchange, symbol)),
                    candles.get((exchange, symbol)), dict(quality.get((exchange, symbol), {})))
        for exchange, symbol in keys
    ]  # fmt: skip
    reported = []
    for hole in holes:
        if not hole.in_day:
            continue
        lake = checked.get((hole.exchange, hole.symbol, hole.stream))
        status = (
            check(hole, lake.gaps, lake.span, lake.complete)
            if lake
            else check(hole, (), None, False)
        )
        reported.append(replace(hole, status=status))
    return DayAudit(
        day=day,
        source=source,
        exchanges=tuple(exchanges),
        symbols=tuple(sorted(symbols, key=SymbolAudit.worst_first)),
        venues=_venues(results["quality_counts"]),
        holes=tuple(reported),
    )
