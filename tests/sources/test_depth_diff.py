"""Binance full books from the diff stream, by the documented procedure (exchanges.md 1.7),
on recorded frames; and `book_replay` rebuilds every published book from `book_updates`."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from streamer.book_replay import replay
from streamer.ids import record_id
from streamer.records import BookSnapshot, BookUpdate, Item, Millis, Reject
from streamer.sources.depth_diff import MAX_BUFFERED
from streamer.venues.binance.decode import BinanceDecoder, stream_names
from streamer.venues.binance.settings import BinanceSettings
from tests.conftest import fixture_text

RECEIVED = Millis(1_633_998_513_000)
DIFFS = "binance/diff_depth_100ms_NKNUSDT_sequence.jsonl"
SNAPSHOT = "binance/rest_depth_snapshot_NKNUSDT_limit1000.json"


def decoder() -> BinanceDecoder:
    return BinanceDecoder(BinanceSettings(symbols=("NKN-USDT",), book_updates=True, depth=10))


def diffs() -> list[str]:
    return fixture_text(DIFFS).splitlines()


def of(items: list[Item], kind: type) -> list[object]:
    return [item for item in items if type(item) is kind]


def test_full_books_read_the_diff_stream() -> None:
    names = stream_names(BinanceSettings(symbols=("NKN-USDT",), book_updates=True))
    assert "nknusdt@depth@100ms" in names and not any("@depth20" in n for n in names)


def test_the_recorded_session_syncs_drops_the_first_event_and_chains_the_rest() -> None:
    d = decoder()
    frames = diffs()
    assert d.decode(frames[0], RECEIVED) == []  # buffered; the snapshot is asked for
    assert d.books is not None and list(d.books.wanted) == ["NKN-USDT"]
    d.books.wanted.clear()  # the shell took it
    assert d.decode(frames[1], RECEIVED) == []
    rows = d.depth_snapshot("NKN-USDT", fixture_text(SNAPSHOT).encode(), RECEIVED)
    snapshot = [r for r in of(rows, BookUpdate) if r.is_snapshot]  # type: ignore[attr-defined]
    assert len(snapshot) == 609 + 1000
    assert {r.sequence for r in snapshot} == {499869752}  # type: ignore[attr-defined]
    # The first event (u = lastUpdateId) was dropped; the second applied on the snapshot, and
    # the snapshot is stamped with its E.
    (book,) = of(rows, BookSnapshot)
    assert isinstance(book, BookSnapshot)
    assert (book.sequence, book.event_time) == (499869754, 1633998512568)
    assert {r.event_time for r in snapshot} == {1633998512568}  # type: ignore[attr-defined]
    assert book.record_id == record_id("binance", "NKN-USDT", "book", 499869754)
    for frame in frames[2:]:
        assert of(d.decode(frame, RECEIVED), BookSnapshot), frame
    assert d.stats.extra["depth_resyncs"] == 0 and not d.books.wanted


def test_replaying_book_updates_rebuilds_every_published_book() -> None:
    d = decoder()
    frames = diffs()
    items: list[Item] = []
    items += d.decode(frames[0], RECEIVED)
    items += d.depth_snapshot("NKN-USDT", fixture_text(SNAPSHOT).encode(), RECEIVED)
    for frame in frames[1:]:
        items += d.decode(frame, RECEIVED)
    published = {(b.event_time, b.sequence): b for b in items if isinstance(b, BookSnapshot)}
    updates = [u for u in items if isinstance(u, BookUpdate)]
    rebuilt = {(b.event_time, b.sequence): b for b in replay(updates + updates[:50], depth=10)}
    # One book after each event, the snapshot's own included (not published: no event yet).
    assert len(published) == 149 and rebuilt.keys() - published.keys() == {
        (1633998512068, 499869752)
    }
    for key, book in published.items():
        assert (rebuilt[key].bids, rebuilt[key].asks) == (book.bids, book.asks), key
    # Level texts are the venue's; a removal is a row of size 0.
    removed = [u for u in updates if not u.is_snapshot and Decimal(u.size) == 0]
    assert removed and all(u.size == "0.00000000" for u in removed)


def test_a_missed_event_discards_the_book_and_asks_for_a_new_snapshot() -> None:
    d = decoder()
    frames = diffs()
    d.decode(frames[0], RECEIVED)
    d.depth_snapshot("NKN-USDT", fixture_text(SNAPSHOT).encode(), RECEIVED)
    assert d.books is not None
    d.decode(frames[1], RECEIVED)
    assert d.decode(frames[3], RECEIVED) == []  # frames[2] lost: U > update id + 1
    assert d.stats.extra["depth_resyncs"] == 1 and list(d.books.wanted) == ["NKN-USDT"]
    assert d.decode(frames[2], RECEIVED) == []  # buffered, no book to apply it to
    # The recorded snapshot is older than the first event buffered now: asked again.
    d.books.wanted.clear()
    assert d.depth_snapshot("NKN-USDT", fixture_text(SNAPSHOT).encode(), RECEIVED) == []
    assert d.stats.extra["depth_snapshots_too_old"] == 1 and list(d.books.wanted) == ["NKN-USDT"]


def test_a_duplicated_event_is_ignored_and_a_bad_snapshot_is_asked_again() -> None:
    d = decoder()
    frames = diffs()
    d.decode(frames[0], RECEIVED)
    (bad,) = d.depth_snapshot("NKN-USDT", b'{"code":-1121,"msg":"Invalid symbol."}', RECEIVED)
    assert isinstance(bad, Reject) and "lastUpdateId" in bad.reason
    assert d.books is not None and list(d.books.wanted) == ["NKN-USDT"]
    d.depth_snapshot("NKN-USDT", fixture_text(SNAPSHOT).encode(), RECEIVED)
    d.decode(frames[1], RECEIVED)
    assert d.decode(frames[1], RECEIVED) == []
    assert d.stats.extra["depth_stale_events"] == 1 and d.stats.extra["depth_resyncs"] == 0


def test_the_buffer_is_bounded_while_a_snapshot_is_awaited() -> None:
    d = decoder()
    frame = orjson.loads(diffs()[0])
    for n in range(MAX_BUFFERED + 10):
        frame["data"].update(U=10 * n + 1, u=10 * n + 10)
        d.decode(orjson.dumps(frame), RECEIVED)
    assert d.books is not None
    buffer = d.books.books["NKN-USDT"].buffer
    assert len(buffer) == MAX_BUFFERED and buffer[0].first == 101


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"U": 5, "u": 4}, "update ids U=5 > u=4"),
        ({"U": "5"}, "field 'U' is not an update id"),
        ({"s": "BTCUSDT"}, "unknown symbol 'BTCUSDT'"),
        ({"b": [["0.1"]]}, "not [price, size]"),
        ({"e": "trade"}, "field 'e' is not depthUpdate"),
    ],
)
def test_bad_diff_events_are_rejects_with_a_reason(change: dict[str, object], reason: str) -> None:
    frame = orjson.loads(diffs()[1])
    frame["data"].update(change)
    (item,) = decoder().decode(orjson.dumps(frame), RECEIVED)
    assert isinstance(item, Reject) and reason in item.reason


def test_a_new_listing_gets_its_trade_ids_and_its_full_book_kept() -> None:
    d = decoder()
    d.add_symbols(["BTC-USDT"])  # a refresh of the market found it
    assert d.books is not None and "BTC-USDT" in d.trade_gaps.tracks
    first, _ = fixture_text("binance/diff_depth_pair_chaining_2026-09-23.jsonl").splitlines()
    assert d.decode(first, RECEIVED) == []  # buffered: its book waits for a snapshot
    assert list(d.books.wanted) == ["BTC-USDT"]
