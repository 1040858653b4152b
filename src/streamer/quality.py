"""The `quality` dataset's accumulator: what each stream received, wrote and lost, per minute.

Pure (no `await`, no I/O): the feeds report events keyed by (exchange, symbol, stream) and the
accumulator counts them into the window of the minute its clock reads. `due()` returns the rows
of every minute that has closed (call it on a timer or after each batch); `flush()` returns
every open window, the current minute included (at shutdown: after it, a later event in the
same minute would make a second row with the same `record_id`, which de-duplication then
keeps only one of, so flush once, at the end). The `record_id` also holds the process's `run`
id, so a process started again within the same minute writes a row of its own.

Connection time is tracked as a state per key (`link_up` / `link_down`), not reported as
durations: each window gets exactly the milliseconds of its minute the key spent connected or
disconnected, however the transitions fall, and a key that stays down keeps producing rows
(all `disconnected_ms`) so an outage shows up minute by minute.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from streamer.ids import record_id
from streamer.records import Hole, Holes, IdRange, IdRanges, Millis, Quality

MINUTE_MS = 60_000

Key = tuple[str, str, str]
"""(exchange, symbol, stream kind)."""


class ResyncCause(StrEnum):
    """Why a book was rebuilt from a snapshot."""

    SEQUENCE_BREAK = "sequence_break"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    VENUE_RESET = "venue_reset"


def minute_of(ms: int) -> int:
    """The start of the UTC minute holding `ms`."""
    return ms - ms % MINUTE_MS


@dataclass(slots=True)
class _Window:
    messages: int = 0
    rows: int = 0
    gaps: list[IdRange] = field(default_factory=list)
    backfilled: int = 0
    unrecoverable: list[Hole] = field(default_factory=list)
    resyncs: dict[ResyncCause, int] = field(default_factory=dict)
    silent: int = 0
    connected_ms: int = 0
    disconnected_ms: int = 0
    rejects: int = 0


@dataclass(slots=True)
class _Link:
    up: bool
    since: int


class QualityCounter:
    """Counts one process's events into `quality` rows; `shard` is its `STREAMER_SHARD` text."""

    def __init__(self, shard: str, clock: Callable[[], int], run: str = "") -> None:
        self._shard = shard
        self._clock = clock
        self._run = run  # the process's run id: a restart within a minute makes a new row
        self._windows: dict[tuple[Key, int], _Window] = {}
        self._links: dict[Key, _Link] = {}

    def _window(self, key: Key, minute: int | None = None) -> _Window:
        at = minute_of(self._clock()) if minute is None else minute
        window = self._windows.get((key, at))
        if window is None:
            window = self._windows[(key, at)] = _Window()
        return window

    def received(self, key: Key, n: int = 1) -> None:
        """`n` messages of the stream arrived (before decoding)."""
        self._window(key).messages += n

    def written(self, key: Key, n: int = 1) -> None:
        """`n` rows of the stream were handed to the sink."""
        self._window(key).rows += n

    def gap(self, key: Key, first: int, last: int) -> None:
        """Ids `first`..`last` (inclusive) were missing from the live stream."""
        _check_range(first, last)
        self._window(key).gaps.append((first, last))

    def backfilled(self, key: Key, n: int) -> None:
        """`n` missing ids were recovered from the venue's history."""
        self._window(key).backfilled += n

    def unrecoverable(self, key: Key, first: int, last: int, reason: str) -> None:
        """Ids `first`..`last` could not be recovered, for `reason` (a history limit, ...)."""
        _check_range(first, last)
        self._window(key).unrecoverable.append((first, last, reason))

    def resync(self, key: Key, cause: ResyncCause) -> None:
        """The book was rebuilt from a snapshot, for `cause`."""
        resyncs = self._window(key).resyncs
        resyncs[cause] = resyncs.get(cause, 0) + 1

    def silent(self, key: Key) -> None:
        """A subscription the venue acknowledged sent nothing in its allotted time."""
        self._window(key).silent += 1

    def rejected(self, key: Key, n: int = 1) -> None:
        """`n` frames of the stream went to the rejects."""
        self._window(key).rejects += n

    def link_up(self, key: Key) -> None:
        """The stream's connection is up from now on (a repeat is a no-op)."""
        self._set_link(key, True)

    def link_down(self, key: Key) -> None:
        """The stream's connection is down from now on (a repeat is a no-op)."""
        self._set_link(key, False)

    def _set_link(self, key: Key, up: bool) -> None:
        now = self._clock()
        link = self._links.get(key)
        if link is None:
            self._links[key] = _Link(up, now)
            return
        if link.up == up:
            return
        self._spend(key, link, now)
        link.up = up

    def _spend(self, key: Key, link: _Link, until: int) -> None:
        """Credit [`link.since`, `until`) to the link's state, minute by minute."""
        start = link.since
        while start < until:
            minute = minute_of(start)
            end = min(until, minute + MINUTE_MS)
            window = self._window(key, minute)
            if link.up:
                window.connected_ms += end - start
            else:
                window.disconnected_ms += end - start
            start = end
        link.since = max(link.since, until)

    def due(self) -> list[Quality]:
        """The rows of every minute before the clock's, each once; their windows are dropped."""
        now = self._clock()
        return self._close(minute_of(now), now)

    def flush(self) -> list[Quality]:
        """The rows of every window, the current minute's included (at shutdown)."""
        now = self._clock()
        return self._close(None, now)

    def _close(self, before: int | None, now: int) -> list[Quality]:
        until = now if before is None else before
        for key, link in self._links.items():
            self._spend(key, link, until)
        closed = sorted(k for k in self._windows if before is None or k[1] < before)
        return [self._row(key, minute, self._windows.pop((key, minute)), now)
                for key, minute in closed]  # fmt: skip

    def _row(self, key: Key, minute: int, w: _Window, now: int) -> Quality:
        exchange, symbol, stream = key
        return Quality(
            exchange,
            symbol,
            stream,
            Millis(minute),
            Millis(now),
            w.messages,
            w.rows,
            IdRanges(tuple(w.gaps)),
            w.backfilled,
            Holes(tuple(w.unrecoverable)),
            w.resyncs.get(ResyncCause.SEQUENCE_BREAK, 0),
            w.resyncs.get(ResyncCause.CHECKSUM_MISMATCH, 0),
            w.resyncs.get(ResyncCause.VENUE_RESET, 0),
            w.silent,
            w.connected_ms,
            w.disconnected_ms,
            w.rejects,
            self._shard,
            record_id("quality", exchange, symbol, stream, minute, self._shard, self._run),
        )


