"""Coinbase local books (pure): level2 snapshots and updates, top N, and the resyncs a
sequence gap or a crossed book starts."""

from __future__ import annotations

import json
from decimal import Decimal

import orjson

from streamer.ids import record_id
from streamer.records import Millis, Reject, Trade
from streamer.timefmt import parse_rfc3339
from streamer.venues.coinbase.decode import CoinbaseDecoder
from streamer.venues.coinbase.settings import CoinbaseSettings
from tests.conftest import fixture_text
from tests.venues.coinbase.test_coinbase_decode import RECEIVED, decoder, frame, l2

SNAPSHOT = "coinbase/advanced_l2_snapshot_BTC-USD_TRUNCATED_10perside_2026-09-30.json"
SESSION = "coinbase/advanced_trade_session_excerpt_2026-09-30.jsonl"


def test_recorded_snapshot_gives_the_exact_best_levels_best_first() -> None:
    d = decoder()
    assert d.decode(fixture_text(SNAPSHOT), RECEIVED) == []
    [book] = d.books_due()
    assert book.symbol == "BTC-USD"
    assert book.bids[0] == ("83277.25", "0.00715626")
    assert book.asks[0] == ("83277.26", "0.01110256")
    assert [p for p, _ in book.bids] == [
        "83277.25", "83275.58", "83275.17", "83275.01", "83274.62",
        "83272.35", "83271.54", "83268.61", "83267.81", "83266.66",
    ]  # fmt: skip
    assert [p for p, _ in book.asks] == [
        "83277.26", "83278.32", "83278.34", "83278.93", "83279.35",
        "83279.76", "83280.73", "83280.93", "83281", "83282.16",
    ]  # fmt: skip
    event_time = parse_rfc3339("2026-09-30T02:39:53.670986313Z", "t")
    assert (book.event_time, book.received_at, book.sequence, book.depth) == (
        event_time,
        RECEIVED,
        0,
        20,
    )
    assert book.record_id == record_id("coinbase", "BTC-USD", "book", event_time, 0)


def test_books_due_leaves_out_unchanged_and_unsynced_books() -> None:
    d = decoder()
    assert d.books_due() == []
    d.decode(fixture_text(SNAPSHOT), RECEIVED)
    assert [b.symbol for b in d.books_due()] == ["BTC-USD"]
    assert d.books_due() == []  # nothing changed: the same record would repeat


def test_top_n_is_cut_at_the_configured_depth() -> None:
    d = CoinbaseDecoder(CoinbaseSettings(symbols=("BTC-USD",), book_depth=3))
    d.decode(fixture_text(SNAPSHOT), RECEIVED)
    [book] = d.books_due()
    assert book.depth == 3
    assert book.bids == (
        ("83277.25", "0.00715626"),
        ("83275.58", "0.02401664"),
        ("83275.17", "0.00720484"),
    )
    assert book.asks == (("83277.26", "0.01110256"), ("83278.32", "0.03"), ("83278.34", "0.03"))


def _model_replay(lines: list[str]) -> dict[str, dict[Decimal, tuple[str, str]]]:
    """A naive oracle: every BTC-USD level in a dict, sorted only at the end."""
    sides: dict[str, dict[Decimal, tuple[str, str]]] = {"bid": {}, "offer": {}}
    for line in lines:
        msg = json.loads(line)
        if msg.get("channel") != "l2_data":
            continue
        for event in msg["events"]:
            if event["product_id"] != "BTC-USD":
                continue
            for u in event["updates"]:
                side = sides[u["side"]]
                if Decimal(u["new_quantity"]) == 0:
                    side.pop(Decimal(u["price_level"]), None)
                else:
                    side[Decimal(u["price_level"])] = (u["price_level"], u["new_quantity"])
    return sides


def _renumbered(lines: list[str]) -> list[str]:
    """The recorded excerpt with contiguous `sequence_num` (as a session without holes)."""
    out = []
    for i, line in enumerate(lines):
        msg = orjson.loads(line)
        if "sequence_num" in msg:
            msg["sequence_num"] = i
        out.append(orjson.dumps(msg).decode())
    return out


