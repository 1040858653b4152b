"""Every number a venue sends either fits its column or its frame is one reject naming the field:
`decimal(38,18)` (20 integer digits, 18 decimals), a finite double, and each field's sign rule
(`numbers.py`), on every decode path (general, read-at-a-time, REST)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.numbers import ANY, NON_NEGATIVE, POSITIVE
from streamer.records import Item, Millis, Reject
from streamer.venues.binance.decode import BinanceDecoder
from streamer.venues.binance.rest import parse_klines
from streamer.venues.binance.settings import BinanceSettings
from streamer.venues.coinbase.decode import CoinbaseDecoder
from streamer.venues.coinbase.settings import CoinbaseSettings
from streamer.venues.coingecko.decode import decode_simple_price
from tests.conftest import fixture_text
from tests.venues.test_parsers_fuzz import check

NOW = Millis(1_790_736_000_000)
OUT_OF_RANGE = {
    "40 integer digits": "1" * 40,
    "40 decimals": "0." + "1" * 40,
    "1e300 written out": "1e300",
    "1e-30": "1e-30",
    "10,000,000 digits": "9" * 10_000_000,
}
TICKER = "ticker_24hr_combined_probably_testnet.json"
SIGNED = {"negative": "-1.5", "zero": "0.00000000", "negative zero": "-0"}


def _binance(path: list[Any], value: str, fixture: str, stream: str | None = None) -> bytes:
    doc = json.loads(fixture_text(f"binance/{fixture}"))
    if stream:
        doc["stream"] = stream
    if "s" in doc["data"]:
        doc["data"]["s"] = "BTCUSDT"
    target = doc["data"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(doc, separators=(",", ":")).encode()


def binance_trade(field: str, by_read: bool) -> Callable[[str], list[Item]]:
    def run(value: str) -> list[Item]:
        raw = _binance([field], value, "trade_combined_testnet.json")
        decoder = BinanceDecoder(BinanceSettings(symbols=("BTC-USDT",), trades="trade"))
        return decoder.decode_read([raw], NOW) if by_read else decoder.decode(raw, NOW)

    return run


def binance(
    path: list[Any], fixture: str, stream: str | None = None
) -> Callable[[str], list[Item]]:
    def run(value: str) -> list[Item]:
        decoder = BinanceDecoder(BinanceSettings(symbols=("BTC-USDT",), keep_open_candles=True))
        return decoder.decode(_binance(path, value, fixture, stream), NOW)

    return run


def binance_rest_kline(index: int) -> Callable[[str], list[Item]]:
    def run(value: str) -> list[Item]:
        row: list[Any] = [0, "1.5", "2", "1", "1.5", "10", 59_999, "15", 3, "5", "7.5", "0"]
        row[index] = value
        return parse_klines(json.dumps([row]), "BTC-USDT", "1m", NOW, NOW)

    return run


def _coinbase_frame(channel: str, events: list[dict[str, Any]], sequence: int = 1) -> bytes:
    doc = {"channel": channel, "timestamp": "2026-09-30T02:40:00.5Z", "sequence_num": sequence}
    return json.dumps({**doc, "events": events}, separators=(",", ":")).encode()


def _coinbase(book_updates: bool = False) -> CoinbaseDecoder:
    return CoinbaseDecoder(CoinbaseSettings(symbols=("BTC-USD",), book_updates=book_updates))


def coinbase_trade(field: str, by_read: bool) -> Callable[[str], list[Item]]:
    def run(value: str) -> list[Item]:
        trade = {"product_id": "BTC-USD", "trade_id": "7", "price": "100.5", "size": "0.1",
                 "time": "2026-09-30T02:40:00.25Z", "side": "BUY", field: value}  # fmt: skip
        raw = _coinbase_frame("market_trades", [{"type": "update", "trades": [trade]}])
        decoder = _coinbase()
        return decoder.decode_read([raw], NOW) if by_read else decoder.decode(raw, NOW)

    return run


def coinbase_book(field: str, kind: str, book_updates: bool) -> Callable[[str], list[Item]]:
    """A snapshot with the value, or an update with it after a good snapshot (read at a time:
    the fast path when no book_updates rows are kept)."""

    def level(price: str, size: str) -> dict[str, str]:
        return {"side": "bid", "event_time": "", "price_level": price, "new_quantity": size}

    def run(value: str) -> list[Item]:
        decoder = _coinbase(book_updates)
        bad = level(**{"price": "100.5", "size": "2", field: value})
        good = [level("100", "1"), {**level("101", "1"), "side": "offer"}]
        if kind == "snapshot":
            raw = _coinbase_frame("l2_data", [
                {"type": "snapshot", "product_id": "BTC-USD", "updates": [*good, bad]}
            ])  # fmt: skip
            return decoder.decode_read([raw], NOW)
        first = _coinbase_frame("l2_data", [
            {"type": "snapshot", "product_id": "BTC-USD", "updates": good}
        ])  # fmt: skip
        assert not any(type(i) is Reject for i in decoder.decode_read([first], NOW))
        update = _coinbase_frame(
            "l2_data", [{"type": "update", "product_id": "BTC-USD", "updates": [bad]}], 2
        )
        return decoder.decode_read([update], NOW)

    return run


def coinbase_ticker(field: str, by_read: bool) -> Callable[[str], list[Item]]:
    def run(value: str) -> list[Item]:
        doc = json.loads(fixture_text("coinbase/advanced_doc_ticker.json"))
        doc["events"][0]["tickers"][0][field] = value
        raw = json.dumps(doc, separators=(",", ":")).encode()
        decoder = _coinbase()
        return decoder.decode_read([raw], NOW) if by_read else decoder.decode(raw, NOW)

    return run


def coinbase_candle(field: str) -> Callable[[str], list[Item]]:
    def run(value: str) -> list[Item]:
        row = {"start": "1688998200", "high": "2", "low": "1", "open": "1.5", "close": "1.75",
               "volume": "10", "product_id": "BTC-USD", field: value}  # fmt: skip
        decoder = CoinbaseDecoder(CoinbaseSettings(symbols=("BTC-USD",), keep_open_candles=True))
        return decoder.decode(
            _coinbase_frame("candles", [{"type": "update", "candles": [row]}]), NOW
        )

    return run


# (path, field named in the reason, its sign rule, the decode)
PATHS: list[tuple[str, str, int, Callable[[str], list[Item]]]] = [
    ("binance trade", "p", POSITIVE, binance_trade("p", by_read=False)),
    ("binance trade", "q", POSITIVE, binance_trade("q", by_read=False)),
    ("binance trade, read", "p", POSITIVE, binance_trade("p", by_read=True)),
    ("binance trade, read", "q", POSITIVE, binance_trade("q", by_read=True)),
    ("binance depth20", "bids price", POSITIVE,
     binance(["bids", 0, 0], "depth20_100ms_combined_trimmed_2levels.json")),
    ("binance depth20", "asks size", NON_NEGATIVE,
     binance(["asks", 1, 1], "depth20_100ms_combined_trimmed_2levels.json")),
    ("binance ticker", "c", POSITIVE, binance(["c"], TICKER, "btcusdt@ticker")),
    ("binance ticker", "b", NON_NEGATIVE,
     binance(["b"], TICKER, "btcusdt@ticker")),
    ("binance ticker", "v", NON_NEGATIVE,
     binance(["v"], TICKER, "btcusdt@ticker")),
    ("binance ticker", "P", ANY, binance(["P"], TICKER, "btcusdt@ticker")),
    ("binance kline", "o", POSITIVE,
     binance(["k", "o"], "kline_1m_closed_combined_binance_us.json", "btcusdt@kline_1m")),
    ("binance kline", "v", NON_NEGATIVE,
     binance(["k", "v"], "kline_1m_closed_combined_binance_us.json", "btcusdt@kline_1m")),
    ("binance REST kline", "low", POSITIVE, binance_rest_kline(3)),
    ("binance REST kline", "quoteVolume", NON_NEGATIVE, binance_rest_kline(7)),
    ("coinbase trade", "price", POSITIVE, coinbase_trade("price", by_read=False)),
    ("coinbase trade", "size", POSITIVE, coinbase_trade("size", by_read=False)),
    ("coinbase trade, read", "price", POSITIVE, coinbase_trade("price", by_read=True)),
    ("coinbase trade, read", "size", POSITIVE, coinbase_trade("size", by_read=True)),
    ("coinbase l2 snapshot", "price_level", POSITIVE, coinbase_book("price", "snapshot", False)),
    ("coinbase l2 snapshot", "new_quantity", NON_NEGATIVE,
     coinbase_book("size", "snapshot", False)),
    ("coinbase l2 update, fast", "price_level", POSITIVE, coinbase_book("price", "update", False)),
    ("coinbase l2 update, fast", "new_quantity", NON_NEGATIVE,
     coinbase_book("size", "update", False)),
    ("coinbase l2 update, rows", "price_level", POSITIVE, coinbase_book("price", "update", True)),
    ("coinbase l2 update, rows", "new_quantity", NON_NEGATIVE,
     coinbase_book("size", "update", True)),
    ("coinbase ticker", "price", POSITIVE, coinbase_ticker("price", by_read=False)),
    ("coinbase ticker, read", "price", POSITIVE, coinbase_ticker("price", by_read=True)),
    ("coinbase ticker, read", "best_bid", NON_NEGATIVE, coinbase_ticker("best_bid", by_read=True)),
    ("coinbase ticker, read", "volume_24_h", NON_NEGATIVE,
     coinbase_ticker("volume_24_h", by_read=True)),
    ("coinbase ticker", "price_percent_chg_24_h", ANY,
     coinbase_ticker("price_percent_chg_24_h", by_read=False)),
    ("coinbase candle", "open", POSITIVE, coinbase_candle("open")),
    ("coinbase candle", "volume", NON_NEGATIVE, coinbase_candle("volume")),
]  # fmt: skip
IDS = [f"{name}:{field}" for name, field, _, _ in PATHS]


def _breaks(value: str, sign: int) -> bool:
    negative = value.startswith("-")
    return (sign == POSITIVE and (negative or Decimal(value) == 0)) or (
        sign == NON_NEGATIVE and negative
    )


def _assert_one_reject(items: list[Item], field: str) -> None:
    assert len(items) == 1 and type(items[0]) is Reject, items
    assert items[0].reason.startswith(f"field {field!r} "), items[0].reason
    assert len(items[0].reason) < 200


@pytest.mark.parametrize(("name", "field", "sign", "run"), PATHS, ids=IDS)
@pytest.mark.parametrize("value", OUT_OF_RANGE.values(), ids=OUT_OF_RANGE.keys())
def test_a_number_out_of_decimal_range_is_one_reject_naming_its_field(
    name: str, field: str, sign: int, run: Callable[[str], list[Item]], value: str
) -> None:
    _assert_one_reject(run(value), field)


@pytest.mark.parametrize(("name", "field", "sign", "run"), PATHS, ids=IDS)
@pytest.mark.parametrize("value", SIGNED.values(), ids=SIGNED.keys())
def test_a_sign_the_field_never_has_is_a_reject_and_any_other_is_kept(
    name: str, field: str, sign: int, run: Callable[[str], list[Item]], value: str
) -> None:
    items = run(value)
    if _breaks(value, sign):
        _assert_one_reject(items, field)
    else:
        assert not any(type(i) is Reject for i in items), items
        check(items)


@pytest.mark.parametrize(("name", "field", "sign", "run"), PATHS, ids=IDS)
def test_zeros_past_the_18th_decimal_are_dropped_and_the_value_kept(
    name: str, field: str, sign: int, run: Callable[[str], list[Item]]
) -> None:
    items = run("12345678901234567890." + "5" + "0" * 17 + "000000")
    assert not any(type(i) is Reject for i in items), items
    check(items)
    if "coinbase l2" in name and "rows" not in name:
        return  # no rows: the book keeps the level (sampled later by `books_due`)
    text = repr(items)
    assert "12345678901234567890.5" + "0" * 17 + "'" in text and "0" * 18 + "'" not in text


@given(
    whole=st.integers(0, 10**25),
    decimals=st.text("0123456789", max_size=24),
    negative=st.booleans(),
    path=st.sampled_from(PATHS),
)
def test_any_plain_number_is_kept_exactly_when_the_column_holds_it(
    whole: int, decimals: str, negative: bool, path: Any
) -> None:
    _, field, sign, run = path
    text = ("-" if negative else "") + str(whole) + ("." + decimals if decimals else "")
    value = Decimal(text)
    fits = whole < 10**20 and len(decimals.rstrip("0")) <= 18
    items = run(text)
    if fits and not _breaks(text, sign):
        assert not any(type(i) is Reject for i in items), (text, items)
        check(items)
    else:
        _assert_one_reject(items, field)
    assert value == value  # the text is a number


@pytest.mark.parametrize(
    ("value", "kept"),
    [("1e400", False), ("9" * 10_000_000, False), ("-1e400", False), ("1e300", True),
     ("-1.5", True), ("0", True), ("1" * 40, True), ("0." + "1" * 40, True)],
)  # fmt: skip
def test_coingecko_numbers_must_be_finite_doubles(value: str, kept: bool) -> None:
    body = fixture_text("coingecko/simple_price_oas_example.json").replace("76975", value)
    items = decode_simple_price(body, NOW, ["bitcoin"], ["usd"])
    if kept:
        assert not any(type(i) is Reject for i in items), items
        check(items)
    else:
        [item] = items
        assert type(item) is Reject and "'usd'" in item.reason and len(item.reason) < 300
