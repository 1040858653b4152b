"""How long `streamer report` takes: on a `make demo` lake and on a day of simulated data.

A day is generated straight into the lake layout (no network: the records, encoder and
`LakeSink` of the pipeline, partitions from the rows' arrival times) at the default
deployment's rates of `benchmarks/firehose.py` (3 Binance and 3 Coinbase symbols, 20-level
books, 1-minute candles, CoinGecko every 120 s), with objects cut every 60 s like Firehose's
default buffer. Then, in this process, medians of `--rounds`:

- report: `streamer.analytics.report.build` (every query, chart and table of the page);
- peer: one full scan of the same lake (`count(*)` of every table), the floor a DuckDB query
  over gzip JSON lines cannot go under.

    python benchmarks/report.py [--hours 24] [--demo-lake demo-lake] [--keep DIR] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from firehose import BURSTS, RATES
from streamer import query
from streamer.analytics import connect
from streamer.analytics.report import build
from streamer.ids import record_id
from streamer.jsonline import encode
from streamer.records import BookSnapshot, Candle, Dec, Market, Millis, SpotPrice, Ticker, Trade
from streamer.schema import DATASET_OF_TYPE
from streamer.settings import LakeSettings
from streamer.sinks.lake import LakeSink

SYMBOLS = {"binance": ("BTC-USDT", "ETH-USDT", "SOL-USDT"),
           "coinbase": ("BTC-USD", "ETH-USD", "SOL-USD")}  # fmt: skip
COINS = {"BTC": ("bitcoin", 86000.0), "ETH": ("ethereum", 3200.0), "SOL": ("solana", 180.0)}
START = 1_764_000_000_000  # 2025-11-24 16:00 UTC


def _dec(value: float, places: int = 2) -> Dec:
    return Dec(f"{value:.{places}f}")


class Day:
    """A random walk per coin and the rows the default deployment would write from it."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.price = {base: p for base, (_, p) in COINS.items()}
        self.seq = 0
        self.minute: dict[tuple[str, str], list[float]] = {}

    def step(self) -> None:
        for base in self.price:
            self.price[base] *= 1 + self.rng.gauss(0, 0.0002)

    def venue_price(self, symbol: str) -> float:
        return self.price[symbol.split("-")[0]] * (1 + self.rng.gauss(0, 0.00005))

    def trade(self, exchange: str, symbol: str, t: int) -> Trade:
        self.seq += 1
        price, size = self.venue_price(symbol), self.rng.expovariate(20)
        bar = self.minute.setdefault((exchange, symbol), [price, price, price, price, 0.0])
        bar[1], bar[2] = max(bar[1], price), min(bar[2], price)
        bar[3], bar[4] = price, bar[4] + size
        side = "buy" if self.rng.random() < 0.5 else "sell"
        rid = record_id(exchange, symbol, self.seq)
        return Trade(exchange, symbol, Millis(t), Millis(t + 30), str(self.seq), _dec(price),
                     _dec(size, 6), side, rid)  # fmt: skip

    def book(self, exchange: str, symbol: str, t: int) -> BookSnapshot:
        self.seq += 1
        mid = self.venue_price(symbol)
        bids = tuple((_dec(mid - 0.01 * (i + 1)), _dec(self.rng.random(), 4)) for i in range(20))
        asks = tuple((_dec(mid + 0.01 * (i + 1)), _dec(self.rng.random(), 4)) for i in range(20))
        return BookSnapshot(exchange, symbol, Millis(t), Millis(t + 30), 20, bids, asks,
                            self.seq, record_id(exchange, symbol, "book", self.seq))  # fmt: skip

    def ticker(self, exchange: str, symbol: str, t: int) -> Ticker:
        price = self.venue_price(symbol)
        p = _dec(price)
        return Ticker(exchange, symbol, Millis(t), Millis(t + 30), p, p, _dec(1, 3), p,
                      _dec(1, 3), p, p, p, _dec(1000), _dec(price * 1000), _dec(0.1), 1000,
                      record_id(exchange, symbol, "ticker", t))  # fmt: skip

    def candles(self, t: int) -> list[Candle]:
        out = []
        for (exchange, symbol), (o, h, lo, c, v) in sorted(self.minute.items()):
            open_time = t - 60_000
            out.append(Candle(exchange, symbol, Millis(t), Millis(t + 30), "1m",
                              Millis(open_time), Millis(t - 1), _dec(o), _dec(h), _dec(lo),
                              _dec(c), _dec(v, 6), None, None, True, "ws",
                              record_id(exchange, symbol, "1m", open_time)))  # fmt: skip
        self.minute.clear()
        return out

    def coingecko(self, t: int) -> list[SpotPrice | Market]:
        rows: list[SpotPrice | Market] = []
        for base, (coin, _) in COINS.items():
            for currency, rate in (("usd", 1.0), ("eur", 0.92), ("btc", 1 / self.price["BTC"])):
                price = repr(self.price[base] * rate)
                rows.append(SpotPrice(coin, currency, price, None, None, None, Millis(t),  # type: ignore[arg-type]
                                      Millis(t + 30), record_id(coin, currency, t)))  # fmt: skip
        for rank in range(1, BURSTS["markets"][0] + 1):
            base = list(COINS)[rank - 1] if rank <= len(COINS) else f"C{rank:03d}"
            coin = COINS[base][0] if base in COINS else f"coin-{rank}"
            price = self.price.get(base, 1000.0 / rank)
            cap = repr(price * 2e7 / rank)
            rows.append(Market(coin, base.lower(), coin.title(), "usd", rank, repr(price), cap,  # type: ignore[arg-type]
                               None, None, None, None, None, None, None, None, None, Millis(t),
                               Millis(t + 30), record_id("markets", coin, t)))  # fmt: skip
        return rows


