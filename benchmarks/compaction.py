"""Daily compaction of one simulated day at the default deployment's rates.

    python benchmarks/compaction.py [--hours 24] [--runs 3] [--duplicates 0.01] [--lake DIR]

The day is written by the real code: rows are built as `records` (a random walk per symbol),
encoded by `jsonline.encode` and written by `LakeSink` with Firehose's default buffering in
this deployment (60 s or 64 MiB), so each dataset gets an object a minute, as in S3. A share
of the objects is delivered twice (`--duplicates`), as Firehose may do.

Rates: the Terraform defaults (3 Binance and 3 Coinbase symbols, 3 CoinGecko coins) with the
market assumptions of `benchmarks/firehose.py` (its `RATES` and `BURSTS`, checked at start):

    order_books  Binance depth20@100ms: 10/s per symbol; Coinbase top 20 each second: 1/s
    tickers      Binance 1/s, Coinbase 3/s per symbol
    trades       ASSUMED ordinary-market averages, not measurements: Binance 30, 20, 10 /s and
                 Coinbase 8, 5, 3 /s for BTC, ETH, SOL
    ohlcv        closed candles: Binance 1m, Coinbase 5m (its only interval)
    spot_prices  3 coins x 3 currencies every 120 s (keyless plan); markets: the top 100 then

`--lake DIR` keeps the lake; run again with the same DIR, the simulated day is reused (its
compacted output removed first), so a change to compaction can be measured on the same day.

It prints objects and bytes before and after, the compaction time per dataset (median of
`--runs` runs; each run replaces the last), and for typical queries the bytes read before and
after, and the factor: one symbol over the day (OHLCV from trades and from candles), the latest
price per symbol (with `max_by`, and written the natural way with `row_number`), and a spread
series from the top of one symbol's book over one hour (the level arrays' first elements; the
hour is mid-way through the simulated hours). Bytes are measured two ways: what DuckDB read
(file-level: the growth of the process's `rchar` in /proc/self/io, the bytes of its read calls,
around the query's first run), and an Athena-style figure from file sizes: the whole raw
objects of the day's partitions before, the Parquet column chunks of the referenced columns
after, in the row groups whose min/max statistics admit the query's exchange, symbol and hour (from
the Parquet metadata), close to what Athena bills as data scanned. The queries are the same
text before and after (so they de-duplicate with DISTINCT where the raw rows need it, and break
ties in event_time by record_id). Query times are medians of 5.
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
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import duckdb

from streamer import query
from streamer.compaction.layout import compacted_day_prefix, raw_day_prefix
from streamer.compaction.local import LocalCompactor
from streamer.ids import record_ids
from streamer.jsonline import encode
from streamer.records import (
    BookSnapshot,
    Candle,
    Dec,
    Item,
    Market,
    Millis,
    Real,
    SpotPrice,
    Ticker,
    Trade,
    book_snapshot,
)
from streamer.schema import DATASET_OF_TYPE, DATASETS
from streamer.settings import LakeSettings
from streamer.sinks.lake import LakeSink

DAY = datetime(2025, 11, 24, tzinfo=UTC)
START = Millis(int(DAY.timestamp() * 1000))
TRADE_RATES = {
    ("binance", "BTC-USDT"): 30.0,
    ("binance", "ETH-USDT"): 20.0,
    ("binance", "SOL-USDT"): 10.0,
    ("coinbase", "BTC-USD"): 8.0,
    ("coinbase", "ETH-USD"): 5.0,
    ("coinbase", "SOL-USD"): 3.0,
}
TICKERS_PER_SECOND = {"binance": 1, "coinbase": 3}
MIDS = {"BTC": 86_700.0, "ETH": 3_200.0, "SOL": 180.0}
TICKS = {"BTC": 0.01, "ETH": 0.01, "SOL": 0.01}
BOOKS_PER_SECOND = {"binance": 10, "coinbase": 1}
CANDLE_MINUTES = {"binance": 1, "coinbase": 5}
COINS = ("bitcoin", "ethereum", "solana")
CURRENCIES = ("usd", "eur", "btc")
POLL_SECONDS = 120
DEPTH = 20


class Query(NamedTuple):
    dataset: str
    columns: tuple[str, ...]
    """What Athena reads of the compacted files (the Athena-style figure)."""
    text: str
    where: dict[str, str]
    """The predicates row-group statistics can use; "{hour}" is the one-hour window."""
    ties: bool = False
    """Written the natural way, without a tie-break: where two trades share the last
    millisecond, either price is a right answer (checked by `same_answer`)."""


ONE_HOUR = """event_time >= TIMESTAMP '{y}-{m}-{d} {h}:00:00'
          AND event_time < TIMESTAMP '{y}-{m}-{d} {h}:00:00' + INTERVAL '1' HOUR"""
BTC = {"exchange": "binance", "symbol": "BTC-USDT"}
QUERIES = {
    "1-hour OHLCV of BTC-USDT from trades, whole day": Query(
        "trades",
        ("exchange", "symbol", "event_time", "price", "size", "record_id"),
        """
        WITH day AS (
          SELECT DISTINCT record_id, event_time, price, size FROM crypto_trades
          WHERE exchange = 'binance' AND symbol = 'BTC-USDT'
            AND year = '{y}' AND month = '{m}' AND day = '{d}')
        SELECT date_trunc('hour', event_time) AS hour_start,
          min_by(price, (event_time, record_id)) AS open, max(price) AS high, min(price) AS low,
          max_by(price, (event_time, record_id)) AS close, sum(size) AS volume, count(*) AS trades
        FROM day GROUP BY 1 ORDER BY 1
        """,
        BTC,
    ),
    "OHLCV and VWAP of BTC-USDT's trades, one hour": Query(
        "trades",
        ("exchange", "symbol", "event_time", "price", "size", "record_id"),
        """
        WITH hour AS (
          SELECT DISTINCT record_id, event_time, price, size FROM crypto_trades
          WHERE exchange = 'binance' AND symbol = 'BTC-USDT'
            AND year = '{y}' AND month = '{m}' AND day = '{d}'
            AND ONE_HOUR)
        SELECT min_by(price, (event_time, record_id)) AS open, max(price) AS high,
          min(price) AS low, max_by(price, (event_time, record_id)) AS close,
          sum(size) AS volume,
          round(sum(CAST(price AS double) * CAST(size AS double)) / CAST(sum(size) AS double), 4)
            AS vwap,
          count(*) AS trades
        FROM hour
        """.replace("ONE_HOUR", ONE_HOUR),
        {**BTC, "event_time": "{hour}"},
    ),
    "1-hour OHLCV of BTC-USDT from 1m candles, whole day": Query(
        "ohlcv",
        (
            "exchange",
            "symbol",
            "interval",
            "is_closed",
            "open_time",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "record_id",
        ),
        """
        WITH candles AS (
          SELECT DISTINCT record_id, open_time, open, high, low, close, volume FROM crypto_ohlcv
          WHERE exchange = 'binance' AND symbol = 'BTC-USDT' AND "interval" = '1m' AND is_closed
            AND year = '{y}' AND month = '{m}' AND day = '{d}')
        SELECT date_trunc('hour', open_time) AS hour_start, min_by(open, open_time) AS open,
          max(high) AS high, min(low) AS low, max_by(close, open_time) AS close,
          sum(volume) AS volume, count(*) AS minutes
        FROM candles GROUP BY 1 ORDER BY 1
        """,
        BTC,
    ),
    "latest price per symbol": Query(
        "trades",
        ("exchange", "symbol", "event_time", "price"),
        """
        SELECT exchange, symbol, max_by(price, event_time) AS price, max(event_time) AS at
        FROM crypto_trades WHERE year = '{y}' AND month = '{m}' AND day = '{d}'
        GROUP BY exchange, symbol ORDER BY exchange, symbol
        """,
        {},
        ties=True,
    ),
    "latest price per symbol, with row_number": Query(
        "trades",
        ("exchange", "symbol", "event_time", "price"),
        """
        SELECT exchange, symbol, price, event_time AS at FROM (
          SELECT exchange, symbol, price, event_time, row_number() OVER (
            PARTITION BY exchange, symbol ORDER BY event_time DESC) AS n
          FROM crypto_trades WHERE year = '{y}' AND month = '{m}' AND day = '{d}')
        WHERE n = 1 ORDER BY exchange, symbol
        """,
        {},
        ties=True,
    ),
    "latest price per symbol, ties broken by record_id": Query(
        "trades",
        ("exchange", "symbol", "event_time", "price", "record_id"),
        """
        SELECT exchange, symbol, max_by(price, (event_time, record_id)) AS price,
          max(event_time) AS at
        FROM crypto_trades WHERE year = '{y}' AND month = '{m}' AND day = '{d}'
        GROUP BY exchange, symbol ORDER BY exchange, symbol
        """,
        {},
    ),
    "spread of BTC-USDT's book, one hour, top-of-book columns": Query(
        "order_books",
        ("exchange", "symbol", "event_time", "bid_price", "ask_price", "record_id"),
        """
        SELECT DISTINCT record_id, event_time, ask_price - bid_price AS spread
        FROM crypto_order_books
        WHERE exchange = 'binance' AND symbol = 'BTC-USDT'
          AND year = '{y}' AND month = '{m}' AND day = '{d}'
          AND ONE_HOUR
        ORDER BY event_time, record_id
        """.replace("ONE_HOUR", ONE_HOUR),
        {**BTC, "event_time": "{hour}"},
    ),
    "spread of BTC-USDT's book, one hour, level arrays": Query(
        "order_books",
        ("exchange", "symbol", "event_time", "bids", "asks", "record_id"),
        """
        SELECT DISTINCT record_id, event_time, asks[1].price - bids[1].price AS spread
        FROM crypto_order_books
        WHERE exchange = 'binance' AND symbol = 'BTC-USDT'
          AND year = '{y}' AND month = '{m}' AND day = '{d}'
          AND ONE_HOUR
        ORDER BY event_time, record_id
        """.replace("ONE_HOUR", ONE_HOUR),
        {**BTC, "event_time": "{hour}"},
    ),
}


def whole_market(symbols: int) -> dict[tuple[str, str], float]:
    """Trade rates of `symbols` markets: the default deployment's six, then Binance's long tail
    (`TAIL0`, `TAIL1`, ... against USDT), each rate smaller as a market's rank grows, as trading
    activity falls off across a venue's listings (ASSUMED: 8/s for the seventh, then
    8 / rank^0.9, at least 0.02/s; about 80 trades/s for the 494 of a 500-symbol market)."""
    rates = dict(TRADE_RATES)
    for rank in range(1, symbols - len(TRADE_RATES) + 1):
        rates[("binance", f"TAIL{rank}-USDT")] = max(0.02, 8.0 / rank**0.9)
    return rates


class Walk:
    """A random walk per symbol, and what each venue publishes about it."""

    def __init__(self, seed: int, rates: dict[tuple[str, str], float] = TRADE_RATES) -> None:
        self.rng = random.Random(seed)
        self.rates = rates
        self.ticks = {s: round(MIDS.get(s.split("-")[0], 25.0) / 0.01) for _, s in rates}
        self.sizes = [Dec(f"{self.rng.lognormvariate(-3, 1.5):.8f}") for _ in range(2048)]
        self.trade_ids = {key: 0 for key in rates}
        self.sequence = 0
        self.trade_id_of = {k: record_ids(k[0], k[1], "trade") for k in rates}
        self.book_id_of = {k: record_ids(k[0], k[1], "book") for k in rates}

    def _rare(self, rate: float) -> int:
        """Trades in one second of a market trading `rate` < 1 a second (Bernoulli)."""
        return 1 if self.rng.random() < rate else 0

    @staticmethod
    def price(tick: int) -> Dec:
        return Dec(f"{tick // 100}.{tick % 100:02d}")

    def step(self) -> None:
        for symbol in self.ticks:
            self.ticks[symbol] += round(self.rng.gauss(0, 8))

    def trades(self, key: tuple[str, str], now: int) -> list[Trade]:
        rate = self.rates[key]
        n = max(0, round(self.rng.gauss(rate, rate**0.5))) if rate >= 1 else self._rare(rate)
        out = []
        for _ in range(n):
            self.trade_ids[key] += 1
            tid = str(self.trade_ids[key])
            at = Millis(now + self.rng.randrange(1000))
            tick = self.ticks[key[1]] + self.rng.randrange(-3, 4)
            side = "buy" if self.rng.random() < 0.5 else "sell"
            out.append(
                Trade(
                    key[0],
                    key[1],
                    at,
                    Millis(at + 40),
                    tid,
                    self.price(tick),
                    self.rng.choice(self.sizes),
                    side,
                    self.trade_id_of[key](tid),
                )
            )
        return out

    def book(self, key: tuple[str, str], at: int) -> BookSnapshot:
        mid = self.ticks[key[1]] + self.rng.randrange(-2, 3)
        sizes = self.rng.choices(self.sizes, k=2 * DEPTH)
        bids = tuple((self.price(mid - 1 - i), sizes[i]) for i in range(DEPTH))
        asks = tuple((self.price(mid + 1 + i), sizes[DEPTH + i]) for i in range(DEPTH))
        self.sequence += 1
        return book_snapshot(
            key[0],
            key[1],
            Millis(at),
            Millis(at + 30),
            DEPTH,
            bids,
            asks,
            self.sequence,
            self.book_id_of[key](self.sequence),
        )

    def ticker(self, key: tuple[str, str], at: int) -> Ticker:
        tick = self.ticks[key[1]]
        last, bid, ask = self.price(tick), self.price(tick - 1), self.price(tick + 1)
        size = self.rng.choice(self.sizes)
        binance = key[0] == "binance"
        return Ticker(
            key[0],
            key[1],
            Millis(at),
            Millis(at + 30),
            last,
            bid,
            size,
            ask,
            size,
            last if binance else None,
            self.price(tick + 900),
            self.price(tick - 900),
            Dec("12345.67890000"),
            Dec("987654321.12") if binance else None,
            Dec("1.234"),
            1_234_567 if binance else None,
            record_ids(key[0], key[1], "ticker")(at),
        )

    def candle(self, key: tuple[str, str], open_ms: int, minutes: int) -> Candle:
        tick = self.ticks[key[1]]
        close = open_ms + minutes * 60_000 - 1
        return Candle(
            key[0],
            key[1],
            Millis(close + 200),
            Millis(close + 250),
            f"{minutes}m",
            Millis(open_ms),
            Millis(close),
            self.price(tick - 20),
            self.price(tick + 40),
            self.price(tick - 60),
            self.price(tick),
            self.rng.choice(self.sizes),
            None,
            None,
            True,
            "ws",
            record_ids(key[0], key[1], f"{minutes}m")(open_ms),
        )

    def spot(self, coin: str, currency: str, at: int) -> SpotPrice:
        value = Real(f"{self.rng.uniform(1, 90_000):.6f}")
        return SpotPrice(
            coin,
            currency,
            value,
            Real("1.7e12"),
            Real("4.5e10"),
            Real("-1.25"),
            Millis(at - 30_000),
            Millis(at),
            record_ids(coin, currency)(at),
        )

    def market(self, rank: int, at: int) -> Market:
        value = Real(f"{self.rng.uniform(0.01, 90_000):.6f}")
        coin = f"coin-{rank}"
        return Market(
            coin,
            f"c{rank}",
            f"Coin {rank}",
            "usd",
            rank,
            value,
            Real("1.7e12"),
            Real("1.8e12"),
            Real("4.5e10"),
            value,
            value,
            Real("-12.5"),
            Real("-1.25"),
            Real("19900000"),
            Real("21000000"),
            Real("21000000"),
            Millis(at - 30_000),
            Millis(at),
            record_ids(coin, "markets")(at),
        )


async def simulate(
    root: Path,
    seconds: int | Iterable[int],
    seed: int,
    rates: dict[tuple[str, str], float] = TRADE_RATES,
    lake_format: str = "json",
    every_minute: Callable[[], None] | None = None,
) -> int:
    """Writes `seconds` of the market into the lake at `root` (`lake_format`: json or iceberg;
    `every_minute` runs after each simulated minute's flush); returns the rows written. The
    markets past the default six carry trades and a ticker a second (Binance's `!ticker` and
    `!miniTicker` cover every market), not books or candles: books of the whole market would be
    ten times the rest of the lake, and are opt-in there too. `seconds` is a count from the
    start of the day, or the seconds of the day to simulate (tests take a few minutes of each
    hour: a day as dense as the deployment's, in less time)."""
    market = Walk(seed, rates)
    # compact_seconds=0: the caller compacts (`every_minute`) on simulated time, not the sink
    settings = LakeSettings(root=root, buffer_bytes=64 * 2**20, buffer_seconds=60,
                            format=lake_format, compact_seconds=0)  # fmt: skip
    sink = LakeSink(settings)
    await sink.start()
    rows = 0
    for second in range(seconds) if isinstance(seconds, int) else seconds:
        now = START + second * 1000
        await sink.flush_due(Millis(now))
        if every_minute is not None and second % 60 == 0 and second:
            every_minute()
        market.step()
        items: list[Item] = []
        for key in rates:
            items += market.trades(key, now)
            if key not in TRADE_RATES:
                items.append(market.ticker(key, now))
                continue
            step = 1000 // BOOKS_PER_SECOND[key[0]]
            items += [market.book(key, now + i * step) for i in range(BOOKS_PER_SECOND[key[0]])]
            step = 1000 // TICKERS_PER_SECOND[key[0]]
            items += [market.ticker(key, now + i * step) for i in range(TICKERS_PER_SECOND[key[0]])]
            minutes = CANDLE_MINUTES[key[0]]
            if second % (60 * minutes) == 0 and second:
                items.append(market.candle(key, now - minutes * 60_000, minutes))
        if second % POLL_SECONDS == 0:
            items += [market.spot(c, v, now) for c in COINS for v in CURRENCIES]
            items += [market.market(rank, now) for rank in range(1, 101)]
        for item in items:  # arrival: when the row reached Firehose (its received_at)
            sink.add(DATASET_OF_TYPE[type(item)], encode(item), Millis(now))
        rows += len(items)
    await sink.aclose()
    return rows


def redeliver(root: Path, share: float, seed: int) -> int:
    rng = random.Random(seed)
    objects = sorted((root / "crypto" / "tabular").rglob("*.gz"))
    again = [p for p in objects if rng.random() < share]
    for path in again:
        shutil.copyfile(path, path.with_name(f"{path.stem[:-36]}{uuid.uuid4()}.gz"))
    return len(again)


def files_of(root: Path, pattern: str) -> tuple[int, int]:
    paths = [p for p in root.glob(pattern) if p.is_file() and not p.name.startswith(".")]
    return len(paths), sum(p.stat().st_size for p in paths)


def rchar() -> int:
    with open("/proc/self/io") as handle:
        for line in handle:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return 0


def run_query(root: Path, text: str, runs: int = 5) -> tuple[list[tuple[object, ...]], int, float]:
    """(rows, bytes DuckDB read on the first run, median seconds)."""
    times, read, rows = [], 0, []
    for i in range(runs):
        with query.connect(root) as con:
            before, started = rchar(), time.perf_counter()
            rows = con.execute(text).fetchall()
            times.append(time.perf_counter() - started)
            if i == 0:
                read = rchar() - before
    return rows, read, statistics.median(times)


def athena_bytes(
    root: Path,
    dataset: str,
    columns: tuple[str, ...],
    where: dict[str, str | tuple[str, str]],
    compacted: bool,
) -> int:
    """Athena-style data scanned: the day's whole raw objects; or, of the day's Parquet, the
    column chunks of `columns` in the row groups whose min/max statistics admit `where` (a
    value, or an inclusive range of values)."""
    ds = DATASETS[dataset]
    if not compacted:
        return files_of(root, raw_day_prefix(ds, DAY.date()) + "hour=*/*.gz")[1]
    folder = root / compacted_day_prefix(ds, DAY.date())
    names = ", ".join(f"'{c}'" for c in columns)
    admits = " AND ".join(
        f"bool_or(col = '{c}' AND stats_min_value <= '{hi}' AND stats_max_value >= '{lo}')"
        for c, (lo, hi) in ((c, v if isinstance(v, tuple) else (v, v)) for c, v in where.items())
    )
    with duckdb.connect() as con:
        row = con.execute(
            f"""
            WITH chunks AS (
              SELECT file_name, row_group_id, total_compressed_size AS size,
                split_part(path_in_schema, ', ', 1) AS col, stats_min_value, stats_max_value
              FROM parquet_metadata('{folder}/*.parquet')),
            groups AS (
              SELECT file_name, row_group_id FROM chunks GROUP BY ALL HAVING {admits or "true"})
            SELECT sum(size) FROM chunks JOIN groups USING (file_name, row_group_id)
            WHERE col IN ({names})
            """
        ).fetchone()
    return int(row[0]) if row and row[0] else 0


def one_hour(where: dict[str, str], hour: int) -> dict[str, str | tuple[str, str]]:
    """`where` with "{hour}" replaced by that hour of the day, as a range of timestamps (the
    text form of Parquet's statistics)."""
    start = f"{DAY:%Y-%m-%d} {hour:02d}:00:00"
    span = (start, f"{DAY:%Y-%m-%d} {hour:02d}:59:59.999999")
    return {c: span if v == "{hour}" else v for c, v in where.items()}


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in pairs)

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def factor(before: int, after: int) -> str:
    return f"{before / max(after, 1):,.1f}x"


def mb(size: float) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 1e5 else f"{size / 1e3:,.1f} kB"


def compact_all(root: Path, runs: int) -> tuple[list[list[str]], list[list[str]], float]:
    """Compacts every dataset `runs` times; (size rows, time rows, total median seconds)."""
    compactor = LocalCompactor(root)
    sizes, times, total = [], [], 0.0
    for dataset in DATASETS.values():
        objects, raw = files_of(root, raw_day_prefix(dataset, DAY.date()) + "hour=*/*.gz")
        if not objects:  # an opt-in dataset the simulated deployment does not write
            continue
        seconds, manifest = [], None
        for run in range(runs):
            now = datetime.now(UTC)
            started = time.perf_counter()
            outcome = compactor.compact(
                dataset, DAY.date(), f"{now:%Y%m%dt%H%M%Sz}_{run:08x}", now.isoformat()
            )
            seconds.append(time.perf_counter() - started)
            manifest = outcome.manifest
        if manifest is None:  # every dataset with raw objects compacts to rows
            raise SystemExit(f"{dataset.name}: {objects} raw objects compacted to nothing")
        median = statistics.median(seconds)
        total += median
        parquet = manifest.compacted_bytes
        counts = [f"{objects:,}", mb(raw), f"{manifest.raw_rows:,}", f"{len(manifest.files)}"]
        ratio = f"{raw / max(parquet, 1):,.1f}x"
        sizes.append([dataset.name, *counts, mb(parquet), f"{manifest.rows:,}", ratio])
        times.append([dataset.name, f"{median:,.2f} s", f"{raw / median / 1e6:,.1f} MB/s"])
    return sizes, times, total


def same_answer(
    root: Path, before: list[tuple[object, ...]], after: list[tuple[object, ...]], ties: bool
) -> str:
    """ "yes" when the answers are equal; for a latest-price query without a tie-break (rows of
    exchange, symbol, price, at), "yes (ties)" when every price that differs is the price of
    another trade in that same last millisecond; else "NO"."""
    if before == after:
        return "yes"
    if not ties or len(before) != len(after):
        return "NO"
    tied = 0
    with query.connect(root) as con:
        for b, a in zip(before, after, strict=True):
            if b == a:
                continue
            if (b[0], b[1], b[3]) != (a[0], a[1], a[3]):
                return "NO"
            prices = {
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT price FROM crypto_trades WHERE exchange = ? AND symbol = ? "
                    "AND event_time = ?",
                    [b[0], b[1], b[3]],
                ).fetchall()
            }
            if not {b[2], a[2]} <= prices:
                return "NO"
            tied += 1
    return f"yes ({tied} ties)"


