"""The local order book: snapshots, absolute updates, top N best first, crossed detection."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.book import OrderBook, is_zero
from streamer.records import Dec, Level


def lv(price: str, size: str) -> Level:
    return Dec(price), Dec(size)


def book_of(bids: list[Level], asks: list[Level]) -> OrderBook:
    book = OrderBook()
    book.replace(bids, asks)
    return book


def test_snapshot_top_is_best_first_with_the_venue_text() -> None:
    book = book_of(
        [lv("99.5", "1"), lv("100.25", "2.50"), lv("98", "3")],
        [lv("101", "4"), lv("100.75", "0.10"), lv("102.000", "6")],
    )
    bids, asks = book.top(2)
    assert bids == (("100.25", "2.50"), ("99.5", "1"))
    assert asks == (("100.75", "0.10"), ("101", "4"))


def test_top_with_fewer_levels_than_asked_returns_what_there_is() -> None:
    book = book_of([lv("1", "1")], [])
    assert book.top(20) == ((("1", "1"),), ())
    assert book.top(0) == ((), ())
    assert OrderBook().top(5) == ((), ())


def test_top_at_exactly_the_book_length() -> None:
    book = book_of([lv("1", "1"), lv("2", "2")], [lv("3", "3"), lv("4", "4")])
    assert book.top(2) == ((("2", "2"), ("1", "1")), (("3", "3"), ("4", "4")))


def test_update_inserts_changes_and_removes_levels() -> None:
    book = book_of([lv("100", "1"), lv("99", "2")], [lv("101", "1"), lv("102", "2")])
    book.update(
        bids=[lv("100.5", "0.3"), lv("99", "7"), lv("100", "0")],
        asks=[lv("101", "0.00000000"), lv("103", "1")],
    )
    assert book.top(5) == (
        (("100.5", "0.3"), ("99", "7")),
        (("102", "2"), ("103", "1")),
    )
    assert (len(book.bids), len(book.asks)) == (2, 2)


def test_removing_an_absent_level_is_a_no_op() -> None:
    book = book_of([lv("100", "1")], [lv("101", "1")])
    book.update(bids=[lv("50", "0")], asks=[lv("500", "0.0")])
    assert book.top(5) == ((("100", "1"),), (("101", "1"),))


def test_equal_prices_in_different_spellings_are_one_level() -> None:
    book = book_of([lv("100", "1")], [])
    book.update(bids=[lv("100.00", "2")], asks=[])
    assert book.top(5) == ((("100.00", "2"),), ())
    book.update(bids=[lv("100.0", "0")], asks=[])
    assert book.top(5) == ((), ())


def test_snapshot_skips_zero_sizes_and_replaces_the_previous_state() -> None:
    book = book_of([lv("1", "1"), lv("2", "2")], [lv("3", "3")])
    book.replace([lv("5", "0"), lv("4", "1")], [lv("6", "0.000"), lv("7", "1")])
    assert book.top(5) == ((("4", "1"),), (("7", "1"),))


def test_clear_empties_both_sides() -> None:
    book = book_of([lv("1", "1")], [lv("2", "1")])
    book.clear()
    assert book.top(5) == ((), ())
    assert not book.crossed()


def test_prices_beyond_the_default_decimal_precision_keep_their_order() -> None:
    # 33 significant digits: negating the offer keys must not round them into one level.
    low, high = "1.00000000000000000000000000000001", "1.00000000000000000000000000000002"
    book = book_of([], [lv(high, "1"), lv(low, "2")])
    assert book.top(2)[1] == ((low, "2"), (high, "1"))


def test_crossed_when_best_bid_reaches_best_ask() -> None:
    book = book_of([lv("100", "1")], [lv("100.01", "1")])
    assert not book.crossed()
    book.update(bids=[lv("100.01", "1")], asks=[])
    assert book.crossed()  # equal prices
    book.update(bids=[lv("100.01", "0"), lv("100.5", "1")], asks=[])
    assert book.crossed()  # bid above ask
    assert book.bids.best_price() == Decimal("100.5")
    assert book.asks.best_price() == Decimal("100.01")


def test_a_one_sided_book_is_not_crossed() -> None:
    assert not book_of([lv("100", "1")], []).crossed()
    assert not book_of([], [lv("100", "1")]).crossed()


@pytest.mark.parametrize(
    ("size", "zero"),
    [("0", True), ("0.0", True), ("0.00000000", True), ("0.00000001", False), ("10", False)],
)
def test_zero_size_spellings(size: str, zero: bool) -> None:
    assert is_zero(size) is zero


def _model_top(levels: dict[Decimal, Level], n: int, best_high: bool) -> tuple[Level, ...]:
    return tuple(levels[p] for p in sorted(levels, reverse=best_high)[:n])


def test_full_depth_book_matches_a_sorted_model_after_many_updates() -> None:
    """A BTC-USD-sized book (20k levels a side) under 5k random updates stays exact."""
    rng = random.Random(7)

    def ladder(start: float, step: float, size: str) -> dict[Decimal, Level]:
        texts = (f"{start + i * step:.2f}" for i in range(20_000))
        return {Decimal(p): lv(p, size) for p in texts}

    bids = ladder(50_000.0, -0.01, "1")
    asks = ladder(50_000.01, 0.01, "2")
    book = book_of(list(bids.values()), list(asks.values()))
    for _ in range(5_000):
        side, model, low = (
            (book.bids, bids, 49_800.0) if rng.random() < 0.5 else (book.asks, asks, 50_000.01)
        )
        price = f"{low + rng.randrange(0, 20_000) * 0.01:.2f}"
        size = rng.choice(["0", "0.5", "3.25"])
        side.set(Dec(price), Dec(size))
        if size == "0":
            model.pop(Decimal(price), None)
        else:
            model[Decimal(price)] = lv(price, size)
    assert book.top(20) == (_model_top(bids, 20, True), _model_top(asks, 20, False))
    assert (len(book.bids), len(book.asks)) == (len(bids), len(asks))


_prices = st.integers(min_value=1, max_value=60).map(lambda i: f"{i / 4:.2f}")
_sizes = st.sampled_from(["0", "0.0", "1", "2.5"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), _prices, _sizes), max_size=60), st.integers(0, 8))
def test_any_update_sequence_matches_the_model(ops: list[tuple[bool, str, str]], n: int) -> None:
    book = OrderBook()
    model: dict[bool, dict[Decimal, Level]] = {True: {}, False: {}}
    for is_bid, price, size in ops:
        (book.bids if is_bid else book.asks).set(Dec(price), Dec(size))
        if is_zero(size):
            model[is_bid].pop(Decimal(price), None)
        else:
            model[is_bid][Decimal(price)] = lv(price, size)
    assert book.top(n) == (_model_top(model[True], n, True), _model_top(model[False], n, False))
    best_bid = max(model[True], default=None)
    best_ask = min(model[False], default=None)
    expected = best_bid is not None and best_ask is not None and best_bid >= best_ask
    assert book.crossed() == expected
