"""Connection attempts within a venue's sliding-window limit (pure: the caller passes the time).

Binance allows 300 connection attempts per 5 minutes per IP, Coinbase 8 per second. One
`AttemptWindow` per venue is shared by all of that venue's connections, so a mass reconnect
after a network cut (every connection at once) is spread out instead of tripping the limit.
"""

from __future__ import annotations

from collections import deque


class AttemptWindow:
    """At most `limit` attempts in any `seconds`-long window."""

    def __init__(self, limit: int, seconds: float) -> None:
        if limit < 1 or seconds <= 0:
            raise ValueError("an attempt window needs limit >= 1 and seconds > 0")
        self.limit = limit
        self.seconds = seconds
        self._times: deque[float] = deque()

    def reserve(self, now: float) -> float:
        """Book the next attempt; returns how long to wait before making it (0: at once)."""
        times = self._times
        while times and times[0] <= now - self.seconds:
            times.popleft()
        at = now
        if len(times) >= self.limit:
            at = max(now, times[-self.limit] + self.seconds)
        times.append(at)
        return at - now
