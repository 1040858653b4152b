"""`BookChecksum` (level and side texts kept) gives `book_checksum` (written out every time) on
any run of books, one side changing or both, through its caches and past the point where the
level texts are emptied."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.records import Level
from streamer.venues.kraken.checksum import BookChecksum, book_checksum


def number(whole: int, fraction: str) -> str:
    return f"{whole}.{fraction}" if fraction else str(whole)


levels = st.builds(
    lambda p, pf, q, qf: (number(p, pf), number(q, qf)),
    st.integers(0, 99_999),
    st.text("0123456789", max_size=4),  # prices with fewer decimals than the pair's, or none
    st.integers(0, 50),
    st.text("0123456789", max_size=9),  # sizes up to one more than the pair's 8
)
sides = st.lists(levels, max_size=14)  # more than the 10 a side the checksum reads
books = st.lists(st.tuples(sides, sides), min_size=1, max_size=12)
precisions = st.sampled_from([(None, None), (1, 8), (0, 0), (5, 3)])


@settings(max_examples=300, deadline=None)
@given(books, precisions, st.integers(1, 30))
def test_the_kept_texts_give_the_reference_checksum(
    run: list[tuple[list[Level], list[Level]]],
    precision: tuple[int | None, int | None],
    kept: int,
) -> None:
    checksum = BookChecksum(*precision, kept=kept)  # small: emptied within a run
    mixed = [(b, a) for (b, _), (_, a) in pairwise(run)]  # one side kept
    for bids, asks in run + mixed + run[::-1]:  # every book twice: then from kept texts
        assert checksum(tuple(bids), tuple(asks)) == book_checksum(
            tuple(bids), tuple(asks), *precision
        )


def test_a_new_quantity_at_a_kept_price_gets_its_own_text() -> None:
    checksum = BookChecksum(1, 8)
    bids, asks = (("100.0", "1.00000000"),), (("101.0", "2.0"),)
    first = checksum(bids, asks)
    changed = (("101.0", "2.5"),)
    assert checksum(bids, changed) == book_checksum(bids, changed, 1, 8) != first
    assert checksum(bids, asks) == first
