"""The diff-stream book keeps no venue's chain rule: a rule passed in decides how events chain.

A previous-id rule (each event names the final id of the one before it, as Binance USD-M's
`pu` or OKX's `prevSeqId`) syncs, applies and resyncs the same `DepthBooks` that Binance Spot's
`U`/`u` ranges drive in `test_depth_diff.py`."""

from __future__ import annotations

from streamer.records import BookSnapshot, Item, Millis
from streamer.sources.base import FeedStats
from streamer.sources.depth_diff import DepthBooks, DiffEvent

NOW = Millis(1_764_892_800_000)


class PreviousId:
    """Chains by the previous event's final id; the first event on a snapshot spans its id."""

    def continues(self, event: DiffEvent, book_id: int, after_snapshot: bool) -> bool:
        if after_snapshot:
            return event.first <= book_id <= event.final
        return event.previous == book_id

    def predates(self, snapshot_id: int, first: DiffEvent) -> bool:
        return snapshot_id < first.first


def books() -> DepthBooks:
    return DepthBooks("venue", ("BTC-USDT",), 5, FeedStats(), {"BTC-USDT": str}, PreviousId())


def event(d: DepthBooks, first: int, final: int, previous: int, bid: str) -> list[Item]:
    return d.event("BTC-USDT", first, final, (((bid, "1"),)), (), NOW, NOW, previous)


def tops(rows: list[Item]) -> list[tuple[int | None, str]]:
    return [(r.sequence, r.bids[0][0]) for r in rows if isinstance(r, BookSnapshot)]


def test_a_previous_id_chain_syncs_applies_and_resyncs_on_a_break() -> None:
    d = books()
    assert event(d, 10, 12, 9, "100") == [] and list(d.wanted) == ["BTC-USDT"]
    assert event(d, 13, 15, 12, "101") == []
    rows = d.snapshot("BTC-USDT", 14, (("99", "1"),), (), NOW)  # inside the second event
    assert tops(rows) == [(15, "101")]  # the first dropped (15 > 14 > 12), the second bridges
    assert tops(event(d, 16, 16, 15, "102")) == [(16, "102")]  # pu = the book's id
    assert event(d, 18, 18, 17, "103") == []  # 17 never came: the book is dropped
    assert d.stats.extra["depth_resyncs"] == 1 and "BTC-USDT" in d.wanted
    assert not d.books["BTC-USDT"].synced


def test_a_snapshot_older_than_the_buffer_is_asked_again() -> None:
    d = books()
    event(d, 10, 12, 9, "100")
    d.wanted.clear()
    assert d.snapshot("BTC-USDT", 8, (("99", "1"),), (), NOW) == []
    assert d.stats.extra["depth_snapshots_too_old"] == 1 and "BTC-USDT" in d.wanted
