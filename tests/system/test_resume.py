"""Restarts leave no hole: `streamer run` killed with `kill -9`, the venues trading on, then
started again, has every trade id from the first to the last, for every venue whose history
is addressed by trade id (and Coinbase, whose history is addressed by time).

The simulator runs in this process with `keep_trading` (its markets trade whether or not a
client listens); `streamer run` is a real child process writing a local lake. The wait for
"the venue trading on for 20 s" is a wait on the simulator's clock, not a sleep.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Mapping
from pathlib import Path

import pytest

from streamer.simulator import Simulator, SimulatorConfig
from tests.sinks.test_firehose_crash import Child
from tests.system.test_disk_faults import messages, read_lake

pytestmark = pytest.mark.slow

SYMBOLS: dict[str, tuple[str, ...]] = {
    "binance": ("BTC-USDT", "ETH-USDT"),
    "binance_usdm": ("BTC-USDT-PERP",),
    "coinbase": ("BTC-USD",),
    "okx": ("BTC-USDT",),
    "kraken": ("BTC-USD",),
}
DOWN_MS = 20_000


def run_env(sim: Simulator, lake: Path, venues: Mapping[str, tuple[str, ...]], **extra: str
            ) -> dict[str, str]:  # fmt: skip
    return {
        **sim.environment(),
        "STREAMER_SOURCES": ",".join(venues),
        "STREAMER_SINK": "lake",
        "STREAMER_LAKE_DIR": str(lake),
        "STREAMER_LAKE_BUFFER_SECONDS": "1",
        "STREAMER_CHECKPOINT_SECONDS": "0.5",
        "STREAMER_STATS_INTERVAL": "1",
        "STREAMER_LOG_FORMAT": "json",
        "STREAMER_SHUTDOWN_SECONDS": "10",
        "STREAMER_DRAIN_SECONDS": "30",
        **extra,
    }


def checkpoint(lake: Path, exchange: str, symbol: str) -> dict[str, int | None] | None:
    path = lake / ".state" / "checkpoints" / exchange / f"{symbol}.json"
    try:
        loaded: dict[str, int | None] = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    return loaded


def trade_position(lake: Path, exchange: str, symbol: str) -> int:
    saved = checkpoint(lake, exchange, symbol)
    position = None if saved is None else saved.get("trade_id")
    return -1 if position is None else position


def next_ids(sim: Simulator, venues: Mapping[str, tuple[str, ...]]) -> dict[tuple[str, str], int]:
    """The id each market's next trade will get."""
    return {(v, s): sim.venues[v].markets[s].next_trade_id  # type: ignore[attr-defined]
            for v, symbols in venues.items() for s in symbols}  # fmt: skip


async def until_checkpointed(
    children: list[Child], lake: Path, ids: Mapping[tuple[str, str], int], seconds: float
) -> None:
    """Wait until every symbol's checkpoint reaches `ids` (each id before it is in the lake)."""
    try:
        async with asyncio.timeout(seconds):
            while any(trade_position(lake, v, s) < i for (v, s), i in ids.items()):
                for child in children:
                    assert child.process.returncode is None, "".join(child.lines[-30:])
                await asyncio.sleep(0.1)
    except TimeoutError:
        behind = {k: (trade_position(lake, *k), i) for k, i in ids.items()
                  if trade_position(lake, *k) < i}  # fmt: skip
        log = "".join(line for c in children for line in c.lines[-15:])
        raise AssertionError(f"checkpoints behind (at, wanted): {behind}\n{log}") from None


async def kill(child: Child) -> None:
    child.process.send_signal(signal.SIGKILL)
    assert await child.finish(30) == -signal.SIGKILL


async def stop(child: Child) -> None:
    child.process.send_signal(signal.SIGTERM)
    assert await child.finish(90) == 0, "".join(child.lines[-30:])


async def trade_on(sim: Simulator, ms: int) -> None:
    """Let the markets trade `ms` more milliseconds of the simulator's clock (no client)."""
    until = sim.clock() + ms
    async with asyncio.timeout(ms / 1000 * 3 + 30):
        while sim.clock() < until:
            await asyncio.sleep(0.1)


def trade_ids(lake: Path) -> dict[tuple[str, str], set[int]]:
    ids: dict[tuple[str, str], set[int]] = {}
    for row in read_lake(lake, "trades"):
        key = (str(row["exchange"]), str(row["symbol"]))
        ids.setdefault(key, set()).add(int(str(row["trade_id"])))
    return ids


def assert_complete(lake: Path, venues: Mapping[str, tuple[str, ...]],
                    missed: Mapping[tuple[str, str], tuple[int, int]]) -> None:  # fmt: skip
    """Every id from each symbol's first to its last is in the lake, the ids traded while no
    process ran (`missed`) among them."""
    found = trade_ids(lake)
    for venue, symbols in venues.items():
        for symbol in symbols:
            ids = found.get((venue, symbol), set())
            assert ids, f"no trades of {venue} {symbol}"
            absent = sorted(set(range(min(ids), max(ids) + 1)) - ids)
            assert not absent, f"{venue} {symbol}: {len(absent)} ids missing, first {absent[:5]}"
            first, last = missed[(venue, symbol)]
            assert first < last, f"{venue} {symbol} did not trade while the process was down"
            assert min(ids) <= first and last <= max(ids), (venue, symbol, first, last)


async def test_kill_9_then_20_seconds_of_trading_then_restart_leaves_no_hole(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    config = SimulatorConfig(port=0, rate=40, seed=26, symbols=SYMBOLS, keep_trading=True)
    async with Simulator(config) as sim:
        env = run_env(sim, lake, SYMBOLS)
        first = await Child.start(env)
        await until_checkpointed([first], lake, next_ids(sim, SYMBOLS), 120)
        await kill(first)
        down_from = next_ids(sim, SYMBOLS)
        await trade_on(sim, DOWN_MS)
        down_to = next_ids(sim, SYMBOLS)

        second = await Child.start(env)
        await until_checkpointed([second], lake, down_to, 180)
        await stop(second)
    missed = {key: (down_from[key], down_to[key] - 1) for key in down_from}
    assert_complete(lake, SYMBOLS, missed)
    assert any("resume checkpoints=" in m for m in messages(second))


async def test_a_change_of_shards_resumes_every_symbol_under_its_new_owner(
    tmp_path: Path,
) -> None:
    venues = {"binance": ("BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT"),
              "okx": ("BTC-USDT", "ETH-USDT", "SOL-USDT")}  # fmt: skip
    lake = tmp_path / "lake"
    config = SimulatorConfig(port=0, rate=30, seed=27, symbols=venues, keep_trading=True)
    async with Simulator(config) as sim:
        env = run_env(sim, lake, venues)
        whole = await Child.start({**env, "STREAMER_SHARD": "0/1"})
        await until_checkpointed([whole], lake, next_ids(sim, venues), 120)
        await kill(whole)
        down_from = next_ids(sim, venues)
        await trade_on(sim, 5_000)
        down_to = next_ids(sim, venues)

        halves = [await Child.start({**env, "STREAMER_SHARD": f"{i}/2"}) for i in range(2)]
        await until_checkpointed(halves, lake, down_to, 180)
        for half in halves:
            await stop(half)
    missed = {key: (down_from[key], down_to[key] - 1) for key in down_from}
    assert_complete(lake, venues, missed)
    owners = [{m.split("symbols=")[0] for m in messages(h) if "resume checkpoints=" in m}
              for h in halves]  # fmt: skip
    assert all(owners), "each half resumed from checkpoints"
