"""The REST client: 429/418 wait Retry-After, 5xx and network errors back off with jitter inside
the cap, a few-tries stop gives up with `GaveUp`, the backfill stop never does, refusals wait or
raise, and the venue's pacing hooks see every attempt. Waits go through an injected sleep."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping

import httpx
import pytest
from tenacity import stop_after_attempt

from streamer.retry import BACKOFF_CAP, BACKOFF_FIRST, RETRY_AFTER_DEFAULT, GaveUp, backoff_delay
from streamer.sources.rest import REFUSAL_WAIT, RestClient, RestRefused, poll_stop

SEED = 5
Answer = Callable[[httpx.Request], httpx.Response]


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Script:
    """A `MockTransport` handler: scripted answers in order, then 200 "done"; keeps the requests."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers: Iterator[httpx.Response | Exception] = iter(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = next(self.answers, httpx.Response(200, content=b"done"))
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(script: Script, sleeps: Sleeps, **options: object) -> RestClient:
    return RestClient(
        "https://venue.test/api/v3/",
        source="venue",
        sleep=sleeps,
        rng=random.Random(SEED),
        transport=httpx.MockTransport(script),
        **options,  # type: ignore[arg-type]
    )


def expected_backoffs(count: int) -> list[float]:
    rng = random.Random(SEED)
    return [backoff_delay(n, rng) for n in range(count)]


async def test_429_and_418_wait_the_retry_after_seconds() -> None:
    sleeps = Sleeps()
    script = Script(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(418, headers={"Retry-After": "120"}),
        httpx.Response(429),  # no header: the default
    )
    async with client(script, sleeps) as rest:
        assert await rest.get("/klines", {"symbol": "BTCUSDT"}) == b"done"
    assert sleeps == [7.0, 120.0, RETRY_AFTER_DEFAULT]
    assert rest.rate_limited == 3 and rest.calls == 4 and rest.counts["retries"] == 3
    assert [str(r.url) for r in script.requests] == [
        "https://venue.test/api/v3/klines?symbol=BTCUSDT"
    ] * 4


async def test_5xx_408_and_network_errors_back_off_with_jitter_inside_the_cap() -> None:
    sleeps = Sleeps()
    request = httpx.Request("GET", "https://venue.test/")
    script = Script(
        *(httpx.Response(503) for _ in range(5)),
        httpx.Response(408),
        httpx.ConnectError("connection refused", request=request),
        httpx.ReadTimeout("slow", request=request),
        httpx.Response(500),
    )
    async with client(script, sleeps) as rest:
        assert await rest.get("/x", {}) == b"done"
    assert sleeps == expected_backoffs(9)
    for failures, wait in enumerate(sleeps):
        assert 0 <= wait <= min(BACKOFF_CAP, BACKOFF_FIRST * 2**failures)
    assert len(set(sleeps)) == 9  # jittered, not a fixed ladder
    assert rest.rate_limited == 0 and rest.calls == 10


async def test_a_few_tries_stop_gives_up_with_a_clear_error() -> None:
    sleeps = Sleeps()
    script = Script(*(httpx.Response(502, text="bad gateway") for _ in range(10)))
    rest = client(script, sleeps, stop=stop_after_attempt(4))
    async with rest:
        with pytest.raises(GaveUp) as caught:
            await rest.get("/coins/markets", {})
    assert caught.value.attempts == 4 and len(script.requests) == 4
    assert str(caught.value).startswith("gave up after 4 attempts") and "HTTP 502" in str(
        caught.value
    )
    assert sleeps == expected_backoffs(3)
    assert rest.counts["gave_up"] == 1 and rest.counts["retries"] == 3


async def test_the_backfill_stop_never_gives_up() -> None:
    sleeps = Sleeps()
    script = Script(*(httpx.Response(503) for _ in range(200)))
    async with client(script, sleeps) as rest:
        assert await rest.get("/klines", {}) == b"done"
    assert len(sleeps) == 200 and len(script.requests) == 201
    assert all(0 <= wait <= BACKOFF_CAP for wait in sleeps)
    assert max(sleeps) > BACKOFF_CAP / 2  # the cap, not the doubling, bounds a long outage


async def test_a_refusal_waits_and_retries_for_backfills() -> None:
    sleeps = Sleeps()
    script = Script(httpx.Response(400, text='{"code":-1121,"msg":"Invalid symbol."}'))
    async with client(script, sleeps) as rest:
        assert await rest.get("/klines", {}) == b"done"
    assert sleeps == [REFUSAL_WAIT]


async def test_a_refusal_raises_at_once_without_a_refusal_wait() -> None:
    sleeps = Sleeps()
    body = '{"status":{"error_code":10010,"error_message":"Invalid API Key"}}'
    script = Script(httpx.Response(401, text=body))
    async with client(script, sleeps, refusal_wait=None, stop=stop_after_attempt(4)) as rest:
        with pytest.raises(RestRefused) as caught:
            await rest.get("/simple/price", {})
    assert (caught.value.status, caught.value.body, sleeps) == (401, body, [])


async def test_a_poll_on_a_backfill_client_waits_out_rate_limits_and_gives_up_on_the_rest() -> None:
    """One call's own stop: 429s never end it (each waited out for its Retry-After), three
    other failures do; with refusals not retried a 400 is raised at once."""
    sleeps = Sleeps()
    script = Script(*(httpx.Response(429, headers={"Retry-After": "5"}) for _ in range(6)),
                    *(httpx.Response(503) for _ in range(3)),
                    httpx.Response(400, text="Invalid symbol."))  # fmt: skip
    async with client(script, sleeps) as rest:
        with pytest.raises(GaveUp) as caught:
            await rest.get("/openInterest", {}, stop=poll_stop(3))
        assert sleeps[:6] == [5.0] * 6 and len(script.requests) == 9
        assert "HTTP 503" in str(caught.value)
        with pytest.raises(RestRefused):
            await rest.get("/openInterest", {}, stop=poll_stop(3), retry_refusals=False)
        assert await rest.get("/openInterest", {}) == b"done"  # the client's own stop again
    assert len(script.requests) == 11


async def test_headers_go_out_and_pacing_hooks_see_every_attempt() -> None:
    seen: list[str] = []

    class Paced(RestClient):
        async def before(self, path: str, params: Mapping[str, str]) -> None:
            seen.append(f"before {path}")

        def after(self, response: httpx.Response) -> None:
            seen.append(f"after {response.status_code}")

    script = Script(httpx.Response(429, headers={"Retry-After": "1"}))
    rest = Paced(
        "https://venue.test",
        source="venue",
        sleep=Sleeps(),
        headers={"x-key": "k"},
        transport=httpx.MockTransport(script),
    )
    async with rest:
        await rest.get("/a", {})
    assert seen == ["before /a", "after 429", "before /a", "after 200"]
    assert all(r.headers["x-key"] == "k" for r in script.requests)
