"""The whole market in one process: N Binance symbols x 4 streams from the bundled simulator.

The simulator runs in its own process (`streamer simulate --binance-markets N --rate R`, every
connection cut at `--cut` seconds so the whole feed reconnects at once); the client resolves
`STREAMER_BINANCE_SYMBOLS=all` from its exchangeInfo and runs the Binance source in this
process, encoding every row as the pipeline does (no sink). Printed: connections, time until
every symbol delivered, frames/s, CPU share, frames/s per core, peak RSS, and the venue's
`X-MBX-USED-WEIGHT-1M` after discovery and after the mass reconnect.

    python benchmarks/market.py [--markets 1000] [--rate 2000] [--seconds 40] [--cut 20]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from collections.abc import Sequence

import httpx

from streamer.cli import run_loop
from streamer.discovery import resolve
from streamer.jsonline import ENCODERS
from streamer.records import Item
from streamer.service import build_sources
from streamer.settings import load
from streamer.timefmt import now_millis
from throughput import start_simulator  # benchmarks/ is on the path when run as a script


async def used_weight(rest_url: str) -> str:
    async with httpx.AsyncClient() as client:  # /api/v3/time weighs 1
        answer = await client.get(f"{rest_url}/api/v3/time")
    return answer.headers.get("x-mbx-used-weight-1m", "?")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markets", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--cut", type=float, default=20)
    args = parser.parse_args()
    sim, env = start_simulator(
        [],
        "--binance-markets",
        str(args.markets),
        "--faults",
        f"rotate_seconds={args.cut}",
        rate=args.rate,
    )
    try:
        env |= {"STREAMER_SOURCES": "binance", "STREAMER_BINANCE_SYMBOLS": "all"}
        settings = await resolve(load(env), clock=now_millis)
        weight_after_discovery = await used_weight(env["STREAMER_BINANCE_REST_URL"])
        [source] = build_sources(settings)
        symbols = set(settings.binance.symbols)
        seen: set[str] = set()
        started = time.perf_counter()
        all_seen_after: float | None = None

        async def emit(items: Sequence[Item]) -> None:
            nonlocal all_seen_after
            for item in items:
                ENCODERS[type(item)](item)
            if all_seen_after is None:
                seen.update(getattr(i, "symbol", "") for i in items)
                if symbols <= seen:
                    all_seen_after = time.perf_counter() - started

        cpu0 = time.process_time()
        task = asyncio.create_task(source.run(emit))
        await asyncio.sleep(args.seconds)
        weight_after_cut = await used_weight(env["STREAMER_BINANCE_REST_URL"])
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - started
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        frames = source.stats.frames
    finally:
        sim.terminate()
        sim.wait()
    print(f"market: {len(symbols)} trading symbols x 4 streams on {len(source.urls)} connections")
    print(f"  every symbol delivered after {all_seen_after or float('nan'):.1f} s"
          f" ({len(seen & symbols)} of {len(symbols)} by the end)")  # fmt: skip
    print(f"  {frames / wall:,.0f} frames/s, client CPU {cpu / wall:.0%},"
          f" {frames / max(cpu, 1e-9):,.0f} frames/s per core,"
          f" {cpu * 1e6 / max(frames, 1):.1f} CPU µs/frame")  # fmt: skip
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB,"
          f" connects {source.stats.connects}, stalls {source.stats.stalls},"
          f" candles backfilled {source.stats.backfilled}")  # fmt: skip
    print(f"  X-MBX-USED-WEIGHT-1M after discovery {weight_after_discovery},"
          f" at the end (after the cut at {args.cut:g} s) {weight_after_cut}")  # fmt: skip


if __name__ == "__main__":
    run_loop(main())
