"""One lake per test session, written by the real pipeline from the bundled simulator (every
simulated venue: Binance spot and USD-M, Coinbase, CoinGecko, OKX spot and swaps, Kraken).

The simulator's and the clients' clocks run at 60x, so 1-minute candles close every second,
Coinbase's 5-minute candles every 5 s and an hour of partitions fills in a minute; a few faults
(garbage frames, duplicates, cut connections) put rejects, duplicate rows and REST backfills
into it, as on a real day.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from streamer import query
from streamer.sample_lake import write_sample_lake
from streamer.venues.binance.usdm_simulator import UsdmSimOptions

SPEED = 60


def _ready(lake: Path) -> bool:
    if not any(lake.rglob("*.gz")):
        return False
    _, rows = query.run(
        lake,
        "SELECT exchange, count(DISTINCT record_id) FROM crypto_ohlcv WHERE is_closed "
        "GROUP BY exchange",
    )
    candles = dict(rows)
    counts = query.table_counts(lake)
    _, rejects = query.run(lake, "SELECT count(*) FROM crypto_rejects")
    return (
        candles.get("binance", 0) >= 24
        and counts["crypto_derivative_tickers"] >= 200
        and candles.get("coinbase", 0) >= 4
        and counts["crypto_markets"] >= 100
        and rejects[0][0] > 0
        # every dataset but the opt-in full-depth books (off by default, as here) and `quality`
        # (written per closed minute, and at stop)
        and all(
            n
            for table, n in counts.items()
            if table not in ("crypto_book_updates", "crypto_quality")
        )
    )


async def fill(lake: Path) -> None:
    symbols = {
        "binance": ("BTC-USDT", "ETH-USDT"),
        "coinbase": ("BTC-USD", "ETH-USD"),
        "coingecko": ("bitcoin", "ethereum"),
        "binance_usdm": ("BTC-USDT-PERP", "ETH-USDT-PERP"),
        "okx": ("BTC-USDT", "BTC-USDT-PERP"),
        "kraken": ("BTC-USD", "ETH-USD"),
    }
    # liquidations ten times as often as by default: some in every lake
    options = {"binance_usdm": UsdmSimOptions(liquidation_probability=0.02)}
    await write_sample_lake(lake, 120, seed=5, symbols=symbols, until=lambda: _ready(lake),
                            options=options)  # fmt: skip


@pytest.fixture(scope="session")
def pipeline_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake the pipeline wrote from the simulator (shared by the analytics tests: read only)."""
    root = tmp_path_factory.mktemp("analytics-lake")
    asyncio.run(fill(root))
    return root


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake `streamer demo` wrote (its settings: Binance 1-second candles, real time), 8 s."""
    from streamer.demo import run_demo

    root = tmp_path_factory.mktemp("demo") / "demo-lake"
    asyncio.run(run_demo(8, root))
    return root
