"""`streamer run` with the Firehose sink as a real process: kill -9 while Firehose is down.

The simulator and the Firehose endpoint run in this test; `streamer run` is a child process
pointed at them. While Firehose is in an outage the child spools; it is killed with SIGKILL
mid-stream, started again during the same outage and stopped with SIGTERM (it must exit 0
within its shutdown budget and keep the spool), then started once more against a healthy
endpoint. Every row the first run had taken in before the kill must arrive.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from streamer.simulator import Simulator, SimulatorConfig
from streamer.simulator.firehose import FirehoseDouble, serve_firehose

pytestmark = pytest.mark.slow

STREAMER = [sys.executable, "-m", "streamer.cli", "run"]


class Child:
    """A `streamer run` process whose EMF lines are summed as they arrive."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.totals: dict[str, int] = {}
        self.lines: list[str] = []
        self.changed = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, env: Mapping[str, str]) -> Child:
        process = await asyncio.create_subprocess_exec(
            *STREAMER,
            env={**os.environ, **env},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode(errors="replace")
            self.lines.append(line)
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(event, dict) and "_aws" in event:
                for name, value in event.items():
                    if isinstance(value, int) and name != "SpoolBytes":
                        self.totals[name] = self.totals.get(name, 0) + value
                    elif name == "SpoolBytes":
                        self.totals[name] = value
                self.changed.set()

    async def wait_for(self, predicate: Callable[[dict[str, int]], bool], seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                while not predicate(self.totals):
                    if self.reader.done():
                        raise AssertionError("streamer exited:\n" + "".join(self.lines[-20:]))
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"condition not met; totals={self.totals}\n" + "".join(self.lines[-20:])
            ) from None

    async def finish(self, seconds: float) -> int:
        code = await asyncio.wait_for(self.process.wait(), seconds)
        await self.reader
        return code


def delivered_trades(double: FirehoseDouble) -> dict[str, set[int]]:
    ids: dict[str, set[int]] = {}
    for line in double.data("crash-trades").splitlines():
        trade: dict[str, Any] = orjson.loads(line)
        ids.setdefault(trade["symbol"], set()).add(int(trade["trade_id"]))
    return ids


async def test_rows_spooled_before_a_kill_9_are_delivered_after_restart(tmp_path: Path) -> None:
    double = FirehoseDouble()
    double.outage(seconds=3600)
    config = SimulatorConfig(
        port=0, rate=200, seed=9, symbols={"binance": ("BTC-USDT", "ETH-USDT")}
    )
    async with Simulator(config) as sim:
        with serve_firehose(double) as url:
            env = {
                **sim.environment(),
                "STREAMER_SOURCES": "binance",
                "STREAMER_SINK": "firehose",
                "STREAMER_FIREHOSE_PREFIX": "crash",
                "STREAMER_FIREHOSE_LINGER_SECONDS": "0.2",
                "STREAMER_FIREHOSE_RETRY_SECONDS": "0.5",
                "STREAMER_FIREHOSE_REQUEST_TIMEOUT": "2",
                "STREAMER_SPOOL_DIR": str(tmp_path / "spool"),
                "STREAMER_SHUTDOWN_SECONDS": "3",
                "STREAMER_STATS_INTERVAL": "1",
                "STREAMER_LOG_FORMAT": "json",
                "STREAMER_HEALTH_PORT": "0",
                "AWS_ENDPOINT_URL": url,
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            }
            # 1. Firehose is down: rows go to the spool; kill -9 mid-stream.
            first = await Child.start(env)
            await first.wait_for(lambda t: t.get("RowsSpooled", 0) >= 1000, 90)
            taken_in = first.totals["RowsIn"]  # rows the sink had as of the last stats line
            killed_at = time.time() * 1000
            first.process.send_signal(signal.SIGKILL)
            assert await first.finish(30) == -signal.SIGKILL
            assert double.tally.records_accepted == 0
            segments = list((tmp_path / "spool").rglob("*.seg"))
            assert segments and sum(p.stat().st_size for p in segments) > 0

            # 2. Restart during the same outage, then SIGTERM: exit 0 in budget, spool kept.
            second = await Child.start(env)
            await second.wait_for(lambda t: t.get("RowsSpooled", 0) >= 100, 90)
            stopping = time.monotonic()
            second.process.send_signal(signal.SIGTERM)
            assert await second.finish(30) == 0, "".join(second.lines[-20:])
            took = time.monotonic() - stopping
            assert took < 3 + 5, f"SIGTERM to exit took {took:.1f}s against a 3 s budget"
            assert second.totals.get("RowsDropped", 0) == 0
            assert second.totals["SpoolBytes"] > 0
            assert double.tally.records_accepted == 0

            # 3. Firehose is back: the spool is replayed at start.
            double.end_outage()
            third = await Child.start(env)
            need = taken_in + second.totals["RowsIn"]
            await third.wait_for(lambda t: t.get("RowsReplayed", 0) >= need, 90)
            third.process.send_signal(signal.SIGTERM)
            assert await third.finish(30) == 0

    lines = double.data().splitlines()
    ids = {orjson.loads(line)["record_id"] for line in lines}
    assert len(ids) >= need, f"{len(ids)} unique rows delivered, {need} taken in before stops"
    # Every trade the simulator sent from the first one received up to 2 s before the kill
    # arrived: no holes. (The market runs before the first client subscribes.)
    delivered = delivered_trades(double)
    for symbol in config.symbols["binance"]:
        got = delivered.get(symbol, set())
        assert got, f"no {symbol} trades delivered"
        sent = sim.sent_trades[("binance", symbol)]
        before = {
            int(t)
            for t, (_, _, _, at) in sent.items()
            if min(got) <= int(t) and at <= killed_at - 2000
        }
        assert len(before) > 100, f"only {len(before)} {symbol} trades before the kill"
        missing = sorted(before - got)
        assert not missing, f"{symbol}: {len(missing)} trades lost, first {missing[:5]}"
    assert not list((tmp_path / "spool").rglob("*.seg")), "spool not drained"
