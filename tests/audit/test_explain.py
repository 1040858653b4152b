"""Missing ranges cut by `quality`'s holes, and what the lake says of a hole (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streamer.audit.explain import check, cut, explain
from streamer.audit.findings import Hole, Span


def hole(first: int, last: int, reason: str = "limit") -> Hole:
    return Hole("binance", "BTC-USDT", "trades", first, last, reason, 0, True)


def test_a_hole_covering_the_middle_splits_a_range_in_three() -> None:
    assert cut(100, 199, 1, [hole(120, 129, "history limit")]) == (
        Span(100, 119, 20),
        Span(120, 129, 10, "history limit"),
        Span(130, 199, 70),
    )


def test_overlapping_holes_explain_each_id_once_with_the_first_holes_reason() -> None:
    pieces = cut(10, 30, 1, [hole(15, 25, "b"), hole(5, 20, "a")])
    assert pieces == (Span(10, 20, 11, "a"), Span(21, 25, 5, "b"), Span(26, 30, 5))


def test_candle_ranges_are_cut_on_the_interval_grid() -> None:
    minute = 60_000
    pieces = cut(0, 9 * minute, minute, [hole(2 * minute + 1, 5 * minute + 30_000)])
    assert pieces == (Span(0, 2 * minute, 3), Span(3 * minute, 5 * minute, 3, "limit"),
                      Span(6 * minute, 9 * minute, 4))  # fmt: skip


def test_ranges_come_in_order_whatever_order_the_gaps_came_in() -> None:
    assert explain([(50, 60), (1, 3)], 1, []) == (Span(1, 3, 3), Span(50, 60, 11))


@given(
    st.integers(0, 1000),
    st.integers(0, 300),
    st.lists(st.tuples(st.integers(-50, 1400), st.integers(0, 200)), max_size=6),
)
def test_the_pieces_partition_the_range_and_only_holes_explain(
    first: int, length: int, spans: list[tuple[int, int]]
) -> None:
    last = first + length
    holes = [hole(a, a + n, f"r{i}") for i, (a, n) in enumerate(spans)]
    pieces = cut(first, last, 1, holes)
    ids = [i for p in pieces for i in range(p.first, p.last + 1)]
    assert ids == list(range(first, last + 1))  # every id once, in order
    assert all(p.count == p.last - p.first + 1 for p in pieces)
    covered = {i for h in holes for i in range(h.first, h.last + 1)}
    for p in pieces:
        inside = {i for i in range(p.first, p.last + 1)}
        assert inside <= covered if p.explained else not inside & covered


def test_a_hole_explains_a_gap_it_overlaps() -> None:
    assert check(hole(5, 9), [(1, 5)], (0, 100), complete=True) == "explains"


def test_a_hole_inside_a_checked_span_without_a_gap_was_recovered() -> None:
    assert check(hole(20, 30), [(1, 5)], (0, 100), complete=True) == "recovered"


def test_a_hole_the_lake_cannot_check_is_unchecked() -> None:
    assert check(hole(90, 120), [], (0, 100), complete=True) == "unchecked"  # past the last id
    assert check(hole(20, 30), [(1, 5)], (0, 100), complete=False) == "unchecked"  # not all listed
    assert check(hole(20, 30), [], None, complete=True) == "unchecked"  # nothing checked
