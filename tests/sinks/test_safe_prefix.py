"""`SafePrefix`, the count behind the Firehose sink's `accepted`: records marked safe in any
order yield the length of the prefix of rows all safe, and `take_batch` keeps the numbering
when it joins records."""

from __future__ import annotations

from collections import deque

from hypothesis import given
from hypothesis import strategies as st

from streamer.packing import Record, take_batch
from streamer.sinks.safe_prefix import SafePrefix


@given(
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=30),
    data=st.data(),
)
def test_the_prefix_is_the_rows_before_the_first_record_not_yet_safe(
    sizes: list[int], data: st.DataObject
) -> None:
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    order = data.draw(st.permutations(range(len(sizes))))
    marked = data.draw(st.integers(0, len(sizes)))
    prefix = SafePrefix()
    done: set[int] = set()
    for i in order[:marked]:
        prefix.safe(starts[i], sizes[i])
        done.add(i)
        gap = next((j for j in range(len(sizes)) if j not in done), len(sizes))
        assert prefix.accepted == sum(sizes[:gap])


def test_marking_twice_or_rows_from_the_spool_changes_nothing() -> None:
    prefix = SafePrefix()
    prefix.safe(0, 3)
    prefix.safe(0, 3)  # again
    prefix.safe(-1, 7)  # read back from the spool: counted when it was written there
    assert prefix.accepted == 3
    prefix.safe(5, 2)  # past a gap: waits for rows 3 and 4
    assert prefix.accepted == 3
    prefix.safe(3, 2)
    assert prefix.accepted == 7


def test_joined_records_start_where_their_first_part_does() -> None:
    queue = deque(Record(b"%d\n" % n, 1, n) for n in range(10))
    (joined,) = take_batch(queue)
    assert (joined.rows, joined.first) == (10, 0)
    queue = deque([Record(b"a" * 900 + b"\n", 1, 4), Record(b"b" * 900 + b"\n", 1, 5)])
    assert [(r.rows, r.first) for r in take_batch(queue, record_bytes=1000)] == [(1, 4), (1, 5)]
