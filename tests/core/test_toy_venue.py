"""A venue defined only in the test tree (`tests/core/toy/venue.py`) runs end to end through
the registry: settings, the simulator, the service, the lake and the docs, with no edit
outside its folder."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from streamer import cli_parser, query
from streamer.service import freshness_limits, run_service
from streamer.settings import load, markdown_settings
from streamer.simulator import Simulator, SimulatorConfig
from streamer.venues import VENUES, register, unregister
from tests.core.toy.venue import VENUE, ToyVenue


@pytest.fixture
def toy() -> Iterator[None]:
    register(VENUE)
    try:
        yield
    finally:
        unregister(VENUE.name)
    assert VENUE.name not in {spec.name for spec in VENUES}


def test_a_venue_is_registered_once() -> None:
    with pytest.raises(ValueError, match="registered already"):
        register(VENUES[0])


def test_the_toy_is_documented_and_read_like_any_venue(toy: None) -> None:
    table = markdown_settings("general")
    assert "`STREAMER_TOY_WS_URL`" in table and "`STREAMER_TOY_SYMBOLS`" in table
    settings = load({"STREAMER_TOY_SYMBOLS": "ABC-USD", "STREAMER_SOURCES": "toy"})
    assert settings.venues["toy"].symbols == ("ABC-USD",) and settings.sources == ("toy",)
    assert "toy" in cli_parser.parser().format_help() or "toy" in _simulate_help()


def _simulate_help() -> str:
    parser = cli_parser.parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return subparsers.choices["simulate"].format_help()  # type: ignore[attr-defined,no-any-return]


async def test_the_toy_runs_end_to_end_through_the_registry(toy: None, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    others = {spec.name: () for spec in VENUES if spec.name != VENUE.name}
    async with Simulator(SimulatorConfig(port=0, symbols=others)) as sim:
        served = sim.venues["toy"]
        assert isinstance(served, ToyVenue)
        env = sim.environment() | {"STREAMER_SOURCES": "toy", "STREAMER_LAKE_DIR": str(lake),
                                   "STREAMER_LAKE_BUFFER_SECONDS": "0"}  # fmt: skip
        settings = load(env)
        stop = asyncio.Event()
        service = asyncio.create_task(run_service(settings, stop))
        async with asyncio.timeout(60):
            while len(_toy_trades(lake)) < 20:  # a condition, checked until it holds
                await asyncio.sleep(0.2)
        stop.set()
        stats = await service
        sent = {(m["s"], str(m["i"])): m for m in served.sent}
    assert stats.failed_sources == {}
    rows = _toy_trades(lake)
    assert {symbol for symbol, *_ in rows} == {"TOY-USD", "ZAP-USD"}
    for symbol, trade_id, price, side in rows:
        sent_one = sent[(symbol, trade_id)]
        assert (price, side) == (Decimal(sent_one["p"]), sent_one["side"])
    source = VENUE.source(settings.venues["toy"], clock=lambda: 0, rediscovery=None)
    assert freshness_limits(settings, [source]) == {"toy": 60.0}  # /health: its default


def _toy_trades(lake: Path) -> list[tuple[str, str, object, str]]:
    if not lake.is_dir():
        return []
    _, rows = query.run(
        lake, "SELECT symbol, trade_id, price, side FROM crypto_trades WHERE exchange = 'toy'"
    )
    return [(str(s), str(i), p, str(d)) for s, i, p, d in rows]
