"""The OKX source against the simulated OKX into a lake on disk: a prevSeqId break resyncs and
every book written equals the simulator's truth; trades are complete by tradeId across a cut
connection; the derivative datasets hold the text the simulator sent; and the simulator saw no
limit breached (connection requests, subscribe budgets, args sizes, REST limits, idle cuts)."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from streamer.pipeline import run_pipeline
from streamer.service import build_sources
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig
from streamer.sinks.lake import LakeSink
from streamer.timefmt import now_millis
from streamer.venues.okx.sim_wire import trimmed
from streamer.venues.okx.simulator import Okx, OkxSimOptions
from streamer.venues.okx.source import OkxSource

SYMBOLS = ("BTC-USDT", "ETH-USDT", "BTC-USDT-PERP", "ETH-USDT-PERP")
OPTIONS = OkxSimOptions(break_probability=0.02, snapshot_on_subscribe=False,
                        liquidation_probability=0.05, funding_every_ms=2000)  # fmt: skip


def lake_rows(lake: Path, dataset: str) -> list[dict[str, Any]]:
    """Every row of `dataset` as written, each number the text it is in the NDJSON (times as
    epoch ms)."""
    rows: list[dict[str, Any]] = []
    for path in sorted(lake.glob(f"**/{dataset}/**/*.gz")):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            row = json.loads(line, parse_float=str, parse_int=str)
            for name in ("event_time", "next_funding_time"):
                if row.get(name):
                    row[name] = epoch_ms(row[name])
            rows.append(row)
    return [r for r in rows if r.get("exchange") == "okx"]


def epoch_ms(text: str) -> int:
    at = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    return int(at.timestamp() * 1000)


def trade_ids(lake: Path) -> dict[str, list[int]]:
    ids: defaultdict[str, list[int]] = defaultdict(list)
    for row in lake_rows(lake, "trades"):
        ids[row["symbol"]].append(int(row["trade_id"]))
    return ids


async def test_okx_source_against_the_simulated_okx_writes_what_was_sent(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    config = SimulatorConfig(port=0, rate=300, seed=5, options={"okx": OPTIONS},
                             symbols={"okx": SYMBOLS, "binance": (), "binance_usdm": (),
                                      "coinbase": (), "coingecko": ()})  # fmt: skip
    async with Simulator(config) as sim:
        venue = sim.venues["okx"]
        assert isinstance(venue, Okx)
        env = sim.environment() | {"STREAMER_SOURCES": "okx", "STREAMER_LAKE_DIR": str(lake),
                                   "STREAMER_LAKE_BUFFER_SECONDS": "0.2"}  # fmt: skip
        assert env["STREAMER_OKX_SYMBOLS"] == ",".join(SYMBOLS)
        settings = load(env)
        [source] = build_sources(settings)
        assert isinstance(source, OkxSource)
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_pipeline([source], LakeSink(settings.lake), stop, clock=now_millis)
        )
        extra = source.stats.extra
        try:
            async with asyncio.timeout(90):
                while len(trade_ids(lake).get("BTC-USDT", ())) < 40:
                    await asyncio.sleep(0.2)
                assert venue.disconnect("business") == 1  # every trades-all connection cut
                while not (
                    extra["trades_backfilled"] > 0
                    and not any(source.trade_gaps.open_holes(s) for s in SYMBOLS)
                    and extra["depth_resyncs"] > 0
                    and extra["depth_snapshots"] > extra["depth_resyncs"]
                    and lake_rows(lake, "liquidations")
                    and lake_rows(lake, "open_interest")
                    and lake_rows(lake, "funding_rates")
                    and lake_rows(lake, "instruments")
                    and len(lake_rows(lake, "derivative_tickers")) >= 6
                ):
                    await asyncio.sleep(0.3)
        finally:
            stop.set()
            await task
    assert venue.lost_updates > 0
    assert sim.breaches.counts == {}  # within every limit OKX sets, as the venue saw it
    assert not lake_rows(lake, "rejects")

    # Trades: complete by tradeId across the cut, each as sent.
    ids = trade_ids(lake)
    assert set(ids) == set(SYMBOLS)
    for symbol, got in ids.items():
        assert sorted(got) == list(range(min(got), max(got) + 1)), f"{symbol} has holes"
        assert len(got) == len(set(got)), f"{symbol} has duplicates"
    for row in lake_rows(lake, "trades"):
        sent = sim.truth.trades[("okx", row["symbol"])][row["trade_id"]]
        assert (row["price"], row["size"], row["side"]) == sent[:3], row

    # Books: every one written, before and after each resync, equals the truth at its seqId.
    books = lake_rows(lake, "order_books")
    assert {b["symbol"] for b in books} == set(SYMBOLS)
    truth = sim.truth.books["okx"]
    for book in books:
        bids, asks = truth[(book["symbol"], int(book["sequence"]))]
        assert [[lv["price"], lv["size"]] for lv in book["bids"]] == bids[:20], book["sequence"]
        assert [[lv["price"], lv["size"]] for lv in book["asks"]] == asks[:20], book["sequence"]

    # Derivatives: the venue's text, exactly.
    sent = venue.sent
    marks = {(m["instId"], int(m["ts"]), m["markPx"]) for m in sent["mark-price"]}
    indexes = {i["idxPx"] for i in sent["index-tickers"]}
    interest = {(o["instId"], int(o["ts"]), o["oi"]) for o in sent["open-interest"]}
    funding = {(f["fundingRate"], int(f["fundingTime"])) for f in sent["funding-rate"]}
    for row in lake_rows(lake, "derivative_tickers"):
        inst = row["symbol"].replace("-PERP", "-SWAP")
        assert (inst, row["event_time"], row["mark_price"]) in marks, row
        assert row["index_price"] is None or row["index_price"] in indexes, row
        assert row["open_interest"] is None or any(
            (inst, row["open_interest"]) == (i, oi) for i, _, oi in interest
        ), row
        pair = (row["funding_rate"], row["next_funding_time"])
        assert row["funding_rate"] is None or pair in funding, row
    for row in lake_rows(lake, "open_interest"):
        inst = row["symbol"].replace("-PERP", "-SWAP")
        assert (inst, row["event_time"], row["open_interest"]) in interest, row
    details = {(e["instId"], int(d["ts"]), d["side"], d["bkPx"], d["sz"])
               for e in venue.recent for d in e["details"]}  # fmt: skip
    details |= {(e["instId"], int(d["ts"]), d["side"], d["bkPx"], d["sz"])
                for e in sent["liquidation-orders"] for d in e["details"]}  # fmt: skip
    liquidations = lake_rows(lake, "liquidations")
    for row in liquidations:
        inst = row["symbol"].replace("-PERP", "-SWAP")
        key = (inst, row["event_time"], row["side"], row["price"], row["quantity"])
        assert key in details, row
    assert len({r["record_id"] for r in liquidations}) == len(liquidations)
    for row in lake_rows(lake, "funding_rates"):
        swap = venue.swaps[row["symbol"]]
        settled = {(at, trimmed(realized)) for at, _, realized in swap.fundings}
        assert (row["event_time"], row["funding_rate"]) in settled, row
