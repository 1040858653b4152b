"""The pipeline moves every item to the sink, isolates failing sources and drains on stop."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Sequence
from pathlib import Path

import orjson

from streamer.errors import RestrictedLocation
from streamer.pipeline import RowQueue, run_pipeline
from streamer.records import Dec, Item, Millis, Reject, Trade
from streamer.settings import LakeSettings
from streamer.sinks.lake import LakeSink
from streamer.sinks.null import NullSink
from streamer.sources.base import Emit, FeedStats

NOW = Millis(1764000000000)


def clock() -> Millis:
    return NOW


def trade(n: int) -> Trade:
    return Trade("binance", "BTC-USDT", NOW, NOW, str(n), Dec("1"), Dec("1"), "sell", f"r{n}")


class ListSource:
    """Emits fixed frames, then waits to be cancelled (as a live feed would)."""

    def __init__(self, name: str, frames: Sequence[Sequence[Item]]) -> None:
        self.name = name
        self.frames = frames
        self.stats = FeedStats()
        self.sent = asyncio.Event()

    async def run(self, emit: Emit) -> None:
        for frame in self.frames:
            await emit(frame)
        self.sent.set()
        await asyncio.Event().wait()


class FailingSource:
    name = "broken"

    def __init__(self, error: Exception) -> None:
        self.stats = FeedStats()
        self.error = error

    async def run(self, emit: Emit) -> None:
        raise self.error


async def test_every_item_reaches_the_lake_and_stop_drains(tmp_path: Path) -> None:
    frames = [[trade(n), trade(n + 1000)] for n in range(500)]
    frames.append([Reject("binance", "invalid JSON: x", "{", NOW)])
    source = ListSource("binance", frames)
    sink = LakeSink(LakeSettings(root=tmp_path, buffer_seconds=900))
    stop = asyncio.Event()
    task = asyncio.create_task(run_pipeline([source], sink, stop, clock=clock, queue_size=10))
    async with asyncio.timeout(10):
        await source.sent.wait()
    stop.set()
    stats = await task
    assert stats.rows == {"trades": 1000, "rejects": 1}
    lines = [
        orjson.loads(line)
        for path in tmp_path.rglob("*.gz")
        for line in gzip.open(path).read().splitlines()
    ]
    trades = [r for r in lines if "trade_id" in r]
    assert sorted(int(r["trade_id"]) for r in trades) == sorted(
        [n for n in range(500)] + [n + 1000 for n in range(500)]
    )
    assert [r["reason"] for r in lines if "reason" in r] == ["invalid JSON: x"]


async def test_a_failing_source_does_not_stop_the_others() -> None:
    good = ListSource("binance", [[trade(1)]])
    bad = FailingSource(RestrictedLocation("HTTP 451"))
    crashing = FailingSource(RuntimeError("bug"))
    crashing.name = "crashing"
    sink = NullSink()
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_pipeline([bad, crashing, good], sink, stop, clock=clock, queue_size=10)
    )
    async with asyncio.timeout(10):
        await good.sent.wait()
    assert not task.done()
    stop.set()
    stats = await task
    assert sink.rows["trades"] == 1
    assert stats.failed_sources == {"broken": "HTTP 451", "crashing": "RuntimeError('bug')"}


async def test_pipeline_ends_when_every_source_has_failed() -> None:
    stop = asyncio.Event()
    async with asyncio.timeout(10):
        stats = await run_pipeline(
            [FailingSource(RestrictedLocation("451"))], NullSink(), stop, clock=clock
        )
    assert stats.failed_sources == {"broken": "451"}


async def test_age_based_flush_happens_while_sources_are_quiet(tmp_path: Path) -> None:
    now = [NOW]
    source = ListSource("binance", [[trade(1)]])
    sink = LakeSink(LakeSettings(root=tmp_path, buffer_seconds=0.05))
    stop = asyncio.Event()

    def moving_clock() -> Millis:
        now[0] = Millis(now[0] + 10)
        return now[0]

    task = asyncio.create_task(run_pipeline([source], sink, stop, clock=moving_clock))
    async with asyncio.timeout(10):
        while not list(tmp_path.rglob("*.gz")):
            await asyncio.sleep(0.01)
    stop.set()
    await task
    assert len(list(tmp_path.rglob("*.gz"))) == 1


async def test_the_queue_is_bounded_in_rows_not_in_batches() -> None:

    queue = RowQueue(limit=100)
    await queue.put([trade(i) for i in range(60)])
    await queue.put([trade(i) for i in range(60)])  # below the limit when it started: taken
    assert queue.rows == 120
    third = asyncio.create_task(queue.put([trade(0)]))
    await asyncio.sleep(0.01)
    assert not third.done()  # 120 rows queued: the producer waits
    assert len(await queue.get()) == 60
    async with asyncio.timeout(5):
        await third  # 60 rows left: room again
    assert queue.rows == 61


async def test_with_no_source_the_pipeline_idles_until_stopped() -> None:
    """A shard can draw no symbol: the service stays up (ECS would restart an exit) and stops
    cleanly when told."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_pipeline([], NullSink(), stop, clock=clock))
    await asyncio.sleep(0.05)
    assert not task.done()
    stop.set()
    async with asyncio.timeout(5):
        stats = await task
    assert stats.total() == 0