async def write_day(lake: Path, hours: float) -> int:
    sink = LakeSink(LakeSettings(root=lake, buffer_seconds=60, buffer_bytes=64 * 2**20))
    day, rows = Day(), 0
    per_symbol = {name: rate / 6 for name, rate in RATES.items() if name != "ohlcv"}
    makers: dict[str, Callable[[str, str, int], object]] = {
        "trades": day.trade, "order_books": day.book, "tickers": day.ticker,
    }  # fmt: skip
    debt = dict.fromkeys(per_symbol, 0.0)
    for second in range(int(hours * 3600)):
        t = START + second * 1000
        day.step()
        for name, rate in per_symbol.items():
            debt[name] += rate
            count, debt[name] = int(debt[name]), debt[name] - int(debt[name])
            for exchange, symbols in SYMBOLS.items():
                for symbol in symbols:
                    for k in range(count):
                        row = makers[name](exchange, symbol, t + k * 1000 // max(count, 1))
                        sink.add(DATASET_OF_TYPE[type(row)], encode(row), Millis(t))  # type: ignore[arg-type]
                        rows += 1
        extra: list[object] = []
        if second % 60 == 59:
            extra.extend(day.candles(t + 1000))
        if second % int(BURSTS["markets"][1]) == 0:
            extra.extend(day.coingecko(t))
        for row in extra:
            sink.add(DATASET_OF_TYPE[type(row)], encode(row), Millis(t))  # type: ignore[arg-type]
        rows += len(extra)
        await sink.flush_due(Millis(t))
    await sink.aclose()
    return rows


def median_seconds(rounds: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(name: str, lake: Path, rounds: int) -> None:
    files = list(lake.rglob("*.gz"))
    size = sum(f.stat().st_size for f in files)
    rows = sum(query.table_counts(lake).values())
    out = Path(tempfile.mkdtemp(prefix="report-"))

    def report() -> None:
        with connect(lake=lake) as db:
            result = build(db, out)
        assert len(result.charts) >= 4, result.missing

    scan = median_seconds(rounds, lambda: query.table_counts(lake))
    page = median_seconds(rounds, report)
    charts = len(list(out.glob("*.png")))
    print(f"{name}: {rows:,} rows in {len(files):,} objects ({size / 2**20:,.1f} MiB gzip)")
    print(f"  report ({charts} charts): {page:.2f} s   full scan (peer): {scan:.2f} s   "
          f"report / scan: {page / scan:.1f}x   (medians of {rounds})")  # fmt: skip
    shutil.rmtree(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--demo-lake", type=Path, default=Path("demo-lake"))
    parser.add_argument("--keep", type=Path, default=None, help="write the day here and keep it")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.demo_lake.is_dir():
        measure(f"demo lake ({args.demo_lake})", args.demo_lake, args.rounds)
    else:
        print(f"no {args.demo_lake}: run `make demo` first to measure it", file=sys.stderr)
    lake = args.keep or Path(tempfile.mkdtemp(prefix="day-lake-"))
    started = time.perf_counter()
    rows = asyncio.run(write_day(lake, args.hours))
    print(f"generated {rows:,} rows ({args.hours:g} h) in {time.perf_counter() - started:.0f} s")
    try:
        measure(f"{args.hours:g} h of simulated data", lake, args.rounds)
    finally:
        if args.keep is None:
            shutil.rmtree(lake)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
