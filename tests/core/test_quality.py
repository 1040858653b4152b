"""The `quality` accumulator counts events into one row per stream and minute, and the lake
reads its rows back, id ranges and holes included."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer import query
from streamer.ids import record_id
from streamer.jsonline import encode
from streamer.quality import MINUTE_MS, Key, QualityCounter, ResyncCause
from streamer.records import Quality
from streamer.schema import DATASET_OF_TYPE
from streamer.settings import LakeSettings
from streamer.sinks.lake import LakeSink

T0 = 1_764_000_000_000  # a whole minute
TRADES = ("binance", "BTC-USDT", "trades")
BOOK = ("kraken", "ETH-USD", "book")


class Clock:
    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_a_minute_closes_into_one_row_per_stream_with_every_count() -> None:
    clock = Clock(T0 + 5_000)
    q = QualityCounter("0/2", clock)
    q.received(TRADES, 10)
    q.written(TRADES, 9)
    q.rejected(TRADES)
    q.gap(TRADES, 101, 105)
    q.backfilled(TRADES, 3)
    q.unrecoverable(TRADES, 104, 105, "history limit")
    q.resync(BOOK, ResyncCause.CHECKSUM_MISMATCH)
    q.resync(BOOK, ResyncCause.CHECKSUM_MISMATCH)
    q.resync(BOOK, ResyncCause.SEQUENCE_BREAK)
    q.silent(BOOK)
    assert q.due() == []  # the minute is still open
    clock.now = T0 + MINUTE_MS
    trades, book = q.due()  # in (exchange, symbol, stream, minute) order
    assert trades == Quality("binance", "BTC-USDT", "trades", T0, T0 + MINUTE_MS, 10, 9,
                             ((101, 105),), 3, ((104, 105, "history limit"),), 0, 0, 0, 0, 0, 0,
                             1, "0/2", record_id("quality", *TRADES, T0, "0/2", ""))  # fmt: skip
    assert (book.resyncs_checksum_mismatch, book.resyncs_sequence_break) == (2, 1)
    assert book.resyncs_venue_reset == 0 and book.silent_subscriptions == 1
    assert q.due() == [] and q.flush() == []  # each minute once


def test_a_stream_that_stays_down_reports_every_minute_disconnected() -> None:
    clock = Clock(T0 + 20_000)
    q = QualityCounter("0/1", clock)
    q.link_up(TRADES)
    clock.now = T0 + 50_000
    q.link_down(TRADES)
    q.link_down(TRADES)  # a repeat changes nothing
    clock.now = T0 + 3 * MINUTE_MS + 1_000
    rows = q.due()
    assert [(r.minute, r.connected_ms, r.disconnected_ms) for r in rows] == [
        (T0, 30_000, 10_000),
        (T0 + MINUTE_MS, 0, MINUTE_MS),
        (T0 + 2 * MINUTE_MS, 0, MINUTE_MS),
    ]
    (last,) = q.flush()
    assert (last.minute, last.disconnected_ms) == (T0 + 3 * MINUTE_MS, 1_000)


def test_the_record_id_names_stream_minute_and_shard_so_redelivery_dedupes() -> None:
    rows = []
    for shard in ("0/2", "1/2", "0/2"):
        q = QualityCounter(shard, Clock())
        q.received(TRADES)
        rows.extend(q.flush())
    assert rows[0].record_id == rows[2].record_id != rows[1].record_id


def test_a_process_started_again_within_the_minute_writes_a_row_of_its_own() -> None:
    first, second = QualityCounter("0/1", Clock(), run="a"), QualityCounter("0/1", Clock(), run="b")
    for q in (first, second):
        q.received(TRADES)
    (a,), (b,) = first.flush(), second.flush()
    assert a.minute == b.minute and a.record_id != b.record_id


def test_a_backwards_range_is_a_caller_bug() -> None:
    q = QualityCounter("0/1", Clock())
    with pytest.raises(ValueError, match=r"5\.\.4"):
        q.gap(TRADES, 5, 4)


EVENT = st.tuples(
    st.integers(0, 4 * MINUTE_MS),  # clock advance
    st.sampled_from([TRADES, BOOK]),
    st.sampled_from(["received", "written", "up", "down", "due"]),
)


@given(st.lists(EVENT, max_size=60))
def test_counts_and_time_add_up_across_rolled_minutes(events: list[tuple[int, Key, str]]) -> None:
    clock = Clock(T0 + 7)
    q = QualityCounter("0/1", clock)
    sent = {TRADES: [0, 0], BOOK: [0, 0]}
    since: dict[Key, int] = {}
    rows: list[Quality] = []
    for advance, key, what in events:
        clock.now += advance
        if what == "received":
            q.received(key, 2)
            sent[key][0] += 2
        elif what == "written":
            q.written(key)
            sent[key][1] += 1
        elif what in ("up", "down"):
            (q.link_up if what == "up" else q.link_down)(key)
            since.setdefault(key, clock.now)
        else:
            rows.extend(q.due())
    rows.extend(q.flush())
    seen = [(r.exchange, r.symbol, r.stream, r.minute) for r in rows]
    assert len(seen) == len(set(seen)), "a stream's minute was reported twice"
    for key, (messages, written) in sent.items():
        mine = [r for r in rows if (r.exchange, r.symbol, r.stream) == key]
        assert sum(r.messages for r in mine) == messages
        assert sum(r.rows for r in mine) == written
        tracked = sum(r.connected_ms + r.disconnected_ms for r in mine)
        assert tracked == clock.now - since.get(key, clock.now)
        for r in mine:
            assert r.minute % MINUTE_MS == 0
            assert r.connected_ms + r.disconnected_ms <= MINUTE_MS


async def test_the_lake_reads_quality_rows_with_their_ranges_and_reasons(tmp_path: Path) -> None:
    q = QualityCounter("1/2", Clock())
    q.gap(TRADES, 7, 9)
    q.gap(TRADES, 20, 20)
    q.unrecoverable(TRADES, 7, 8, 'delisted "BTC"')
    (row,) = q.flush()
    sink = LakeSink(LakeSettings(root=tmp_path))
    sink.add(DATASET_OF_TYPE[Quality], encode(row), row.received_at)
    await sink.aclose()
    _, result = query.run(
        tmp_path,
        "SELECT minute, gaps[2].first, gaps[2].last, unrecoverable[1].reason, "
        "list_sum([g.last - g.first + 1 for g in gaps]), shard FROM crypto_quality",
    )
    assert [(str(r[0]), *r[1:]) for r in result] == [
        ("2025-11-24 16:00:00", 20, 20, 'delisted "BTC"', 4, "1/2")
    ]