def _check_range(first: int, last: int) -> None:
    if first > last:
        raise ValueError(f"id range {first}..{last}: first is after last")


CONNECTION = "connection"
"""The stream kind of a venue's connection-level row (symbol `ALL`): messages, rejects,
silent subscriptions, and the time connected and disconnected."""
ALL = "*"


class FeedQuality:
    """One feed's handle on the process's `QualityCounter`: the exchange filled in, the stream
    kind named by dataset (`trades`, `ohlcv`, `order_books`). Without a counter (a source built
    alone, in a test or a benchmark) every call does nothing.

    Connections: each of the feed's WebSocket loops registers under a key of its own; the venue
    counts as connected while every registered connection is up, so an outage of one of them
    (the symbols it carries get nothing) shows as disconnected time.
    """

    __slots__ = ("_links", "counter", "exchange")

    def __init__(self, counter: QualityCounter | None = None, exchange: str = "") -> None:
        self.counter = counter
        self.exchange = exchange
        self._links: dict[object, bool] = {}

    def gap(self, symbol: str, first: int, last: int, stream: str = "trades") -> None:
        if self.counter is not None:
            self.counter.gap((self.exchange, symbol, stream), first, last)

    def backfilled(self, symbol: str, n: int, stream: str = "trades") -> None:
        if self.counter is not None and n:
            self.counter.backfilled((self.exchange, symbol, stream), n)

    def unrecoverable(
        self, symbol: str, first: int, last: int, reason: str, stream: str = "trades"
    ) -> None:
        if self.counter is not None:
            self.counter.unrecoverable((self.exchange, symbol, stream), first, last, reason)

    def resync(self, symbol: str, cause: ResyncCause) -> None:
        if self.counter is not None:
            self.counter.resync((self.exchange, symbol, "order_books"), cause)

    def silent(self, n: int = 1) -> None:
        if self.counter is not None:
            for _ in range(n):
                self.counter.silent((self.exchange, ALL, CONNECTION))

    def received(self, messages: int, rejects: int) -> None:
        """`messages` frames arrived since the last call, `rejects` of them rejected."""
        if self.counter is not None:
            key = (self.exchange, ALL, CONNECTION)
            if messages:
                self.counter.received(key, messages)
            if rejects:
                self.counter.rejected(key, rejects)

    def link(self, connection: object, up: bool) -> None:
        """`connection` (any hashable key of one WebSocket loop) went up or down."""
        self._links[connection] = up
        self._update()

    def unlink(self, connection: object) -> None:
        """`connection`'s loop ended for good (stopped, or an old session after a rotation)."""
        self._links.pop(connection, None)
        self._update()

    def _update(self) -> None:
        if self.counter is None or not self._links:
            return
        key = (self.exchange, ALL, CONNECTION)
        if all(self._links.values()):
            self.counter.link_up(key)
        else:
            self.counter.link_down(key)
