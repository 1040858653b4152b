"""What the Firehose sink costs and sustains.

1. Cost. Rows encoded by the real clients from the simulator give the row sizes per dataset.
   An hour of the default deployment (3 Binance + 3 Coinbase symbols, 3 CoinGecko coins) is
   then replayed through the real packer at the rates in `RATES`, flushing as the sink does.
   Printed: billed bytes / payload bytes (Firehose bills each record in 5 KiB steps) and
   PutRecordBatch calls per million rows, for several `linger` values, with the sink's
   policy (`take_due`: due rows plus the younger rows that fit in the billed units) and the
   plain one (everything at linger time) for comparison.
2. Speed. Real encoded rows through `FirehoseSink` to a null Firehose endpoint (the double in
   its own process, counting only), as fast as the sink takes them.
3. Outage. Rows at a steady rate while the endpoint refuses everything: the spool absorbs
   them; then the endpoint recovers and the spool drains. Printed: RSS and spool size over
   time, and the replay rate.
4. Kill -9 exposure under faults and outages.
5. Iceberg records (`STREAMER_LAKE_FORMAT=iceberg`): the encoding cost per row of
   `iceberg_records` against `jsonline` on the same sampled rows (median of `--repeats` runs in
   this process), their sizes, and the cost model of section 1 with one row per record and no
   5 KiB rounding (Iceberg destinations bill by the byte).

    python benchmarks/firehose.py [--hours 1] [--rows 400000] [--outage-seconds 20]
    python benchmarks/firehose.py --only-iceberg      # sections 1 and 5
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from streamer.iceberg_records import ICEBERG_MANY_ENCODERS
from streamer.jsonline import MANY_ENCODERS, ManyEncoder
from streamer.packing import (
    MAX_RECORD_BYTES,
    RecordPacker,
    RowPerRecordPacker,
    billed_bytes,
    take_batch,
)
from streamer.pipeline import run_pipeline
from streamer.records import Item, Millis
from streamer.schema import DATASETS, Dataset
from streamer.service import build_sources
from streamer.settings import FirehoseSettings, load
from streamer.simulator import Simulator, SimulatorConfig
from streamer.simulator.firehose import Faults, FirehoseDouble, serve_firehose
from streamer.sinks.firehose import FirehoseSink
from streamer.timefmt import now_millis

# Rows per second for the default deployment in an ordinary market (assumptions, not
# measurements): Binance depth20@100ms is 10 books/s per symbol, Coinbase top-20 snapshots
# 1/s; Binance tickers 1/s per symbol, Coinbase tickers a few per second; trades ~30/20/10 per
# second on Binance BTC/ETH/SOL and ~8/5/3 on Coinbase; one closed 1m candle per symbol and
# minute; CoinGecko (keyless, every 120 s) 9 prices and 100 markets in one burst per poll.
RATES = {"order_books": 33.0, "tickers": 12.0, "trades": 76.0, "ohlcv": 6 / 60}
BURSTS = {"spot_prices": (9, 120.0), "markets": (100, 120.0)}


class Recorder:
    """A sink that keeps encoded lines (for their sizes) and delivers nothing."""

    def __init__(self) -> None:
        self.lines: dict[str, list[bytes]] = collections.defaultdict(list)

    async def start(self) -> None:
        pass

    def add(self, dataset: Dataset, line: bytes, arrival: Millis) -> None:
        self.lines[dataset.name].append(line)

    def add_many(self, dataset: Dataset, lines: Sequence[bytes], arrival: Millis) -> None:
        self.lines[dataset.name] += lines

    def seconds_until_due(self, now: Millis) -> float | None:
        return None

    async def flush_due(self, now: Millis) -> None:
        pass

    async def room(self) -> None:
        pass

    def failing_since(self) -> Millis | None:
        return None

    async def aclose(self) -> None:
        pass

    def counters_snapshot(self) -> Mapping[str, int]:
        return {}


SAMPLED: dict[type, list[Item]] = collections.defaultdict(list)
"""The rows behind the sampled lines (section 5 encodes them both ways)."""


def _keeping(encode: ManyEncoder) -> ManyEncoder:
    def kept(rows: Iterable[Item], arrival: int) -> list[bytes]:
        rows = list(rows)
        if rows:
            SAMPLED[type(rows[0])] += rows
        return encode(rows, arrival)

    return kept


async def sample_rows(seconds: float) -> dict[str, list[bytes]]:
    config = SimulatorConfig(port=0, rate=200, seed=1)
    async with Simulator(config) as sim:
        env = {**sim.environment(), "STREAMER_BINANCE_KLINE_INTERVAL": "1s",
               "STREAMER_COINGECKO_POLL_SECONDS": "2"}  # fmt: skip
        sink = Recorder()
        stop = asyncio.Event()
        encoders = {kind: _keeping(encode) for kind, encode in MANY_ENCODERS.items()}
        task = asyncio.create_task(
            run_pipeline(build_sources(load(env)), sink, stop, clock=now_millis,
                         encoders=encoders)
        )  # fmt: skip
        await asyncio.sleep(seconds)
        stop.set()
        await task
    return dict(sink.lines)


def arrivals(hours: float, seed: int) -> list[tuple[int, str]]:
    """(ms, dataset) for every row of `hours` of the modelled deployment, in time order."""
    rng = random.Random(seed)
    end = int(hours * 3_600_000)
    events: list[tuple[int, str]] = []
    for name, rate in RATES.items():
        t = 0.0
        while True:
            t += rng.expovariate(rate) * 1000
            if t >= end:
                break
            events.append((int(t), name))
    for name, (rows, every) in BURSTS.items():
        start = int(rng.uniform(0, every * 1000))
        for t in range(start, end, int(every * 1000)):
            events.extend((t, name) for _ in range(rows))
    events.sort()
    return events


def cost(
    events: list[tuple[int, str]],
    sizes: Mapping[str, list[bytes]],
    linger_ms: int,
    fill_units: bool,
    seed: int,
    iceberg: bool = False,
) -> dict[str, Any]:
    """`iceberg`: one row per record, billed by the byte (an Iceberg destination)."""
    rng = random.Random(seed)
    packers = {name: RowPerRecordPacker() if iceberg else RecordPacker() for name in sizes}
    join = 0 if iceberg else MAX_RECORD_BYTES

    def bill(data: bytes) -> int:
        return len(data) if iceberg else billed_bytes(len(data))

    payload = billed = records = calls = 0
    by_dataset: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])

    def ship(name: str, taken: list[Any]) -> None:
        nonlocal payload, billed, records, calls
        queue = collections.deque(taken)
        while queue:
            batch = take_batch(queue, record_bytes=join)
            calls += 1
            for record in batch:
                records += 1
                payload += len(record.data)
                billed += bill(record.data)
                by_dataset[name][0] += len(record.data)
                by_dataset[name][1] += bill(record.data)

    def flush(now: int) -> None:
        for name, packer in packers.items():
            since = packer.open_since
            if packer.sealed or (since is not None and now - since >= linger_ms):
                cutoff = now - linger_ms
                ship(name, packer.take_due(cutoff) if fill_units else packer.take_all())

    tick = 50  # the pipeline flushes after every batch; a 50 ms grid is close to it
    next_tick = 0
    for t, name in events:
        while next_tick <= t:
            flush(next_tick)
            next_tick += tick
        packers[name].add(rng.choice(sizes[name]), t)
    for name, packer in packers.items():
        ship(name, packer.take_all())
    rows = len(events)
    return {
        "ratio": billed / payload,
        "calls_per_million": calls * 1e6 / rows,
        "rows_per_record": rows / records,
        "payload_per_hour_mb": payload / 1e6,
        "billed_per_hour_mb": billed / 1e6,
        "by_dataset": {n: b / p for n, (p, b) in sorted(by_dataset.items())},
    }


def encoding(repeats: int) -> dict[str, tuple[float, float, float, float]]:
    """Per dataset: ns per row of `jsonline` and of `iceberg_records` over the sampled rows
    (median of `repeats` runs, alternated), and their mean bytes per row."""
    out = {}
    for kind, rows in sorted(SAMPLED.items(), key=lambda kv: kv[0].__name__):
        json_many, ice_many = MANY_ENCODERS[kind], ICEBERG_MANY_ENCODERS[kind]
        if json_many is ice_many or len(rows) < 20:
            continue  # the rejects (JSON both ways), or too few rows to time
        rows = (rows * (20_000 // len(rows) + 1))[:20_000]
        arrival = now_millis()
        runs: dict[str, list[float]] = {"json": [], "iceberg": []}
        pair = [("json", json_many), ("iceberg", ice_many)]
        for n in range(repeats):
            for label, encode in pair if n % 2 else pair[::-1]:  # alternate which goes first
                t0 = time.perf_counter_ns()
                lines = encode(rows, arrival)
                runs[label].append((time.perf_counter_ns() - t0) / len(rows))
                runs[label + "_bytes"] = [sum(map(len, lines)) / len(lines)]
                del lines  # neither run pays for the other's output in memory
        name = next(d.name for d in DATASETS.values() if d.record_type is kind)
        out[name] = (
            statistics.median(runs["json"]),
            statistics.median(runs["iceberg"]),
            runs["json_bytes"][0],
            runs["iceberg_bytes"][0],
        )
    return out


def iceberg_section(
    events: list[tuple[int, str]], lines: Mapping[str, list[bytes]], hours: float, args: Any
) -> None:
    print(f"\n5. Iceberg records: encoding cost per row, median of {args.repeats} runs")
    print("   dataset        jsonline ns  iceberg ns  ratio  JSON B/row  Iceberg B/row")
    table = encoding(args.repeats)
    for name, (j, i, jb, ib) in table.items():
        print(f"   {name:14} {j:11.0f}  {i:10.0f}  {i / j:5.2f}  {jb:10.0f}  {ib:13.0f}")
    weights = {n: RATES.get(n, 0.0) + BURSTS.get(n, (0, 1.0))[0] / BURSTS.get(n, (0, 1.0))[1]
               for n in table}  # fmt: skip
    total = sum(weights.values())
    mean = [sum(weights[n] * v[k] for n, v in table.items()) / total for k in (0, 1)]
    print(f"   the deployment's mix: jsonline {mean[0]:.0f} ns/row, iceberg {mean[1]:.0f} ns/row")

    ice_lines = {}
    for kind, rows in SAMPLED.items():
        name = next((d.name for d in DATASETS.values() if d.record_type is kind), None)
        if name in lines:
            ice_lines[name] = ICEBERG_MANY_ENCODERS[kind](rows, now_millis())
    month = 730 / hours
    json_r = cost(events, lines, 2000, True, seed=2)
    print("   cost per month of the default deployment (730 h; 2 s linger)")
    print("   path      payload GB  billed GB  records/call  calls per 1M rows  $/GB    $/month")
    for label, r, price in (
        ("JSON/S3", json_r, args.json_price),
        ("Iceberg", cost(events, ice_lines, 2000, True, seed=2, iceberg=True), args.iceberg_price),
    ):
        payload, billed = (
            r["payload_per_hour_mb"] * month / 1e3,
            r["billed_per_hour_mb"] * month / 1e3,
        )
        per_call = 1e6 / r["calls_per_million"] * r["rows_per_record"] ** -1
        print(f"   {label:9} {payload:10.1f}  {billed:9.1f}  {per_call:12.1f}  "
              f"{r['calls_per_million']:17,.0f}  {price:5.3f}  {billed * price:8.2f}")  # fmt: skip


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib() -> float:
    return _status_mib("VmRSS")


def peak_rss_mib() -> float:
    return _status_mib("VmHWM")


def aws_env(url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }


def mixed(lines: Mapping[str, list[bytes]], count: int) -> list[tuple[Dataset, bytes]]:
    rng = random.Random(3)
    weights = {name: RATES.get(name, 1.0) for name in lines}
    names = list(lines)
    picks = rng.choices(names, [weights[n] for n in names], k=count)
    return [(DATASETS[n], rng.choice(lines[n])) for n in picks]


async def speed(rows: list[tuple[Dataset, bytes]], settings: FirehoseSettings) -> None:
    command = [sys.executable, "-m", "streamer.simulator.firehose", "--port", "0"]
    endpoint = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    try:
        assert endpoint.stdout is not None
        url = (await endpoint.stdout.readline()).decode().strip()
        os.environ.update(aws_env(url))
        sink = FirehoseSink(settings)
        await sink.start()
        payload = sum(len(line) for _, line in rows)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for i in range(0, len(rows), 500):  # the pipeline hands rows over in batches
            now = now_millis()
            for dataset, line in rows[i : i + 500]:
                sink.add(dataset, line, now)
            await sink.flush_due(now_millis())
            await asyncio.sleep(0)
        await sink.aclose()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        stats = sink.counters_snapshot()
        assert stats["RowsDelivered"] == len(rows), stats
        print(
            f"  {len(rows):,} rows ({payload / 1e6:.0f} MB) in {wall:.2f} s: "
            f"{len(rows) / wall:,.0f} rows/s, {payload / wall / 1e6:.0f} MB/s, "
            f"{cpu * 1e6 / len(rows):.2f} CPU µs/row (sink process), "
            f"{stats['PutCalls']} calls, {stats['RecordsDelivered']} records"
        )
    finally:
        endpoint.terminate()
        await endpoint.wait()


async def outage(
    rows: list[tuple[Dataset, bytes]], seconds: float, rate: float, settings: FirehoseSettings
) -> None:
    double = FirehoseDouble(keep=False)
    with serve_firehose(double) as url:
        os.environ.update(aws_env(url))
        double.outage(3600)
        sink = FirehoseSink(settings)
        await sink.start()
        base = rss_mib()
        start = time.perf_counter()
        sent = 0
        print(f"  RSS before: {base:.0f} MiB; feeding {rate:,.0f} rows/s for {seconds:g} s")
        next_report = start + seconds / 4
        while (elapsed := time.perf_counter() - start) < seconds:
            due = int(elapsed * rate)
            now = now_millis()
            while sent < due:
                dataset, line = rows[sent % len(rows)]
                sink.add(dataset, line, now)
                sent += 1
            await sink.flush_due(now_millis())
            if time.perf_counter() >= next_report:
                stats = sink.counters_snapshot()
                print(
                    f"  t={elapsed:4.1f}s rows={sent:,} spooled={stats['RowsSpooled']:,} "
                    f"spool={stats['SpoolBytes'] / 2**20:.0f} MiB "
                    f"buffered={stats['BufferedBytes'] / 2**20:.1f} MiB RSS={rss_mib():.0f} MiB"
                )
                next_report += seconds / 4
            await asyncio.sleep(0.01)
        stats = sink.counters_snapshot()
        print(
            f"  outage end: {sent:,} rows, {stats['RowsSpooled']:,} spooled, "
            f"spool {stats['SpoolBytes'] / 2**20:.0f} MiB, RSS {rss_mib():.0f} MiB "
            f"(+{rss_mib() - base:.0f}), dropped {stats['RowsDropped']}"
        )
        double.end_outage()
        replay0 = time.perf_counter()
        while sink.counters_snapshot()["SpoolBytes"] > 0:
            await sink.flush_due(now_millis())
            await asyncio.sleep(0.05)
        took = time.perf_counter() - replay0
        stats = sink.counters_snapshot()
        print(
            f"  recovered: spool drained in {took:.1f} s "
            f"({stats['RowsReplayed'] / took:,.0f} rows/s replayed), "
            f"RSS {rss_mib():.0f} MiB, peak RSS {peak_rss_mib():.0f} MiB"
        )
        await sink.aclose()


async def exposure(
    rows: list[tuple[Dataset, bytes]],
    seconds: float,
    rate: float,
    settings: FirehoseSettings,
    down: bool,
) -> dict[str, float]:
    """Rows a kill -9 would lose over time (taken in, neither delivered nor on disk), while
    Firehose throttles, fails records in part and answers 503s now and then, or (`down`)
    refuses every call."""
    double = FirehoseDouble(keep=False)
    with serve_firehose(double) as url:
        os.environ.update(aws_env(url))
        if down:
            double.outage(3600)
        else:
            double.set_faults(Faults(partial=0.1, throttle=0.2, unavailable=0.05, seed=4))
        sink = FirehoseSink(settings)
        await sink.start()
        start, sent, samples = time.perf_counter(), 0, []
        while (elapsed := time.perf_counter() - start) < seconds:
            now = now_millis()
            while sent < int(elapsed * rate):
                dataset, line = rows[sent % len(rows)]
                sink.add(dataset, line, now)
                sent += 1
            await sink.flush_due(now_millis())
            c = sink.counters_snapshot()
            safe = c["RowsDelivered"] - c["RowsReplayed"] + c["RowsSpooled"] + c["RowsDropped"]
            samples.append(c["RowsIn"] - safe)
            await asyncio.sleep(0.01)
        await sink.aclose()
        c = sink.counters_snapshot()
    samples.sort()
    return {
        "median": samples[len(samples) // 2],
        "p99": samples[int(0.99 * (len(samples) - 1))],
        "max": samples[-1],
        "spooled_pct": 100 * c["RowsSpooled"] / max(1, c["RowsIn"]),
        "sent": sent,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=1.0, help="modelled time for the cost")
    parser.add_argument("--rows", type=int, default=400_000, help="rows for the speed run")
    parser.add_argument("--outage-seconds", type=float, default=20.0)
    parser.add_argument("--outage-rate", type=float, default=20_000.0, help="rows/s")
    parser.add_argument("--fault-seconds", type=float, default=20.0)
    parser.add_argument("--fault-rate", type=float, default=2_000.0, help="rows/s")
    parser.add_argument("--only-exposure", action="store_true", help="run section 4 alone")
    parser.add_argument("--only-iceberg", action="store_true", help="run sections 1 and 5")
    parser.add_argument("--repeats", type=int, default=7, help="encoding runs (section 5)")
    parser.add_argument("--json-price", type=float, default=0.029, help="$/GB, S3 destination")
    parser.add_argument("--iceberg-price", type=float, default=0.075,
                        help="$/GB, Iceberg destination (docs/iceberg.md)")  # fmt: skip
    args = parser.parse_args()

    tuning = {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}
    version = sys.version.split()[0]
    print(f"python {version}, {os.cpu_count()} cores, malloc tuning: {tuning or 'none'}")
    print("sampling encoded rows from the simulator (8 s) ...")
    lines = await sample_rows(8.0)
    print(
        "  mean row bytes: "
        + ", ".join(f"{n}={sum(map(len, v)) / len(v):.0f}" for n, v in sorted(lines.items()))
    )
    missing = set(RATES) | set(BURSTS)
    missing -= set(lines)
    if missing:
        raise SystemExit(f"no sample rows for {missing}")

    events = [] if args.only_exposure else arrivals(args.hours, seed=1)
    print(f"\n1. cost: {len(events):,} rows in {args.hours:g} h of the default deployment")
    print("   linger  policy      billed/payload  calls per 1M rows  rows/record  MB/h")
    for linger in () if args.only_exposure else (1.0, 2.0, 5.0, 15.0):
        for fill in (True, False):
            r = cost(events, lines, int(linger * 1000), fill, seed=2)
            policy = "take_due" if fill else "plain"
            print(
                f"   {linger:5g}s  {policy:10}  {r['ratio']:14.4f}  {r['calls_per_million']:17,.0f}"
                f"  {r['rows_per_record']:11.1f}  {r['payload_per_hour_mb']:5.1f}"
            )
            if fill and linger == 1.0:
                parts = ", ".join(f"{n} {v:.3f}" for n, v in r["by_dataset"].items())
                print(f"                      by dataset: {parts}")

    if not args.only_exposure:
        iceberg_section(events, lines, args.hours, args)
    if args.only_iceberg:
        return
    spool = Path(tempfile.mkdtemp(prefix="streamer-spool-"))
    try:
        settings = replace(
            load({}).firehose, linger=1.0, spool_dir=spool, retry_seconds=1.0, backoff_cap=1.0
        )
        rows = mixed(lines, args.rows)
        if not args.only_exposure:
            print("\n2. speed: the sink alone, to a null endpoint in another process")
            await speed(rows, settings)
            print("\n3. outage: the spool absorbs, then drains")
            await outage(rows, args.outage_seconds, args.outage_rate, settings)
        print(
            f"\n4. kill -9 exposure: rows taken in but neither delivered nor spooled, sampled "
            f"every 10 ms for {args.fault_seconds:g} s at {args.fault_rate:,.0f} rows/s while "
            "Firehose throttles 20 % of calls, fails 10 % of records and answers 5 % with 503"
        )
        print("   Firehose   retry_seconds  median     p99     max  spooled")
        for down in (False, True):
            for retry in (10.0, 2.0, 0.0):
                tuned = replace(settings, retry_seconds=retry, backoff_cap=5.0)
                r = await exposure(rows, args.fault_seconds, args.fault_rate, tuned, down)
                kind = "down" if down else "faults"
                print(f"   {kind:8} {retry:15g}  {r['median']:6,.0f}  {r['p99']:6,.0f}"
                      f"  {r['max']:6,.0f}  {r['spooled_pct']:5.1f} %")  # fmt: skip
    finally:
        shutil.rmtree(spool, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
