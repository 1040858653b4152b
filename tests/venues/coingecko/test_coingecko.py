"""CoinGecko: exact number text from recorded answers, rejects for bad bodies, and a poller that
honours retry-after, backs off on 5xx, sends the plan's key header and keeps its cadence."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from streamer.ids import record_id
from streamer.jsonline import encode
from streamer.records import Item, Market, Millis, Reject, SpotPrice
from streamer.retry import BACKOFF_FIRST, backoff_delay
from streamer.venues.coingecko.decode import (
    auth_headers,
    decode_markets,
    decode_simple_price,
    describe_refusal,
)
from streamer.venues.coingecko.settings import CoinGeckoSettings
from streamer.venues.coingecko.source import MAX_ATTEMPTS, CoinGeckoSource
from tests.conftest import fixture_text

NOW = Millis(1_739_123_100_000)
SIMPLE = fixture_text("coingecko/simple_price_oas_example.json")
MARKETS = fixture_text("coingecko/coins_markets_first100_DERIVED_from_250.json")
ERROR_429 = fixture_text("coingecko/error_429_body_from_issue.json")
HTML = "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>"
KEY = "CG-secret-key-123"
SEED = 7


def expected_backoffs(*failures: int) -> list[float]:
    """The backoffs the poller's rng (seeded SEED) draws for these consecutive failure counts."""
    rng = random.Random(SEED)
    return [backoff_delay(n, rng) for n in failures]


def _rejects(items: Sequence[Item]) -> list[Reject]:
    return [i for i in items if isinstance(i, Reject)]


# --- /simple/price ------------------------------------------------------------------------------


def test_simple_price_keeps_the_exact_number_text() -> None:
    items = decode_simple_price(SIMPLE, NOW, ["bitcoin"], ["usd"])
    [row] = items
    assert isinstance(row, SpotPrice)
    assert row._asdict() == {
        "coin_id": "bitcoin",
        "vs_currency": "usd",
        "price": "76975",
        "market_cap": "1542226908349.8406",
        "volume_24h": "29096603418.89408",
        "change_pct_24h": "-1.4093297098441402",
        "last_updated_at": 1_779_092_258_000,
        "received_at": NOW,
        "record_id": record_id("coingecko", "bitcoin", "usd", 1_779_092_258_000),
    }
    line = encode(items[0])
    assert b'"price":76975,' in line
    assert b'"market_cap":1542226908349.8406,' in line


def test_simple_price_same_data_polled_again_keeps_its_record_id() -> None:
    first = decode_simple_price(SIMPLE, NOW, ["bitcoin"], ["usd"])[0]
    again = decode_simple_price(SIMPLE, Millis(NOW + 60_000), ["bitcoin"], ["usd"])[0]
    assert isinstance(first, SpotPrice)
    assert isinstance(again, SpotPrice)
    assert first.record_id == again.record_id
    assert first.received_at != again.received_at


def test_simple_price_unknown_coin_is_a_reject_naming_it() -> None:
    items = decode_simple_price(SIMPLE, NOW, ["bitcoin", "not-a-coin"], ["usd"])
    assert isinstance(items[0], SpotPrice)
    assert items[0].coin_id == "bitcoin"
    [bad] = _rejects(items)
    assert "'not-a-coin'" in bad.reason
    assert "unknown" in bad.reason
    assert bad.raw == SIMPLE


def test_simple_price_nulls_stay_null_and_exponents_become_plain_text() -> None:
    body = (
        '{"x":{"eur":1e-05,"eur_market_cap":null,"eur_24h_vol":0,"eur_24h_change":null,'
        '"last_updated_at":null}}'
    )
    [row] = decode_simple_price(body, NOW, ["x"], ["eur"])
    assert isinstance(row, SpotPrice)
    assert (row.price, row.market_cap, row.volume_24h) == ("0.00001", None, "0")
    assert row.change_pct_24h is None
    assert row.last_updated_at is None
    parsed = json.loads(encode(row))
    assert parsed["market_cap"] is None
    assert parsed["last_updated_at"] is None


def test_simple_price_missing_or_bad_currency_rejects_only_that_pair() -> None:
    body = '{"bitcoin":{"usd":1,"eur":"lots","last_updated_at":1779092258}}'
    items = decode_simple_price(body, NOW, ["bitcoin"], ["usd", "eur", "btc"])
    assert isinstance(items[0], SpotPrice)
    assert items[0].price == "1"
    reasons = [r.reason for r in _rejects(items)]
    assert len(reasons) == 2
    assert "bitcoin/eur" in reasons[0]
    assert "bitcoin/btc" in reasons[1]


# --- /coins/markets -----------------------------------------------------------------------------


