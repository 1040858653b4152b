"""Both sinks on a disk that fails: every row is delivered, stored, counted or still held.

The disks are real: a path with a file where a directory should be (ENOTDIR, anywhere), and a
small tmpfs filled to the last byte (ENOSPC, where the machine lets a test mount one). The
Firehose endpoint is the loopback double of `test_firehose_faults.py`.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import signal
import sys
from pathlib import Path

import orjson
import pytest

from streamer import health
from streamer.jsonline import encode
from streamer.records import Dec, Millis, Trade
from streamer.schema import DATASETS
from streamer.settings import LakeSettings
from streamer.simulator.firehose import FirehoseDouble
from streamer.sinks.firehose import FirehoseSink
from streamer.sinks.lake import LakeSink
from streamer.timefmt import now_millis
from tests.disks import SmallDisk
from tests.sinks.test_firehose_faults import assert_all_delivered, feed, make_rows, quick

TRADES = DATASETS["trades"]


async def until(condition: object, seconds: float = 30.0, tick: object = None) -> None:
    """Wait for `condition()` (checked every few ms, `tick` awaited between checks)."""
    async with asyncio.timeout(seconds):
        while not condition():  # type: ignore[operator]
            if tick is not None:
                await tick()  # type: ignore[operator]
            await asyncio.sleep(0.01)


def accounted(stats: dict[str, int], held: int) -> bool:
    return (
        stats["RowsIn"]
        == stats["RowsDelivered"] + stats["RowsSpooled"] + stats["RowsDropped"] + held
    )


async def test_an_unwritable_spool_during_an_outage_holds_every_row_and_turns_unhealthy(
    endpoint: str, double: FirehoseDouble, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("a file where the spool's parent should be")
    spool = tmp_path / "file" / "spool"
    sink = FirehoseSink(quick(tmp_path, spool_dir=spool, retry_seconds=0.1))
    await sink.start()
    double.outage(seconds=3600)
    rows = make_rows(600)
    with caplog.at_level(logging.ERROR):
        await feed(sink, rows)
        await until(lambda: sink.failing_since() is not None, tick=lambda: feed(sink, []))
        await until(lambda: sink.counters_snapshot()["StorageErrors"] >= 2,
                    tick=lambda: feed(sink, []))  # fmt: skip
    stats = dict(sink.counters_snapshot())
    assert stats["RowsSpooled"] == 0 and stats["RowsDropped"] == 0 and stats["RowsDelivered"] == 0
    assert stats["BufferedBytes"] > 0  # held in memory, not lost
    errors = [r.getMessage() for r in caplog.records if "write_failed" in r.getMessage()]
    assert errors and str(spool) in errors[0] and "ENOTDIR" in errors[0]
    since = sink.failing_since()
    assert since is not None
    assert health.assess_sink(since, 60, now_millis()).state == "failing"
    assert health.assess_sink(since, 0.001, now_millis() + 10).state == "stuck"
    assert not health.healthy([], health.assess_sink(since, 0.001, now_millis() + 10))

    double.end_outage()  # Firehose is back while the disk is still unwritable
    await until(lambda: sink.counters_snapshot()["RowsDelivered"] == len(rows),
                tick=lambda: feed(sink, []))  # fmt: skip
    assert sink.failing_since() is None
    await sink.aclose()
    stats = dict(sink.counters_snapshot())
    assert accounted(stats, held=0) and stats["RowsDropped"] == 0
    assert_all_delivered(double, rows, ordered=True)


async def test_shutdown_with_firehose_down_and_the_spool_unwritable_counts_the_loss(
    endpoint: str, double: FirehoseDouble, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("")
    sink = FirehoseSink(quick(tmp_path, spool_dir=tmp_path / "file" / "spool",
                              retry_seconds=0.1, shutdown_seconds=0.5))  # fmt: skip
    await sink.start()
    double.outage(seconds=3600)
    await feed(sink, make_rows(300))
    with caplog.at_level(logging.ERROR):
        await sink.aclose()
    stats = dict(sink.counters_snapshot())
    assert stats["RowsIn"] == 300 and stats["RowsDropped"] == 300 and accounted(stats, held=0)
    assert any("rows_lost" in r.getMessage() and "unwritable" in r.getMessage()
               for r in caplog.records)  # fmt: skip


async def test_a_sink_that_can_neither_deliver_nor_store_makes_the_pipeline_wait(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    sink = FirehoseSink(quick(tmp_path, spool_dir=tmp_path / "file" / "spool",
                              retry_seconds=0.1, buffer_bytes=20_000))  # fmt: skip
    await sink.start()
    double.outage(seconds=3600)
    await feed(sink, make_rows(2000))
    await until(lambda: sink.counters_snapshot()["BufferedBytes"] > 20_000,
                tick=lambda: feed(sink, []))  # fmt: skip
    room = asyncio.ensure_future(sink.room())
    done, _ = await asyncio.wait({room}, timeout=0.3)
    assert not done, "room() must wait while nothing can be written"
    double.end_outage()
    await asyncio.wait_for(room, 30)  # returns once the held rows are delivered
    await sink.aclose()
    assert sink.counters_snapshot()["RowsDelivered"] == 2000


async def test_a_full_spool_disk_that_frees_up_later_loses_nothing(
    endpoint: str, double: FirehoseDouble, tmp_path: Path, small_disk: SmallDisk
) -> None:
    sink = FirehoseSink(quick(tmp_path, spool_dir=small_disk.path / "spool", retry_seconds=0.1))
    await sink.start()
    small_disk.fill()
    double.outage(seconds=3600)
    rows = make_rows(3000, pad=200)
    await feed(sink, rows, per_tick=100)
    await until(lambda: sink.failing_since() is not None, tick=lambda: feed(sink, []))
    assert sink.counters_snapshot()["RowsDropped"] == 0
    small_disk.free()
    await until(lambda: sink.counters_snapshot()["RowsSpooled"] == len(rows),
                tick=lambda: feed(sink, []))  # fmt: skip
    assert sink.failing_since() is None
    double.end_outage()
    await until(lambda: sink.counters_snapshot()["RowsDelivered"] == len(rows),
                tick=lambda: feed(sink, []))  # fmt: skip
    await sink.aclose()
    assert_all_delivered(double, rows, ordered=True)
    assert not list((small_disk.path / "spool").rglob("*.seg"))


def trade(n: int) -> Trade:
    t = 1764000000000 + n
    return Trade("binance", "BTC-USDT", Millis(t), Millis(t), str(n), Dec("86000.10"),
                 Dec("0.5"), "buy", f"id{n:08d}")  # fmt: skip


def lake_ids(root: Path) -> list[str]:
    return [
        orjson.loads(line)["trade_id"]
        for path in sorted(root.rglob("*.gz"))
        if "rejects" not in path.parts
        for line in gzip.decompress(path.read_bytes()).splitlines()
    ]


async def test_the_lake_on_a_full_disk_holds_its_rows_until_it_frees_up(
    small_disk: SmallDisk, caplog: pytest.LogCaptureFixture
) -> None:
    root = small_disk.path / "lake"
    sink = LakeSink(LakeSettings(root=root, buffer_seconds=0, buffer_bytes=4096))
    await sink.start()
    small_disk.fill()
    with caplog.at_level(logging.ERROR):
        for n in range(500):
            sink.add(TRADES, encode(trade(n)), Millis(now_millis()))
            await sink.flush_due(now_millis())
    assert sink.failing_since() is not None
    assert any("ENOSPC" in r.getMessage() for r in caplog.records)
    assert sink.counters_snapshot()["RowsDelivered"] == 0
    room = asyncio.ensure_future(sink.room())  # a buffer is full and nothing can be written
    done, _ = await asyncio.wait({room}, timeout=0.3)
    assert not done
    small_disk.free()
    await asyncio.wait_for(room, 30)
    await sink.aclose()
    assert sorted(lake_ids(root), key=int) == [str(n) for n in range(500)]
    assert sink.failing_since() is None
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]


KILLED_WRITER = """
import asyncio, os, signal, sys
from pathlib import Path
from streamer.jsonline import encode
from streamer.records import Millis, Reject
from streamer.schema import DATASETS, REJECTS
from streamer.settings import LakeSettings
from streamer.sinks.lake import JOURNAL_SECONDS, LakeSink
from tests.sinks.test_disk_faults import trade

