"""The one retry policy: capped, fully jittered exponential backoff and `Retry-After`.

Every retrying caller uses these: WebSocket reconnects (`sources/wsconnect.py`), the REST client
(`sources/rest.py`: backfills, CoinGecko) and Firehose delivery (`sinks/firehose_lanes.py`).

- `backoff_delay` is the one backoff formula; `retry_after` the one `Retry-After` reader.
- `Retryable` is the one exception that says "try again", optionally after a venue-given wait.
- `retrying` builds the tenacity loop the REST client and Firehose share: `Backoff` waits
  (a `Retryable.wait` overrides the formula), the caller's stop decides when to give up, and
  giving up raises `GaveUp` with the last failure as its cause. Sleep and randomness are
  passed in, so tests are fast and deterministic.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from typing import NoReturn

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from streamer.errors import StreamerError

Sleep = Callable[[float], Awaitable[None]]
Stop = stop_base

BACKOFF_FIRST = 0.5
"""Upper bound of the first backoff, seconds."""
BACKOFF_CAP = 30.0
"""Upper bound of any backoff, seconds."""
RETRY_AFTER_DEFAULT = 60.0
"""Wait after a 429/418 whose `Retry-After` is missing or unreadable."""
RETRY_AFTER_CAP = 300.0
"""Longest `Retry-After` honoured; a venue asking for more is re-asked after this."""


class Retryable(StreamerError):
    """A failure worth retrying; `wait` (seconds, from the venue) overrides the backoff."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class GaveUp(StreamerError):
    """The stop ended the retries; `last` (also the `__cause__`) is the final failure."""

    def __init__(self, attempts: int, seconds: float, last: BaseException) -> None:
        super().__init__(f"gave up after {attempts} attempts in {seconds:.1f}s: {last}")
        self.attempts = attempts
        self.last = last


def backoff_delay(
    failures: int,
    rng: random.Random,
    *,
    first: float = BACKOFF_FIRST,
    cap: float = BACKOFF_CAP,
) -> float:
    """Full jitter: uniform in [0, min(cap, first * 2^failures)] (failures counts from 0)."""
    return rng.uniform(0, min(cap, first * 2 ** min(failures, 32)))


def steady_delay(interval: float, rng: random.Random) -> float:
    """A probe at a steady pace: uniform in [interval / 2, interval], so probes do not align."""
    return rng.uniform(0.5, 1.0) * interval


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


class Backoff(wait_base):
    """tenacity wait: a failed attempt's `Retryable.wait` if it has one, else `backoff_delay`."""

    def __init__(
        self, rng: random.Random, *, first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP
    ) -> None:
        self.rng = rng
        self.first = first
        self.cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(exc, Retryable) and exc.wait is not None:
            return exc.wait
        failures = retry_state.attempt_number - 1
        return backoff_delay(failures, self.rng, first=self.first, cap=self.cap)


class StopWhen(stop_base):
    """tenacity stop: give up as soon as `predicate()` holds (e.g. a shutdown deadline)."""

    def __init__(self, predicate: Callable[[], bool]) -> None:
        self.predicate = predicate

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.predicate()


def _give_up(retry_state: RetryCallState) -> NoReturn:
    outcome = retry_state.outcome
    assert outcome is not None and outcome.failed, "tenacity stops only after a failure"
    last = outcome.exception()
    assert last is not None
    seconds = retry_state.seconds_since_start or 0.0
    raise GaveUp(retry_state.attempt_number, seconds, last) from last


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, Retryable)


def retrying(
    stop: Stop,
    *,
    rng: random.Random,
    sleep: Sleep,
    first: float = BACKOFF_FIRST,
    cap: float = BACKOFF_CAP,
    retry_on: Callable[[BaseException], bool] = _is_retryable,
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> AsyncRetrying:
    """A fresh tenacity loop (one per call: its state is not safe to share between tasks).

    Exceptions `retry_on` accepts are retried after `Backoff`; others propagate at once; when
    `stop` says so, `GaveUp` is raised from the last failure.
    """
    return AsyncRetrying(
        sleep=sleep,
        stop=stop,
        wait=Backoff(rng, first=first, cap=cap),
        retry=retry_if_exception(retry_on),
        before_sleep=before_sleep,
        retry_error_callback=_give_up,
    )
