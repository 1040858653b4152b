"""The venues' limits (pure: time is passed in), and the tally of their breaches.

Each is a `Limits` field (default in brackets) and what the simulator does past it:
- `binance_max_target` (8,004 characters of request target): HTTP 414, WebSocket and REST.
- `binance_max_streams` (1024 on one connection): HTTP 400 at the handshake; a SUBSCRIBE
  past it is answered `{"error": {"code": 2, ...}}` and ignored.
- `binance_messages_per_second` (5 incoming frames: text, binary, ping, pong): close 1008
  "Too many requests".
- `binance_connects` per `binance_connect_window` (300 per 300 s per IP): HTTP 429.
- `binance_weight_per_minute` (6000 request weight per IP per minute): HTTP 429 with
  Retry-After; a client that keeps going is banned, HTTP 418 for `binance_ban_seconds` (120),
  doubling per ban up to 3 days.
- `coinbase_max_l2_products` (16 level2 products on one connection): the error
  "too many L2 streams requested in a single session", the subscribe ignored.
- `coinbase_connects_per_second` (8 per IP): HTTP 429.
- `coinbase_messages_per_second` (8 incoming text/binary messages per IP): close 1008.
- `coinbase_rest_per_second` (10 public REST requests per IP): HTTP 429.

Every window is sliding: "more than N in any `seconds`". A refused attempt still counts.
"""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

WEIGHT_WINDOW_SECONDS = 60.0
MAX_BAN_SECONDS = 3 * 86_400.0  # Binance bans scale from 2 minutes to 3 days


@dataclass(frozen=True, slots=True)
class Limits:
    binance_max_target: int = 8_004
    binance_max_streams: int = 1024
    binance_messages_per_second: int = 5
    binance_connects: int = 300
    binance_connect_window: float = 300.0
    binance_weight_per_minute: int = 6000
    binance_ban_seconds: float = 120.0
    coinbase_max_l2_products: int = 16
    coinbase_connects_per_second: int = 8
    coinbase_messages_per_second: int = 8
    coinbase_rest_per_second: int = 10


DEFAULT_LIMITS = Limits()


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
    """Binance's request weight per IP in fixed minutes: past `limit` a 429, and a client that
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
