"""A named market against the whole-market simulator: `quote:USDT` is resolved from its
exchangeInfo, no non-trading symbol is subscribed, every selected symbol delivers trades into
the lake, and three shards together collect the selection exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson

from streamer.discovery import resolve
from streamer.pipeline import run_pipeline
from streamer.query import connect
from streamer.service import build_sources
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig
from streamer.sinks.lake import LakeSink
from streamer.timefmt import now_millis
from streamer.venues.binance.source import BinanceSource

MARKETS = 80


def streams_of(source: BinanceSource) -> set[str]:
    return {
        s for url in source.urls for s in parse_qs(urlsplit(url).query)["streams"][0].split("/")
    }


async def test_quote_usdt_delivers_every_trading_usdt_symbol_and_nothing_else(
    tmp_path: Path,
) -> None:
    config = SimulatorConfig(
        port=0,
        rate=2000,
        symbols={"binance": (), "coinbase": (), "coingecko": ()},
        markets={"binance": MARKETS},
    )
    async with Simulator(config) as sim:
        env = sim.environment()
        async with httpx.AsyncClient() as client:  # what the venue says, independently
            answer = await client.get(f"{env['STREAMER_BINANCE_REST_URL']}/api/v3/exchangeInfo")
        listed = orjson.loads(answer.content)["symbols"]
        usdt = {f"{s['baseAsset']}-USDT" for s in listed if s["quoteAsset"] == "USDT"}
        trading = {f"{s['baseAsset']}-USDT" for s in listed
                   if s["quoteAsset"] == "USDT" and s["status"] == "TRADING"}  # fmt: skip
        assert trading and usdt - trading  # the market has halted USDT pairs to leave out

        env |= {"STREAMER_SOURCES": "binance", "STREAMER_BINANCE_SYMBOLS": "quote:USDT",
                "STREAMER_LAKE_DIR": str(tmp_path),
                "STREAMER_LAKE_BUFFER_SECONDS": "0"}  # fmt: skip
        settings = await resolve(load(env), clock=now_millis)
        assert set(settings.venues["binance"].symbols) == trading

        [source] = build_sources(settings)
        assert isinstance(source, BinanceSource)
        subscribed = {s.split("@")[0] for s in streams_of(source)}
        halted = {s.replace("-", "").lower() for s in usdt - trading}
        assert subscribed == {s.replace("-", "").lower() for s in trading}
        assert not subscribed & halted

        stop = asyncio.Event()
        task = asyncio.create_task(
            run_pipeline([source], LakeSink(settings.lake), stop, clock=now_millis)
        )
        in_lake: set[str] = set()
        async with asyncio.timeout(60):
            while in_lake != trading:
                await asyncio.sleep(0.5)
                in_lake = symbols_in(tmp_path)
        stop.set()
        await task
    assert symbols_in(tmp_path) == trading


def symbols_in(lake: Path) -> set[str]:
    if not any(lake.glob("crypto/tabular/trades/**/*.gz")):
        return set()
    db = connect(lake)
    try:
        return {row[0] for row in db.sql("SELECT DISTINCT symbol FROM crypto_trades").fetchall()}
    finally:
        db.close()


async def test_three_shards_collect_the_selection_exactly_once() -> None:
    config = SimulatorConfig(
        port=0,
        rate=200,
        symbols={"binance": (), "coinbase": (), "coingecko": ()},
        markets={"binance": MARKETS},
    )
    async with Simulator(config) as sim:
        env = sim.environment() | {"STREAMER_SOURCES": "binance",
                                   "STREAMER_BINANCE_SYMBOLS": "quote:USDT"}  # fmt: skip
        parts = []
        for i in range(3):
            settings = await resolve(load(env | {"STREAMER_SHARD": f"{i}/3"}), clock=now_millis)
            sources = build_sources(settings)
            parts.append(set().union(*(streams_of(s) for s in sources)))  # type: ignore[arg-type]
        whole = await resolve(load(env), clock=now_millis)
    assert set.union(*parts) == streams_of(build_sources(whole)[0])  # type: ignore[arg-type]
    assert sum(map(len, parts)) == len(set.union(*parts))  # no stream twice
