"""Coinbase Advanced Trade: recorded frames become exact rows; the shell runs on a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from streamer.errors import SourceError
from streamer.ids import record_id
from streamer.records import BookSnapshot, Candle, Dec, Item, Millis, Reject, Ticker, Trade
from streamer.settings import CoinbaseSettings
from streamer.sources.coinbase import (
    TRADE_MEMORY,
    CoinbaseDecoder,
    CoinbaseSource,
    subscribe_messages,
)
from streamer.timefmt import parse_rfc3339
from tests.conftest import fixture_text
from tests.venues import Collector, venue

SNAPSHOT = "coinbase/advanced_l2_snapshot_BTC-USD_TRUNCATED_10perside_2026-09-30.json"
SESSION = "coinbase/advanced_trade_session_excerpt_2026-09-30.jsonl"
TRADES_SNAPSHOT = (
    "coinbase/advanced_market_trades_snapshot_BTC-USD_TRUNCATED_5trades_2026-09-30.json"
)
RECEIVED = Millis(1_790_736_000_000)
SUBSCRIBE_CHANNELS = ["heartbeats", "ticker", "candles", "level2", "market_trades"]


def decoder(*symbols: str, keep_open_candles: bool = False) -> CoinbaseDecoder:
    settings = CoinbaseSettings(
        symbols=symbols or ("BTC-USD", "ETH-USD"), keep_open_candles=keep_open_candles
    )
    return CoinbaseDecoder(settings)


def frame(channel: str, sequence: object, events: list[dict[str, Any]], **extra: Any) -> str:
    envelope = {"channel": channel, "timestamp": "2026-09-30T02:40:00.5Z", "sequence_num": sequence}
    return json.dumps({**envelope, "events": events, **extra})


def l2(
    sequence: int, kind: str, updates: list[tuple[str, str, str]], product: str = "BTC-USD"
) -> str:
    rows = [
        {"side": s, "event_time": "", "price_level": p, "new_quantity": q} for s, p, q in updates
    ]
    return frame("l2_data", sequence, [{"type": kind, "product_id": product, "updates": rows}])


def trades(sequence: int, *specs: tuple[str, str], kind: str = "update") -> str:
    """`specs` are (trade_id, maker side) pairs on BTC-USD."""
    rows = [
        {"product_id": "BTC-USD", "trade_id": tid, "price": "100.5", "size": "0.1",
         "time": "2026-09-30T02:40:00.25Z", "side": side}
        for tid, side in specs
    ]  # fmt: skip
    return frame("market_trades", sequence, [{"type": kind, "trades": rows}])


def candle_frame(sequence: int, start: str, close: str, product: str = "ETH-USD") -> str:
    row = {"start": start, "high": "2", "low": "1", "open": "1.5", "close": close,
           "volume": "10", "product_id": product}  # fmt: skip
    return frame("candles", sequence, [{"type": "update", "candles": [row]}])


# -- subscribing -------------------------------------------------------------------------


def test_subscribe_messages_are_one_per_channel_heartbeats_first() -> None:
    messages = [json.loads(m) for m in subscribe_messages(["BTC-USD", "ETH-USD"])]
    assert messages == [
        {"type": "subscribe", "channel": "heartbeats"},
        *(
            {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"], "channel": channel}
            for channel in SUBSCRIBE_CHANNELS[1:]
        ),
    ]


def test_subscribe_messages_match_the_documented_request_shapes() -> None:
    documented = [
        json.loads(line)
        for line in fixture_text("coinbase/advanced_subscribe_requests.jsonl").splitlines()
    ]
    sent = [json.loads(m) for m in subscribe_messages(["BTC-USD"])]
    for request in documented:
        if request["type"] == "subscribe":
            assert request in sent


# -- level2 and books --------------------------------------------------------------------


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


# -- trades ------------------------------------------------------------------------------


def test_trade_snapshot_inverts_the_maker_side_and_a_replay_is_dropped() -> None:
    d = decoder()
    raw = fixture_text(TRADES_SNAPSHOT)
    rows = d.decode(raw, RECEIVED)
    assert rows[0] == Trade(
        exchange="coinbase",
        symbol="BTC-USD",
        event_time=parse_rfc3339("2026-09-30T02:39:53.354654Z", "t"),
        received_at=RECEIVED,
        trade_id="1100253487",
        price=Dec("83277.25"),
        size=Dec("0.00000029"),
        side="sell",  # the recorded maker side is BUY
        record_id=record_id("coinbase", "BTC-USD", "trade", "1100253487"),
    )
    assert [(t.trade_id, t.size, t.side) for t in rows if isinstance(t, Trade)] == [
        ("1100253487", "0.00000029", "sell"),
        ("1100253486", "0.00004829", "sell"),
        ("1100253485", "0.0000379", "sell"),
        ("1100253484", "0.00000022", "sell"),
        ("1100253483", "0.00000011", "sell"),
    ]
    d.reset()  # a reconnect: the venue replays the same trade snapshot
    assert d.decode(raw, RECEIVED) == []
    assert d.stats.extra["duplicate_trades"] == 5


def test_a_repeated_sequence_number_is_skipped() -> None:
    d = decoder()
    d.decode(fixture_text(SNAPSHOT), RECEIVED)
    d.decode(l2(1, "update", [("bid", "83277.24", "5")]), RECEIVED)
    d.decode(l2(2, "update", [("bid", "83277.24", "7")]), RECEIVED)
    # Frame 1 again (a duplicate or a latecomer) must not move the book backwards.
    assert d.decode(l2(1, "update", [("bid", "83277.24", "5")]), RECEIVED) == []
    [book] = d.books_due()
    assert ("83277.24", "7") in book.bids and book.sequence == 2
    assert d.stats.extra["sequence_regressions"] == 1


def test_only_new_trades_of_a_mixed_frame_are_kept() -> None:
    d = decoder()
    d.decode(trades(1, ("7", "BUY")), RECEIVED)
    rows = d.decode(trades(2, ("7", "BUY"), ("8", "SELL")), RECEIVED)
    assert [(t.trade_id, t.side) for t in rows if isinstance(t, Trade)] == [("8", "buy")]


def test_trade_memory_is_bounded() -> None:
    d = decoder()
    for i in range(TRADE_MEMORY):
        assert len(d.decode(trades(i, (str(i), "BUY")), RECEIVED)) == 1
    assert d.decode(trades(TRADE_MEMORY, ("0", "BUY")), RECEIVED) == []  # still remembered
    d.decode(trades(TRADE_MEMORY + 1, ("new", "BUY")), RECEIVED)  # evicts the oldest id, "0"
    assert d.decode(trades(TRADE_MEMORY + 2, ("1", "BUY")), RECEIVED) == []  # the next oldest
    assert len(d.decode(trades(TRADE_MEMORY + 3, ("0", "BUY")), RECEIVED)) == 1


def test_a_rejected_trade_frame_does_not_mark_its_good_trades_as_seen() -> None:
    d = decoder()
    bad = json.loads(trades(1, ("1", "BUY"), ("2", "SIDEWAYS")))
    assert [type(i) for i in d.decode(json.dumps(bad), RECEIVED)] == [Reject]
    assert len(d.decode(trades(2, ("1", "BUY")), RECEIVED)) == 1


# -- ticker and candles ------------------------------------------------------------------


def test_documented_ticker_maps_every_field() -> None:
    d = decoder()
    [row] = d.decode(fixture_text("coinbase/advanced_doc_ticker.json"), RECEIVED)
    event_time = parse_rfc3339("2023-02-09T20:30:37.167359596Z", "t")
    assert row == Ticker(
        exchange="coinbase",
        symbol="BTC-USD",
        event_time=event_time,
        received_at=RECEIVED,
        last_price=Dec("21932.98"),
        best_bid=Dec("21931.98"),
        best_bid_size=Dec("8000.21"),
        best_ask=Dec("21933.98"),
        best_ask_size=Dec("8038.07770938"),
        open_24h=None,
        high_24h=Dec("23011.18"),
        low_24h=Dec("21835.29"),
        volume_24h=Dec("16038.28770938"),
        quote_volume_24h=None,
        price_change_pct_24h=Dec("-4.15775596190603"),
        trade_count_24h=None,
        record_id=record_id(
            "coinbase", "BTC-USD", "ticker", event_time, "21932.98", "16038.28770938"
        ),
    )


def test_a_later_start_closes_the_documented_candle_with_its_exact_values() -> None:
    d = decoder()
    assert d.decode(fixture_text("coinbase/advanced_doc_candles.json"), RECEIVED) == []
    rows = d.decode(candle_frame(1, "1688998500", "1866.9"), Millis(RECEIVED + 1))
    open_time = 1_688_998_200_000
    assert rows == [
        Candle(
            exchange="coinbase",
            symbol="ETH-USD",
            event_time=parse_rfc3339("2023-06-09T20:19:35.39625135Z", "t"),
            received_at=RECEIVED,
            interval="5m",
            open_time=Millis(open_time),
            close_time=Millis(open_time + 299_999),
            open=Dec("1867.38"),
            high=Dec("1867.72"),
            low=Dec("1865.63"),
            close=Dec("1866.81"),
            volume=Dec("0.20269406"),
            quote_volume=None,
            trade_count=None,
            is_closed=True,
            origin="ws",
            record_id=record_id("coinbase", "ETH-USD", "ohlcv", "5m", open_time),
        )
    ]


def test_the_last_update_of_a_bucket_is_the_closed_candle_and_late_updates_are_ignored() -> None:
    d = decoder()
    d.decode(candle_frame(0, "1688998200", "1.6"), RECEIVED)
    d.decode(candle_frame(1, "1688998200", "1.7"), RECEIVED)
    d.decode(candle_frame(2, "1688998500", "1.8"), RECEIVED)
    assert d.decode(candle_frame(3, "1688998200", "9"), RECEIVED) == []  # late, already closed
    [closed] = d.decode(candle_frame(4, "1688998800", "1.9"), RECEIVED)
    assert isinstance(closed, Candle)
    assert (closed.open_time, closed.close, closed.is_closed) == (1_688_998_500_000, "1.8", True)


def test_keep_open_candles_emits_every_update_as_open() -> None:
    d = decoder(keep_open_candles=True)
    [first] = d.decode(candle_frame(0, "1688998200", "1.6"), RECEIVED)
    closed, opened = d.decode(candle_frame(1, "1688998500", "1.7"), RECEIVED)
    assert isinstance(first, Candle)
    assert isinstance(closed, Candle)
    assert isinstance(opened, Candle)
    assert (first.close, first.is_closed) == ("1.6", False)
    assert (closed.close, closed.is_closed, closed.open_time) == ("1.6", True, 1_688_998_200_000)
    assert (opened.close, opened.is_closed, opened.open_time) == ("1.7", False, 1_688_998_500_000)
    assert first.record_id != closed.record_id


# -- control frames and rejects ----------------------------------------------------------


@pytest.mark.parametrize(
    "fixture",
    [
        "coinbase/advanced_doc_heartbeats.json",  # heartbeat_counter as a string
        "coinbase/advanced_user_endpoint_heartbeats_recorded_2026-09-30.json",  # as an integer
        "coinbase/advanced_user_endpoint_subscriptions_recorded_2026-09-30.json",
    ],
)
def test_heartbeats_and_subscriptions_yield_nothing(fixture: str) -> None:
    d = decoder()
    assert d.decode(fixture_text(fixture), RECEIVED) == []
    assert d.stats.rejects == 0


def test_venue_error_becomes_a_reject_with_its_message() -> None:
    raw = fixture_text("coinbase/advanced_error_too_many_l2_streams_issue.json")
    assert decoder().decode(raw, RECEIVED) == [
        Reject(
            source="coinbase",
            reason="venue error: too many L2 streams requested in a single session",
            raw=raw,
            received_at=RECEIVED,
        )
    ]


_GOOD_TRADE = json.loads(trades(1, ("1", "BUY")))


def _trade_with(**fields: object) -> str:
    msg = json.loads(json.dumps(_GOOD_TRADE))
    msg["events"][0]["trades"][0].update(fields)
    return json.dumps(msg)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"channel": "l2_data", "sequence_num": ', "invalid JSON"),
        ("[1, 2]", "frame is not a JSON object"),
        (frame("status", 1, []), "unknown channel 'status'"),
        ('{"type": "subscriptions"}', "frame has no channel"),
        (json.dumps({"channel": "ticker", "events": []}), "missing field 'sequence_num'"),
        (frame("heartbeats", "1", []), "field 'sequence_num' is not an integer"),
        (_trade_with(price="1,5"), "field 'price' is not a decimal string"),
        (_trade_with(size=0.1), "field 'size' is not a decimal string"),
        (_trade_with(time="yesterday"), "field 'time' is not an RFC 3339 timestamp"),
        (_trade_with(product_id="DOGE-USD"), "unknown product 'DOGE-USD'"),
        (_trade_with(side="sell"), "field 'side' is not BUY or SELL"),
        (_trade_with(trade_id=None), "field 'trade_id' is not an id"),
        (frame("market_trades", 1, [{"type": "update"}]), "missing field 'trades'"),
        (frame("market_trades", 1, [{"type": "update", "trades": [7]}]), "wrong type or shape"),
        (l2(1, "snapshot", [("ask", "1", "1")]), "unknown book side 'ask'"),
        (l2(1, "snapshot", [("bid", "NaN", "1")]), "field 'price_level' is not a decimal"),
        (l2(1, "snapshot", [("bid", "1", "-1")]), "field 'new_quantity' is negative"),
        (l2(1, "refresh", []), "unknown l2_data event type 'refresh'"),
        (candle_frame(1, "16889982OO", "1"), "field 'start' is not UNIX seconds"),
    ],
)
def test_a_bad_frame_is_exactly_one_reject_with_its_reason(raw: str, reason: str) -> None:
    d = decoder()
    [item] = d.decode(raw, RECEIVED)
    assert isinstance(item, Reject)
    assert item.reason.startswith(reason), item.reason
    assert (item.source, item.raw, item.received_at) == ("coinbase", raw, RECEIVED)


def test_a_bad_book_frame_leaves_the_book_untouched() -> None:
    d = decoder()
    d.decode(fixture_text(SNAPSHOT), RECEIVED)
    d.books_due()
    bad = l2(1, "update", [("bid", "83277.25", "9"), ("offer", "x", "1")])
    assert [type(i) for i in d.decode(bad, RECEIVED)] == [Reject]
    assert d.books_due() == []  # nothing was applied
    d.decode(l2(2, "update", [("offer", "83277.27", "1")]), RECEIVED)
    [book] = d.books_due()
    assert book.bids[0] == ("83277.25", "0.00715626")


def test_bytes_frames_decode_like_text() -> None:
    d = decoder()
    rows = d.decode(fixture_text(TRADES_SNAPSHOT).encode(), RECEIVED)
    assert len([r for r in rows if isinstance(r, Trade)]) == 5


# -- the asyncio shell against a real WebSocket server -----------------------------------


async def receive_subscriptions(ws: ServerConnection) -> list[dict[str, Any]]:
    """The venue's rule: every subscribe message within 5 s of connecting."""
    async with asyncio.timeout(5):
        return [json.loads(await ws.recv()) for _ in SUBSCRIBE_CHANNELS]


