"""The one retry policy: capped, fully jittered exponential backoff and `Retry-After`.

Every retrying caller uses these: WebSocket reconnects (`sources/wsconnect.py`), the REST client
(`sources/rest.py`: backfills, discovery, CoinGecko) and Firehose delivery (`sinks/firehose.py`).
`Retryable` is the one exception that says "try again", optionally after a venue-given wait.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable

Sleep = Callable[[float], Awaitable[None]]

BACKOFF_FIRST = 0.5
"""Upper bound of the first backoff, seconds."""
BACKOFF_CAP = 30.0
"""Upper bound of any backoff, seconds."""
RETRY_AFTER_DEFAULT = 60.0
"""Wait after a 429/418 whose `Retry-After` is missing or unreadable."""
RETRY_AFTER_CAP = 300.0
"""Longest `Retry-After` honoured; a venue asking for more is re-asked after this."""


class Retryable(Exception):
    """A failure worth retrying; `wait` (seconds, from the venue) overrides the backoff."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


def backoff_delay(
    failures: int,
    rng: random.Random,
    *,
    first: float = BACKOFF_FIRST,
    cap: float = BACKOFF_CAP,
) -> float:
    """Full jitter: uniform in [0, min(cap, first * 2^failures)] (failures counts from 0)."""
    return rng.uniform(0, min(cap, first * 2 ** min(failures, 32)))


def retry_after(
    header: str | None,
    *,
    default: float = RETRY_AFTER_DEFAULT,
    cap: float = RETRY_AFTER_CAP,
) -> float:
    """Seconds from a `Retry-After` header given in seconds; `default` if missing or unreadable.

    The HTTP-date form is not used by the venues here and reads as missing.
    """
    try:
        seconds = float(header) if header is not None else math.nan
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds < math.inf:
        return default
    return min(seconds, cap)
