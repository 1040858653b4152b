"""UTC timestamps: parsing venue formats into epoch milliseconds, and writing the lake's text.

The lake writes `YYYY-MM-DD HH:MM:SS.mmm` (UTC), which Athena's JSON SerDe and DuckDB both read
as TIMESTAMP. Formatting is cached per second because a feed stamps thousands of rows with the
same second.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from functools import lru_cache

from streamer.errors import FrameError
from streamer.records import Millis

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?"
)


_MILLI_TEXT = tuple(f".{m:03d}" for m in range(1000))
_SECONDS_KEPT = 4096
_second_texts: dict[int, str] = {}
_prefix_seconds: dict[str, int | None] = {}  # `2026-09-30T02:39:53` -> epoch seconds


def format_millis(ms: int) -> str:
    """`1633998240000` -> `"2021-10-12 00:24:00.000"`.

    The per-row hot path: the whole-second text is kept per second (a feed stamps thousands
    of rows with the same second) and the milliseconds come from a table.
    """
    second, milli = divmod(ms, 1000)
    text = _second_texts.get(second)
    if text is None:
        if len(_second_texts) >= _SECONDS_KEPT:
            _second_texts.clear()
        text = _second_texts[second] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
    return text + _MILLI_TEXT[milli]


def now_millis() -> Millis:
    """The wall clock in epoch milliseconds (the default clock passed to sources)."""
    return Millis(time.time_ns() // 1_000_000)


@lru_cache(maxsize=1024)
def _epoch_second(y: int, mo: int, d: int, h: int, mi: int, s: int) -> int:
    return int(datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp())


@lru_cache(maxsize=256)
def _utc_second(prefix: str) -> int | None:
    """`2026-09-30T02:39:53` -> epoch seconds, or None when it is not a valid date-time."""
    m = _RFC3339.fullmatch(prefix + "Z")
    if m is None:
        return None
    try:
        return _epoch_second(*(int(g) for g in m.groups()[:6]))
    except ValueError:
        return None


def parse_rfc3339(text: object, field: str) -> Millis:
    """RFC 3339 / ISO 8601 with optional fraction (any digits) and offset -> epoch ms (UTC).

    Coinbase sends nanoseconds (`2026-09-30T02:39:53.670986313Z`); the fraction is truncated
    to milliseconds, which is Athena engine 3's timestamp precision. The common UTC form with
    a fraction takes a fast path that caches the whole-second part.
    """
    if type(text) is str and len(text) > 23 and text[19] == "." and text[-1] == "Z":
        fraction = text[20:-1]  # 3 digits or more: Coinbase sends 3, 6 or 9
        if fraction.isdigit() and fraction.isascii():
            prefix = text[:19]
            second = _prefix_seconds.get(prefix)
            if second is None:
                second = _utc_second(prefix)
                if len(_prefix_seconds) >= _SECONDS_KEPT:
                    _prefix_seconds.clear()
                _prefix_seconds[prefix] = second
            if second is not None:
                return Millis(second * 1000 + int(fraction[:3]))
    if type(text) is not str:
        raise FrameError(f"field {field!r} is not a timestamp string: {text!r}"[:200])
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise FrameError(f"field {field!r} is not an RFC 3339 timestamp: {text!r}"[:200])
    y, mo, d, h, mi, s, frac, zone = m.groups()
    try:
        second = _epoch_second(int(y), int(mo), int(d), int(h), int(mi), int(s))
    except ValueError as exc:
        raise FrameError(f"field {field!r} is not a valid date: {text!r}"[:200]) from exc
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        second -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    milli = int((frac or "0")[:3].ljust(3, "0"))
    return Millis(second * 1000 + milli)


MAX_MILLIS = 253_402_300_799_999
"""9999-12-31 23:59:59.999 UTC, the last instant the lake's timestamp text can hold."""


def epoch_millis(value: object, field: str) -> Millis:
    """An integer epoch-milliseconds field (Binance's `E`, `T`, `t`)."""
    if type(value) is not int or not 0 <= value <= MAX_MILLIS:
        raise FrameError(f"field {field!r} is not epoch milliseconds: {value!r}"[:200])
    return Millis(value)
