"""Trade ids without holes (pure): per symbol, the newest id seen live and the holes behind it.

A venue numbers each symbol's trades one after another: Binance `t` (`@trade`) and `a`
(`@aggTrade`), Coinbase `trade_id`. So the decoders keep, per symbol, a `SymbolTrades` with
the newest id seen and its time, and a trade whose id is the next one costs one comparison and
two stores (the hot path, in the decoders). Anything else goes to `TradeGaps.off_sequence`:

* the symbol's first trade: remembered, nothing is missing (and an id older than the first
  one, a frame that came late, extends the known range back: the ids between are a hole);
* an id past the next one: the ids between are a `Hole` (a dropped connection, a stall, a
  frame lost or reordered); the symbol is named in `found` for the shell to backfill from REST;
* an id inside an open hole (a frame that came late, the newest-first trades a Coinbase
  snapshot replays): published, and the hole shrinks around it;
* an id inside a hole being fetched: published (the fetched copy has the same `record_id`);
* anything else was seen already (a duplicate, a replayed snapshot): dropped.

Holes wait here until the shell `claim`s them (after a short settle, so late frames shrink
them first), and are `done` once fetched. A symbol with more than `MAX_HOLES` open holes
gives up its oldest, counted in `lost` (the shell logs them as not served).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

UNSEEN = -2
"""`SymbolTrades.last` before the first trade: no id is `UNSEEN + 1`."""
MAX_HOLES = 10_000


@dataclass(frozen=True, slots=True)
class Hole:
    """Trade ids `first` to `last` (inclusive) of `symbol`, missing between the trade seen at
    `after` and the one seen at `before` (epoch ms)."""

    symbol: str
    first: int
    last: int
    after: int
    before: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1


class SymbolTrades:
    """One symbol's trade ids: the newest seen live (`last`, at `last_time`), the holes found
    but not yet fetched, the holes being fetched, and the `record_id` maker of its trades."""

    __slots__ = (
        "fetching", "first", "first_time", "holes", "last", "last_time", "record_id", "symbol",
    )  # fmt: skip

    def __init__(self, symbol: str, record_id: Callable[[object], str]) -> None:
        self.symbol = symbol
        self.record_id = record_id
        self.last = UNSEEN
        self.last_time = 0
        self.first = UNSEEN  # the oldest id seen (the range tracked is first..last)
        self.first_time = 0
        self.holes: list[Hole] = []
        self.fetching: list[Hole] = []


class TradeGaps:
    """Every symbol's `SymbolTrades` of one venue, and which symbols have holes to fetch."""

    def __init__(self) -> None:
        self.tracks: dict[str, SymbolTrades] = {}
        self.found: dict[str, None] = {}
        """Symbols with new holes since the shell last looked (an ordered set)."""
        self.late = 0  # trades that arrived inside a hole
        self.repeats = 0  # trades dropped as seen already
        self.lost: list[Hole] = []  # holes given up past MAX_HOLES; the shell reports them
        self.opened: list[Hole] = []  # holes found since the shell last looked (`quality` gaps)
        self.resume_at: dict[str, tuple[int, int]] = {}
        """(trade id, time) each symbol starts at when its track is made (`positions.seed`)."""

    def track(self, symbol: str, record_id: Callable[[object], str]) -> SymbolTrades:
        track = self.tracks.get(symbol)
        if track is None:
            track = self.tracks[symbol] = SymbolTrades(symbol, record_id)
            start = self.resume_at.pop(symbol, None)
            if start is not None:
                resume(track, *start)
        return track

    def off_sequence(self, track: SymbolTrades, trade_id: int, time: int) -> bool:
        """A trade whose id is not `track.last + 1`: True to publish it, False for a repeat."""
        last = track.last
        if trade_id > last:
            if last == UNSEEN:
                track.first, track.first_time = trade_id, time
            elif trade_id > last + 1:
                self._open(track, Hole(track.symbol, last + 1, trade_id - 1, track.last_time, time))
            track.last, track.last_time = trade_id, time
            return True
        if trade_id < track.first:  # older than any seen: the range grows back to it
            if trade_id < track.first - 1:
                self._open(track, Hole(track.symbol, trade_id + 1, track.first - 1, time,
                                       track.first_time))  # fmt: skip
            track.first, track.first_time = trade_id, time
            return True
        holes = track.holes
        for index, hole in enumerate(holes):
            if hole.first <= trade_id <= hole.last:
                self.late += 1
                holes[index : index + 1] = _split(hole, trade_id, time)
                return True
        for hole in track.fetching:
            if hole.first <= trade_id <= hole.last:
                self.late += 1
                return True
        self.repeats += 1
        return False

    def _open(self, track: SymbolTrades, hole: Hole) -> None:
        holes = track.holes
        holes.append(hole)
        self.opened.append(hole)
        if len(self.opened) > MAX_HOLES:  # nobody reads them (a decoder driven alone)
            del self.opened[: MAX_HOLES // 2]
        if len(holes) > MAX_HOLES:
            self.lost.append(holes.pop(0))
        self.found[track.symbol] = None

    def claim(self, symbol: str) -> list[Hole]:
        """The symbol's open holes, now being fetched (late trades inside them still pass)."""
        track = self.tracks[symbol]
        holes, track.holes = track.holes, []
        track.fetching.extend(holes)
        return holes

    def done(self, symbol: str, holes: list[Hole]) -> None:
        """`holes` were fetched (or given up): late trades inside them are repeats now."""
        track = self.tracks[symbol]
        track.fetching = [hole for hole in track.fetching if hole not in holes]

    def open_holes(self, symbol: str) -> list[Hole]:
        """Holes found but not claimed yet, and holes being fetched."""
        track = self.tracks.get(symbol)
        return [] if track is None else [*track.holes, *track.fetching]


def resume(track: SymbolTrades, trade_id: int, time: int) -> None:
    """Start `track` after `trade_id` (at `time`), written by a process before: the first id
    seen past the next one opens the hole between, and ids up to it are repeats."""
    track.last, track.last_time = trade_id, time
    track.first = UNSEEN + 1


def merge(holes: list[Hole], within: int) -> list[tuple[int, int]]:
    """(first id, last id) ranges covering `holes`, joining holes less than `within` ids apart
    (one page of REST answers both)."""
    ranges: list[tuple[int, int]] = []
    for hole in sorted(holes, key=lambda h: h.first):
        if ranges and hole.first - ranges[-1][1] <= within:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], hole.last))
        else:
            ranges.append((hole.first, hole.last))
    return ranges


def _split(hole: Hole, trade_id: int, time: int) -> list[Hole]:
    """`hole` without `trade_id`, which arrived (late) at `time`: zero, one or two holes."""
    parts = []
    if hole.first < trade_id:
        parts.append(Hole(hole.symbol, hole.first, trade_id - 1, hole.after, time))
    if trade_id < hole.last:
        parts.append(Hole(hole.symbol, trade_id + 1, hole.last, time, hole.before))
    return parts
