"""What an audit found, as frozen records, and the verdict drawn from them (pure).

A hole is *unrecovered* when ids (or one-minute candles) are missing from the lake, whether or
not the feeds' `quality` rows explain it, or when `quality` reported that day a range it could
not recover that the lake cannot check (a hole whose ids the lake does hold was recovered after
all, by another process). Any unrecovered hole makes the
audit fail (exit 1), so a scheduler can alarm on it. A day with no rows at all fails too: a
whole day lost is the largest hole there is, and an empty day hides the ids across it.

`Span` is one range, of trade ids or of candles' open times (epoch ms, `step` apart); its
`reason` is the `quality` reason when the feeds reported it unrecoverable, None when nothing
explains it (an object deleted from the lake, a restart that was not resumed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

EXIT_COMPLETE = 0
EXIT_UNRECOVERED = 1


@dataclass(frozen=True, slots=True)
class Span:
    first: int
    last: int
    count: int
    """Ids, or candles, in the range."""
    reason: str | None = None

    @property
    def explained(self) -> bool:
        return self.reason is not None


HOLE_EXPLAINS = "explains"
"""The hole covers missing ids of the lake: an explained hole (still unrecovered)."""
HOLE_RECOVERED = "recovered"
"""The lake holds every id of the hole after all (another process had them)."""
HOLE_UNCHECKED = "unchecked"
"""The lake cannot say (ids that are no integers, a range outside what the day holds): counted
as unrecovered, on the word of `quality`."""


@dataclass(frozen=True, slots=True)
class Hole:
    """A range `quality` reported unrecoverable (ids, or open times for `ohlcv`)."""

    exchange: str
    symbol: str
    stream: str
    first: int
    last: int
    reason: str
    reported_ms: int
    in_day: bool
    """Reported on the day audited (a hole reported the day before can explain a range too)."""
    status: str = HOLE_UNCHECKED

    @property
    def unrecovered(self) -> bool:
        """Counts as an unrecovered hole of its own (not one of the lake's missing ranges)."""
        return self.in_day and self.status == HOLE_UNCHECKED


@dataclass(frozen=True, slots=True)
class TradeIds:
    """Trade-id continuity of one symbol over the day; `first_id` is None when it has no trade
    that day (then `missing` counts the ids between the last before and the first after)."""

    first_id: int | None
    last_id: int | None
    ids: int
    """Distinct ids of the day."""
    missing: int
    gaps: int
    """Missing ranges (each counted, listed or not)."""
    ranges: tuple[Span, ...]
    """The listed missing ranges, cut where `quality` explains part of one."""
    listed: int = 0
    """Missing ranges listed (at most `sql.CAP`; `gaps` counts them all)."""
    before_id: int | None = None
    """The last id before the day, where the lake holds one (a missing run after it counts)."""
    not_integer: int = 0
    """Trades of the day whose id is no integer: their symbol's ids are not checked."""

    @property
    def explained(self) -> int:
        return sum(s.count for s in self.ranges if s.explained)

    @property
    def unexplained(self) -> int:
        """Missing ids that no `quality` hole explains (those past the listed ranges too)."""
        return self.missing - self.explained


@dataclass(frozen=True, slots=True)
class Candles:
    """Closed candles of one symbol, in its finest interval, over the day."""

    interval: str
    step_ms: int
    candles: int
    first_open: int
    last_open: int
    missing: int
    """Candles missing between the first and the last (not before the first or after the last)."""
    gaps: int
    ranges: tuple[Span, ...]
    listed: int = 0

    @property
    def expected_day(self) -> int | None:
        """Candles in a whole day (1,440 one-minute ones); None for an interval longer than a
        day or one that does not divide it."""
        day = 86_400_000
        return day // self.step_ms if self.step_ms and day % self.step_ms == 0 else None

    @property
    def explained(self) -> int:
        return sum(s.count for s in self.ranges if s.explained)

    @property
    def unexplained(self) -> int:
        return self.missing - self.explained


@dataclass(frozen=True, slots=True)
class StreamQuality:
    """One stream's `quality` rows of one symbol over the day, summed."""

    messages: int = 0
    rows: int = 0
    gaps_detected: int = 0
    """Ranges the feed found missing live or at a restart."""
    gap_span: int = 0
    """Ids (or open times) in those ranges."""
    backfilled: int = 0
    resyncs_sequence_break: int = 0
    resyncs_checksum_mismatch: int = 0
    resyncs_venue_reset: int = 0

    @property
    def resyncs(self) -> int:
        return (
            self.resyncs_sequence_break + self.resyncs_checksum_mismatch + self.resyncs_venue_reset
        )


@dataclass(frozen=True, slots=True)
class SymbolAudit:
    exchange: str
    symbol: str
    trades: TradeIds | None = None
    candles: Candles | None = None
    quality: dict[str, StreamQuality] = field(default_factory=dict)
    """By stream (trades, ohlcv, order_books, ...)."""

    @property
    def missing_ids(self) -> int:
        return self.trades.missing if self.trades else 0

    @property
    def unexplained_ids(self) -> int:
        return self.trades.unexplained if self.trades else 0

    @property
    def missing_candles(self) -> int:
        return self.candles.missing if self.candles else 0

    @property
    def resyncs(self) -> int:
        return sum(q.resyncs for q in self.quality.values())

    @property
    def resyncs_checksum(self) -> int:
        return sum(q.resyncs_checksum_mismatch for q in self.quality.values())

    @property
    def holes(self) -> int:
        """Unrecovered ranges found in the lake: missing trade ids and missing candles."""
        return (self.trades.gaps if self.trades else 0) + (self.candles.gaps if self.candles else 0)

    def worst_first(self) -> tuple[int, int, int, int, str, str]:
        """Most missing ids first, then most unexplained, most missing candles, most resyncs."""
        return (-self.missing_ids, -self.unexplained_ids, -self.missing_candles, -self.resyncs,
                self.exchange, self.symbol)  # fmt: skip


@dataclass(frozen=True, slots=True)
class VenueAudit:
    """One venue's `connection` rows over the day (symbol `*`)."""

    exchange: str
    disconnected_ms: int = 0
    connected_ms: int = 0
    silent_subscriptions: int = 0
    messages: int = 0
    rejects: int = 0
    disconnected_by_hour: tuple[tuple[int, int], ...] = ()
    """(hour of the day, ms disconnected in it), for each hour with any."""


@dataclass(frozen=True, slots=True)
class DayAudit:
    day: date
    source: str
    """Where the rows came from: `duckdb <lake>` or `athena <workgroup>/<database>`."""
    exchanges: tuple[str, ...] = ()
    """The exchanges asked for (empty: every one)."""
    symbols: tuple[SymbolAudit, ...] = ()
    """Worst first (`SymbolAudit.worst_first`)."""
    venues: tuple[VenueAudit, ...] = ()
    holes: tuple[Hole, ...] = ()
    """The ranges `quality` reported unrecoverable that day, each with what the lake says."""

    @property
    def empty(self) -> bool:
        return not self.symbols and not self.venues

    @property
    def missing_trades(self) -> int:
        return sum(s.missing_ids for s in self.symbols)

    @property
    def unexplained_trades(self) -> int:
        return sum(s.unexplained_ids for s in self.symbols)

    @property
    def missing_candles(self) -> int:
        return sum(s.missing_candles for s in self.symbols)

    @property
    def resyncs(self) -> int:
        return sum(s.resyncs for s in self.symbols)

    @property
    def unrecovered_holes(self) -> int:
        """Missing ranges of trade ids and candles, plus holes `quality` reported that day that
        the lake cannot check, plus one for a day without rows."""
        found = sum(s.holes for s in self.symbols) + sum(h.unrecovered for h in self.holes)
        return found + (1 if self.empty else 0)

    @property
    def exit_code(self) -> int:
        return EXIT_UNRECOVERED if self.unrecovered_holes else EXIT_COMPLETE

    def metrics(self) -> dict[str, int]:
        """What `--metrics` publishes (CloudWatch EMF)."""
        return {"MissingTrades": self.missing_trades, "UnrecoveredHoles": self.unrecovered_holes}
