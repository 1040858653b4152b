"""The Firehose sink's `accepted(dataset)`: what checkpoints may cover.

A row is accepted once a kill can no longer lose it (delivered to Firehose, written to the
spool, or counted as dropped) and every row added before it is too: `accepted` is the length of
that prefix, in the order rows were added. Rows still in the packer (linger) or in a call not
yet answered are not accepted; a partial failure, an outage that spools and a spool that
refuses its disk all end with `accepted == added`. Every check compares `accepted` with what
really is safe: the rows the loopback endpoint holds and the rows in the spool's segments.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

from streamer.schema import DATASETS
from streamer.simulator.firehose import Faults, FirehoseDouble
from streamer.sinks.firehose import FirehoseSink
from streamer.spool import StreamSpool
from tests.sinks.test_firehose_faults import clock_ms, feed, lines_of, quick, row

TRADES = DATASETS["trades"]
BIG = 600_000  # a row of 600 KB fills a record alone: a call carries several, each can fail


def rid(line: bytes) -> str:
    return str(orjson.loads(line)["record_id"])


def spooled(spool_dir: Path, stream: str) -> list[bytes]:
    """The rows in the stream's spool segments, oldest segment first."""
    out: list[bytes] = []
    for segment in sorted((spool_dir / stream).glob("*.seg")):
        chunks, _ = StreamSpool.read(segment)
        for chunk in chunks:
            out.extend(chunk.splitlines(keepends=True))
    return out


class Safety:
    """Checks `accepted` against what is really safe, each time it is asked."""

    def __init__(self, sink: FirehoseSink, double: FirehoseDouble, spool_dir: Path) -> None:
        self.sink, self.double, self.spool_dir = sink, double, spool_dir
        self.sent: list[bytes] = []
        self.seen: list[int] = []

    def add(self, lines: list[bytes]) -> None:
        now = clock_ms()
        for line in lines:
            self.sink.add(TRADES, line, now)
        self.sent.extend(lines)

    def check(self, dropped: frozenset[str] = frozenset()) -> int:
        n = self.sink.accepted(TRADES.name)
        assert 0 <= n <= self.sink.added(TRADES.name) == len(self.sent)
        safe = {rid(line) for line in lines_of(self.double, "crypto-trades")}
        safe |= {rid(line) for line in spooled(self.spool_dir, "crypto-trades")}
        unsafe = [i for i, line in enumerate(self.sent[:n]) if rid(line) not in safe | dropped]
        assert not unsafe, f"accepted={n} counts rows {unsafe[:5]} neither delivered nor spooled"
        assert not self.seen or n >= self.seen[-1], "accepted went back"
        self.seen.append(n)
        return n

    async def until_all(self, tick: Callable[[], Awaitable[None]], seconds: float = 30) -> None:
        """Wait, checking at every tick, until every row added is accepted."""
        async with asyncio.timeout(seconds):
            while self.check() < len(self.sent):
                await tick()
                await asyncio.sleep(0.005)  # a poll: let the lanes' workers run


def big_rows(count: int) -> list[bytes]:
    return [row(TRADES, n, pad=BIG) for n in range(count)]


async def held_calls(double: FirehoseDouble, calls: int = 1) -> None:
    """Wait until `calls` PutRecordBatch calls wait, unanswered, at the endpoint's gate."""
    ok = await asyncio.to_thread(double.wait_for, lambda d: d.held >= calls, 10)
    assert ok, "no call reached the endpoint"


