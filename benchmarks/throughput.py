"""End-to-end throughput: simulator at full speed -> real clients -> pipeline -> sink.

The simulator runs in its own process (`streamer simulate --rate 0`), so the figures below are
the client's alone: frames per second, client CPU microseconds per frame (all threads of this
process, from `time.process_time`) and peak RSS. Each sink is measured in turn: the null sink
(decode + normalize + encode) and the local lake (plus gzip and file writes); then the lake
without and with completeness (the `quality` rows, Progress markers and checkpoints `streamer
run` adds: `resume.prepare`), alternated `--rounds` times, medians compared.

    python benchmarks/throughput.py [--seconds 20] [--symbols 4]

"Per core" throughput is 1e6 / (CPU µs per frame): what one fully busy core sustains.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

from streamer.cli import run_loop
from streamer.pipeline import run_pipeline
from streamer.resume import prepare
from streamer.service import build_sources
from streamer.settings import load
from streamer.sinks.base import Sink
from streamer.sinks.lake import LakeSink
from streamer.sinks.null import NullSink
from streamer.timefmt import now_millis

BASES = ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "AVAX", "LINK")


def start_simulator(
    symbols: list[str], *options: str, rate: float = 0, stderr: IO[str] | None = None
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """`streamer simulate` in its own process, and the STREAMER_* settings it prints (its log
    goes to `stderr`, this process's own by default)."""
    command = [sys.executable, "-m", "streamer.cli", "simulate", "--port", "0", "--rate", str(rate)]
    if symbols:
        command += ["--symbols", *symbols]
    proc = subprocess.Popen(
        [*command, *options], stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1
    )
    env: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").strip().partition("=")
            env[key] = value
        if "STREAMER_COINGECKO_COINS" in env:
            break
    return proc, env


async def measure(
    env: dict[str, str], sink: Sink, seconds: float, lake: Path | None = None
) -> dict[str, float]:
    """`lake`: with completeness, its checkpoints kept there (as `streamer run` does)."""
    extra = {"STREAMER_SINK": "lake", "STREAMER_LAKE_DIR": str(lake)} if lake else {}
    settings = load({**env, "STREAMER_SOURCES": "binance,coinbase", **extra})
    sources = build_sources(settings)
    completeness = await prepare(settings, sources, now_millis) if lake else None
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_pipeline(sources, sink, stop, clock=now_millis, completeness=completeness)
    )
    await asyncio.sleep(2.0)  # warm-up: connections, snapshots
    frames0 = sum(s.stats.frames for s in sources)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    frames = sum(s.stats.frames for s in sources) - frames0
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    stop.set()
    stats = await task
    return {
        "frames": frames,
        "frames_per_s": frames / wall,
        "cpu_us_per_frame": cpu * 1e6 / max(frames, 1),
        "per_core": frames / max(cpu, 1e-9),
        "cpu_share": cpu / wall,
        "rows": stats.total(),
        "rejects": stats.rows.get("rejects", 0),
    }


def report(name: str, r: dict[str, float]) -> None:
    print(
        f"{name:>5}: {r['frames_per_s']:>9,.0f} frames/s  {r['cpu_us_per_frame']:6.1f} CPU µs/frame"
        f"  => {r['per_core']:>9,.0f} frames/s per core  (client CPU {r['cpu_share']:.0%},"
        f" {r['frames']:,.0f} frames, {r['rows']:,.0f} rows, {r['rejects']:,.0f} rejects)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--symbols", type=int, default=4, help="bases per exchange")
    parser.add_argument("--rounds", type=int, default=3, help="lake without/with completeness")
    args = parser.parse_args()
    bases = BASES[: args.symbols]
    symbols = [f"{b}-USDT" for b in bases] + [f"{b}-USD" for b in bases]
    proc, env = start_simulator(symbols)
    env["STREAMER_BINANCE_SYMBOLS"] = ",".join(f"{b}-USDT" for b in bases)
    env["STREAMER_COINBASE_SYMBOLS"] = ",".join(f"{b}-USD" for b in bases)
    lake = Path(tempfile.mkdtemp(prefix="streamer-bench-"))
    try:
        print(f"mixed stream: Binance + Coinbase, {len(bases)} symbols each, {args.seconds:g} s")
        report("null", await measure(env, NullSink(), args.seconds))
        settings = load({"STREAMER_LAKE_DIR": str(lake), "STREAMER_LAKE_BUFFER_SECONDS": "5"})
        report("lake", await measure(env, LakeSink(settings.lake), args.seconds))
        size = sum(p.stat().st_size for p in lake.rglob("*.gz"))
        print(f"lake: {size / 1e6:.1f} MB gzip in {len(list(lake.rglob('*.gz')))} objects")
        plain: list[float] = []
        complete: list[float] = []
        for n in range(args.rounds):
            r = await measure(env, LakeSink(settings.lake), args.seconds)
            report("lake", r)
            plain.append(r["cpu_us_per_frame"])
            # a fresh state folder: no checkpoint to resume from, so no backfill in the figure
            r = await measure(env, LakeSink(settings.lake), args.seconds, lake / f"state-{n}")
            report("+qual", r)
            complete.append(r["cpu_us_per_frame"])
        a, b = statistics.median(plain), statistics.median(complete)
        print(
            f"completeness: {a:.1f} -> {b:.1f} CPU µs/frame (median of {args.rounds}), {b / a:.2f}x"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS (client process): {peak:.0f} MiB; cores: {os.cpu_count()}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(lake, ignore_errors=True)


if __name__ == "__main__":
    run_loop(main())  # the event loop `streamer run` uses (uvloop where installed)
