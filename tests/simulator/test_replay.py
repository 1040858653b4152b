"""Recorded frames replayed by `streamer simulate --replay` land in the lake with exact values."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from streamer import query
from streamer.service import run_service
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig
from tests.conftest import fixture_text

GARBAGE_BINANCE = '{"stream":"btcusdt@trade","data":{"e":"trade"'
GARBAGE_COINBASE = "this is not json"


def one_line(relative: str) -> str:
    """A recorded message as the single line the venue sent (fixtures may be pretty-printed)."""
    return orjson.dumps(orjson.loads(fixture_text(relative))).decode()


def _one_session(lines: list[str]) -> list[str]:
    """Frames recorded on different connections, renumbered as one connection's contiguous
    `sequence_num` (a hole would make the client drop its books and resubscribe)."""
    out = []
    for i, line in enumerate(lines):
        try:
            msg = orjson.loads(line)
        except orjson.JSONDecodeError:
            out.append(line)
            continue
        if isinstance(msg, dict) and "sequence_num" in msg:
            msg["sequence_num"] = i
            line = orjson.dumps(msg).decode()
        out.append(line)
    return out


def write_replay(folder: Path) -> None:
    binance = [
        one_line("binance/kline_1m_closed_combined_binance_us.json"),
        one_line("binance/depth20_100ms_combined_trimmed_2levels.json"),
        one_line("binance/trade_combined_testnet.json"),
        one_line("binance/ticker_24hr_combined_probably_testnet.json"),
        one_line("binance/bookTicker_combined.json"),  # not subscribed: a reject
        GARBAGE_BINANCE,
    ]
    later_candle = orjson.loads(fixture_text("coinbase/advanced_doc_candles.json"))
    later_candle["sequence_num"] = 1
    later_candle["events"][0]["type"] = "update"
    later_candle["events"][0]["candles"][0]["start"] = "1688998500"
    coinbase = [
        one_line("coinbase/advanced_l2_snapshot_BTC-USD_TRUNCATED_10perside_2026-09-30.json"),
        one_line(
            "coinbase/advanced_market_trades_snapshot_BTC-USD_TRUNCATED_5trades_2026-09-30.json"
        ),
        one_line("coinbase/advanced_doc_ticker.json"),
        one_line("coinbase/advanced_doc_candles.json"),
        orjson.dumps(later_candle).decode(),
        GARBAGE_COINBASE,
    ]
    coinbase = _one_session(coinbase)
    (folder / "binance.jsonl").write_text("\n".join(binance) + "\n")
    (folder / "coinbase.jsonl").write_text("\n".join(coinbase) + "\n")
    (folder / "coingecko_simple_price.json").write_text(
        fixture_text("coingecko/simple_price_oas_example.json")
    )
    (folder / "coingecko_coins_markets.json").write_text(
        fixture_text("coingecko/coins_markets_first100_DERIVED_from_250.json")
    )


def rows(lake: Path, sql: str) -> list[dict[str, Any]]:
    names, result = query.run(lake, sql)
    return [dict(zip(names, row, strict=True)) for row in result]


def complete(lake: Path) -> bool:
    counts = query.table_counts(lake)
    rejects = rows(lake, "SELECT count(*) AS n FROM crypto_rejects")[0]["n"]
    return (
        counts["crypto_ohlcv"] >= 2
        and counts["crypto_trades"] >= 6
        and counts["crypto_tickers"] >= 2
        and counts["crypto_order_books"] >= 2
        and counts["crypto_spot_prices"] >= 1
        and counts["crypto_markets"] >= 100
        and rejects >= 3
    )


async def test_replayed_frames_reach_the_lake_exactly(tmp_path: Path) -> None:
    replay, lake = tmp_path / "replay", tmp_path / "lake"
    replay.mkdir()
    write_replay(replay)
    # Its listings name the replayed symbols, which `run` checks its settings against.
    listed = {"binance": ("BTC-USDT", "OMG-BUSD"), "coinbase": ("BTC-USD", "ETH-USD")}
    config = SimulatorConfig(host="127.0.0.1", port=0, replay_dir=replay, symbols=listed)
    async with Simulator(config) as sim:
        env = sim.environment()
        env.update(
            STREAMER_LAKE_DIR=str(lake),
            STREAMER_LAKE_BUFFER_SECONDS="0",
            STREAMER_BINANCE_SYMBOLS="BTC-USDT,OMG-BUSD",
            STREAMER_COINBASE_SYMBOLS="BTC-USD,ETH-USD",
            STREAMER_COINGECKO_COINS="bitcoin",
            STREAMER_COINBASE_BOOK_INTERVAL="0.05",
        )
        stop = asyncio.Event()
        service = asyncio.create_task(run_service(load(env), stop))
        try:
            async with asyncio.timeout(60):
                while not complete(lake):
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"lake incomplete: {query.table_counts(lake)}") from None
        stop.set()
        stats = await service
    assert stats.failed_sources == {}

    (kline,) = rows(lake, "SELECT * FROM crypto_ohlcv WHERE exchange = 'binance'")
    assert kline["symbol"] == "OMG-BUSD" and kline["interval"] == "1m" and kline["is_closed"]
    assert (kline["open"], kline["high"], kline["low"], kline["close"], kline["volume"]) == (
        Decimal("13.7212"), Decimal("13.8076"), Decimal("13.7212"), Decimal("13.7664"),
        Decimal("536.51"),
    )  # fmt: skip
    assert str(kline["open_time"]) == "2021-10-12 00:24:00" and kline["trade_count"] == 14

    (candle,) = rows(lake, "SELECT * FROM crypto_ohlcv WHERE exchange = 'coinbase'")
    assert candle["symbol"] == "ETH-USD" and candle["interval"] == "5m"
    assert (candle["open"], candle["close"]) == (Decimal("1867.38"), Decimal("1866.81"))

    books = {r["exchange"]: r for r in rows(lake, "SELECT * FROM crypto_order_books")}
    assert books["binance"]["sequence"] == 100530416202
    assert books["binance"]["bids"][0] == {
        "price": Decimal("86704.77"), "size": Decimal("4.67805"),
    }  # fmt: skip
    assert books["binance"]["asks"][0]["price"] == Decimal("86704.78")
    coinbase_book = books["coinbase"]
    assert coinbase_book["symbol"] == "BTC-USD"
    assert coinbase_book["bids"][0] == {"price": Decimal("83277.25"), "size": Decimal("0.00715626")}
    assert coinbase_book["asks"][0] == {"price": Decimal("83277.26"), "size": Decimal("0.01110256")}

    trade = rows(lake, "SELECT * FROM crypto_trades WHERE exchange = 'binance'")
    assert [(t["trade_id"], t["price"], t["side"]) for t in trade] == [
        ("388510", Decimal("76745.19"), "buy")
    ]
    coinbase_trades = rows(lake, "SELECT * FROM crypto_trades WHERE exchange = 'coinbase'")
    assert len({t["trade_id"] for t in coinbase_trades}) == 5

    tickers = {r["exchange"]: r for r in rows(lake, "SELECT * FROM crypto_tickers")}
    assert tickers["binance"]["last_price"] == Decimal("94160")
    assert tickers["coinbase"]["last_price"] == Decimal("21932.98")
    assert tickers["coinbase"]["open_24h"] is None

    spot = {r["vs_currency"]: r for r in rows(lake, "SELECT * FROM crypto_spot_prices")}
    assert set(spot) == {"usd"}  # the recorded answer has no eur or btc: those are rejects
    assert spot["usd"]["price"] == 76975
    assert spot["usd"]["market_cap"] == 1542226908349.8406
    markets = rows(lake, "SELECT * FROM crypto_markets ORDER BY market_cap_rank")
    assert markets[0]["coin_id"] == "bitcoin"
    assert any(m["max_supply"] is None for m in markets)

    reasons = rows(lake, "SELECT source, reason, raw FROM crypto_rejects")
    raw_by_source = {(r["source"], r["raw"]) for r in reasons}
    assert ("binance", GARBAGE_BINANCE) in raw_by_source
    assert ("coinbase", GARBAGE_COINBASE) in raw_by_source
    assert any("unknown stream" in r["reason"] for r in reasons if r["source"] == "binance")
    assert all(r["reason"] for r in reasons)
    assert sum(r["source"] == "coingecko" for r in reasons) == 2  # eur and btc missing
