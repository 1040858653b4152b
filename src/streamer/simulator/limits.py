"""The building blocks of venues' limits (pure: time is passed in), and the tally of breaches.

Each venue's simulator holds its own limits (its `...SimOptions`) built from these: sliding
windows per key (`Window`, `Windows`), a per-IP request weight with bans (`RequestWeight`).
Every window is sliding: "more than N in any `seconds`". A refused attempt still counts.
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

WEIGHT_WINDOW_SECONDS = 60.0
MAX_BAN_SECONDS = 3 * 86_400.0  # bans scale from minutes to 3 days


class Window:
    """Events in the last `seconds`: `hit` counts one and says whether `limit` still holds."""

    __slots__ = ("limit", "seconds", "times")

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.times: collections.deque[float] = collections.deque()

    def hit(self, now: float) -> bool:
        times = self.times
        while times and times[0] <= now - self.seconds:
            times.popleft()
        times.append(now)
        return len(times) <= self.limit


class Windows:
    """One `Window` per key (a client IP)."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.by_key: dict[str, Window] = {}

    def hit(self, key: str, now: float) -> bool:
        window = self.by_key.get(key)
        if window is None:
            window = self.by_key[key] = Window(self.limit, self.seconds)
        return window.hit(now)


@dataclass(slots=True)
class _Used:
    window: int  # minute number
    used: int = 0
    refused: bool = False  # a 429 was answered in this minute
    banned_until: float = 0.0
    bans: int = 0


class RequestWeight:
    """A request weight per IP in fixed minutes: past `limit` a 429, and a client that
    keeps going after its 429 is banned (418) for `ban_seconds`, doubling with each ban."""

    def __init__(self, limit: int, ban_seconds: float) -> None:
        self.limit, self.ban_seconds = limit, ban_seconds
        self.by_ip: dict[str, _Used] = {}

    def charge(self, ip: str, weight: int, now: float) -> tuple[int, int, int]:
        """(status 200, 429 or 418; the weight used this minute; Retry-After seconds)."""
        minute = int(now // WEIGHT_WINDOW_SECONDS)
        state = self.by_ip.setdefault(ip, _Used(minute))
        if state.window != minute:
            state.window, state.used, state.refused = minute, 0, False
        state.used += weight
        if now < state.banned_until:
            return 418, state.used, max(1, round(state.banned_until - now))
        if state.used <= self.limit:
            return 200, state.used, 0
        if state.refused:
            state.bans += 1
            ban = min(self.ban_seconds * 2 ** (state.bans - 1), MAX_BAN_SECONDS)
            state.banned_until = now + ban
            return 418, state.used, max(1, round(ban))
        state.refused = True
        return 429, state.used, max(1, round((minute + 1) * WEIGHT_WINDOW_SECONDS - now))


class Breaches:
    """Every breach counted by limit name (`counts`); logged once per (name, connection)."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self._logged: set[tuple[str, object]] = set()

    def record(self, name: str, who: object, detail: str = "") -> None:
        self.counts[name] += 1
        if (name, who) not in self._logged:
            self._logged.add((name, who))
            log.warning("simulator.limit name=%s who=%s %s", name, who, detail)
