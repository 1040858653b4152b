"""Binance wire decoding (pure): recorded frames become exact rows or one reject each; the
candle ledger's decisions on them."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from streamer.errors import ConfigError
from streamer.ids import record_id
from streamer.jsonline import encode
from streamer.records import BookSnapshot, Candle, Dec, Item, Millis, Reject, Ticker, Trade
from streamer.sources.base import FeedStats
from streamer.sources.candles import CandleLedger, Gap, admit_candles
from streamer.venues.binance.decode import (
    BinanceDecoder,
    native_symbol,
    stream_names,
    ticking_streams,
)
from streamer.venues.binance.settings import BinanceSettings
from streamer.venues.binance.wire import stream_of
from tests.conftest import fixture_text

RECEIVED = Millis(1_790_000_000_000)
CLOSED_KLINE = "binance/kline_1m_closed_combined_binance_us.json"
OPEN_KLINE = "binance/kline_1m_open_combined.json"
DEPTH20 = "binance/depth20_100ms_combined_trimmed_2levels.json"
TICKER = "binance/ticker_24hr_combined_probably_testnet.json"
TRADE = "binance/trade_combined_testnet.json"
AGG_TRADE = "binance/aggTrade_combined.json"
BOOK_TICKER = "binance/bookTicker_combined.json"
COM_SESSION = "binance/session_binance_com_2021-10-11.jsonl"
TESTNET_SESSION = "binance/testnet_session_2026-09-13_trade_bookTicker_depth.jsonl"


def decoder(*symbols: str, **options: Any) -> BinanceDecoder:
    return BinanceDecoder(BinanceSettings(symbols=symbols or ("BTC-USDT",), **options))


def one(items: list[Item]) -> Item:
    [item] = items
    return item


# -- streams and connections -------------------------------------------------------------


def test_stream_names_are_four_per_symbol_with_the_symbol_in_lower_case() -> None:
    settings = BinanceSettings(
        symbols=("BTC-USDT", "OMG-BUSD"), kline_interval="1s", depth=5, trades="aggTrade"
    )
    assert native_symbol("OMG-BUSD") == "OMGBUSD"
    assert stream_names(settings) == [
        "btcusdt@ticker", "btcusdt@kline_1s", "btcusdt@depth5@100ms", "btcusdt@aggTrade",
        "omgbusd@ticker", "omgbusd@kline_1s", "omgbusd@depth5@100ms", "omgbusd@aggTrade",
    ]  # fmt: skip


def test_the_monthly_kline_interval_keeps_its_upper_case() -> None:
    settings = BinanceSettings(symbols=("ETH-BTC",), kline_interval="1M")
    assert stream_names(settings)[1] == "ethbtc@kline_1M"


def test_two_symbols_with_the_same_native_name_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"STREAMER_BINANCE_SYMBOLS: AB-CD and ABC-D"):
        decoder("AB-CD", "ABC-D")


# -- klines ------------------------------------------------------------------------------


def test_recorded_closed_kline_maps_every_field_exactly() -> None:
    row = one(decoder("OMG-BUSD").decode(fixture_text(CLOSED_KLINE), RECEIVED))
    assert row == Candle(
        exchange="binance",
        symbol="OMG-BUSD",
        event_time=Millis(1633998301755),
        received_at=RECEIVED,
        interval="1m",
        open_time=Millis(1633998240000),
        close_time=Millis(1633998299999),
        open=Dec("13.72120000"),
        high=Dec("13.80760000"),
        low=Dec("13.72120000"),
        close=Dec("13.76640000"),
        volume=Dec("536.51000000"),
        quote_volume=Dec("7387.12073500"),
        trade_count=14,
        is_closed=True,
        origin="ws",
        record_id=record_id("binance", "OMG-BUSD", "ohlcv", "1m", 1633998240000),
    )


def test_a_closed_candle_encodes_with_the_exact_decimal_text() -> None:
    row = one(decoder("OMG-BUSD").decode(fixture_text(CLOSED_KLINE), RECEIVED))
    line = encode(row)
    assert b'"open":13.72120000,' in line
    assert b'"quote_volume":7387.12073500,' in line
    assert b'"open_time":"2021-10-12 00:24:00.000"' in line
    assert orjson.loads(line)["trade_count"] == 14


def test_an_open_kline_is_dropped_by_default_and_kept_on_request() -> None:
    raw = fixture_text(OPEN_KLINE)
    assert decoder("NKN-USDT").decode(raw, RECEIVED) == []
    row = one(decoder("NKN-USDT", keep_open_candles=True).decode(raw, RECEIVED))
    assert isinstance(row, Candle)
    assert (row.is_closed, row.open, row.close, row.volume, row.trade_count) == (
        False, "0.35270000", "0.35280000", "25877.00000000", 30,
    )  # fmt: skip
    # An open update's id includes its event time, so it never collides with the closed candle.
    assert row.record_id == record_id(
        "binance", "NKN-USDT", "ohlcv", "1m", 1633998480000, 1633998523963
    )


def test_a_kline_without_trades_repeats_the_previous_close() -> None:
    raw = fixture_text("binance/kline_1m_closed_no_trades_combined_binance_tr.json")
    row = one(decoder("BEL-BTC").decode(raw, RECEIVED))
    assert isinstance(row, Candle)
    assert (row.symbol, row.open, row.high, row.low, row.close) == (
        "BEL-BTC", "0.00002369", "0.00002369", "0.00002369", "0.00002369",
    )  # fmt: skip
    assert (row.volume, row.quote_volume, row.trade_count, row.is_closed) == (
        "0.00000000", "0.00000000", 0, True,
    )  # fmt: skip


# -- book, ticker, trades ----------------------------------------------------------------


def test_recorded_partial_book_keeps_exact_levels_best_first() -> None:
    row = one(decoder().decode(fixture_text(DEPTH20), RECEIVED))
    assert row == BookSnapshot(
        exchange="binance",
        symbol="BTC-USDT",
        event_time=RECEIVED,  # the payload has no exchange timestamp
        received_at=RECEIVED,
        depth=20,
        bids=((Dec("86704.77000000"), Dec("4.67805000")),
              (Dec("86704.76000000"), Dec("0.00224000"))),
        asks=((Dec("86704.78000000"), Dec("0.73337000")),
              (Dec("86704.79000000"), Dec("0.00384000"))),
        bid_price=Dec("86704.77000000"),
        bid_size=Dec("4.67805000"),
        ask_price=Dec("86704.78000000"),
        ask_size=Dec("0.73337000"),
        sequence=100530416202,
        record_id=record_id("binance", "BTC-USDT", "book", 100530416202),
    )  # fmt: skip


def test_recorded_ticker_maps_every_field() -> None:
    row = one(decoder().decode(fixture_text(TICKER), RECEIVED))
    assert row == Ticker(
        exchange="binance",
        symbol="BTC-USDT",
        event_time=Millis(1745666522004),
        received_at=RECEIVED,
        last_price=Dec("94160.00000000"),
        best_bid=Dec("94160.00000000"),
        best_bid_size=Dec("0.07847000"),
        best_ask=Dec("94160.02000000"),
        best_ask_size=Dec("0.07565000"),
        open_24h=Dec("93989.21000000"),
        high_24h=Dec("187440.90000000"),
        low_24h=Dec("21917.30000000"),
        volume_24h=Dec("2109.00156000"),
        quote_volume_24h=Dec("199349146.64212320"),
        price_change_pct_24h=Dec("0.182"),
        trade_count_24h=80199,
        record_id=record_id("binance", "BTC-USDT", "ticker", 1745666522004),
    )


def test_recorded_trade_where_the_buyer_took_is_a_buy() -> None:
    row = one(decoder().decode(fixture_text(TRADE), RECEIVED))
    assert row == Trade(
        exchange="binance",
        symbol="BTC-USDT",
        event_time=Millis(1789295134225),  # the trade time T, not the event time E
        received_at=RECEIVED,
        trade_id="388510",
        price=Dec("76745.19000000"),
        size=Dec("0.00065000"),
        side="buy",  # m=false: the buyer was the taker
        record_id=record_id("binance", "BTC-USDT", "trade", 388510),
    )


def test_buyer_is_maker_means_the_taker_sold() -> None:
    [line] = [x for x in fixture_text(TESTNET_SESSION).splitlines() if '"t":388511' in x]
    row = one(decoder().decode(line, RECEIVED))
    assert isinstance(row, Trade)
    assert (row.trade_id, row.price, row.side) == ("388511", "76745.18000000", "sell")


def test_recorded_aggregate_trade_uses_the_aggregate_id() -> None:
    row = one(decoder("NKN-USDT", trades="aggTrade").decode(fixture_text(AGG_TRADE), RECEIVED))
    assert row == Trade(
        exchange="binance",
        symbol="NKN-USDT",
        event_time=Millis(1633998523963),
        received_at=RECEIVED,
        trade_id="15683430",
        price=Dec("0.35280000"),
        size=Dec("58.00000000"),
        side="buy",
        record_id=record_id("binance", "NKN-USDT", "aggTrade", 15683430),
    )


def test_trades_of_the_kind_not_configured_are_unsubscribed() -> None:
    [item] = decoder("NKN-USDT").decode(fixture_text(AGG_TRADE), RECEIVED)
    assert isinstance(item, Reject)
    assert item.reason == "unsubscribed/unknown stream 'nknusdt@aggTrade'"


def test_bytes_frames_decode_like_text() -> None:
    assert decoder().decode(fixture_text(TRADE).encode(), RECEIVED) == decoder().decode(
        fixture_text(TRADE), RECEIVED
    )


# -- recorded sessions -------------------------------------------------------------------


def _decode_session(d: BinanceDecoder, path: str) -> list[tuple[str, list[Item]]]:
    lines = fixture_text(path).splitlines()
    return [(line, d.decode(line, Millis(RECEIVED + i))) for i, line in enumerate(lines)]


def _unsubscribed(line: str) -> bool:
    stream: str = json.loads(line)["stream"]
    return stream.endswith("@bookTicker") or stream.endswith("@depth@100ms")


def test_binance_com_session_gives_one_item_per_frame_and_rejects_unsubscribed_streams() -> None:
    d = decoder(
        "NKN-USDT", "LRC-BTC", "BLZ-ETH", "RUNE-EUR", trades="aggTrade", keep_open_candles=True
    )
    decoded = _decode_session(d, COM_SESSION)
    assert len(decoded) == 265
    rows: list[Item] = []
    for line, items in decoded:
        [item] = items
        if _unsubscribed(line):
            assert isinstance(item, Reject)
            assert item.reason.startswith("unsubscribed/unknown stream"), item.reason
            assert item.raw == line
        else:
            rows.append(item)
    assert [
        (r.symbol, r.trade_id, r.price, r.size, r.side) for r in rows if isinstance(r, Trade)
    ] == [
        ("NKN-USDT", "15683430", "0.35280000", "58.00000000", "buy"),
        ("LRC-BTC", "9213679", "0.00000638", "177.00000000", "buy"),
    ]
    assert [
        (r.symbol, r.open_time, r.open, r.close, r.trade_count, r.is_closed)
        for r in rows
        if isinstance(r, Candle)
    ] == [
        ("NKN-USDT", 1633998480000, "0.35270000", "0.35280000", 30, False),
        ("LRC-BTC", 1633998480000, "0.00000638", "0.00000638", 1, False),
    ]
    assert len(rows) == 4


def test_testnet_session_yields_every_trade_and_rejects_book_ticker_and_diffs() -> None:
    decoded = _decode_session(decoder(), TESTNET_SESSION)
    assert len(decoded) == 23
    trades: list[tuple[str, str, str]] = []
    for line, items in decoded:
        [item] = items
        if _unsubscribed(line):
            assert isinstance(item, Reject)
            assert item.reason.startswith("unsubscribed/unknown stream"), item.reason
        else:
            assert isinstance(item, Trade), line
            trades.append((item.trade_id, item.size, item.side))
    assert trades == [
        ("388510", "0.00065000", "buy"),
        ("388511", "0.00065000", "sell"),
        ("388512", "0.00162000", "buy"),
        ("388513", "0.00100000", "buy"),
        ("388514", "0.00100000", "buy"),
        ("388515", "0.00100000", "sell"),
        ("388516", "0.00179000", "buy"),
    ]


# -- control frames ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture",
    [
        "binance/serverShutdown_raw_docexample.json",
        "binance/serverShutdown_combined_docexample.json",
    ],
)
def test_server_shutdown_yields_nothing_and_asks_for_a_new_connection(fixture: str) -> None:
    d = decoder()
    assert d.decode(fixture_text(fixture), RECEIVED) == []
    assert d.shutdown_requested
    d.decode(fixture_text(TRADE), RECEIVED)
    assert not d.shutdown_requested  # the flag describes the last frame only


@pytest.mark.parametrize(
    "fixture",
    [
        "binance/ws_control_subscribe_ack.json",
        "binance/ws_control_list_subscriptions_response.json",
    ],
)
def test_control_replies_yield_nothing(fixture: str) -> None:
    d = decoder()
    assert d.decode(fixture_text(fixture), RECEIVED) == []
    assert not d.shutdown_requested


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        (
            "binance/ws_control_error_unknown_method.json",  # as seen on the wire: nested
            "venue error 2: Invalid request: unknown variant `FOO`, expected one of `SUBSCRIBE`",
        ),
        (
            "binance/rest_error_451_restricted_location.json",  # the documented flat shape
            "venue error 0: Service unavailable from a restricted location",
        ),
    ],
)
def test_venue_errors_become_a_reject_with_the_venue_message(fixture: str, reason: str) -> None:
    raw = fixture_text(fixture)
    item = one(decoder().decode(raw, RECEIVED))
    assert isinstance(item, Reject)
    assert item.reason.startswith(reason), item.reason
    assert (item.source, item.raw, item.received_at) == ("binance", raw, RECEIVED)


# -- bad frames --------------------------------------------------------------------------


def _edit(fixture: str, **fields: Any) -> str:
    msg = json.loads(fixture_text(fixture))
    for key, value in fields.items():
        if value is None:
            del msg["data"][key]
        else:
            msg["data"][key] = value
    return json.dumps(msg)


def _kline_with(**fields: Any) -> str:
    msg = json.loads(fixture_text(CLOSED_KLINE))
    msg["stream"] = "btcusdt@kline_1m"
    msg["data"]["s"] = "BTCUSDT"
    msg["data"]["k"].update(fields)
    return json.dumps(msg)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"stream":"btcusdt@trade","data":{', "invalid JSON"),
        ("[1, 2]", "frame is not a JSON object"),
        ('{"id": 3}', "frame is neither a combined stream event nor a control reply"),
        ('{"stream": 7, "data": {}}', "unsubscribed/unknown stream 7"),
        ('{"stream": "btcusdt@trade"}', "missing field 'data'"),
        ('{"stream": "btcusdt@trade", "data": [1]}', "wrong type or shape"),
        (_edit(TRADE, p=None), "missing field 'p'"),
        (_edit(TRADE, p="abc"), "field 'p' is not a decimal string: 'abc'"),
        (_edit(TRADE, q=0.5), "field 'q' is not a decimal string"),
        (_edit(TRADE, T="1789295134225"), "field 'T' is not epoch milliseconds"),
        (_edit(TRADE, m="false"), "field 'm' is not a boolean"),
        (_edit(TRADE, t=-1), "field 't' is not a count"),
        (_edit(TRADE, s="ETHUSDT"), "unknown symbol 'ETHUSDT' on the stream of BTC-USDT"),
        (_edit(TRADE, s=["BTCUSDT"]), "unknown symbol ['BTCUSDT']"),
        (_edit(TICKER, n=None), "missing field 'n'"),
        (_edit(TICKER, b=None), "missing field 'b'"),
        (_edit(TICKER, E=1.5), "field 'E' is not epoch milliseconds"),
        (_edit(DEPTH20, lastUpdateId="1"), "field 'lastUpdateId' is not an integer"),
        (_edit(DEPTH20, bids=[["1", "2", "3"]]), "field 'bids' holds a level that is not"),
        (_edit(DEPTH20, asks=["12"]), "field 'asks' holds a level that is not"),
        (_edit(DEPTH20, asks=[["1.0", "abc"]]), "field 'asks size' is not a decimal string: 'abc'"),
        (_edit(DEPTH20, bids=[["1.0", 2]]), "field 'bids size' is not a decimal string: 2"),
        (_edit(DEPTH20, bids=7), "wrong type or shape"),
        (_kline_with(x=1), "field 'x' is not a boolean"),
        (_kline_with(i="5m"), "field 'i' is not the subscribed interval: '5m'"),
        (_kline_with(o="13.7212O000"), "field 'o' is not a decimal string"),
        (_kline_with(n="14"), "field 'n' is not a count"),
        (_kline_with(t=None), "field 't' is not epoch milliseconds: None"),
        (fixture_text(BOOK_TICKER), "unsubscribed/unknown stream 'nknusdt@bookTicker'"),
    ],
)
def test_a_bad_frame_is_exactly_one_reject_with_its_reason(raw: str, reason: str) -> None:
    item = one(decoder().decode(raw, RECEIVED))
    assert isinstance(item, Reject)
    assert item.reason.startswith(reason), item.reason
    assert (item.source, item.raw, item.received_at) == ("binance", raw, RECEIVED)


# -- the asyncio shell against a real WebSocket server -----------------------------------


# -- what the shell acts on ----------------------------------------------------------------


def test_only_ticker_and_book_streams_must_tick_on_their_own() -> None:
    streams = stream_names(BinanceSettings(symbols=("BTC-USDT", "ETH-USDT")))
    assert ticking_streams(streams) == [
        "btcusdt@ticker", "btcusdt@depth20@100ms", "ethusdt@ticker", "ethusdt@depth20@100ms",
    ]  # fmt: skip


def _closed_at(minute: int) -> Candle:
    candle = one(decoder("OMG-BUSD").decode(fixture_text(CLOSED_KLINE), RECEIVED))
    assert isinstance(candle, Candle) and candle.is_closed
    return candle._replace(open_time=Millis(minute * 60_000))


def test_admit_candles_drops_a_repeat_and_reports_the_hole_before_a_jump() -> None:
    ledger, stats = CandleLedger(60_000), FeedStats()
    trade = one(decoder("BTC-USDT").decode(fixture_text(TRADE), RECEIVED))
    first, repeat, later = _closed_at(10), _closed_at(10), _closed_at(13)
    assert admit_candles(ledger, [first, trade], stats) == ([first, trade], [])
    rows, gaps = admit_candles(ledger, [repeat, later], stats)
    assert rows == [later]
    assert gaps == [Gap("OMG-BUSD", 11 * 60_000, 12 * 60_000)]
    assert stats.extra["duplicate_candles"] == 1


@pytest.mark.parametrize(
    ("fixture", "fields"),
    [
        (TRADE, {}),
        (TRADE, {"p": None}),
        (TRADE, {"p": "abc"}),
        (TRADE, {"q": 0.5}),
        (TRADE, {"q": "1e-2"}),
        (TRADE, {"T": "1789295134225"}),
        (TRADE, {"m": "false"}),
        (TRADE, {"t": -1}),
        (TRADE, {"t": 1.5}),
        (TRADE, {"s": "ETHUSDT"}),
        (TRADE, {"s": ["BTCUSDT"]}),
        (AGG_TRADE, {}),
        (AGG_TRADE, {"a": None}),
        (DEPTH20, {}),
        (DEPTH20, {"lastUpdateId": "1"}),
        (DEPTH20, {"bids": [["1", "2", "3"]]}),
        (DEPTH20, {"asks": ["12"]}),
        (DEPTH20, {"asks": [["1.0", "abc"]]}),
        (DEPTH20, {"bids": [["1.0", 2]]}),
        (DEPTH20, {"bids": [["1E2", "2"]]}),
        (DEPTH20, {"bids": 7}),
    ],
)
def test_the_fast_path_gives_what_the_general_path_gives(
    fixture: str, fields: dict[str, Any]
) -> None:
    """Compact frames (as Binance sends them) take the typed fast path, the same frame with
    spaces the general one: rows, reject reasons and the stream heard must be the same."""
    msg = json.loads(fixture_text(fixture))
    if fixture == AGG_TRADE:  # the recorded aggTrade is NKNUSDT's
        msg["stream"], msg["data"]["s"] = "btcusdt@aggTrade", "BTCUSDT"
    if fixture == DEPTH20:
        msg["stream"] = "btcusdt@depth20@100ms"
    msg["data"].update({k: v for k, v in fields.items() if v is not None})
    for key in [k for k, v in fields.items() if v is None]:
        del msg["data"][key]
    options = {"trades": "aggTrade"} if fixture == AGG_TRADE else {}
    results = []
    for separators in ((",", ":"), None):
        d = decoder(**options)
        text = json.dumps(msg, separators=separators)
        assert (stream_of(text) is not None) == (separators is not None)
        items = d.decode(text.encode(), RECEIVED)
        results.append(([i._replace(raw="") if isinstance(i, Reject) else i for i in items],
                        d.last_stream))  # fmt: skip
    assert results[0] == results[1]
    assert results[0][0]