def expected_subscriptions(symbols: list[str]) -> list[dict[str, Any]]:
    return [json.loads(m) for m in subscribe_messages(symbols)]


def cents(n: int) -> str:
    return f"{n // 100}.{n % 100:02d}"


def big_snapshot(levels_per_side: int) -> bytes:
    """A BTC-USD level2 snapshot: bids from 50000.00 down, offers from 50000.01 up."""
    stamp = "2026-09-30T02:39:53.407329Z"

    def level(side: str, price: str, size: str) -> dict[str, str]:
        return {"side": side, "event_time": stamp, "price_level": price, "new_quantity": size}

    updates = [level("bid", cents(5_000_000 - i), "0.12345678") for i in range(levels_per_side)]
    updates += [level("offer", cents(5_000_001 + i), "0.87654321") for i in range(levels_per_side)]
    event = {"type": "snapshot", "product_id": "BTC-USD", "updates": updates}
    stamp = "2026-09-30T02:39:53.670986313Z"
    return orjson.dumps(
        {"channel": "l2_data", "timestamp": stamp, "sequence_num": 0, "events": [event]}
    )


@contextlib.asynccontextmanager
async def running(
    source: CoinbaseSource, collector: Collector
) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(source.run(collector.emit))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_source_subscribes_reads_a_snapshot_over_10_mib_and_publishes_books() -> None:
    snapshot = big_snapshot(60_000)
    assert len(snapshot) > 10 * 1024 * 1024
    received: list[list[dict[str, Any]]] = []

    async def handler(ws: ServerConnection) -> None:
        received.append(await receive_subscriptions(ws))
        await ws.send(snapshot.decode())
        await ws.send(l2(1, "update", [("bid", "50000.00", "0"), ("bid", "50000.005", "2.5")]))
        await ws.send(l2(2, "update", [("offer", "50000.01", "0.5")]))
        await ws.send(trades(3, ("9001", "SELL")))
        await ws.wait_closed()

    async with venue(handler) as url:
        settings = CoinbaseSettings(symbols=("BTC-USD",), ws_url=url, book_interval=0.01)
        source = CoinbaseSource(settings)
        collector = Collector()
        async with running(source, collector):

            def final_book(items: list[Item]) -> bool:
                return any(isinstance(i, BookSnapshot) and i.sequence == 2 for i in items)

            await collector.wait_for(final_book)

    assert received == [expected_subscriptions(["BTC-USD"])]
    [trade] = [i for i in collector.items if isinstance(i, Trade)]
    assert (trade.trade_id, trade.price, trade.side) == ("9001", "100.5", "buy")
    book = next(i for i in collector.items if isinstance(i, BookSnapshot) and i.sequence == 2)
    assert book.bids[:2] == (("50000.005", "2.5"), ("49999.99", "0.12345678"))
    assert book.asks[:2] == (("50000.01", "0.5"), ("50000.02", "0.87654321"))
    assert (len(book.bids), len(book.asks), book.depth) == (20, 20, 20)
    assert source.stats.rejects == 0
    assert source.stats.connects == 1