def check_rates() -> None:
    """The same market as `benchmarks/firehose.py` models (bar candles, per venue here)."""
    from firehose import BURSTS, RATES  # benchmarks/ is on sys.path when run as a script

    books = sum(BOOKS_PER_SECOND[venue] for venue, _ in TRADE_RATES)
    tickers = sum(TICKERS_PER_SECOND[venue] for venue, _ in TRADE_RATES)
    assert (sum(TRADE_RATES.values()), books, tickers) == (
        RATES["trades"],
        RATES["order_books"],
        RATES["tickers"],
    ), "the rates differ from benchmarks/firehose.py"
    polls = {"spot_prices": (len(COINS) * len(CURRENCIES), POLL_SECONDS)}
    polls["markets"] = (100, POLL_SECONDS)
    assert polls == BURSTS, "the CoinGecko polls differ from benchmarks/firehose.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours (24)")
    parser.add_argument("--runs", type=int, default=3, help="compaction runs per dataset")
    parser.add_argument("--duplicates", type=float, default=0.01, help="objects delivered twice")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--symbols",
        type=int,
        default=len(TRADE_RATES),
        help="markets (6, the default deployment; 500 for a whole-market day, see whole_market)",
    )
    parser.add_argument(
        "--lake", type=Path, default=None, help="keep the lake here; one already there is reused"
    )
    args = parser.parse_args()
    check_rates()
    root = args.lake or Path(tempfile.mkdtemp(prefix="compaction-bench-"))
    hour = min(int(args.hours) // 2, 23)  # the one-hour queries' hour: mid-way through the data
    texts = {
        name: text.format(y=f"{DAY:%Y}", m=f"{DAY:%m}", d=f"{DAY:%d}", h=f"{hour:02d}")
        for name, (_, _, text, _, _) in QUERIES.items()
    }
    wheres = {name: one_hour(q.where, hour) for name, q in QUERIES.items()}
    rates = whole_market(args.symbols)
    try:
        if args.lake is not None and (root / "crypto" / "tabular").is_dir():
            print(f"reusing the simulated lake at {root} (its compacted output removed)\n")
            for folder in ("compacted", "compaction"):
                shutil.rmtree(root / "crypto" / folder, ignore_errors=True)
        else:
            what = "the default deployment" if args.symbols <= len(TRADE_RATES) else (
                f"{len(rates)} markets ({sum(rates.values()):,.0f} trades/s)")  # fmt: skip
            print(f"simulating {args.hours:g} h of {what} into {root} ...")
            started = time.perf_counter()
            rows = asyncio.run(simulate(root, int(args.hours * 3600), args.seed, rates))
            generated = time.perf_counter() - started
            again = redeliver(root, args.duplicates, args.seed)
            print(f"  {rows:,} rows in {generated:,.0f} s; {again} objects delivered twice\n")

        before = {name: run_query(root, text) for name, text in texts.items()}
        scanned_before = {
            n: athena_bytes(root, q.dataset, q.columns, wheres[n], False)
            for n, q in QUERIES.items()
        }
        sizes, times, total = compact_all(root, args.runs)
        after = {name: run_query(root, text) for name, text in texts.items()}
        scanned_after = {
            n: athena_bytes(root, q.dataset, q.columns, wheres[n], True) for n, q in QUERIES.items()
        }

        print("The day's objects and bytes, before (raw gzip JSON) and after (Parquet, ZSTD):\n")
        heads = ["dataset", "raw objects", "raw bytes", "raw rows", "files", "parquet bytes"]
        print(table([*heads, "distinct rows", "smaller"], sizes))
        print(f"\nCompaction time (median of {args.runs} runs; each replaces the last):\n")
        print(table(["dataset", "time", "raw read"], times))
        print(f"  all datasets: {total:,.1f} s\n")
        answers = []
        for name in QUERIES:
            (rows_b, read_b, time_b), (rows_a, read_a, time_a) = before[name], after[name]
            same = same_answer(root, rows_b, rows_a, QUERIES[name].ties)
            athena_b, athena_a = scanned_before[name], scanned_after[name]
            read = [mb(read_b), mb(read_a), factor(read_b, read_a)]
            read += [mb(athena_b), mb(athena_a), factor(athena_b, athena_a)]
            answers.append(
                [name, *read, f"{time_b * 1000:,.0f} ms", f"{time_a * 1000:,.0f} ms", same]
            )
        print("Typical queries of the day, before and after compaction:\n")
        heads = ["query", "DuckDB read before", "after", "factor", "Athena-style before", "after"]
        heads.append("factor")
        print(table([*heads, "time before", "after", "same rows"], answers))
        return 0 if all(a[-1].startswith("yes") for a in answers) else 1
    finally:
        if args.lake is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
