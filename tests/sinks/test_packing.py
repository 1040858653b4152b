"""Packing rows into Firehose records and batches, at and around the service's hard limits."""

from __future__ import annotations

import itertools
from collections import deque

from hypothesis import given
from hypothesis import strategies as st

from streamer.packing import (
    BILLING_UNIT,
    MAX_BATCH_BYTES,
    MAX_BATCH_RECORDS,
    MAX_RECORD_BYTES,
    Record,
    RecordPacker,
    RowPerRecordPacker,
    batches,
    billed_bytes,
    read_response,
    repack,
    take_batch,
)


def row(size: int, tag: bytes = b"x") -> bytes:
    """A newline-terminated row of exactly `size` bytes."""
    return (tag * (size - 1))[: size - 1] + b"\n"


def test_limits_are_the_documented_service_limits() -> None:
    assert MAX_RECORD_BYTES == 1_024_000
    assert MAX_BATCH_RECORDS == 500
    assert MAX_BATCH_BYTES == 4_194_304
    assert BILLING_UNIT == 5120


def test_billing_rounds_each_record_up_to_5_kib() -> None:
    assert billed_bytes(1) == 5120
    assert billed_bytes(5120) == 5120
    assert billed_bytes(5121) == 10240
    assert billed_bytes(3 * 1024) == 5 * 1024
    assert billed_bytes(12 * 1024) == 15 * 1024


def test_rows_are_concatenated_until_the_next_would_not_fit() -> None:
    packer = RecordPacker(max_bytes=100)
    for i in range(7):
        assert packer.add(row(30, str(i).encode()))
    assert packer.rows == 7
    sealed = packer.take_sealed()
    assert [r.rows for r in sealed] == [3, 3]  # 90 bytes each; a fourth row would make 120
    assert all(len(r.data) == 90 for r in sealed)
    rest = packer.take_all()
    assert rest == [Record(row(30, b"6"), 1)]
    assert packer.rows == 0 and packer.take_all() == []


def test_a_row_of_exactly_the_record_limit_is_a_record_of_its_own() -> None:
    packer = RecordPacker()
    packer.add(row(10))
    assert packer.add(row(MAX_RECORD_BYTES))
    records = packer.take_all()
    assert [len(r.data) for r in records] == [10, MAX_RECORD_BYTES]


def test_a_row_one_byte_over_the_limit_is_refused_and_nothing_else_changes() -> None:
    packer = RecordPacker()
    packer.add(row(10))
    assert not packer.add(row(MAX_RECORD_BYTES + 1))
    assert packer.rows == 1
    assert packer.take_all() == [Record(row(10), 1)]


def test_exactly_500_records_make_one_batch_and_501_make_two() -> None:
    records = [Record(row(100), 1)] * 500
    assert [len(b) for b in batches(records)] == [500]
    assert [len(b) for b in batches([*records, Record(row(100), 1)])] == [500, 1]


def test_exactly_4_mib_is_one_batch_and_one_byte_more_is_two() -> None:
    big = Record(row(MAX_RECORD_BYTES), 1)
    last = MAX_BATCH_BYTES - 4 * MAX_RECORD_BYTES
    exact = [big, big, big, big, Record(row(last), 1)]
    assert sum(len(r.data) for r in exact) == MAX_BATCH_BYTES
    assert [len(b) for b in batches(exact)] == [5]
    over = [big, big, big, big, Record(row(last + 1), 1)]
    assert [len(b) for b in batches(over)] == [4, 1]


@given(st.lists(st.integers(min_value=1, max_value=MAX_RECORD_BYTES), max_size=60))
def test_batches_keep_order_and_respect_both_limits(sizes: list[int]) -> None:
    records = [Record(b"r" * s, 1) for s in sizes]
    out = list(batches(records))
    assert [r for b in out for r in b] == records
    for batch in out:
        assert 1 <= len(batch) <= MAX_BATCH_RECORDS
        assert sum(len(r.data) for r in batch) <= MAX_BATCH_BYTES