async def test_source_reconnects_resubscribes_and_drops_replayed_trades() -> None:
    connections: list[list[dict[str, Any]]] = []

    async def handler(ws: ServerConnection) -> None:
        connections.append(await receive_subscriptions(ws))
        await ws.send(l2(0, "snapshot", [("bid", "10", "1"), ("offer", "11", "1")]))
        if len(connections) == 1:
            await ws.send(trades(1, ("1", "BUY")))
            await ws.close()  # the venue drops the first connection after a few frames
            return
        await ws.send(trades(1, ("1", "BUY"), ("2", "SELL")))  # the replay, plus one new trade
        await ws.wait_closed()

    intervals: list[float] = []

    async def sleep(seconds: float) -> None:
        intervals.append(seconds)
        await asyncio.sleep(0.01)

    async with venue(handler) as url:
        settings = CoinbaseSettings(symbols=("BTC-USD", "ETH-USD"), ws_url=url, book_interval=7)
        source = CoinbaseSource(settings, sleep=sleep)
        collector = Collector()
        async with running(source, collector):

            def second_trade(items: list[Item]) -> bool:
                return any(isinstance(i, Trade) and i.trade_id == "2" for i in items)

            await collector.wait_for(second_trade)

    assert source.stats.connects == 2
    assert connections == [expected_subscriptions(["BTC-USD", "ETH-USD"])] * 2
    assert [(i.trade_id, i.side) for i in collector.items if isinstance(i, Trade)] == [
        ("1", "sell"),
        ("2", "buy"),
    ]
    assert source.stats.gaps == 0  # the new connection's counter restarts at 0
    assert set(intervals) == {7}


