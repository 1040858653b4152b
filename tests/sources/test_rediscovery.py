"""Discovery refreshed while the feeds run: a symbol the venue starts trading is subscribed on a
new connection, one it halts is unsubscribed on its own connection, and no other connection is
touched; a refresh that fails, or would drop most of the market, keeps the current set."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
import orjson
import pytest

from streamer.discovery import Change, Rediscovery, change, rediscover, resolve
from streamer.errors import SourceError
from streamer.records import Item, Trade
from streamer.selectors import parse_selector
from streamer.service import build_sources
from streamer.settings import load
from streamer.sharding import Shard
from streamer.simulator import Simulator, SimulatorConfig
from streamer.sources.watchdog import SilenceWatchdog
from streamer.timefmt import now_millis
from streamer.venues.binance.decode import BinanceDecoder
from streamer.venues.binance.source import BinanceSource
from streamer.venues.coinbase.source import CoinbaseSource

# -- the pure parts ---------------------------------------------------------------------------


def test_change_names_listings_and_delistings_in_the_venues_order() -> None:
    delta = change(["A-USDT", "B-USDT", "C-USDT"], ["C-USDT", "D-USDT", "A-USDT", "E-USDT"])
    assert delta == Change(added=("D-USDT", "E-USDT"), removed=("B-USDT",))
    assert change(["A-USDT"], ["A-USDT"]) == Change((), ())
    assert change([], ["A-USDT"]) == Change(("A-USDT",), ())


def test_a_refresh_that_drops_more_than_half_is_refused() -> None:
    held = [f"S{i}-USDT" for i in range(10)]
    assert change(held, held[:5]) == Change((), tuple(held[5:]))  # half: a real delisting wave
    assert change(held, held[:4]) is None  # most of the market at once: a venue-wide halt
    assert change(held, []) is None


def test_a_forgotten_stream_is_never_silent_quiet_or_awaited() -> None:
    dog = SilenceWatchdog(["a@ticker", "b@ticker"], 10.0, every=0.0)
    dog.restart(0.0)
    dog.heard("a@ticker", 1.0)
    assert not dog.all_heard
    dog.forget(["b@ticker"])
    assert dog.all_heard
    assert dog.silent(100.0) == ["a@ticker"]
    dog.heard("b@ticker", 100.0)  # a late frame of an unsubscribed stream changes nothing
    assert dog.streams == ("a@ticker",)


def test_the_decoder_learns_a_new_listing() -> None:
    settings = load({"STREAMER_BINANCE_SYMBOLS": "BTC-USDT"}).venues["binance"]
    decoder = BinanceDecoder(settings)
    frame = orjson.dumps({
        "stream": "newusdt@trade",
        "data": {"e": "trade", "E": 1, "s": "NEWUSDT", "t": 7, "p": "1.50", "q": "2",
                 "T": 1764000000000, "m": False, "M": True},
    })  # fmt: skip
    [before] = decoder.decode(frame, 1764000000001)
    assert type(before) is not Trade  # a reject: the stream is not subscribed
    decoder.add_symbols(["NEW-USDT"])
    [row] = decoder.decode(frame, 1764000000001)
    assert isinstance(row, Trade)
    assert (row.symbol, row.trade_id, row.price) == ("NEW-USDT", "7", "1.50")


async def test_the_refresh_loop_keeps_the_set_through_failures_and_halts() -> None:
    held = ["A-USDT", "B-USDT", "C-USDT", "D-USDT"]
    answers: list[Any] = [
        SourceError("venue down"),  # fails: nothing changes
        ("A-USDT", "B-USDT", "C-USDT", "D-USDT", "E-USDT"),  # a listing
        ("E-USDT",),  # most of the market gone at once: refused
        ("A-USDT", "B-USDT", "C-USDT", "E-USDT"),  # D halted
    ]
    applied: list[Change] = []
    sleeps: list[float] = []

    async def fetch(selector: object) -> tuple[tuple[str, ...], int]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer, len(answer)

    async def apply(delta: Change) -> None:
        applied.append(delta)
        held[:] = [s for s in held if s not in delta.removed] + list(delta.added)

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if not answers:
            raise asyncio.CancelledError

    selector = parse_selector(["quote:USDT"], "STREAMER_BINANCE_SYMBOLS")
    assert selector is not None
    rediscovery = Rediscovery(selector, Shard(), 600.0)
    with pytest.raises(asyncio.CancelledError):
        await rediscover("binance", rediscovery, lambda: held, fetch, apply, sleep)
    assert applied == [Change(("E-USDT",), ()), Change((), ("D-USDT",))]
    assert held == ["A-USDT", "B-USDT", "C-USDT", "E-USDT"]
    assert sleeps == [600.0] * 5


# -- against the simulator --------------------------------------------------------------------

MARKETS = 50  # generated symbols; the listing rules put halted USDT and USD pairs among them


async def listed(url: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        answer = await client.get(url)
    body = orjson.loads(answer.content)
    return list(body["symbols"] if "symbols" in body else body["products"])


async def wait_for(what: Callable[[], bool], seconds: float = 60) -> None:
    async with asyncio.timeout(seconds):
        while not what():
            await asyncio.sleep(0.05)


async def running(source: Any, body: Callable[[list[Item]], Awaitable[None]]) -> None:
    rows: list[Item] = []

    async def emit(items: Sequence[Item]) -> None:
        rows.extend(items)

    task = asyncio.create_task(source.run(emit))
    try:
        await body(rows)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def traded(rows: list[Item]) -> set[str]:
    return {row.symbol for row in rows if isinstance(row, Trade)}


async def test_binance_subscribes_new_listings_and_unsubscribes_halts_live() -> None:
    config = SimulatorConfig(
        port=0,
        rate=1500,
        symbols={"binance": (), "coinbase": (), "coingecko": ()},
        markets={"binance": MARKETS},
    )
    async with Simulator(config) as sim:
        env = sim.environment()
        symbols = await listed(f"{env['STREAMER_BINANCE_REST_URL']}/api/v3/exchangeInfo")
        usdt = [s for s in symbols if s["quoteAsset"] == "USDT"]
        halted = next(f"{s['baseAsset']}-USDT" for s in usdt if s["status"] != "TRADING")
        env |= {"STREAMER_SOURCES": "binance", "STREAMER_BINANCE_SYMBOLS": "quote:USDT",
                "STREAMER_DISCOVERY_SECONDS": "1"}  # fmt: skip
        settings = await resolve(load(env), clock=now_millis)
        [source] = build_sources(settings)
        assert isinstance(source, BinanceSource) and source.rediscovery is not None
        assert halted not in settings.venues["binance"].symbols
        leaving = settings.venues["binance"].symbols[0]
        leaving_streams = {f"{leaving.replace('-', '').lower()}@{k}" for k in ("ticker", "trade")}
        venue = sim.venues["binance"]

        async def body(rows: list[Item]) -> None:
            await wait_for(lambda: source.stats.connects == len(source.plans) and bool(rows))
            connects, plans = _opened(source), len(source.plans)
            assert leaving_streams <= set(venue.subscribers)
            venue.relist(halted, "TRADING", trading=True)  # listed at runtime
            venue.relist(leaving, "BREAK", trading=False)  # halted at runtime
            await wait_for(lambda: halted in traded(rows))
            await wait_for(lambda: not leaving_streams & set(venue.subscribers))
            assert len(source.plans) == plans + 1  # the listing got a connection of its own
            assert _opened(source) == connects + 1  # one connection more, for the listing
            assert halted in source.settings.symbols and leaving not in source.settings.symbols
            assert not any(leaving.replace("-", "").lower() in url for url in source.urls)

        await running(source, body)


async def test_coinbase_subscribes_new_listings_and_unsubscribes_halts_live() -> None:
    config = SimulatorConfig(
        port=0,
        rate=1500,
        symbols={"binance": (), "coinbase": (), "coingecko": ()},
        markets={"coinbase": MARKETS},
    )
    async with Simulator(config) as sim:
        env = sim.environment()
        products = await listed(
            f"{env['STREAMER_COINBASE_REST_URL']}/api/v3/brokerage/market/products"
        )
        usd = [p for p in products if p["quote_currency_id"] == "USD"]
        halted = next(p["product_id"] for p in usd if p["trading_disabled"])
        env |= {"STREAMER_SOURCES": "coinbase", "STREAMER_COINBASE_SYMBOLS": "quote:USD",
                "STREAMER_DISCOVERY_SECONDS": "1"}  # fmt: skip
        settings = await resolve(load(env), clock=now_millis)
        [source] = build_sources(settings)
        assert isinstance(source, CoinbaseSource) and source.rediscovery is not None
        leaving = settings.venues["coinbase"].symbols[0]
        venue = sim.venues["coinbase"]

        def carried(product: str) -> bool:
            return any(product in p for ch in venue.listeners.values() for p in ch.values())

        async def body(rows: list[Item]) -> None:
            expected = len(source.groups)  # planned at start, one connection each
            await wait_for(lambda: source.stats.connects == expected and carried(leaving))
            connects = _opened(source)
            venue.relist(halted, "online", trading=True)
            venue.relist(leaving, "delisted", trading=False)
            await wait_for(lambda: halted in traded(rows))
            await wait_for(lambda: not carried(leaving))
            assert len(source.sessions) == expected + 1
            assert _opened(source) == connects + 1  # one connection more, for the listing
            assert leaving not in source.settings.symbols

        await running(source, body)


def _opened(source: BinanceSource | CoinbaseSource) -> int:
    """Connections opened, not counting reconnects after a drop (each drop records its
    recovery time): a loaded machine may drop one, which is not what these tests are about."""
    return source.stats.connects - len(source.stats.recovery_ms)