@given(st.lists(st.integers(min_value=2, max_value=400), min_size=1, max_size=80))
def test_packing_keeps_every_row_in_order_and_under_the_limit(sizes: list[int]) -> None:
    packer = RecordPacker(max_bytes=1000)
    lines = [row(s, bytes([97 + i % 26])) for i, s in enumerate(sizes)]
    for line in lines:
        assert packer.add(line)
    records = packer.take_all()
    assert b"".join(r.data for r in records) == b"".join(lines)
    assert sum(r.rows for r in records) == len(lines)
    assert all(len(r.data) <= 1000 for r in records)
    # Greedy: no two neighbours could have been one record.
    for a, b in itertools.pairwise(records):
        first_row_of_b = b.data.split(b"\n", 1)[0] + b"\n"
        assert len(a.data) + len(first_row_of_b) > 1000


@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=900), st.integers(1, 5)),
        min_size=1,
        max_size=200,
    ),
    st.integers(min_value=2, max_value=8),
)
def test_take_batch_joins_neighbours_keeps_order_and_limits(
    shapes: list[tuple[int, int]], max_records: int
) -> None:
    records = [Record(bytes([97 + i % 26]) * size, rows) for i, (size, rows) in enumerate(shapes)]
    queue = deque(records)
    out: list[list[Record]] = []
    while queue:
        batch = take_batch(queue, max_records=max_records, max_bytes=3000, record_bytes=1000)
        assert batch, "a non-empty queue always yields a batch"
        out.append(batch)
    flat = [r for batch in out for r in batch]
    assert b"".join(r.data for r in flat) == b"".join(r.data for r in records)
    assert sum(r.rows for r in flat) == sum(r.rows for r in records)
    for batch in out:
        assert 1 <= len(batch) <= max_records
        assert sum(len(r.data) for r in batch) <= 3000
        assert all(len(r.data) <= 1000 for r in batch)
    assert len(flat) <= len(records)


def test_take_batch_turns_a_backlog_of_small_records_into_full_ones() -> None:
    queue = deque(Record(row(100), 1) for _ in range(25_000))  # 2.5 MB of linger-sized records
    batch = take_batch(queue)
    assert not queue
    assert [len(r.data) for r in batch] == [MAX_RECORD_BYTES, MAX_RECORD_BYTES, 500_000 - 48_000]
    assert sum(r.rows for r in batch) == 25_000


def test_take_due_fills_the_billing_unit_the_due_rows_pay_for() -> None:
    packer = RecordPacker()
    for t in range(30):  # 30 rows of 300 bytes, one per millisecond
        packer.add(row(300), arrival=t)
    assert packer.take_due(cutoff=-1) == []  # nothing has lingered long enough
    # Rows 0..9 are due (3000 bytes, billed as 5120): 7 younger rows ride along (5100 bytes).
    (record,) = packer.take_due(cutoff=9)
    assert (len(record.data), record.rows) == (5100, 17)
    assert packer.open_since == 17 and packer.rows == 13
    # Once every remaining row is due, all of them go.
    (rest,) = packer.take_due(cutoff=100)
    assert rest.rows == 13 and packer.rows == 0 and packer.open_since is None


def test_take_due_cuts_at_the_last_whole_unit_of_what_is_held() -> None:
    packer = RecordPacker()
    for t in range(100):  # 30,000 bytes held: five whole units are 25,600 bytes
        packer.add(row(300), arrival=t)
    (record,) = packer.take_due(cutoff=9)
    assert (len(record.data), record.rows) == (25_500, 85)
    assert packer.open_since == 85


@given(
    st.lists(st.integers(min_value=2, max_value=3000), min_size=1, max_size=200),
    st.integers(min_value=1, max_value=50),
)
def test_take_due_never_holds_a_due_row_and_keeps_order(sizes: list[int], step: int) -> None:
    packer = RecordPacker(max_bytes=20_000)
    lines = [row(s, bytes([97 + i % 26])) for i, s in enumerate(sizes)]
    out: list[Record] = []
    for t, line in enumerate(lines):
        assert packer.add(line, arrival=t)
        if t % step == 0:
            out.extend(packer.take_due(cutoff=t - 10))
            since = packer.open_since
            assert since is None or since > t - 10, "a due row was held back"
    out.extend(packer.take_all())
    assert b"".join(r.data for r in out) == b"".join(lines)
    assert sum(r.rows for r in out) == len(lines)
    assert all(len(r.data) <= 20_000 for r in out)


