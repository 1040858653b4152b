"""The local lake writes Firehose-shaped gzip NDJSON objects atomically, on size, age and close."""

from __future__ import annotations

import asyncio
import gzip
import logging
from pathlib import Path

import orjson
import pytest

from streamer.jsonline import encode
from streamer.records import Dec, Millis, Trade
from streamer.schema import DATASETS
from streamer.settings import LakeSettings
from streamer.sinks.lake import JOURNAL_SECONDS, LakeSink

T0 = 1764000000000  # 2025-11-24 16:00:00 UTC
TRADES = DATASETS["trades"]


def trade(n: int) -> Trade:
    return Trade("binance", "BTC-USDT", Millis(T0), Millis(T0), str(n), Dec("1.10"),
                 Dec("2"), "buy", f"id{n}")  # fmt: skip


def objects(root: Path) -> list[Path]:
    return sorted(root.rglob("*.gz"))


def read_rows(root: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for p in objects(root) for line in gzip.open(p).read().splitlines()]


async def test_age_flush_writes_one_object_under_the_oldest_arrival_hour(tmp_path: Path) -> None:
    sink = LakeSink(LakeSettings(root=tmp_path, buffer_seconds=10))
    sink.add(TRADES, encode(trade(1)), Millis(T0 - 1))  # 15:59:59.999
    sink.add(TRADES, encode(trade(2)), Millis(T0 + 5))
    assert sink.seconds_until_due(Millis(T0 + 9_000)) <= JOURNAL_SECONDS  # the journal first
    await asyncio.sleep(JOURNAL_SECONDS)
    await sink.flush_due(Millis(T0 + 9_000))  # writes the journal, not the object
    assert objects(tmp_path) == []
    assert sink.seconds_until_due(Millis(T0 + 9_000)) == pytest.approx(0.999)
    await sink.flush_due(Millis(T0 + 10_000))
    (path,) = objects(tmp_path)
    rel = path.relative_to(tmp_path).as_posix()
    assert rel.startswith("crypto/tabular/trades/year=2025/month=11/day=24/hour=15/")
    assert path.name.startswith("crypto-trades-1-2025-11-24-15-59-59-")
    assert [r["trade_id"] for r in read_rows(tmp_path)] == ["1", "2"]
    assert b'"price":1.10' in gzip.open(path).read()


async def test_size_flush_and_close_flush(tmp_path: Path) -> None:
    line = encode(trade(1))
    sink = LakeSink(LakeSettings(root=tmp_path, buffer_bytes=len(line) * 3, buffer_seconds=900))
    for n in range(7):
        sink.add(TRADES, encode(trade(n)), Millis(T0))
        await sink.flush_due(Millis(T0))
    assert len(objects(tmp_path)) == 2  # 3 + 3 rows; one row still buffered
    await sink.aclose()
    assert len(objects(tmp_path)) == 3
    assert sorted(int(str(r["trade_id"])) for r in read_rows(tmp_path)) == list(range(7))


async def test_interval_zero_writes_on_every_pass(tmp_path: Path) -> None:
    sink = LakeSink(LakeSettings(root=tmp_path, buffer_seconds=0))
    sink.add(TRADES, encode(trade(1)), Millis(T0))
    await sink.flush_due(Millis(T0))
    assert len(objects(tmp_path)) == 1


async def test_a_failed_write_keeps_its_rows_and_is_retried_after_a_backoff(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "crypto"
    blocker.write_text("not a directory")  # the partition folder cannot be made: ENOTDIR
    sink = LakeSink(LakeSettings(root=tmp_path, buffer_seconds=0))
    await sink.start()
    sink.add(TRADES, encode(trade(1)), Millis(T0))
    with caplog.at_level(logging.ERROR):
        await sink.flush_due(Millis(T0))  # no exception: the rows are held
    assert sink.failing_since() is not None
    (line,) = [r.getMessage() for r in caplog.records if "write_failed" in r.getMessage()]
    assert str(tmp_path / "crypto") in line and ("ENOTDIR" in line or "EEXIST" in line)
    stats = sink.counters_snapshot()
    assert stats["StorageErrors"] == 1 and stats["RowsDelivered"] == 0
    sink.add(TRADES, encode(trade(2)), Millis(T0))
    await sink.flush_due(Millis(T0))  # within the backoff: not even tried
    assert sink.counters_snapshot()["StorageErrors"] == 1
    blocker.unlink()
    await sink.aclose()  # retries until the disk takes it
    assert [r["trade_id"] for r in read_rows(tmp_path)] == ["1", "2"]
    assert sink.failing_since() is None
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert not (tmp_path / ".staging").exists()  # a clean stop leaves no working folder


async def test_rows_count_as_accepted_once_journaled_and_no_sooner(tmp_path: Path) -> None:
    sink = LakeSink(LakeSettings(root=tmp_path, buffer_seconds=900))
    await sink.start()
    for n in range(3):
        sink.add(TRADES, encode(trade(n)), Millis(T0))
    assert (sink.added("trades"), sink.accepted("trades")) == (3, 0), "in memory only"
    await asyncio.sleep(JOURNAL_SECONDS)
    await sink.flush_due(Millis(T0))  # the journal is written: a kill can no longer lose them
    assert sink.accepted("trades") == 3
    sink.add(TRADES, encode(trade(3)), Millis(T0))
    assert (sink.added("trades"), sink.accepted("trades")) == (4, 3)
    assert sink.accepted("ohlcv") == 0 == sink.added("ohlcv")
    await sink.aclose()
    assert sink.accepted("trades") == 4


async def test_rows_without_a_journal_are_accepted_only_once_in_an_object(tmp_path: Path) -> None:
    (tmp_path / ".staging").write_text("in the way")  # no journal can be opened
    sink = LakeSink(LakeSettings(root=tmp_path, buffer_seconds=900))
    sink.add(TRADES, encode(trade(1)), Millis(T0))
    await asyncio.sleep(JOURNAL_SECONDS)
    await sink.flush_due(Millis(T0))
    assert sink.accepted("trades") == 0
    (tmp_path / ".staging").unlink()
    await sink.aclose()
    assert read_rows(tmp_path) and sink.accepted("trades") == 1
