"""`streamer audit`'s output: a text report (worst symbol first) or one JSON document (pure).

The text starts with the verdict, then one line per symbol, the missing ranges (explained by
`quality`'s reason, or unexplained), the holes `quality` reported that day, and each venue's
disconnected time by hour. The JSON holds the same, with every range and count, for machines.
"""

from __future__ import annotations

import time
from typing import Any

from streamer.audit.findings import Candles, DayAudit, Hole, Span, SymbolAudit, TradeIds
from streamer.audit.sql import CAP
from streamer.query import format_table

DASH = "-"
_HOLE_WORDS = {
    "explains": "explains missing ids of the lake",
    "recovered": "the lake holds these ids: recovered after all",
    "unchecked": "the lake cannot check it: unrecovered",
}


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def _minute(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms // 1000))


def _why(span: Span) -> str:
    return f"unrecoverable: {span.reason}" if span.explained else "unexplained"


def verdict(audit: DayAudit) -> str:
    if audit.empty:
        scope = f" for {', '.join(audit.exchanges)}" if audit.exchanges else ""
        return f"UNRECOVERED: no rows on {audit.day}{scope}: nothing collected is no complete day"
    parts = (
        f"{audit.missing_trades:,} missing trade ids ({audit.unexplained_trades:,} unexplained), "
        f"{audit.missing_candles:,} missing candles, "
        f"{audit.unrecovered_holes:,} unrecovered holes"
    )
    return ("UNRECOVERED: " if audit.exit_code else "complete: ") + parts


def _symbol_row(s: SymbolAudit) -> tuple[str, ...]:
    t, c = s.trades, s.candles
    trades: tuple[str, ...] = (DASH,) * 5
    if t is not None and t.not_integer and t.first_id is None:
        trades = ("ids not integers", DASH, DASH, DASH, DASH)
    elif t is not None:
        span = f"{t.first_id}-{t.last_id}" if t.first_id is not None else "none that day"
        trades = (span, f"{t.ids:,}", f"{t.missing:,}", f"{t.unexplained:,}", f"{t.gaps:,}")
    q = s.quality.get("trades")
    detected = f"{q.gaps_detected:,}/{q.backfilled:,}" if q else DASH
    candles: tuple[str, str] = (DASH, DASH)
    if c is not None:
        expected = f"/{c.expected_day:,}" if c.expected_day else ""
        candles = (f"{c.candles:,}{expected} ({c.interval})", f"{c.missing:,}")
    return (s.exchange, s.symbol, *trades, detected, *candles, f"{s.resyncs:,}",
            f"{s.resyncs_checksum:,}")  # fmt: skip


_SYMBOL_COLUMNS = ["exchange", "symbol", "trade ids", "ids", "missing", "unexplained", "ranges",
                   "gaps found/ids backfilled", "candles", "missing", "resyncs",
                   "checksum failures"]  # fmt: skip


def _trade_ranges(s: SymbolAudit, t: TradeIds) -> list[str]:
    lines = [
        f"  {s.exchange} {s.symbol} trade ids {r.first}-{r.last} ({r.count:,}): {_why(r)}"
        for r in t.ranges
    ]
    if t.listed < t.gaps:
        lines.append(f"  {s.exchange} {s.symbol}: {t.gaps - t.listed:,} more ranges not listed")
    return lines


def _candle_ranges(s: SymbolAudit, c: Candles) -> list[str]:
    lines = [
        f"  {s.exchange} {s.symbol} {c.interval} candles {_minute(r.first)} to "
        f"{_minute(r.last)} ({r.count:,}): {_why(r)}"
        for r in c.ranges
    ]
    if c.listed < c.gaps:
        lines.append(f"  {s.exchange} {s.symbol}: {c.gaps - c.listed:,} more ranges not listed")
    return lines


def _hole_line(h: Hole) -> str:
    return (
        f"  {h.exchange} {h.symbol} {h.stream} {h.first}-{h.last} ({h.reason}), reported "
        f"{_minute(h.reported_ms)}: {_HOLE_WORDS.get(h.status, h.status)}"
    )


def _hours(pairs: tuple[tuple[int, int], ...]) -> str:
    return ", ".join(f"{h:02d}h {ms / 1000:,.0f} s" for h, ms in pairs) or DASH


def table(audit: DayAudit) -> str:
    scope = ", ".join(audit.exchanges) if audit.exchanges else "every exchange"
    out = [f"streamer audit {audit.day} (UTC) over {audit.source}, {scope}", verdict(audit)]
    if audit.symbols:
        out += ["", format_table(_SYMBOL_COLUMNS, [_symbol_row(s) for s in audit.symbols])]
    ranges = []
    for s in audit.symbols:
        ranges += _trade_ranges(s, s.trades) if s.trades else []
        ranges += _candle_ranges(s, s.candles) if s.candles else []
    if ranges:
        out += ["", f"missing ranges (at most {CAP} per symbol and kind):", *ranges]
    if audit.holes:
        out += ["", "holes quality reported that day:", *map(_hole_line, audit.holes)]
    if audit.venues:
        rows = [
            (v.exchange, f"{v.disconnected_ms / 1000:,.0f} s", _hours(v.disconnected_by_hour),
             f"{v.silent_subscriptions:,}", f"{v.rejects:,}")
            for v in audit.venues
        ]  # fmt: skip
        names = ["exchange", "disconnected", "by hour (UTC)", "silent subscriptions", "rejects"]
        out += ["", "connections:", format_table(names, rows)]
    return "\n".join(out)


def _span(r: Span, times: bool = False) -> dict[str, Any]:
    ends: dict[str, Any] = {"first": r.first, "last": r.last}
    if times:
        ends = {"first": iso(r.first), "last": iso(r.last), "first_ms": r.first, "last_ms": r.last}
    return {**ends, "count": r.count, "explained": r.explained, "reason": r.reason}


def _trades_json(t: TradeIds | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"first_id": t.first_id, "last_id": t.last_id, "ids": t.ids, "missing": t.missing,
            "explained": t.explained, "unexplained": t.unexplained, "ranges": t.gaps,
            "ranges_listed": t.listed, "last_id_before": t.before_id,
            "not_integer": t.not_integer,
            "missing_ranges": [_span(r) for r in t.ranges]}  # fmt: skip


def _candles_json(c: Candles | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"interval": c.interval, "step_ms": c.step_ms, "candles": c.candles,
            "expected_day": c.expected_day, "first_open": iso(c.first_open),
            "last_open": iso(c.last_open), "missing": c.missing, "explained": c.explained,
            "unexplained": c.unexplained, "ranges": c.gaps, "ranges_listed": c.listed,
            "missing_ranges": [_span(r, times=True) for r in c.ranges]}  # fmt: skip


def _symbol_json(s: SymbolAudit) -> dict[str, Any]:
    quality = {
        stream: {"messages": q.messages, "rows": q.rows, "gaps_detected": q.gaps_detected,
                 "gap_span": q.gap_span, "backfilled": q.backfilled,
                 "resyncs_sequence_break": q.resyncs_sequence_break,
                 "resyncs_checksum_mismatch": q.resyncs_checksum_mismatch,
                 "resyncs_venue_reset": q.resyncs_venue_reset}
        for stream, q in s.quality.items()
    }  # fmt: skip
    return {"exchange": s.exchange, "symbol": s.symbol, "trades": _trades_json(s.trades),
            "candles": _candles_json(s.candles), "resyncs": s.resyncs,
            "checksum_failures": s.resyncs_checksum, "quality": quality}  # fmt: skip


def document(audit: DayAudit) -> dict[str, Any]:
    """The `--format json` document."""
    return {
        "day": audit.day.isoformat(),
        "source": audit.source,
        "exchanges": list(audit.exchanges),
        "complete": audit.exit_code == 0,
        "exit_code": audit.exit_code,
        "totals": {
            "missing_trades": audit.missing_trades,
            "unexplained_trades": audit.unexplained_trades,
            "missing_candles": audit.missing_candles,
            "resyncs": audit.resyncs,
            "unrecovered_holes": audit.unrecovered_holes,
            "symbols": len(audit.symbols),
        },
        "symbols": [_symbol_json(s) for s in audit.symbols],
        "holes": [
            {
                "exchange": h.exchange,
                "symbol": h.symbol,
                "stream": h.stream,
                "first": h.first,
                "last": h.last,
                "reason": h.reason,
                "reported": iso(h.reported_ms),
                "status": h.status,
                "unrecovered": h.unrecovered,
            }
            for h in audit.holes
        ],
        "venues": [
            {
                "exchange": v.exchange,
                "disconnected_ms": v.disconnected_ms,
                "connected_ms": v.connected_ms,
                "silent_subscriptions": v.silent_subscriptions,
                "messages": v.messages,
                "rejects": v.rejects,
                "disconnected_by_hour": [{"hour": h, "ms": ms} for h, ms in v.disconnected_by_hour],
            }
            for v in audit.venues
        ],
    }
