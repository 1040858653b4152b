"""Restarts leave no hole: `streamer run` killed with `kill -9`, the venues trading on, then
started again, has every trade id from the first to the last, for every venue whose history
is addressed by trade id (and Coinbase, whose history is addressed by time).

The simulator runs in this process with `keep_trading` (its markets trade whether or not a
client listens); `streamer run` is a real child process writing a local lake. The wait for
"the venue trading on for 20 s" is a wait on the simulator's clock, not a sleep.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
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


@dataclass(frozen=True)
class Resumed:
    lake: Path
    missed: dict[tuple[str, str], tuple[int, int]]  # ids traded while no process ran
    lines: list[str]  # the second process's log


async def _kill_9_and_restart(lake: Path) -> Resumed:
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
    return Resumed(lake, missed, second.lines)


@pytest.fixture(scope="module")
def resumed(tmp_path_factory: pytest.TempPathFactory) -> Resumed:
    """`streamer run` killed with kill -9, 20 s of trading, started again, stopped (SIGTERM)."""
    return asyncio.run(_kill_9_and_restart(tmp_path_factory.mktemp("resumed") / "lake"))


def days(lake: Path) -> list[str]:
    """The UTC days the lake's trades were written in (a run may cross midnight)."""
    folders = (lake / "crypto" / "tabular" / "trades").glob("year=*/month=*/day=*")
    return sorted({"-".join(p.split("=")[1] for p in f.parts[-3:]) for f in folders})


def audit(lake: Path, day: str, *extra: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "streamer.cli", "audit", "--day", day, "--lake", str(lake),
         "--format", "json", *extra],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "STREAMER_LOG_FORMAT": "text"},
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-3000:]
    document: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, document


def test_kill_9_then_20_seconds_of_trading_then_restart_leaves_no_hole(resumed: Resumed) -> None:
    assert_complete(resumed.lake, SYMBOLS, resumed.missed)
    log = "".join(resumed.lines)
    assert "resume checkpoints=" in log and "drained holes_left=0" in log
    for venue, symbol in (("binance_usdm", "BTC-USDT-PERP"), ("okx", "BTC-USDT")):
        saved = checkpoint(resumed.lake, venue, symbol)  # books kept by sequence record it
        assert saved is not None and isinstance(saved["book_sequence"], int), saved


def test_audit_finds_the_resumed_lake_complete(resumed: Resumed) -> None:
    for day in days(resumed.lake):
        code, document = audit(resumed.lake, day)
        assert document["totals"]["missing_trades"] == 0, document["symbols"]
        assert code == 0 and document["complete"], document
        audited = {(s["exchange"], s["symbol"]) for s in document["symbols"]}
        assert set(resumed.missed) <= audited


def test_audit_names_the_ids_of_a_deleted_trades_object(resumed: Resumed, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(resumed.lake, lake)
    objects = sorted((lake / "crypto" / "tabular" / "trades").rglob("*.gz"))
    rows = {p: read_object(p) for p in objects}
    # an object in the middle of some symbol's ids, so the ids before and after it remain
    victim = next(p for p in objects[1:-1] if rows[p])
    lost: dict[tuple[str, str], set[int]] = {}
    for row in rows[victim]:
        lost.setdefault((row["exchange"], row["symbol"]), set()).add(int(row["trade_id"]))
    victim.unlink()
    left = trade_ids(lake)
    expected = {key: sorted(ids - left.get(key, set())) for key, ids in lost.items()}
    expected = {key: ids for key, ids in expected.items()
                if ids and min(left[key]) < ids[0] and ids[-1] < max(left[key])}  # fmt: skip
    assert expected, "the deleted object held ids inside some symbol's range"
    reported: dict[tuple[str, str], list[tuple[int, int]]] = {}
    codes = []
    for day in days(lake):
        code, document = audit(lake, day)
        codes.append(code)
        for s in document["symbols"]:
            for r in (s["trades"] or {}).get("missing_ranges", []):
                reported.setdefault((s["exchange"], s["symbol"]), []).append(
                    (r["first"], r["last"])
                )
    assert 1 in codes
    for key, ids in expected.items():
        named = {i for first, last in reported.get(key, []) for i in range(first, last + 1)}
        assert set(ids) <= named, (key, ids, reported.get(key))


async def test_a_history_that_stops_short_is_an_unrecoverable_hole_in_quality_and_audit(
    tmp_path: Path,
) -> None:
    venues = {"binance": ("BTC-USDT",), "okx": ("BTC-USDT",)}
    lake = tmp_path / "lake"
    config = SimulatorConfig(port=0, rate=40, seed=28, symbols=venues, keep_trading=True)
    async with Simulator(config) as sim:
        env = run_env(sim, lake, venues)
        first = await Child.start(env)
        await until_checkpointed([first], lake, next_ids(sim, venues), 120)
        await kill(first)
        down_from = next_ids(sim, venues)
        sim.limit_history(20)  # the venues now serve only each market's newest 20 trades
        await trade_on(sim, 5_000)
        down_to = next_ids(sim, venues)
        assert all(down_to[k] - down_from[k] > 40 for k in down_to), "enough traded to lose"
        second = await Child.start(env)
        await until_checkpointed([second], lake, down_to, 180)
        await stop(second)
    holes = quality_holes(lake)
    for key in venues_keys(venues):
        mine = [h for h in holes if (h[0], h[1]) == key]
        assert mine, f"{key}: no unrecoverable hole in quality"
        first_id, last_id, reason = mine[0][2:]
        # it starts after the last checkpoint (ids the killed process wrote after it are in
        # the lake already) and ends before the newest 20 the venue still served
        assert first_id <= down_from[key] <= last_id
        lake_ids = trade_ids(lake)[key]
        assert not set(range(down_from[key], last_id + 1)) & lake_ids
        assert "history" in reason
    codes, reasons = [], []
    for day in days(lake):
        code, document = audit(lake, day)
        codes.append(code)
        reasons += [(s["exchange"], r["reason"]) for s in document["symbols"] if s["trades"]
                    for r in s["trades"]["missing_ranges"] if r["explained"]]  # fmt: skip
    assert 1 in codes, "an unrecoverable hole fails the audit"
    for exchange in venues:
        assert any(e == exchange and "history" in str(r) for e, r in reasons), reasons


def venues_keys(venues: Mapping[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    return [(v, s) for v, symbols in venues.items() for s in symbols]


def quality_holes(lake: Path) -> list[tuple[str, str, int, int, str]]:
    out = []
    for row in read_lake(lake, "quality"):
        if row["stream"] == "trades":
            for hole in row["unrecoverable"]:
                out.append((row["exchange"], row["symbol"], hole["first"], hole["last"],
                            hole["reason"]))  # fmt: skip
    return out


def read_object(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


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