def _markets() -> list[Market]:
    rows = decode_markets(MARKETS, NOW)
    assert all(isinstance(r, Market) for r in rows)
    return rows  # type: ignore[return-value]


def test_markets_bitcoin_row_keeps_the_exact_values() -> None:
    rows = _markets()
    assert len(rows) == 100
    assert rows[0]._asdict() == {
        "coin_id": "bitcoin",
        "symbol": "btc",
        "name": "Bitcoin",
        "vs_currency": "usd",
        "market_cap_rank": 1,
        "price": "96114.08481738689",
        "market_cap": "1903746811536",
        "fully_diluted_valuation": "1903747771956",
        "volume_24h": "20388876648",
        "high_24h": "97317",
        "low_24h": "95867",
        "price_change_24h": "-144.95468809806334",
        "price_change_pct_24h": "-0.15059",
        "circulating_supply": "19822040.0",
        "total_supply": "19822050.0",
        "max_supply": "21000000.0",
        "last_updated_at": 1_739_123_044_143,
        "received_at": NOW,
        "record_id": record_id("coingecko", "markets", "bitcoin", "2025-02-09T17:44:04.143Z"),
    }


def test_markets_null_max_supply_stays_null_in_the_json_line() -> None:
    ethereum = _markets()[1]
    assert ethereum.coin_id == "ethereum"
    assert ethereum.max_supply is None
    assert ethereum.total_supply == "120535801.6608646"
    parsed = json.loads(encode(ethereum))
    assert parsed["max_supply"] is None
    assert parsed["last_updated_at"] == "2025-02-09 17:43:58.288"
    assert b'"max_supply":null,' in encode(ethereum)


def test_markets_rank_is_the_venues_not_the_list_position() -> None:
    row = _markets()[53]
    assert (row.coin_id, row.market_cap_rank) == ("tokenize-xchange", 55)


def test_markets_bad_entry_is_one_reject_with_its_exact_text() -> None:
    body = MARKETS.replace('"current_price":2642.2421635443243', '"current_price":true', 1)
    items = decode_markets(body, NOW)
    [bad] = _rejects(items)
    assert len(items) == 100
    assert "entry 1" in bad.reason
    assert "current_price" in bad.reason
    assert bad.raw.startswith('{"id":"ethereum"')
    assert bad.raw.endswith("}")
    assert json.loads(bad.raw)["current_price"] is True
    assert [r.coin_id for r in items[2:4] if isinstance(r, Market)] == ["tether", "ripple"]


def test_markets_null_rank_and_timestamp_stay_null_and_duplicates_keep_the_first() -> None:
    body = (
        ' [ {"id":"a","symbol":"a","name":"A","current_price":1,"market_cap_rank":null,'
        '"last_updated":null} ,\n{"id":"a","symbol":"a","name":"A","current_price":2} ] '
    )
    [row] = decode_markets(body, NOW)
    assert isinstance(row, Market)
    assert (row.price, row.market_cap_rank, row.last_updated_at) == ("1", None, None)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (ERROR_429, "CoinGecko error 429: You've exceeded the Rate Limit"),
        (HTML, "HTML page instead of JSON"),
        ('{"error":"coin not found"}', "CoinGecko error None: coin not found"),
        ("", "empty body"),
        ('{"bitcoin": ', "invalid JSON"),
    ],
)
@pytest.mark.parametrize("endpoint", ["prices", "markets"])
def test_error_bodies_become_one_reject(body: str, expected: str, endpoint: str) -> None:
    if endpoint == "prices":
        items = decode_simple_price(body, NOW, ["bitcoin"], ["usd"])
    else:
        items = decode_markets(body, NOW)
    [bad] = items
    assert isinstance(bad, Reject)
    assert expected in bad.reason
    assert bad.raw == body


def test_markets_answer_that_is_not_a_list_is_a_reject() -> None:
    [bad] = decode_markets(SIMPLE, NOW)
    assert isinstance(bad, Reject)
    assert "expected a JSON array" in bad.reason


# --- request helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "expected"),
    [("keyless", {}), ("demo", {"x-cg-demo-api-key": KEY}), ("pro", {"x-cg-pro-api-key": KEY})],
)
def test_auth_header_per_plan(plan: str, expected: dict[str, str]) -> None:
    assert auth_headers(CoinGeckoSettings(plan=plan, api_key=KEY)) == expected


def test_auth_refusals_name_the_settings_to_fix() -> None:
    body = '{"status":{"error_code":10010,"error_message":"Invalid API Key"}}'
    code, message = describe_refusal(401, body)
    assert code == 10010
    assert "Invalid API Key" in message
    assert "STREAMER_COINGECKO_PLAN=pro" in message
    code, message = describe_refusal(403, HTML)
    assert code is None
    assert "STREAMER_COINGECKO_API_KEY" in message
    assert "STREAMER_COINGECKO_URL" in message


