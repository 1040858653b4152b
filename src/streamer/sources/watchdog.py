"""Which streams went silent (pure, clock-driven).

A venue can keep a connection busy while one of its subscriptions quietly stops: Binance's
ticker or book stream of one symbol, Coinbase's `candles` updates of one product. Such a
connection is alive but useless, and only a fresh one helps. `SilenceWatchdog` knows the
streams that must keep ticking on their own and when each was last heard; the shell tells it
"stream X got a frame at t" (`heard`) and asks "which streams are silent at t?" (`silent`, or
`due` on the hot path, which answers at most once per `every` seconds).

A stream silent again on the fresh connection is not the connection's fault (an illiquid or
halted symbol): it becomes *quiet* and stops asking for reconnects, so hundreds of quiet
symbols cannot make a feed flap; it leaves `quiet` as soon as it is heard again.

Time is whatever the caller passes in (the event loop's clock in the shells, plain numbers in
the tests): nothing here sleeps, awaits or reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable


class SilenceWatchdog:
    """The newest frame time of each watched stream, and which ones are past `limit` seconds.

    `restart(t)` (a new connection) counts every stream as heard at `t`, so a stream that never
    delivers on that connection is silent once `limit` seconds have passed. Names that are not
    watched are ignored, so a shell can report every frame's stream without filtering.
    """

    __slots__ = (
        "_checked",
        "_heard",
        "_reported",
        "_unheard",
        "every",
        "limit",
        "quiet",
        "streams",
    )

    def __init__(
        self,
        streams: Iterable[str],
        limit: float,
        *,
        every: float = 1.0,
        quiet: set[str] | None = None,
    ) -> None:
        self.streams = tuple(dict.fromkeys(streams))
        """The watched streams, in the order `silent` lists them."""
        self.limit = limit
        """Seconds without a frame after which a stream is silent."""
        self.every = every
        """`due` answers at most once per this many seconds."""
        self._heard: dict[str, float] = {}
        self._unheard: set[str] = set()
        self._checked = 0.0
        self._reported: set[str] = set()  # returned by `due`, not heard since
        self.quiet: set[str] = set() if quiet is None else quiet
        """Streams silent through a fresh connection too (may be shared between watchdogs)."""
        self.restart(0.0)

    def restart(self, now: float) -> None:
        """A new connection at `now`: every stream counts from here and none is heard yet."""
        self._heard = dict.fromkeys(self.streams, now)
        self._unheard = set(self.streams)
        self._checked = now

    def heard(self, stream: str, now: float) -> None:
        """`stream` delivered a frame at `now` (ignored if it is not watched)."""
        heard = self._heard
        if stream in heard:
            heard[stream] = now
            if self._unheard:
                self._unheard.discard(stream)
            if self._reported:
                self._reported.discard(stream)
            if self.quiet:
                self.quiet.discard(stream)

    def forget(self, streams: Iterable[str]) -> None:
        """Stop watching `streams` (unsubscribed): never silent, quiet or awaited again."""
        gone = set(streams)
        self.streams = tuple(name for name in self.streams if name not in gone)
        for name in gone:
            self._heard.pop(name, None)
            self.quiet.discard(name)
        self._unheard -= gone
        self._reported -= gone

    @property
    def all_heard(self) -> bool:
        """Every watched stream delivered at least once since the last `restart`."""
        return not self._unheard

    def silent(self, now: float) -> list[str]:
        """The streams with no frame for more than `limit` seconds at `now`, in order."""
        limit = self.limit
        return [name for name, last in self._heard.items() if now - last > limit]

    def due(self, now: float) -> list[str]:
        """The silent streams a reconnect may help, checked at most once per `every` seconds.

        A stream is named once; silent again after that (the reconnect did not help), it joins
        `quiet` and is not named again until it has been heard.
        """
        if now - self._checked < self.every:
            return []
        self._checked = now
        silent = self.silent(now)
        if not silent:
            return []
        again = [name for name in silent if name in self._reported]
        self.quiet.update(again)
        fresh = [name for name in silent if name not in self._reported and name not in self.quiet]
        self._reported.update(fresh)
        return fresh
