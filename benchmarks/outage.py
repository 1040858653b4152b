"""Trades through network outages: how many trade ids the lake misses, and what filling them
cost. The scenario of issue 14: the simulator behind a TCP proxy (`OutageProxy`) that cuts
every connection every 11 s and freezes all traffic for 20 s every 35 s, for 100 s.

`streamer run` runs as its own process (this checkout, or `--baseline DIR`: another checkout's
`src/`, for before/after), with the lake on a temporary directory and both venues' full books
on. After `--seconds` the outages stop; the service gets until every symbol's trade ids are
complete in the lake (or `--settle` seconds at most) to catch up, then SIGTERM. Printed per
venue: trade ids missing between each symbol's first and last in the lake, and from the
service's last `feed.stats` line: connections, trades backfilled, REST calls and weight, ids
REST could not serve, and the time from a drop to the next frame (p50/p99).

    python benchmarks/outage.py [--seconds 100] [--settle 30] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
import tempfile
from pathlib import Path

from streamer import query
from streamer.simulator import Simulator, SimulatorConfig
from streamer.simulator.proxy import OutagePlan, OutageProxy

SYMBOLS = {"binance": ("BTC-USDT", "ETH-USDT"), "coinbase": ("BTC-USD", "ETH-USD")}
STATS = re.compile(r"feed\.stats source=(\w+) (.*)")


async def drain(stream: asyncio.StreamReader, lines: list[str]) -> None:
    while line := await stream.readline():
        lines.append(line.decode())


def complete(lake: Path, past: dict[tuple[str, str], int]) -> bool:
    """Every symbol has a trade made after `past` in the lake and none missing before it."""
    if not any(lake.rglob("*.gz")):
        return False
    _, found = query.run(lake, "SELECT exchange, symbol, min(CAST(trade_id AS BIGINT)), "
                               "max(CAST(trade_id AS BIGINT)), count(DISTINCT trade_id) "
                               "FROM crypto_trades GROUP BY ALL")  # fmt: skip
    done = {(e, s) for e, s, lo, hi, n in found if hi > past[(e, s)] and n == hi - lo + 1}
    return done == set(past)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=100.0)
    parser.add_argument("--settle", type=float, default=120.0, help="at most, after the calm")
    parser.add_argument("--cut-every", type=float, default=11.0)
    parser.add_argument("--freeze-every", type=float, default=35.0)
    parser.add_argument("--freeze-seconds", type=float, default=20.0)
    parser.add_argument("--baseline", type=Path, help="a checkout whose src/ runs the service")
    parser.add_argument("--log", type=Path, help="write the service's log here")
    args = parser.parse_args()
    plan = OutagePlan(args.cut_every, args.freeze_every, args.freeze_seconds)
    config = SimulatorConfig(
        port=0,
        rate=300,
        seed=14,
        symbols={"binance": SYMBOLS["binance"], "coinbase": SYMBOLS["coinbase"], "coingecko": ()},
    )
    logs: list[str] = []
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory(prefix="streamer-outage-") as tmp:
        lake = Path(tmp)
        async with Simulator(config) as sim, OutageProxy(sim.port, plan) as proxy:
            env = {**os.environ, **proxy.environment(sim.environment()),
                   "STREAMER_SOURCES": "binance,coinbase", "STREAMER_LAKE_DIR": str(lake),
                   "STREAMER_LAKE_BUFFER_SECONDS": "2", "STREAMER_STALE_SECONDS": "5",
                   "STREAMER_BINANCE_BOOK_UPDATES": "true",
                   "STREAMER_COINBASE_BOOK_UPDATES": "true",
                   "STREAMER_STATS_INTERVAL": "5"}  # fmt: skip
            if args.baseline is not None:
                env["PYTHONPATH"] = str(args.baseline.resolve() / "src")
            run = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "streamer.cli", "run", env=env,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert run.stderr is not None
            reading = asyncio.create_task(drain(run.stderr, logs))
            await asyncio.sleep(args.seconds)
            proxy.calm()
            calm_at = loop.time()
            past = {key: max(map(int, made)) for key, made in sim.sent_trades.items()}
            while loop.time() - calm_at < args.settle and run.returncode is None:
                if complete(lake, past):
                    break
                await asyncio.sleep(1.0)
            settled = loop.time() - calm_at
            if run.returncode is None:
                run.send_signal(signal.SIGTERM)
            else:
                print(f"the service had exited by itself (code {run.returncode})")
            code = await run.wait()
            await reading
            cuts, freezes = proxy.cuts, proxy.freezes
        if args.log is not None:
            args.log.write_text("".join(logs))
        _, found = query.run(lake, "SELECT exchange, symbol, min(CAST(trade_id AS BIGINT)), "
                                   "max(CAST(trade_id AS BIGINT)), count(DISTINCT trade_id) "
                                   "FROM crypto_trades GROUP BY ALL ORDER BY ALL")  # fmt: skip
    who = f"baseline {args.baseline}" if args.baseline else "this checkout"
    print(f"{who}: {args.seconds:g} s, cut every {args.cut_every:g} s ({cuts} connections cut), "
          f"{freezes} freezes of {args.freeze_seconds:g} s; lake checked {settled:.0f} s after the "
          f"calm; "
          f"exit code {code}")  # fmt: skip
    missing_all = total = 0
    for exchange, symbol, first, last, distinct in found:
        span = last - first + 1
        missing_all += span - distinct
        total += span
        print(f"  {exchange} {symbol}: ids {first}..{last}: {span - distinct:,} of {span:,} "
              f"missing")  # fmt: skip
    print(f"  all: {missing_all:,} of {total:,} trade ids missing ({missing_all / total:.1%})")
    final = {m.group(1): m.group(2) for m in map(STATS.search, logs) if m}
    for source, fields in final.items():
        print(f"  {source}: {fields.strip()}")


if __name__ == "__main__":
    asyncio.run(main())