# --- the poller ---------------------------------------------------------------------------------


class Harness:
    """Fake monotonic time, sleep (records each wait, advances time, never blocks), a seeded
    rng for the backoff jitter, and emit."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.batches: list[list[Item]] = []
        self._changed = asyncio.Event()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self._changed.set()
        await asyncio.sleep(0)

    async def emit(self, items: Sequence[Item]) -> None:
        self.batches.append(list(items))
        self._changed.set()

    async def run(self, source: CoinGeckoSource, done: Callable[[], bool]) -> None:
        """Run the source until `done()`, then cancel it; a crash fails the test."""
        async with asyncio.timeout(5), asyncio.TaskGroup() as tasks:
            task = tasks.create_task(source.run(self.emit))
            while not done():
                self._changed.clear()
                await self._changed.wait()
            task.cancel()

    def source(self, settings: CoinGeckoSettings, **kwargs: object) -> CoinGeckoSource:
        return CoinGeckoSource(
            settings,
            clock=lambda: NOW,
            sleep=self.sleep,
            monotonic=self.monotonic,
            rng=random.Random(SEED),
            **kwargs,  # type: ignore[arg-type]
        )


@dataclass
class Answer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


class FakeCoinGecko:
    """A tiny HTTP/1.1 server on 127.0.0.1, port 0: scripted answers per path, then a default."""

    def __init__(self, default: dict[str, Answer], script: dict[str, list[Answer]]) -> None:
        self.default = default
        self.script = script
        self.requests: list[Request] = []
        self.url = ""
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> FakeCoinGecko:
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/api/v3"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for handler in self._handlers:
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            await self._exchange(reader, writer)
        except ConnectionError:
            pass  # the poller was cancelled mid-request
        finally:
            self._handlers.discard(handler)
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode()
        if not request_line:
            return
        _, target, _ = request_line.split(" ", 2)
        headers = {}
        while (line := (await reader.readline()).decode().strip()) != "":
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        url = urlsplit(target)
        self.requests.append(Request(url.path, dict(parse_qsl(url.query)), headers))
        script = self.script.get(url.path, [])
        answer = script.pop(0) if script else self.default[url.path]
        body = answer.body.encode()
        head = [f"HTTP/1.1 {answer.status} X", f"content-length: {len(body)}", "connection: close"]
        head += [f"{k}: {v}" for k, v in answer.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()


PRICE_PATH, MARKETS_PATH = "/api/v3/simple/price", "/api/v3/coins/markets"
OK = {PRICE_PATH: Answer(200, SIMPLE), MARKETS_PATH: Answer(200, MARKETS)}


def _settings(url: str, plan: str = "demo") -> CoinGeckoSettings:
    key = None if plan == "keyless" else KEY
    return CoinGeckoSettings(
        coins=("bitcoin",), url=url, api_key=key, plan=plan, poll_seconds=60, vs_currencies=("usd",)
    )


async def test_poller_waits_retry_after_on_429_and_retries_503() -> None:
    script = {
        PRICE_PATH: [Answer(429, HTML, {"retry-after": "7", "content-type": "text/html"})],
        MARKETS_PATH: [Answer(503, "Service Unavailable")],
    }
    harness = Harness()
    async with FakeCoinGecko(OK, script) as server:
        source = harness.source(_settings(server.url))
        await harness.run(source, lambda: len(harness.sleeps) >= 3)

    first, retried, second, _ = (r.path for r in server.requests[:4])
    assert (first, retried, second) == (PRICE_PATH, PRICE_PATH, MARKETS_PATH)
    assert server.requests[0].query == {
        "ids": "bitcoin",
        "vs_currencies": "usd",
        "include_market_cap": "true",
        "include_24hr_vol": "true",
        "include_24hr_change": "true",
        "include_last_updated_at": "true",
        "precision": "full",
    }
    assert server.requests[2].query == {
        "vs_currency": "usd",
        "order": "market_cap_desc",
        "per_page": "100",
        "page": "1",
        "precision": "full",
    }
    wait_429, backoff, cadence = harness.sleeps[:3]
    assert wait_429 == 7  # Retry-After, no backoff drawn
    assert [backoff] == expected_backoffs(0)  # the first 503: full jitter under BACKOFF_FIRST
    assert 0 <= backoff <= BACKOFF_FIRST
    assert wait_429 + backoff + cadence == pytest.approx(60)  # retries eat into the interval

    prices, markets = harness.batches[:2]
    assert prices == decode_simple_price(SIMPLE, NOW, ["bitcoin"], ["usd"])
    [bitcoin] = prices
    assert isinstance(bitcoin, SpotPrice)
    assert bitcoin.market_cap == "1542226908349.8406"
    assert len(markets) == 100
    assert isinstance(markets[0], Market)
    assert markets[0].price == "96114.08481738689"
    assert markets[0].max_supply == "21000000.0"
    assert source.stats.rows == sum(map(len, harness.batches))
    assert source.stats.rejects == 0
    assert source.stats.extra["retries"] == 2


@pytest.mark.parametrize(
    ("plan", "present", "absent"),
    [
        ("keyless", None, ("x-cg-demo-api-key", "x-cg-pro-api-key")),
        ("demo", "x-cg-demo-api-key", ("x-cg-pro-api-key",)),
        ("pro", "x-cg-pro-api-key", ("x-cg-demo-api-key",)),
    ],
)
async def test_poller_sends_the_key_header_of_its_plan(
    plan: str, present: str | None, absent: tuple[str, ...]
) -> None:
    harness = Harness()
    async with FakeCoinGecko(OK, {}) as server:
        await harness.run(harness.source(_settings(server.url, plan)), lambda: bool(harness.sleeps))
    for request in server.requests[:2]:
        assert request.path.startswith("/api/v3/")
        if present is not None:
            assert request.headers[present] == KEY
        assert not any(name in request.headers for name in absent)


async def test_auth_refusal_is_logged_with_the_fix_and_polling_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    refusal = Answer(401, '{"status":{"error_code":10010,"error_message":"Invalid API Key"}}')
    harness = Harness()
    async with FakeCoinGecko({PRICE_PATH: refusal, MARKETS_PATH: refusal}, {}) as server:
        source = harness.source(_settings(server.url))
        await harness.run(source, lambda: len(harness.sleeps) >= 2)

    assert len(server.requests) >= 4
    assert harness.batches == []
    assert harness.sleeps[:2] == [60, 60]  # no retries, normal cadence
    failures = [r.getMessage() for r in caplog.records if "coingecko.auth_failed" in r.getMessage()]
    assert len(failures) >= 4
    assert "STREAMER_COINGECKO_PLAN=pro" in failures[0]
    assert KEY not in caplog.text
    assert source.stats.extra["http_errors"] >= 4


async def test_network_errors_retry_and_persistent_5xx_gives_up_until_the_next_poll(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == PRICE_PATH:
            if calls.count(PRICE_PATH) == 1:
                raise httpx.ConnectError("connection refused", request=request)
            return httpx.Response(200, text=SIMPLE)
        return httpx.Response(502, text=HTML)

    harness = Harness()
    source = harness.source(
        _settings("https://api.coingecko.com/api/v3"), transport=httpx.MockTransport(handler)
    )
    await harness.run(source, lambda: len(harness.sleeps) >= 5)

    assert calls[:6] == [PRICE_PATH, PRICE_PATH] + [MARKETS_PATH] * MAX_ATTEMPTS
    connect_backoff, *markets_backoff, _cadence = harness.sleeps[:5]
    # One retry after the refused connection, then the markets' 502s back off 0, 1, 2 failures.
    assert [connect_backoff, *markets_backoff] == expected_backoffs(0, 0, 1, 2)
    for failures, backoff in enumerate(markets_backoff):  # full jitter under a doubling cap
        assert 0 <= backoff <= BACKOFF_FIRST * 2**failures
    assert sum(harness.sleeps[:5]) == pytest.approx(60)
    assert [len(b) for b in harness.batches[:1]] == [1]
    gave_up = "coingecko.gave_up path=/coins/markets attempts=4 error=Retryable('HTTP 502')"
    assert gave_up in caplog.text
    assert source.stats.extra["gave_up"] >= 1 and source.stats.extra["retries"] >= 4


@pytest.mark.parametrize(("poll_seconds", "expected_sleep"), [(60, 56), (3, 0)])
async def test_cadence_follows_a_monotonic_deadline(
    poll_seconds: float, expected_sleep: float
) -> None:
    harness = Harness()

    async def slow(request: httpx.Request) -> httpx.Response:
        harness.now += 2  # every request takes two seconds
        body = SIMPLE if request.url.path == PRICE_PATH else MARKETS
        return httpx.Response(200, text=body)

    settings = CoinGeckoSettings(
        coins=("bitcoin",), vs_currencies=("usd",), poll_seconds=poll_seconds
    )
    source = harness.source(settings, transport=httpx.MockTransport(slow))
    await harness.run(source, lambda: len(harness.sleeps) >= 3)
    assert harness.sleeps[:3] == [expected_sleep] * 3
    assert len(harness.batches) >= 6