async def main():
    sink = LakeSink(LakeSettings(root=Path(sys.argv[1]), buffer_seconds=900))
    await sink.start()
    for n in range(50):
        sink.add(DATASETS["trades"], encode(trade(n)), Millis(1764000000000 + n))
    for n in range(3):
        reject = Reject("binance", "bad frame", f"raw-{n}", Millis(1764000000000 + n))
        sink.add(REJECTS, encode(reject), Millis(1764000000000 + n))
    await asyncio.sleep(JOURNAL_SECONDS)  # the next pipeline pass after this writes the journal
    await sink.flush_due(Millis(1764000000000))
    tmp = sink.staging.tmp_path("crypto-trades-1-half.gz")
    tmp.write_bytes(b"half an object")  # as if killed in the middle of a write
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_a_killed_runs_journal_becomes_lake_objects_at_the_next_start(
    tmp_path: Path,
) -> None:
    repo = Path(__file__).resolve().parents[2]
    killed = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILLED_WRITER, str(tmp_path), cwd=repo, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(killed.communicate(), 60)
    assert killed.returncode == -signal.SIGKILL, err.decode()
    assert lake_ids(tmp_path) == []  # all 50 rows were still in the 15-minute buffer
    (staging,) = (tmp_path / ".staging").iterdir()
    assert list(staging.glob("*.journal")) and list(staging.glob("*.tmp"))
    second = LakeSink(LakeSettings(root=tmp_path, buffer_seconds=900))
    await second.start()
    assert sorted(lake_ids(tmp_path), key=int) == [str(n) for n in range(50)]
    rejects = [
        orjson.loads(line)["raw"]
        for path in (tmp_path / "crypto" / "rejects").rglob("*.gz")
        for line in gzip.decompress(path.read_bytes()).splitlines()
    ]
    assert sorted(rejects) == ["raw-0", "raw-1", "raw-2"]  # the rejects' journal too
    assert not staging.exists()
    assert second.counters_snapshot()["RowsRecovered"] == 53
    await second.aclose()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith((".tmp", ".journal"))]


async def test_a_live_runs_journal_is_left_alone(tmp_path: Path) -> None:
    first = LakeSink(LakeSettings(root=tmp_path, buffer_seconds=900))
    await first.start()
    first.add(TRADES, encode(trade(1)), Millis(now_millis()))
    second = LakeSink(LakeSettings(root=tmp_path, buffer_seconds=900))
    await second.start()  # the first still holds its lock
    assert lake_ids(tmp_path) == []
    assert first.staging.directory.is_dir()
    await first.aclose()
    await second.aclose()
    assert lake_ids(tmp_path) == ["1"]
