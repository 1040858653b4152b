"""The whole market: N Binance symbols x 4 streams (or, `--venue binance_usdm`, every USD-M
perpetual) from the bundled simulator, in one process or spread over shard processes.

The simulator runs in its own process (`streamer simulate --binance-markets N --rate R`, every
connection cut at `--cut` seconds so the whole feed reconnects at once). Each client resolves
`STREAMER_BINANCE_SYMBOLS=all` from its exchangeInfo, keeps its shard's part
(`STREAMER_SHARD=i/n`) and runs the Binance source, encoding every row as the pipeline does (no
sink). With `--shards 1` the client runs in this process; with `--shards n` it runs as n
processes at once, one per shard, against the same simulator. Printed per client: symbols,
connections, time until every symbol delivered, frames/s, CPU share, frames/s per core, peak
RSS; and the venue's `X-MBX-USED-WEIGHT-1M` (one IP: every shard's requests together) after
discovery and after the mass reconnect. A sharded run also checks that the shards together
cover the market exactly once.

`--venue binance_usdm`: the simulator generates `--markets` perpetuals
(`--binance-usdm-markets N`; two in fifty do not trade, so 510 give ~500 with the three named
ones) and the client runs `STREAMER_BINANCE_USDM_SYMBOLS=all` (every trading perpetual): per
symbol `<s>@aggTrade` (`/market`) and `<s>@depth@100ms` (`/public`, full books from REST
snapshots of weight 20, paced at 30 a minute), and the all-market `!markPrice@arr@1s` and
`!forceOrder@arr`. The used weight is read from `/fapi/v1/time` (weight 1). Printed besides:
the time until every symbol gave a row of each kind (mark prices, trades, books) and the REST
weight the client itself spent.

    python benchmarks/market.py [--venue binance] [--markets 1000] [--rate 2000] [--seconds 40]
                                [--cut 20] [--kline 1s] [--shards 1]
    python benchmarks/market.py --venue binance_usdm --markets 510 --rate 4000 --seconds 120
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

import httpx

from streamer.cli import run_loop
from streamer.discovery import resolve
from streamer.jsonline import ENCODERS
from streamer.records import Item
from streamer.service import build_sources
from streamer.settings import load
from streamer.sources.feed import Feed
from streamer.timefmt import now_millis
from throughput import start_simulator  # benchmarks/ is on the path when run as a script

RESULT = "RESULT "


@dataclass(frozen=True)
class Venue:
    source: str  # STREAMER_SOURCES
    prefix: str  # of its settings
    markets_flag: str  # `streamer simulate`'s
    time_path: str  # REST, weight 1: its answer carries the used weight
    streams: str  # what each symbol is subscribed to


VENUES = {
    "binance": Venue("binance", "STREAMER_BINANCE", "--binance-markets", "/api/v3/time",
                     "4 streams"),
    "binance_usdm": Venue("binance_usdm", "STREAMER_BINANCE_USDM", "--binance-usdm-markets",
                          "/fapi/v1/time", "aggTrade + depth@100ms (+ 2 all-market streams)"),
}  # fmt: skip
KINDS = {"DerivativeTicker": "mark prices", "Trade": "trades", "BookSnapshot": "books"}
"""Row types whose per-symbol coverage is timed (`--venue binance_usdm`)."""


async def used_weight(venue: Venue, rest_url: str) -> str:
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{rest_url}{venue.time_path}")
    return answer.headers.get("x-mbx-used-weight-1m", "?")


async def client(venue: Venue, env: dict[str, str], seconds: float) -> dict[str, Any]:
    """One client (one shard, or the whole market) for `seconds`: its figures."""
    env = env | {"STREAMER_SOURCES": venue.source, f"{venue.prefix}_SYMBOLS": "all"}
    settings = await resolve(load(env), clock=now_millis)
    weight = await used_weight(venue, env[f"{venue.prefix}_REST_URL"])
    [source] = build_sources(settings)
    assert isinstance(source, Feed)
    symbols = set(source.settings.symbols)  # this shard's part
    seen: set[str] = set()
    by_kind: dict[str, set[str]] = {kind: set() for kind in KINDS.values()}
    kind_after: dict[str, float] = {}
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
        if len(kind_after) < len(by_kind):
            for item in items:
                kind = KINDS.get(type(item).__name__)
                if kind is not None and kind not in kind_after:
                    by_kind[kind].add(item.symbol)  # type: ignore[attr-defined]
                    if symbols <= by_kind[kind]:
                        kind_after[kind] = time.perf_counter() - started

    cpu0 = time.process_time()
    task = asyncio.create_task(source.run(emit))
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - started
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    stats = source.stats
    return {
        "shard": str(settings.shard),
        "symbols": sorted(symbols),
        "connections": len(source.urls),  # type: ignore[attr-defined]
        "all_seen_after": all_seen_after,
        "seen": len(seen & symbols),
        "frames_per_s": stats.frames / wall,
        "cpu_share": cpu / wall,
        "per_core": stats.frames / max(cpu, 1e-9),
        "us_per_frame": cpu * 1e6 / max(stats.frames, 1),
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "connects": stats.connects,
        "stalls": stats.stalls,
        "backfilled": stats.backfilled,
        "weight_after_discovery": weight,
        "kinds": {k: [kind_after.get(k), len(v & symbols)] for k, v in by_kind.items() if v},
        "rest_weight": stats.extra.get("weight", 0),
        "rest_calls": stats.extra.get("calls", 0),
    }


def show(venue: Venue, result: dict[str, Any]) -> None:
    seen_after = result["all_seen_after"]
    print(f"  shard {result['shard']}: {len(result['symbols'])} symbols x {venue.streams} on"
          f" {result['connections']} connections; every symbol delivered after"
          f" {seen_after if seen_after is not None else float('nan'):.1f} s"
          f" ({result['seen']} of {len(result['symbols'])} by the end)")  # fmt: skip
    print(f"    {result['frames_per_s']:,.0f} frames/s, CPU {result['cpu_share']:.0%},"
          f" {result['per_core']:,.0f} frames/s per core, {result['us_per_frame']:.1f} CPU"
          f" µs/frame, peak RSS {result['rss_mib']:.0f} MiB, connects {result['connects']},"
          f" stalls {result['stalls']}, candles backfilled {result['backfilled']},"
          f" REST weight after its discovery {result['weight_after_discovery']}")  # fmt: skip
    for kind, (after, count) in result["kinds"].items():
        took = f"after {after:.1f} s" if after is not None else "not within the run"
        print(f"    every symbol's {kind}: {took} ({count} of {len(result['symbols'])})")
    if venue.source == "binance_usdm":
        print(f"    its own REST: {result['rest_calls']} calls, weight {result['rest_weight']}")


async def sharded(
    venue: Venue, env: dict[str, str], shards: int, seconds: float
) -> list[dict[str, Any]]:
    """n shard processes at once against the same simulator; their figures."""
    command = [sys.executable, __file__, "--as-client", "--seconds", str(seconds),
               "--venue", venue.source]  # fmt: skip
    procs = [
        await asyncio.create_subprocess_exec(
            *command,
            env={**os.environ, **env, "STREAMER_SHARD": f"{i}/{shards}"},
            stdout=asyncio.subprocess.PIPE,
        )
        for i in range(shards)
    ]
    results = []
    for proc in procs:
        out, _ = await proc.communicate()
        line = next(x for x in out.decode().splitlines() if x.startswith(RESULT))
        results.append(json.loads(line.removeprefix(RESULT)))
    return results


async def run_market(args: argparse.Namespace, log: IO[str]) -> tuple[list[dict[str, Any]], str]:
    """The simulator (its log to `log`) and the clients; their figures and the used weight."""
    venue = VENUES[args.venue]
    sim, env = start_simulator(
        [],
        venue.markets_flag,
        str(args.markets),
        "--faults",
        f"rotate_seconds={args.cut}",
        rate=args.rate,
        stderr=log,
    )
    env["STREAMER_BINANCE_KLINE_INTERVAL"] = args.kline
    try:
        if args.shards == 1:
            results = [await client(venue, env, args.seconds)]
        else:
            results = await sharded(venue, env, args.shards, args.seconds)
        return results, await used_weight(venue, env[f"{venue.prefix}_REST_URL"])
    finally:
        sim.terminate()
        sim.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venue", choices=list(VENUES), default="binance")
    parser.add_argument("--markets", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--cut", type=float, default=20)
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument(
        "--kline",
        default="1s",
        help="candle interval: at 1s every reconnect makes every symbol backfill its candles",
    )
    parser.add_argument("--as-client", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.as_client:  # one shard process of a sharded run; the settings are in its env
        env = {k: v for k, v in os.environ.items() if k.startswith("STREAMER_")}
        print(RESULT + json.dumps(await client(VENUES[args.venue], env, args.seconds)),
              flush=True)  # fmt: skip
        return
    with tempfile.TemporaryFile("w+") as log:
        results, weight = await run_market(args, log)
        log.seek(0)
        breaches = [line.strip() for line in log if "simulator.limit" in line]
    every = [s for r in results for s in r["symbols"]]
    cut = f"every connection cut at {args.cut:g} s" if args.cut else "no cut"
    candles = f", {args.kline} candles" if args.venue == "binance" else ""
    print(f"{args.venue} market: {len(set(every))} trading symbols, {args.shards} client"
          f" process(es), {args.rate:g} events/s, {cut}{candles}")  # fmt: skip
    for result in results:
        show(VENUES[args.venue], result)
    if args.shards > 1:
        total = sum(r["frames_per_s"] for r in results)
        print(f"  together: {total:,.0f} frames/s, CPU {sum(r['cpu_share'] for r in results):.0%}"
              f" of a core, symbols covered once: {len(every) == len(set(every))}")  # fmt: skip
    print(f"  X-MBX-USED-WEIGHT-1M at the end (the last minute's: discovery, snapshots,"
          f" backfills{', the mass reconnect' if args.cut else ''}): {weight}")  # fmt: skip
    print(f"  venue limits breached (the simulator's log): {len(breaches)}")
    for line in breaches[:10]:
        print(f"    {line}")


if __name__ == "__main__":
    run_loop(main())
