"""retry.py: the one backoff stays inside its doubling cap, Retry-After is read with a default and a
cap, and the tenacity loop waits what a `Retryable` asks, gives up with `GaveUp` at its stop and
lets other errors through at once."""

from __future__ import annotations

import random

import pytest
from tenacity import stop_after_attempt, stop_never

from streamer.errors import StreamerError
from streamer.retry import (
    BACKOFF_CAP,
    BACKOFF_FIRST,
    RETRY_AFTER_CAP,
    RETRY_AFTER_DEFAULT,
    GaveUp,
    Retryable,
    StopWhen,
    backoff_delay,
    retry_after,
    retrying,
    steady_delay,
)


class Highest(random.Random):
    """An rng whose every draw is the top of its range, to see the bounds themselves."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.mark.parametrize(
    ("failures", "bound"),
    [(0, BACKOFF_FIRST), (1, 2 * BACKOFF_FIRST), (5, 32 * BACKOFF_FIRST), (6, BACKOFF_CAP),
     (10_000, BACKOFF_CAP)],
)  # fmt: skip
def test_backoff_doubles_up_to_the_cap(failures: int, bound: float) -> None:
    assert backoff_delay(failures, Highest()) == bound


def test_backoff_is_full_jitter_inside_the_bound() -> None:
    rng = random.Random(1)
    draws = [backoff_delay(3, rng) for _ in range(2000)]
    assert all(0 <= d <= 4.0 for d in draws)
    assert min(draws) < 0.1 and max(draws) > 3.9  # the whole range, not a fixed delay
    assert backoff_delay(3, Highest(), first=0.1, cap=0.5) == 0.5


def test_steady_delay_stays_between_half_and_all_of_the_interval() -> None:
    rng = random.Random(2)
    assert all(2.5 <= steady_delay(5.0, rng) <= 5.0 for _ in range(500))


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("0", 0.0), ("2.5", 2.5), (None, RETRY_AFTER_DEFAULT), ("soon", 60.0),
     ("-3", 60.0), ("nan", 60.0), ("inf", 60.0), ("1e9", RETRY_AFTER_CAP)],
)  # fmt: skip
def test_retry_after_reads_seconds_with_a_default_and_a_cap(
    header: str | None, expected: float
) -> None:
    assert retry_after(header) == expected


def test_retryable_and_gave_up_are_streamer_errors() -> None:
    assert issubclass(Retryable, StreamerError) and issubclass(GaveUp, StreamerError)


async def test_the_loop_waits_what_the_venue_asks_else_the_backoff() -> None:
    sleeps = Sleeps()
    failures = iter([Retryable("rate limited", 7.0), Retryable("HTTP 503"), Retryable("reset")])

    async def attempt() -> str:
        for exc in failures:
            raise exc
        return "done"

    policy = retrying(stop_never, rng=random.Random(3), sleep=sleeps)
    assert await policy(attempt) == "done"
    expected = random.Random(3)
    assert sleeps == [7.0, backoff_delay(1, expected), backoff_delay(2, expected)]


async def test_the_stop_ends_with_gave_up_from_the_last_failure() -> None:
    sleeps = Sleeps()
    calls: list[int] = []

    async def attempt() -> None:
        calls.append(len(calls))
        raise Retryable(f"HTTP 502 #{len(calls)}")

    with pytest.raises(GaveUp) as caught:
        await retrying(stop_after_attempt(3), rng=random.Random(4), sleep=sleeps)(attempt)
    assert caught.value.attempts == 3 and len(calls) == 3 and len(sleeps) == 2
    assert isinstance(caught.value.last, Retryable) and caught.value.__cause__ is caught.value.last
    assert str(caught.value).startswith("gave up after 3 attempts") and "#3" in str(caught.value)


async def test_an_error_not_worth_retrying_passes_through_at_once() -> None:
    sleeps = Sleeps()

    async def attempt() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        await retrying(stop_never, rng=random.Random(), sleep=sleeps)(attempt)
    assert sleeps == []


async def test_stop_when_gives_up_once_its_predicate_holds() -> None:
    sleeps = Sleeps()

    async def attempt() -> None:
        raise Retryable("down")

    policy = retrying(StopWhen(lambda: len(sleeps) >= 4), rng=random.Random(), sleep=sleeps)
    with pytest.raises(GaveUp) as caught:
        await policy(attempt)
    assert len(sleeps) == 4 and caught.value.attempts == 5