def test_recorded_session_replays_onto_the_snapshot() -> None:
    d = decoder()
    lines = _renumbered([fixture_text(SNAPSHOT).strip(), *fixture_text(SESSION).splitlines()])
    items = [item for i, line in enumerate(lines) for item in d.decode(line, Millis(RECEIVED + i))]
    assert not [i for i in items if isinstance(i, Reject)]
    assert d.stats.gaps == 0 and not d.resync_requested
    # ETH-USD's snapshot is not in the excerpt: its updates are dropped, its book never published.
    assert d.stats.extra["unsynced_updates"] == 6
    [book] = d.books_due()
    assert book.symbol == "BTC-USD"
    assert book.bids[0] == ("83277.25", "0.0073501")
    assert book.asks[0] == ("83277.26", "0.0105191")
    assert book.event_time == parse_rfc3339("2026-09-30T02:39:54.046357266Z", "t")
    model = _model_replay(lines)
    assert book.bids == tuple(model["bid"][k] for k in sorted(model["bid"], reverse=True)[:20])
    assert book.asks == tuple(model["offer"][k] for k in sorted(model["offer"])[:20])
    # The three live trades in the excerpt; the maker sold, so the taker bought.
    assert [
        (t.symbol, t.trade_id, t.price, t.size, t.side) for t in items if isinstance(t, Trade)
    ] == [
        ("BTC-USD", "1100253488", "83277.26", "0.00058346", "buy"),
        ("ETH-USD", "846155167", "2667.2", "0.84275842", "buy"),
        ("BTC-USD", "1100253573", "83320.66", "0.0041608", "buy"),
    ]


def test_a_sequence_gap_drops_the_books_until_fresh_snapshots() -> None:
    d = decoder()
    lines = [fixture_text(SNAPSHOT).strip(), *fixture_text(SESSION).splitlines()]
    for i, line in enumerate(lines):
        d.decode(line, Millis(RECEIVED + i))
    # The excerpt's sequence_num runs 0-4, 6, 7, 10-23, 247, 249: four holes.
    assert d.stats.gaps == 4
    assert d.resync_requested and d.stats.extra["resyncs"] == 1  # one request while pending
    assert d.books_due() == []  # a book that may have missed updates is never published
    d.resync_requested = False  # the shell resubscribed
    d.decode(l2(250, "snapshot", [("bid", "10", "1"), ("offer", "11", "2")]), RECEIVED)
    [book] = d.books_due()
    assert (book.bids, book.asks) == ((("10", "1"),), (("11", "2"),))


def test_a_crossed_book_is_resynced_and_not_published() -> None:
    d = decoder()
    d.decode(fixture_text(SNAPSHOT), RECEIVED)
    d.decode(l2(1, "update", [("bid", "83277.26", "1")]), RECEIVED)
    assert d.books_due() == []
    assert d.stats.extra["crossed_books"] == 1
    assert d.resync_requested
    # Updates before the fresh snapshot are not applied to a book that is gone.
    d.decode(l2(2, "update", [("bid", "83277.26", "0")]), RECEIVED)
    assert d.books_due() == []
    d.decode(l2(3, "snapshot", [("bid", "83277.25", "2"), ("offer", "83277.27", "1")]), RECEIVED)
    [book] = d.books_due()
    assert book.bids[0] == ("83277.25", "2") and book.sequence == 3


def test_reset_forgets_books_and_sequence_until_a_new_snapshot() -> None:
    d = decoder()
    d.decode(fixture_text(SNAPSHOT), RECEIVED)
    d.decode(l2(1, "update", [("bid", "83277.24", "1")]), RECEIVED)
    d.reset()
    assert d.decode(l2(0, "update", [("bid", "83277.23", "1")]), RECEIVED) == []
    assert d.books_due() == []  # no snapshot on this connection yet
    d.decode(l2(1, "snapshot", [("bid", "10", "1"), ("offer", "11", "2")]), RECEIVED)
    [book] = d.books_due()
    assert (book.bids, book.asks) == ((("10", "1"),), (("11", "2"),))
    assert d.stats.gaps == 0
    assert "sequence_regressions" not in d.stats.extra


def test_a_lower_sequence_is_counted_as_a_regression_not_a_gap() -> None:
    d = decoder()
    d.decode(frame("heartbeats", 5, []), RECEIVED)
    d.decode(frame("heartbeats", 3, []), RECEIVED)
    d.decode(frame("heartbeats", 6, []), RECEIVED)
    assert d.stats.gaps == 0
    assert d.stats.extra["sequence_regressions"] == 1
