"""Coinbase wire decoding (pure): recorded frames become exact rows or one reject each; local
books, sequence gaps and resyncs, trade de-duplication, candles closing; the candle ledger's
decision on closed candles."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streamer.ids import record_id
from streamer.records import BookSnapshot, Candle, Dec, Item, Millis, Reject, Ticker, Trade
from streamer.sources.candles import CandleLedger, Gap
from streamer.timefmt import parse_rfc3339
from streamer.venues.coinbase.decode import CoinbaseDecoder, closed_candle_gaps
from streamer.venues.coinbase.settings import CoinbaseSettings
from streamer.venues.coinbase.state import TRADE_MEMORY
from streamer.venues.coinbase.wire import BOOK_HEAD, TRADES_HEAD
from tests.conftest import fixture_text

SNAPSHOT = "coinbase/advanced_l2_snapshot_BTC-USD_TRUNCATED_10perside_2026-09-30.json"
SESSION = "coinbase/advanced_trade_session_excerpt_2026-09-30.jsonl"
TRADES_SNAPSHOT = (
    "coinbase/advanced_market_trades_snapshot_BTC-USD_TRUNCATED_5trades_2026-09-30.json"
)
RECEIVED = Millis(1_790_736_000_000)


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


# -- trades ------------------------------------------------------------------------------


def test_trade_snapshot_inverts_the_maker_side_and_a_replay_is_dropped() -> None:
    d = decoder()
    raw = fixture_text(TRADES_SNAPSHOT)
    rows = d.decode(raw, RECEIVED)
    assert rows[-1] == Trade(
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
    # The snapshot is newest first; its trades are published oldest first.
    assert [(t.trade_id, t.size, t.side) for t in rows if isinstance(t, Trade)] == [
        ("1100253483", "0.00000011", "sell"),
        ("1100253484", "0.00000022", "sell"),
        ("1100253485", "0.0000379", "sell"),
        ("1100253486", "0.00004829", "sell"),
        ("1100253487", "0.00000029", "sell"),
    ]
    d.reset()  # a reconnect: the venue replays the same trade snapshot
    assert d.decode(raw, RECEIVED) == []
    assert d.stats.extra["duplicate_trades"] == 5
    assert d.trade_gaps.tracks["BTC-USD"].holes == []


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


def test_numeric_trade_ids_are_never_taken_twice() -> None:
    d = decoder()
    for seq, trade_id in enumerate(range(3 * TRADE_MEMORY), start=1):
        assert len(d.decode(trades(seq, (str(trade_id), "BUY")), RECEIVED)) == 1
    assert d.decode(trades(3 * TRADE_MEMORY + 1, ("0", "BUY")), RECEIVED) == []


def test_trade_memory_of_ids_that_are_not_numbers_keeps_the_newest_and_is_bounded() -> None:
    d = decoder()
    seq = 0
    for i in range(2 * TRADE_MEMORY - 1):  # any id among the newest TRADE_MEMORY is known
        seq += 1
        assert len(d.decode(trades(seq, (f"x{i}", "BUY")), RECEIVED)) == 1
        newest = f"x{max(0, i - TRADE_MEMORY + 1)}"
        seq += 1
        assert d.decode(trades(seq, (newest, "BUY")), RECEIVED) == [], i
    for i in range(2 * TRADE_MEMORY - 1, 3 * TRADE_MEMORY):
        seq += 1
        d.decode(trades(seq, (f"x{i}", "BUY")), RECEIVED)
    seq += 1  # 3 * TRADE_MEMORY ids later, the first is forgotten: memory is bounded
    assert len(d.decode(trades(seq, ("x0", "BUY")), RECEIVED)) == 1


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


# -- what the shell acts on ----------------------------------------------------------------


def test_a_closed_websocket_candle_is_not_published_but_names_what_to_fetch() -> None:
    d, ledger = decoder(), CandleLedger(300_000)
    start = 1688998200_000
    d.decode(candle_frame(0, "1688998200", "1"), RECEIVED)
    closed: list[Item] = d.decode(candle_frame(1, "1688998500", "2"), RECEIVED)
    assert isinstance(closed[0], Candle) and closed[0].is_closed
    assert closed_candle_gaps(ledger, closed) == ([], [Gap("ETH-USD", start, start)])
    ledger.admit("ETH-USD", start)  # REST published it
    assert closed_candle_gaps(ledger, closed) == ([], [])
    later = d.decode(candle_frame(2, "1688999400", "3"), RECEIVED)  # closes the one at +5 min
    assert closed_candle_gaps(ledger, later) == (
        [], [Gap("ETH-USD", start + 300_000, start + 300_000)]
    )  # fmt: skip


_TRADE = {"product_id": "BTC-USD", "trade_id": "7", "price": "100.5", "size": "0.1",
          "time": "2026-09-30T02:40:00.25Z", "side": "SELL"}  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"trade_id": 8},
        {"trade_id": ""},
        {"trade_id": None},
        {"price": 100.5},
        {"price": "1e-3"},
        {"price": "01"},
        {"size": None},
        {"side": "SIDEWAYS"},
        {"side": ["BUY"]},
        {"product_id": "DOGE-USD"},
        {"product_id": 5},
        {"time": "yesterday"},
        {"time": 1790736000},
    ],
)
def test_the_trades_fast_path_gives_what_the_general_path_gives(change: dict[str, Any]) -> None:
    """Compact frames (as Coinbase sends them) take the typed fast path; the same frame with
    spaces takes the general one: rows and reject reasons must be the same."""
    message = {"channel": "market_trades", "timestamp": "2026-09-30T02:40:00.5Z",
               "sequence_num": 3, "events": [{"type": "update", "trades": [
                   {**_TRADE, **change}, {**_TRADE, "trade_id": "9"}]}]}  # fmt: skip
    compact = json.dumps(message, separators=(",", ":"))
    spaced = json.dumps(message)
    assert compact[:26] in TRADES_HEAD and spaced[:26] not in TRADES_HEAD
    fast, general = decoder().decode(compact, RECEIVED), decoder().decode(spaced, RECEIVED)
    strip = [i._replace(raw="") if isinstance(i, Reject) else i for i in fast]
    assert strip == [i._replace(raw="") if isinstance(i, Reject) else i for i in general]
    assert fast and (isinstance(fast[0], Reject) or len(fast) == 2)


def test_the_trades_fast_path_keeps_the_sequence_rules() -> None:
    d = decoder()
    frame_at = lambda seq: trades(seq, (f"t{seq}", "BUY")).replace(": ", ":").replace(", ", ",")  # noqa: E731
    assert len(d.decode(frame_at(1), RECEIVED)) == 1
    assert d.decode(frame_at(1), RECEIVED) == []  # a repeat is skipped
    assert len(d.decode(frame_at(3), RECEIVED)) == 1 and d.stats.gaps == 1 and d.resync_requested


_LEVEL = {"side": "bid", "event_time": "", "price_level": "10", "new_quantity": "1"}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"side": "offer", "price_level": "11"},
        {"side": "ask"},
        {"price_level": 10},
        {"new_quantity": "-1"},
        {"new_quantity": None},
        {"price_level": "1e2"},
    ],
)
def test_the_book_fast_path_gives_what_the_general_path_gives(change: dict[str, Any]) -> None:
    other = {**_LEVEL, "side": "offer", "price_level": "12"}

    def run(separators: tuple[str, str] | None) -> tuple[list[Item], list[BookSnapshot]]:
        d = decoder()
        out = []
        for seq, kind, level in [(1, "snapshot", _LEVEL), (2, "update", {**_LEVEL, **change})]:
            event = {"type": kind, "product_id": "BTC-USD", "updates": [level, other]}
            message = {"channel": "l2_data", "timestamp": "2026-09-30T02:40:00.5Z",
                       "sequence_num": seq, "events": [event]}  # fmt: skip
            text = json.dumps(message, separators=separators)
            assert (text[:20] in BOOK_HEAD) == (separators is not None)
            got = d.decode(text, RECEIVED)
            out += [i._replace(raw="") if isinstance(i, Reject) else i for i in got]
        return out, d.books_due()

    assert run((",", ":")) == run(None)