async def test_a_refused_connection_ends_run_with_a_plain_source_error() -> None:
    def refuse(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(HTTPStatus.FORBIDDEN, "no\n")

    async def never(ws: ServerConnection) -> None:
        raise AssertionError("the handshake must fail")

    async with venue(never, process_request=refuse) as url:
        source = CoinbaseSource(CoinbaseSettings(ws_url=url))
        with pytest.raises(SourceError, match="HTTP 403"):
            async with asyncio.timeout(10):
                await source.run(Collector().emit)


async def test_a_product_whose_candles_go_quiet_gets_a_fresh_connection() -> None:
    """The candles channel updates every product every second; ETH-USD going silent while
    BTC-USD still flows is a dead subscription, and the client reconnects."""
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        first = connections == 1
        await receive_subscriptions(ws)
        n = 0
        with contextlib.suppress(ConnectionClosed):
            while True:  # BTC-USD never stops: the connection itself is never silent
                await ws.send(candle_frame(2 * n, "1688998200", "1", product="BTC-USD"))
                if not first or n < 5:  # on the first connection ETH-USD stops after 5
                    await ws.send(candle_frame(2 * n + 1, "1688998200", "1", product="ETH-USD"))
                else:
                    await ws.send(frame("heartbeats", 2 * n + 1, []))
                n += 1
                await asyncio.sleep(0.05)

    async with venue(handler) as url:
        settings = CoinbaseSettings(symbols=("BTC-USD", "ETH-USD"), ws_url=url, stale_seconds=1.0)
        source = CoinbaseSource(settings)
        collector = Collector()
        async with running(source, collector):
            async with asyncio.timeout(15):
                while source.stats.connects < 2:
                    await asyncio.sleep(0.05)
    assert source.stats.stalls >= 1 and connections >= 2
    assert source.stats.rejects == 0
