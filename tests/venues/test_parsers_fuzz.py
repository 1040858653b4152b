"""Property tests: any frame, arbitrary or a mutated recording, yields rows or one reject.

No exception may escape a decoder, and every row a decoder returns must encode to one valid
JSON line (so a hostile frame can never corrupt the lake).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamer.errors import FrameError
from streamer.jsonline import encode
from streamer.records import Item, Millis, Reject
from streamer.schema import DATASET_OF_TYPE
from streamer.sources.base import FRAME_FAILURES
from streamer.timefmt import MAX_MILLIS, epoch_millis
from streamer.venues.binance.decode import BinanceDecoder
from streamer.venues.binance.rest import parse_klines
from streamer.venues.binance.settings import BinanceSettings
from streamer.venues.binance.usdm_decode import UsdmDecoder
from streamer.venues.binance.usdm_rest import funding_rates, instruments, open_interest
from streamer.venues.coinbase.decode import CoinbaseDecoder
from streamer.venues.coinbase.rest import parse_candles
from streamer.venues.coinbase.settings import CoinbaseSettings
from streamer.venues.coingecko.source import decode_markets, decode_simple_price
from streamer.venues.okx.decode import OkxDecoder
from streamer.venues.okx.rest import instrument_row
from streamer.venues.okx.rows import funding_rows
from tests.conftest import fixture_text

NOW = Millis(1_764_000_000_000)
BINANCE = BinanceSettings(symbols=("BTC-USDT", "OMG-BUSD", "NKN-USDT"))
COINBASE = CoinbaseSettings(symbols=("BTC-USD", "ETH-USD"))

BINANCE_FRAMES = [
    fixture_text(f"binance/{name}")
    for name in (
        "kline_1m_closed_combined_binance_us.json",
        "depth20_100ms_combined_trimmed_2levels.json",
        "trade_combined_testnet.json",
        "ticker_24hr_combined_probably_testnet.json",
        "serverShutdown_combined_docexample.json",
    )
]
USDM_SYMBOLS = ("BTC-USDT-PERP", "BTC-BUSD-210129", "ETH-USDT-PERP")
USDM_FRAMES = [
    fixture_text(f"binance_usdm/{name}")
    for name in (
        "markPrice_arr_1s_CONSTRUCTED_from_recorded.json",
        "forceOrder_arr_CONSTRUCTED_from_recorded.json",
        "trade_market_combined_2020.json",
        "depth_diff_snapshot_diff_EDITED_2019.jsonl",
    )
]
USDM_FRAMES[-1] = USDM_FRAMES[-1].splitlines()[0]  # the first diff
USDM_ANSWERS = [
    fixture_text(f"binance_usdm/{name}")
    for name in (
        "rest_exchange_info_dated_tradfi_CONSTRUCTED.json",
        "rest_open_interest_BTCUSDT_docexample.json",
        "rest_funding_rate_BTCUSDT_docexample.json",
    )
]
OKX_SYMBOLS = ("CRV-USDT", "BSV-USDT", "ACT-USDT", "NEAR-USDT", "WNCG-USDT-PERP", "XRP-USD-PERP")
OKX_FRAMES = [
    m["raw"]
    for g in orjson.loads(fixture_text("okx/tardis_v5.json"))["groups"]
    for m in g["messages"]
    if any(f'"channel":"{c}"' in m["raw"] for c in ("trades-all", "tickers", "funding-rate",
           "index-tickers", "mark-price", "open-interest", "liquidation-orders"))
]  # fmt: skip
OKX_FRAMES += fixture_text("okx/books_NEAR-USDT_snapshot_update_REAL-CUT_2025.jsonl").splitlines()
OKX_ANSWERS = [  # shapes the simulated OKX answers with (sim_wire)
    '{"code":"0","msg":"","data":[{"asks":[["1.783","411.2","0","3"]],"bids":[["1.782","21",'
    '"0","8"]],"ts":"1765201257005","seqId":9690930615}]}',
    '{"code":"0","msg":"","data":[{"instType":"SWAP","instId":"WNCG-USDT-SWAP","formulaType":'
    '"withRate","fundingRate":"0.0001","realizedRate":"0.00009999","fundingTime":'
    '"1764000000000","method":"current_period"}]}',
    '{"code":"0","msg":"","data":[{"instId":"WNCG-USDT-SWAP","instType":"SWAP","uly":'
    '"WNCG-USDT","settleCcy":"USDT","ctVal":"1","ctValCcy":"WNCG","ctType":"linear","tickSz":'
    '"0.0001","lotSz":"1","state":"live","baseCcy":"","quoteCcy":""}]}',
]
COINBASE_FRAMES = [
    fixture_text(f"coinbase/{name}")
    for name in (
        "advanced_l2_snapshot_BTC-USD_TRUNCATED_10perside_2026-09-30.json",
        "advanced_market_trades_snapshot_BTC-USD_TRUNCATED_5trades_2026-09-30.json",
        "advanced_doc_ticker.json",
        "advanced_doc_candles.json",
        "advanced_doc_heartbeats.json",
    )
]
COINGECKO_SIMPLE = fixture_text("coingecko/simple_price_oas_example.json")
COINGECKO_MARKETS = orjson.dumps(
    orjson.loads(fixture_text("coingecko/coins_markets_first100_DERIVED_from_250.json"))[:3]
).decode()

REST_KLINES = orjson.dumps(
    orjson.loads(fixture_text("binance/rest_klines_BTCUSDT_1m_2021-10-22.json"))[:3]
).decode()
REST_CANDLES = orjson.dumps(
    {
        "candles": [
            {"start": "1688998500", "low": "1866.1", "high": "1867.9", "open": "1867.2",
             "close": "1866.8", "volume": "12.5"},
            {"start": "1688998200", "low": "1866.0", "high": "1868.0", "open": "1867.38",
             "close": "1866.81", "volume": "9.25"},
        ]
    }
).decode()  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


def mutate(doc: Any, path: list[int], value: Any) -> Any:
    """Replace one node of `doc` (chosen by `path`) with `value`, or drop a key."""
    if not path or not isinstance(doc, dict | list) or not doc:
        return value
    if isinstance(doc, dict):
        keys = sorted(doc)
        key = keys[path[0] % len(keys)]
        out = dict(doc)
        if len(path) == 1 and path[0] % 3 == 0:
            del out[key]
        else:
            out[key] = mutate(doc[key], path[1:], value)
        return out
    out_list = list(doc)
    index = path[0] % len(out_list)
    out_list[index] = mutate(doc[index], path[1:], value)
    return out_list


PLAIN = re.compile(r"[A-Za-z0-9._:-]*")


def check(items: Sequence[Item]) -> None:
    rejects = [i for i in items if type(i) is Reject]
    assert len(rejects) <= len(items)
    for item in items:
        line = encode(item)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        orjson.loads(line)
        for column, value in zip(DATASET_OF_TYPE[type(item)].columns, item, strict=True):
            if column.plain:  # written unescaped: no frame may put anything else there
                assert value is None or PLAIN.fullmatch(value), (column.name, value)
        if type(item) is Reject:
            assert item.reason


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(raw=st.text(max_size=200) | st.binary(max_size=200))
def test_arbitrary_bytes(raw: str | bytes) -> None:
    try:
        orjson.loads(raw)
        is_json = True
    except orjson.JSONDecodeError:
        is_json = False
    decoders = (BinanceDecoder(BINANCE), CoinbaseDecoder(COINBASE), UsdmDecoder(USDM_SYMBOLS))
    for decode in (d.decode for d in decoders):
        items = decode(raw, NOW)
        check(items)
        if not is_json:
            assert len(items) == 1 and type(items[0]) is Reject
            assert items[0].reason.startswith("invalid JSON")
    okx = OkxDecoder(OKX_SYMBOLS).decode(raw, NOW)
    check(okx)
    if not is_json and raw not in ("pong", b"pong"):  # OKX's one answer that is not JSON
        assert len(okx) == 1 and type(okx[0]) is Reject
    check(decode_simple_price(raw, NOW, ("bitcoin",), ("usd",)))
    check(decode_markets(raw, NOW))
    check(parse_klines(raw, "BTC-USDT", "1m", NOW, NOW))
    check(parse_candles(raw, "ETH-USD", NOW, NOW))


@FUZZ
@given(
    frame=st.sampled_from(BINANCE_FRAMES),
    path=st.lists(st.integers(0, 30), min_size=1, max_size=5),
    value=json_values,
)
def test_mutated_binance_recordings(frame: str, path: list[int], value: Any) -> None:
    raw = json.dumps(mutate(orjson.loads(frame), path, value))
    check(BinanceDecoder(BINANCE).decode(raw, NOW))


@FUZZ
@given(
    frame=st.sampled_from(USDM_FRAMES),
    path=st.lists(st.integers(0, 30), min_size=1, max_size=5),
    value=json_values,
)
def test_mutated_binance_usdm_recordings(frame: str, path: list[int], value: Any) -> None:
    decoder = UsdmDecoder(USDM_SYMBOLS, trades="trade")
    raw = json.dumps(mutate(orjson.loads(frame), path, value))
    check(decoder.decode(raw, NOW))
    snapshot = json.dumps(mutate({"lastUpdateId": 687687945, "bids": [["8488.36", "1.501"]],
                                  "asks": [["8500.1", "2.3"]]}, path, value))  # fmt: skip
    check(decoder.depth_snapshot("BTC-USDT-PERP", snapshot.encode(), NOW))


@FUZZ
@given(
    body=st.sampled_from(USDM_ANSWERS),
    path=st.lists(st.integers(0, 30), min_size=1, max_size=5),
    value=json_values,
)
def test_mutated_binance_usdm_answers(body: str, path: list[int], value: Any) -> None:
    raw = json.dumps(mutate(orjson.loads(body), path, value))
    for items in (instruments(raw, NOW, {"BTCUSDT": 4}),
                  open_interest(raw, "BTC-USDT-PERP", NOW),
                  funding_rates(raw, "BTC-USDT-PERP", NOW, 8)):  # fmt: skip
        check(items)
        rejects = [i for i in items if type(i) is Reject]
        assert len(rejects) <= 1 and (not rejects or len(items) == 1)


@FUZZ
@given(
    frame=st.sampled_from(COINBASE_FRAMES),
    path=st.lists(st.integers(0, 30), min_size=1, max_size=6),
    value=json_values,
)
def test_mutated_coinbase_recordings(frame: str, path: list[int], value: Any) -> None:
    decoder = CoinbaseDecoder(COINBASE)
    raw = json.dumps(mutate(orjson.loads(frame), path, value))
    check(decoder.decode(raw, NOW))
    check(decoder.books_due())


@FUZZ
@given(
    body=st.sampled_from([COINGECKO_SIMPLE, COINGECKO_MARKETS]),
    path=st.lists(st.integers(0, 30), min_size=1, max_size=4),
    value=json_values,
)
def test_mutated_coingecko_answers(body: str, path: list[int], value: Any) -> None:
    raw = json.dumps(mutate(orjson.loads(body), path, value))
    check(decode_simple_price(raw, NOW, ("bitcoin",), ("usd", "eur")))
    check(decode_markets(raw, NOW))


@FUZZ
@given(
    body=st.sampled_from([REST_KLINES, REST_CANDLES]),
    path=st.lists(st.integers(0, 30), min_size=1, max_size=4),
    value=json_values,
)
def test_mutated_rest_candle_answers(body: str, path: list[int], value: Any) -> None:
    raw = json.dumps(mutate(orjson.loads(body), path, value))
    for items in (parse_klines(raw, "BTC-USDT", "1m", NOW, NOW),
                  parse_candles(raw, "ETH-USD", NOW, NOW)):  # fmt: skip
        check(items)
        rejects = [i for i in items if type(i) is Reject]
        assert len(rejects) <= 1 and (not rejects or len(items) == 1)


@pytest.mark.parametrize("seconds", [6.77680361916768e16, 253402300800, -1])
def test_a_timestamp_past_year_9999_is_a_reject_not_a_crash_at_encode_time(seconds: float) -> None:
    """Found by the mutation test above: such a value made the encoder raise in the pipeline."""
    body = orjson.dumps({"bitcoin": {"usd": 1, "last_updated_at": seconds}})
    items = decode_simple_price(body, NOW, ("bitcoin",), ("usd",))
    assert [type(i) for i in items] == [Reject]
    for item in items:
        encode(item)
    assert epoch_millis(MAX_MILLIS, "T") == MAX_MILLIS
    with pytest.raises(FrameError):
        epoch_millis(MAX_MILLIS + 1, "T")


@FUZZ
@given(
    frame=st.sampled_from(OKX_FRAMES),
    path=st.lists(st.integers(0, 30), min_size=1, max_size=6),
    value=json_values,
)
def test_mutated_okx_recordings(frame: str, path: list[int], value: Any) -> None:
    decoder = OkxDecoder(OKX_SYMBOLS)
    check(decoder.decode(OKX_FRAMES[-2], NOW))  # a book to apply the mutated frame to
    check(decoder.decode(json.dumps(mutate(orjson.loads(frame), path, value)), NOW))


@FUZZ
@given(
    body=st.sampled_from(OKX_ANSWERS),
    path=st.lists(st.integers(0, 30), min_size=1, max_size=6),
    value=json_values,
)
def test_mutated_okx_answers(body: str, path: list[int], value: Any) -> None:
    """A REST book is guarded like a frame; funding and instrument elements raise only the
    errors their callers turn into a Reject."""
    doc = mutate(orjson.loads(body), path, value)
    raw = json.dumps(doc)
    decoder = OkxDecoder(OKX_SYMBOLS)
    decoder.decode(OKX_FRAMES[-1], NOW)  # an update buffered: the book wants a snapshot
    items = decoder.rest_book("NEAR-USDT", raw.encode(), NOW)
    check(items)
    assert len([i for i in items if type(i) is Reject]) <= 1
    data = doc.get("data") if type(doc) is dict else None
    for element in data if type(data) is list else []:
        try:
            check(funding_rows([element], "WNCG-USDT-PERP", NOW))
            if type(element) is dict:
                row = instrument_row(element, NOW)
                check([row] if row is not None else [])
        except FRAME_FAILURES:
            pass  # what `polls` and `rest` catch (FRAME_FAILURES) and keep aside