def test_repack_joins_small_spooled_chunks_into_full_records() -> None:
    chunks = [row(300) * 2 for _ in range(10)]  # 600-byte chunks of 2 rows
    records = repack(chunks, max_bytes=1500)
    assert [len(r.data) for r in records] == [1200] * 5
    assert [r.rows for r in records] == [4] * 5
    assert b"".join(r.data for r in records) == b"".join(chunks)


def test_row_per_record_packer_holds_rows_for_linger_then_sends_each_alone() -> None:
    packer = RowPerRecordPacker()
    lines = [row(300, b"a"), row(MAX_RECORD_BYTES, b"b"), row(5, b"c")]
    for arrival, line in enumerate(lines, start=7):
        assert packer.add(line, arrival)
    assert not packer.add(row(MAX_RECORD_BYTES + 1))
    assert packer.rows == 3 and packer.open_since == 7
    assert packer.take_due(6) == []  # the oldest is not due: nothing goes
    assert packer.take_due(7) == [Record(line, 1) for line in lines]  # due: all, one each
    assert packer.rows == 0 and packer.take_all() == []


def test_row_per_record_packer_seals_a_full_call_at_once() -> None:
    packer = RowPerRecordPacker()
    for n in range(MAX_BATCH_RECORDS + 1):
        packer.add(row(100), n)
    assert len(packer.sealed) == MAX_BATCH_RECORDS and packer.open_since == MAX_BATCH_RECORDS
    assert len(packer.take_due(-1)) == MAX_BATCH_RECORDS and packer.rows == 1
    sizes = [1_000_000] * 4 + [MAX_BATCH_BYTES - 4_000_000]  # exactly 4 MiB in five rows
    packer = RowPerRecordPacker()
    for n, size in enumerate(sizes):
        packer.add(row(size), n)
    assert packer.sealed == [] and packer.open_bytes == MAX_BATCH_BYTES
    packer.add(row(1), 9)  # one byte more: the five go as one call's worth
    assert [len(r.data) for r in packer.sealed] == sizes and packer.rows == 6


def test_without_joining_exactly_500_single_rows_make_a_batch_and_4_mib_holds() -> None:
    queue = deque(Record(row(100), 1) for _ in range(MAX_BATCH_RECORDS + 1))
    first = take_batch(queue, record_bytes=0)
    assert len(first) == MAX_BATCH_RECORDS and all(r.rows == 1 for r in first)
    assert len(take_batch(queue, record_bytes=0)) == 1 and not queue
    big = MAX_BATCH_BYTES // 4
    queue = deque(Record(row(big), 1) for _ in range(5))
    assert [len(r.data) for r in take_batch(queue, record_bytes=0)] == [big] * 4
    assert len(queue) == 1


def test_repack_without_joining_gives_a_record_per_spooled_chunk() -> None:
    chunks = [row(50, b"a"), row(60, b"b"), row(70, b"c")]
    assert repack(chunks, 0) == [Record(chunk, 1) for chunk in chunks]


def test_a_clean_answer_delivers_everything() -> None:
    sent = [Record(b"a\n", 1), Record(b"b\nc\n", 2)]
    answer = {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "1"}, {"RecordId": "2"}]}
    outcome = read_response(sent, answer)
    assert outcome.delivered == sent and outcome.failed == [] and not outcome.errors


def test_a_partial_failure_returns_only_the_failed_records_in_order() -> None:
    sent = [Record(bytes([97 + i]) + b"\n", 1) for i in range(5)]
    answer = {
        "FailedPutCount": 2,
        "RequestResponses": [
            {"RecordId": "1"},
            {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."},
            {"RecordId": "3"},
            {"ErrorCode": "InternalFailure", "ErrorMessage": "oops"},
            {"RecordId": "5"},
        ],
    }
    outcome = read_response(sent, answer)
    assert outcome.failed == [sent[1], sent[3]]
    assert outcome.delivered == [sent[0], sent[2], sent[4]]
    assert outcome.errors == {"ServiceUnavailableException": 1, "InternalFailure": 1}


def test_an_answer_that_does_not_line_up_resends_everything() -> None:
    sent = [Record(b"a\n", 1), Record(b"b\n", 1)]
    outcome = read_response(sent, {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "1"}]})
    assert outcome.failed == sent and outcome.delivered == []