async def test_rows_in_the_packer_are_not_accepted_until_sent(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    sink = FirehoseSink(quick(tmp_path, linger=60.0))
    await sink.start()
    safety = Safety(sink, double, tmp_path / "spool")
    safety.add([row(TRADES, n) for n in range(10)])
    await sink.flush_due(clock_ms())  # nothing is due: the record lingers
    assert safety.check() == 0 and sink.added("trades") == 10
    assert double.tally.calls == 0
    assert sink.added("ohlcv") == sink.accepted("ohlcv") == 0  # a dataset never added
    await safety.until_all(lambda: sink.flush_due(clock_ms() + 60_000))  # its linger is over
    assert lines_of(double, "crypto-trades") == safety.sent
    await sink.aclose()


async def test_rows_in_a_call_not_yet_answered_are_not_accepted(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    double.hold_calls()
    sink = FirehoseSink(quick(tmp_path, linger=0.0, request_timeout=30.0, retry_seconds=30.0))
    await sink.start()
    safety = Safety(sink, double, tmp_path / "spool")
    try:
        safety.add([row(TRADES, n) for n in range(50)])
        await sink.flush_due(clock_ms())
        await held_calls(double)
        assert safety.check() == 0, "a call in flight may still be lost"
        safety.add([row(TRADES, n) for n in range(50, 80)])  # behind it, in memory
        await sink.flush_due(clock_ms())
        assert safety.check() == 0
    finally:
        double.release_calls()
    await safety.until_all(lambda: feed(sink, [], per_tick=1))
    assert lines_of(double, "crypto-trades") == safety.sent
    await sink.aclose()


async def test_partial_failures_end_with_every_row_accepted(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    double.set_faults(Faults(partial=0.5, seed=3))
    sink = FirehoseSink(quick(tmp_path, linger=0.0, retry_seconds=30.0))
    await sink.start()
    safety = Safety(sink, double, tmp_path / "spool")
    for line in big_rows(12):
        safety.add([line])
        await sink.flush_due(clock_ms())
        safety.check()
    await safety.until_all(lambda: feed(sink, [], per_tick=1))
    assert double.tally.records_failed > 0
    assert sink.accepted("trades") == sink.added("trades") == 12
    await sink.aclose()
    assert sink.counters_snapshot()["RowsSpooled"] == 0


async def test_a_record_refused_past_the_retry_budget_is_accepted_once_spooled(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    """The first record fails call after call while the ones behind it go through: the rows
    behind it are delivered first, yet accepted only once the refused one is on disk."""
    first = row(TRADES, 0, pad=BIG)
    double.refuse = lambda blob: blob == first
    sink = FirehoseSink(quick(tmp_path, linger=0.0, retry_seconds=0.3))
    await sink.start()
    safety = Safety(sink, double, tmp_path / "spool")
    safety.add([first, *big_rows(6)[1:]])
    await safety.until_all(lambda: feed(sink, [], per_tick=1))
    assert spooled(tmp_path / "spool", "crypto-trades")[0] == first
    assert lines_of(double, "crypto-trades") == safety.sent[1:]
    double.refuse = None
    await sink.aclose()


async def test_a_refused_record_held_for_an_unwritable_spool_holds_back_the_rows_after_it(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    """Firehose refuses the first record and the spool's disk refuses it too: it stays in
    memory, so the rows delivered behind it are not accepted until it is delivered."""
    (tmp_path / "file").write_text("a file where the spool's parent should be")
    spool = tmp_path / "file" / "spool"
    first = row(TRADES, 0, pad=BIG)
    double.refuse = lambda blob: blob == first
    sink = FirehoseSink(quick(tmp_path, linger=0.0, retry_seconds=0.3, spool_dir=spool))
    await sink.start()
    safety = Safety(sink, double, spool)
    safety.add([first, *big_rows(6)[1:]])
    async with asyncio.timeout(30):
        while (
            len(lines_of(double, "crypto-trades")) < 5
            or sink.counters_snapshot()["StorageErrors"] == 0
        ):
            await feed(sink, [], per_tick=1)
    assert safety.check() == 0, "row 0 is only in memory: nothing after it may be accepted"
    double.refuse = None  # Firehose takes it now; the disk still refuses
    await safety.until_all(lambda: feed(sink, [], per_tick=1))
    assert sorted(lines_of(double, "crypto-trades")) == sorted(safety.sent)
    await sink.aclose()


async def test_an_outage_that_spools_ends_with_every_row_accepted(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    double.outage(seconds=3600)
    sink = FirehoseSink(quick(tmp_path, linger=0.0, retry_seconds=0.3))
    await sink.start()
    safety = Safety(sink, double, tmp_path / "spool")
    safety.add([row(TRADES, n) for n in range(500)])
    await safety.until_all(lambda: feed(sink, [], per_tick=1))
    assert double.tally.records_accepted == 0
    assert sink.counters_snapshot()["RowsSpooled"] == 500
    safety.add([row(TRADES, n) for n in range(500, 600)])  # while spooling: to disk at once
    await safety.until_all(lambda: feed(sink, [], per_tick=1))
    double.end_outage()
    await sink.aclose()
    assert sink.accepted("trades") == sink.added("trades") == 600


async def test_rows_spooled_for_want_of_memory_wait_for_the_older_rows_in_flight(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    """Memory fills while a call is unanswered and more rows wait behind it: the newest go to
    the spool at once, but none is accepted before the rows of the call; and the order of
    delivery stays the order rows were added."""
    double.hold_calls()
    settings = quick(tmp_path, linger=0.0, buffer_bytes=6_000_000, request_timeout=30.0,
                     retry_seconds=30.0)  # fmt: skip
    sink = FirehoseSink(settings)
    await sink.start()
    safety = Safety(sink, double, tmp_path / "spool")
    try:
        safety.add(big_rows(6))  # 3.6 MB: one call, held at the endpoint
        await sink.flush_due(clock_ms())
        await held_calls(double)
        for line in [row(TRADES, n, pad=BIG) for n in range(6, 14)]:  # queued, then spooled
            safety.add([line])
            await sink.flush_due(clock_ms())
        assert sink.counters_snapshot()["RowsSpooled"] > 0
        assert safety.check() == 0, "row 0 is in a call not yet answered"
    finally:
        double.release_calls()
    await safety.until_all(lambda: feed(sink, [], per_tick=1))
    await sink.aclose()
    assert list(dict.fromkeys(lines_of(double, "crypto-trades"))) == safety.sent
