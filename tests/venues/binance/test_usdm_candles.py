"""Binance USD-M candles and tickers: recorded and documented frames give the venue's text
exactly, open candles wait unless kept, a futures ticker has no best bid or ask, bad frames are
rejects (`usdm_decode`); REST klines become closed `rest` candles at USD-M's weights."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.ids import record_id
from streamer.jsonline import encode
from streamer.records import Candle, Millis, Reject, Ticker
from streamer.venues.binance.rest import parse_klines
from streamer.venues.binance.usdm_client import request_weight
from streamer.venues.binance.usdm_decode import UsdmDecoder
from streamer.venues.binance.usdm_source import UsdmSource
from streamer.venues.binance.usdm_streams import MARKET, route, watched
from tests.conftest import fixture_text
from tests.venues.binance.test_usdm_settings import read
from tests.venues.test_parsers_fuzz import FUZZ, check, json_values, mutate

NOW = Millis(1_764_000_000_000)
PERP = "BTC-USDT-PERP"
TICKER = "ticker_combined_2019.json"
KLINE = "kline_1m_open_docexample.json"


def usdm(name: str) -> str:
    return fixture_text(f"binance_usdm/{name}")


def decoder(*, keep_open: bool = False, interval: str = "1m") -> UsdmDecoder:
    return UsdmDecoder([PERP, "ETH-USDT-PERP"], kline_interval=interval, tickers=True,
                       keep_open_candles=keep_open)  # fmt: skip


def closed_kline() -> dict[str, Any]:
    """The documented kline, closed (`x` true): the frame Binance sends once the minute ends."""
    frame = orjson.loads(usdm(KLINE))
    frame["data"]["k"]["x"] = True
    return frame  # type: ignore[no-any-return]


def test_the_interval_and_open_candles_come_from_their_settings_into_the_streams() -> None:
    assert (read().kline_interval, read().keep_open_candles) == ("1m", False)
    settings = read(binance_usdm_kline_interval="1M", keep_open_candles="true")
    assert (settings.kline_interval, settings.keep_open_candles) == ("1M", True)
    source = UsdmSource(replace(settings, book_updates=False))
    [url] = source.urls
    assert url.endswith("/market/stream?streams=!markPrice@arr@1s/!forceOrder@arr/"
                        "btcusdt@aggTrade/btcusdt@kline_1M/btcusdt@ticker/ethusdt@aggTrade/"
                        "ethusdt@kline_1M/ethusdt@ticker")  # fmt: skip
    assert source.ledger is None  # a calendar month has no fixed length: not backfilled


def test_kline_and_ticker_streams_are_read_per_symbol_on_the_market_path() -> None:
    streams = UsdmDecoder([PERP], books=False, kline_interval="1M", tickers=True).streams
    assert streams == ["!markPrice@arr@1s", "!forceOrder@arr", "btcusdt@aggTrade",
                       "btcusdt@kline_1M", "btcusdt@ticker"]  # fmt: skip
    assert {route(name) for name in streams} == {MARKET}
    # the ticker ticks on its own; a candle nobody trades in may not change for its interval
    assert watched(streams) == ["!markPrice@arr@1s", "btcusdt@ticker"]
    assert "btcusdt@ticker" not in UsdmDecoder([PERP]).streams  # off unless asked


def test_recorded_futures_ticker_maps_every_field_exactly_without_a_best_bid_or_ask() -> None:
    [row] = decoder().decode(usdm(TICKER), NOW)
    assert row == Ticker(
        "binance_usdm", PERP, Millis(1568693103467), NOW, "10223.74", None, None, None, None,
        "10311.91", "10329.38", "10080.70", "20248.900", "207024349.13", "-0.855", 32423,
        record_id("binance_usdm", PERP, "ticker", 1568693103467),
    )  # fmt: skip
    line = orjson.loads(encode(row))
    assert line["best_bid"] is None and line["best_ask_size"] is None
    assert b'"last_price":10223.74,' in encode(row)  # the decimal text, never a float's


def test_a_closed_kline_maps_every_field_exactly_and_leaves_the_event_time_out_of_its_id() -> None:
    [row] = decoder().decode(orjson.dumps(closed_kline()), NOW)
    assert row == Candle(
        "binance_usdm", PERP, Millis(1638747660000), NOW, "1m", Millis(1638747660000),
        Millis(1638747719999), "0.0010", "0.0025", "0.0015", "0.0020", "1000", "1.0000", 100,
        True, "ws", record_id("binance_usdm", PERP, "ohlcv", "1m", 1638747660000),
    )  # fmt: skip
    assert b'"open":0.0010,"high":0.0025,"low":0.0015,"close":0.0020,' in encode(row)


def test_an_open_kline_waits_for_its_close_unless_open_candles_are_kept() -> None:
    assert decoder().decode(usdm(KLINE), NOW) == []
    [row] = decoder(keep_open=True).decode(usdm(KLINE), NOW)
    assert type(row) is Candle and row.is_closed is False and row.origin == "ws"
    # each update of an open candle is its own row: the event time is in its id
    assert row.record_id == record_id("binance_usdm", PERP, "ohlcv", "1m", 1638747660000,
                                      1638747660000)  # fmt: skip


def edited(path: tuple[str, ...], value: Any, frame: dict[str, Any] | None = None) -> str:
    frame = closed_kline() if frame is None else frame
    node = frame
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return json.dumps(frame)


def ticker_without(field: str) -> str:
    frame = orjson.loads(usdm(TICKER))
    del frame["data"][field]
    return json.dumps(frame)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (edited(("data", "k", "i"), "5m"), "field 'i' is not the subscribed interval: '5m'"),
        (edited(("data", "k", "x"), "true"), "field 'x' is not a boolean: 'true'"),
        (edited(("data", "k", "h"), 0.0025), "field 'h' is not a decimal string: 0.0025"),
        (edited(("data", "k", "o"), "-1"), "field 'o' is not positive: '-1'"),
        (edited(("data", "s"), "ETHUSDT"), "unknown symbol 'ETHUSDT' on the stream of " + PERP),
        (edited(("data", "e"), "continuous_kline"), "field 'e' is not kline"),
        (edited(("data", "k"), []), "field 'k' is not an object"),
        (ticker_without("c"), "missing field 'c'"),
        (
            edited(("data", "e"), "24hrMiniTicker", orjson.loads(usdm(TICKER))),
            "field 'e' is not 24hrTicker",
        ),
        (edited(("data", "n"), -1, orjson.loads(usdm(TICKER))), "field 'n' is not a count: -1"),
    ],
)
def test_a_malformed_kline_or_ticker_is_one_reject_naming_the_field(raw: str, reason: str) -> None:
    [item] = decoder().decode(raw, NOW)
    assert type(item) is Reject and item.source == "binance_usdm"
    assert item.reason == reason and item.raw == raw


@FUZZ
@given(
    frame=st.sampled_from([usdm(TICKER), usdm(KLINE), json.dumps(closed_kline())]),
    path=st.lists(st.integers(0, 30), min_size=1, max_size=5),
    value=json_values,
)
def test_mutated_klines_and_tickers_give_rows_or_one_reject(
    frame: str, path: list[int], value: Any
) -> None:
    raw = json.dumps(mutate(orjson.loads(frame), path, value))
    items = decoder(keep_open=True).decode(raw, NOW)
    check(items)
    assert len(items) <= 1


def test_rest_klines_are_closed_rest_candles_equal_to_the_live_ones() -> None:
    body = usdm("rest_klines_BTCUSDT_5m_docexample.json")
    # the second candle closes at 1616339399999: still open a millisecond before
    still_open = Millis(1616339399999)
    first, second = parse_klines(body, PERP, "5m", NOW, Millis(1616339400000), "binance_usdm")
    assert parse_klines(body, PERP, "5m", NOW, still_open, "binance_usdm") == [first]
    assert first == Candle(
        "binance_usdm", PERP, Millis(1616339099999), NOW, "5m", Millis(1616338800000),
        Millis(1616339099999), "57212.69", "57315.00", "57196.19", "57300.00", "496.263",
        "28425514.78940", 7160, True, "rest",
        record_id("binance_usdm", PERP, "ohlcv", "5m", 1616338800000),
    )  # fmt: skip
    assert type(second) is Candle and second.trade_count == 2602
    [bad] = parse_klines(b'{"code":-1120}', PERP, "5m", NOW, NOW, "binance_usdm")
    assert type(bad) is Reject and bad.source == "binance_usdm:rest"


@pytest.mark.parametrize(
    ("limit", "weight"),
    [("1", 1), ("99", 1), ("100", 2), ("499", 2), ("500", 5), ("1000", 5), ("1001", 10),
     ("1500", 10), (None, 5)],
)  # fmt: skip
def test_rest_klines_weigh_by_limit(limit: str | None, weight: int) -> None:
    params = {"symbol": "BTCUSDT", "interval": "1m"} | ({"limit": limit} if limit else {})
    assert request_weight("/fapi/v1/klines", params) == weight
