"""The real clients against the simulator over loopback: the lake holds exactly what was sent."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from streamer import query
from streamer.service import run_service
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig


def rows(lake: Path, sql: str) -> list[dict[str, Any]]:
    names, result = query.run(lake, sql)
    return [dict(zip(names, row, strict=True)) for row in result]


def count(lake: Path, sql: str) -> int:
    return int(rows(lake, f"SELECT count(*) AS n FROM ({sql})")[0]["n"])


def enough(lake: Path) -> bool:
    if not any(lake.rglob("*.gz")):
        return False
    return (
        count(lake, "SELECT * FROM crypto_trades WHERE exchange = 'binance'") >= 60
        and count(lake, "SELECT * FROM crypto_trades WHERE exchange = 'coinbase'") >= 30
        and count(lake, "SELECT * FROM crypto_ohlcv WHERE is_closed") >= 4
        and count(lake, "SELECT DISTINCT exchange FROM crypto_order_books") == 2
        and count(lake, "SELECT DISTINCT exchange FROM crypto_tickers") == 2
        and count(lake, "SELECT * FROM crypto_spot_prices") >= 6
        and count(lake, "SELECT * FROM crypto_markets") >= 100
    )


async def test_lake_rows_equal_what_the_simulator_sent(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    config = SimulatorConfig(
        port=0,
        rate=300,
        seed=3,
        symbols={
            "binance": ("BTC-USDT", "ETH-USDT"),
            "coinbase": ("BTC-USD",),
            "coingecko": ("bitcoin", "ethereum"),
        },
    )
    async with Simulator(config) as sim:
        env = sim.environment()
        env.update(
            STREAMER_LAKE_DIR=str(lake),
            STREAMER_LAKE_BUFFER_SECONDS="0.2",
            STREAMER_BINANCE_KLINE_INTERVAL="1s",
            STREAMER_COINBASE_BOOK_INTERVAL="0.2",
            STREAMER_COINGECKO_POLL_SECONDS="5",
        )
        stop = asyncio.Event()
        service = asyncio.create_task(run_service(load(env), stop))
        try:
            async with asyncio.timeout(90):
                while not enough(lake):
                    await asyncio.sleep(0.2)
        except TimeoutError:
            raise AssertionError(f"lake incomplete: {query.table_counts(lake)}") from None
        finally:
            stop.set()
            stats = await service
    assert stats.failed_sources == {}
    assert count(lake, "SELECT * FROM crypto_rejects") == 0

    trades = rows(lake, "SELECT exchange, symbol, trade_id, price, size, side, "
                        "epoch_ms(event_time) AS t FROM crypto_trades")  # fmt: skip
    for trade in trades:
        price, size, side, sent_at = sim.sent_trades[(trade["exchange"], trade["symbol"])][
            trade["trade_id"]
        ]
        assert (trade["price"], trade["size"]) == (Decimal(price), Decimal(size)), trade
        assert (trade["side"], trade["t"]) == (side, sent_at), trade
    for symbol in ("BTC-USDT", "ETH-USDT"):  # connected throughout: no trade missing
        ids = sorted(int(t["trade_id"]) for t in trades if t["symbol"] == symbol)
        assert ids == list(range(ids[0], ids[-1] + 1)), f"{symbol} trades have holes"
        assert len(ids) == len(set(ids))

    candles = rows(lake, "SELECT symbol, interval, epoch_ms(open_time) AS t, open, high, low, "
                         "close, volume FROM crypto_ohlcv WHERE exchange = 'binance'")  # fmt: skip
    assert candles
    for c in candles:
        sent = sim.sent_candles[("binance", c["symbol"], c["interval"], c["t"])]
        assert tuple(Decimal(v) for v in sent) == (
            c["open"],
            c["high"],
            c["low"],
            c["close"],
            c["volume"],
        ), c

    books = rows(lake, "SELECT exchange, symbol, sequence, bids, asks FROM crypto_order_books")
    for book in books:
        bids = [(level["price"], level["size"]) for level in book["bids"]]
        asks = [(level["price"], level["size"]) for level in book["asks"]]
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
        assert bids[0][0] < asks[0][0], book
        if book["exchange"] == "binance":
            sent_bids, sent_asks = sim.truth.books["binance"][(book["symbol"], book["sequence"])]
            assert bids == [(Decimal(p), Decimal(s)) for p, s in sent_bids]
            assert asks == [(Decimal(p), Decimal(s)) for p, s in sent_asks]

    spot = rows(lake, "SELECT DISTINCT coin_id, vs_currency FROM crypto_spot_prices")
    assert {(s["coin_id"], s["vs_currency"]) for s in spot} == {
        (coin, vs) for coin in ("bitcoin", "ethereum") for vs in ("usd", "eur", "btc")
    }
