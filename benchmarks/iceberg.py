"""Today's data, before any daily compaction: the Iceberg lake against the JSON lake.

    python benchmarks/iceberg.py [--hours 3] [--compact-minutes 5] [--seed 15]

The same simulated hours of the default deployment (`benchmarks/compaction.py`'s market,
rates and Firehose-like buffering: a flush a minute per dataset) are written twice by the real
`LakeSink`: as gzip JSON objects (`STREAMER_LAKE_FORMAT=json`), and as Iceberg tables
(`iceberg`), where every `--compact-minutes` simulated minutes the local Iceberg compaction runs
as the service runs it (`compaction/iceberg.py`: each day's small files into one sorted file,
snapshots expired, unreferenced files deleted). No daily compaction runs on either lake: this is
the near-real-time case, a query on the current day.

Queries: one symbol over the last simulated hour (1-minute bars from trades, and the spread
series from the top of its book), and `benchmarks/compaction.py`'s queries over the day so far.
Bytes read are DuckDB's read calls during the query (the growth of the process's `rchar` in
/proc/self/io around its first run); the Iceberg lake's views are made by `query.connect`,
which lists the current files through pyiceberg beforehand (its metadata reads are printed
apart). Query times are medians of 5; the answers of both lakes are compared.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from compaction import (  # benchmarks/ is on sys.path when run as a script
    DAY,
    QUERIES,
    check_rates,
    factor,
    files_of,
    mb,
    rchar,
    run_query,
    same_answer,
    simulate,
    table,
)
from streamer import query
from streamer.compaction.iceberg import RETAIN_SECONDS, maintain

LAST_HOUR = {
    "1-minute bars of BTC-USDT, last hour, from trades": """
        SELECT date_trunc('minute', event_time) AS minute,
          min_by(price, (event_time, record_id)) AS open, max(price) AS high,
          min(price) AS low, max_by(price, (event_time, record_id)) AS close,
          sum(size) AS volume, count(*) AS trades
        FROM crypto_trades
        WHERE exchange = 'binance' AND symbol = 'BTC-USDT'
          AND year = '{y}' AND month = '{m}' AND day = '{d}' AND hour = '{h}'
        GROUP BY 1 ORDER BY 1
        """,
    "spread of BTC-USDT's top of book, last hour": """
        SELECT event_time, record_id, asks[1].price - bids[1].price AS spread
        FROM crypto_order_books
        WHERE exchange = 'binance' AND symbol = 'BTC-USDT'
          AND year = '{y}' AND month = '{m}' AND day = '{d}' AND hour = '{h}'
        ORDER BY event_time, record_id
        """,
}


def compactor(root: Path) -> tuple[list[float], Callable[[], None]]:
    """A callback that compacts the Iceberg lake every call, and the seconds each took."""
    took: list[float] = []

    def run() -> None:
        started = time.perf_counter()
        # `now` past the retention: a single writer here, so nothing can be in flight
        maintain(root, now=time.time() + RETAIN_SECONDS + 1)
        took.append(time.perf_counter() - started)

    return took, run


def connect_read(root: Path) -> int:
    before = rchar()
    query.connect(root).close()
    return rchar() - before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=3.0, help="simulated hours of today (3)")
    parser.add_argument("--compact-minutes", type=int, default=5, help="Iceberg compaction (5)")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    check_rates()
    base = Path(tempfile.mkdtemp(prefix="iceberg-bench-"))
    json_lake, ice_lake = base / "json", base / "iceberg"
    seconds = int(args.hours * 3600)
    hour = max(int(args.hours) - 1, 0)  # the last full simulated hour
    fmt = {"y": f"{DAY:%Y}", "m": f"{DAY:%m}", "d": f"{DAY:%d}", "h": f"{hour:02d}"}
    texts = {name: text.format(**fmt) for name, text in LAST_HOUR.items()}
    texts |= {f"{name} (day so far)": q[2].format(**fmt) for name, q in QUERIES.items()}
    try:
        print(f"simulating {args.hours:g} h into a JSON lake and an Iceberg lake under {base} ...")
        started = time.perf_counter()
        rows = asyncio.run(simulate(json_lake, seconds, args.seed))
        json_seconds = time.perf_counter() - started
        took, run = compactor(ice_lake)
        minutes = 0

        def every_minute() -> None:
            nonlocal minutes
            minutes += 1
            if minutes % args.compact_minutes == 0:
                run()

        started = time.perf_counter()
        asyncio.run(
            simulate(ice_lake, seconds, args.seed, lake_format="iceberg", every_minute=every_minute)
        )
        run()
        ice_seconds = time.perf_counter() - started
        print(f"  {rows:,} rows each; written in {json_seconds:,.0f} s (json) and "
              f"{ice_seconds:,.0f} s (iceberg, {len(took)} compactions, "
              f"median {sorted(took)[len(took) // 2]:.2f} s)\n")  # fmt: skip
        objects, raw = files_of(json_lake, "crypto/tabular/*/year=*/month=*/day=*/hour=*/*.gz")
        parquet, pbytes = files_of(ice_lake, "iceberg/crypto/*/data/**/*.parquet")
        _, meta = files_of(ice_lake, "iceberg/crypto/*/metadata/*")
        print(table(["lake", "data files", "data bytes", "metadata bytes"], [
            ["json", f"{objects:,}", mb(raw), "-"],
            ["iceberg", f"{parquet:,}", mb(pbytes), mb(meta)],
        ]))  # fmt: skip
        ice_meta, json_meta = mb(connect_read(ice_lake)), mb(connect_read(json_lake))
        print(f"\nquery.connect: the Iceberg lake's views read {ice_meta} of metadata "
              f"(pyiceberg), the JSON lake's {json_meta}\n")  # fmt: skip
        results = []
        for name, text in texts.items():
            rows_j, read_j, time_j = run_query(json_lake, text)
            rows_i, read_i, time_i = run_query(ice_lake, text)
            ties = name.endswith(" (day so far)") and QUERIES[name[: -len(" (day so far)")]].ties
            same = same_answer(ice_lake, sorted(rows_j), sorted(rows_i), ties)
            times = [f"{time_j * 1000:,.0f} ms", f"{time_i * 1000:,.0f} ms"]
            results.append([name, mb(read_j), mb(read_i), factor(read_j, read_i), *times, same])
        heads = ["query", "DuckDB read json", "iceberg", "factor", "time json", "iceberg"]
        print(table([*heads, "same rows"], results))
        return 0 if all(r[-1].startswith("yes") for r in results) else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
