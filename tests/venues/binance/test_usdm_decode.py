"""Binance USD-M frames -> rows: recorded frames give the venue's text exactly, the all-market
streams are filtered to the selected symbols, and bad frames are rejects (`usdm_decode`)."""

from __future__ import annotations

import json

import orjson
import pytest

from streamer.ids import record_id
from streamer.jsonline import encode
from streamer.records import (
    BookSnapshot,
    BookUpdate,
    DerivativeTicker,
    Liquidation,
    Millis,
    Reject,
    Trade,
)
from streamer.venues.binance.usdm_decode import UsdmDecoder
from streamer.venues.binance.usdm_streams import (
    contract_symbol,
    delivery_day,
    native_symbol,
)
from tests.conftest import fixture_text

NOW = Millis(1_764_000_000_000)
PERP, DATED = "BTC-USDT-PERP", "BTC-BUSD-210129"


def usdm(name: str) -> str:
    return fixture_text(f"binance_usdm/{name}")


def decoder(trades: str = "aggTrade") -> UsdmDecoder:
    return UsdmDecoder([PERP, DATED, "ETH-USDT-PERP"], trades=trades)


def test_symbols_normalize_by_kind_and_map_back_exactly() -> None:
    assert contract_symbol("BTC", "USDT", "perpetual", None) == PERP
    assert contract_symbol("BTC", "USDT", "delivery", 1774598400000) == "BTC-USDT-260327"
    assert delivery_day(1611907200000) == "210129"
    assert native_symbol(PERP) == "BTCUSDT"
    assert native_symbol("BTC-USDT-260327") == "BTCUSDT_260327"
    assert native_symbol("1000PEPE-USDT-PERP") == "1000PEPEUSDT"
    with pytest.raises(ValueError, match="not a USD-M symbol"):
        native_symbol("BTC-USDT")


def test_streams_are_the_all_market_ones_then_each_symbols() -> None:
    streams = UsdmDecoder([PERP, DATED]).streams
    assert streams == ["!markPrice@arr@1s", "!forceOrder@arr", "btcusdt@aggTrade",
                       "btcusdt@depth@100ms", "btcbusd_210129@aggTrade",
                       "btcbusd_210129@depth@100ms"]  # fmt: skip


def test_all_market_mark_prices_keep_the_selected_symbols_with_their_text() -> None:
    rows = decoder().decode(usdm("markPrice_arr_1s_CONSTRUCTED_from_recorded.json"), NOW)
    assert [type(r) for r in rows] == [DerivativeTicker] * 3
    perp, dated, old = rows
    assert perp == DerivativeTicker(
        "binance_usdm", PERP, Millis(1597536008000), NOW, "11857.56000000", "11851.86949091",
        None, "0.00015640", Millis(1597564800000), None, None,
        record_id("binance_usdm", PERP, "derivative_ticker", 1597536008000),
    )  # fmt: skip
    # a dated contract does not fund: T is 0 and r zero, so no predicted rate is written
    assert dated.symbol == DATED and dated.funding_rate is None
    assert dated.next_funding_time is None
    assert (dated.mark_price, dated.index_price, dated.estimated_settle_price) == (
        "31799.27730000", "31307.03400000", "31235.82439517",
    )  # fmt: skip
    # the 2019 payload has no index or settle price: null, not a reject
    assert (old.mark_price, old.index_price, old.funding_rate) == (
        "8291.34697815", None, "0.00010000",
    )  # fmt: skip


def test_unselected_symbols_of_the_mark_price_array_are_skipped() -> None:
    rows = UsdmDecoder(["ETH-USDT-PERP"]).decode(usdm("markPrice_arr_docexample.json"), NOW)
    assert rows == []
    [row] = UsdmDecoder([PERP]).decode(usdm("markPrice_arr_docexample.json"), NOW)
    assert (row.mark_price, row.estimated_settle_price, row.funding_rate) == (
        "11185.87786614", "11784.25641265", "0.00030000",
    )  # fmt: skip


def test_a_bad_element_of_a_selected_symbol_is_its_own_reject() -> None:
    frame = orjson.loads(usdm("markPrice_arr_1s_CONSTRUCTED_from_recorded.json"))
    frame["data"][1]["p"] = "-1"  # the dated contract's mark price
    frame["data"][2]["r"] = 0.0001  # a number, not text
    rows = decoder().decode(orjson.dumps(frame), NOW)
    assert [type(r) for r in rows] == [DerivativeTicker, Reject, Reject]
    assert rows[1].reason == f"{DATED}: field 'p' is not positive: '-1'"  # type: ignore[union-attr]
    assert "BTCBUSD_210129" in rows[1].raw  # type: ignore[union-attr]
    assert rows[2].reason.startswith(f"{PERP}: field 'r' is not a decimal string")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"e": "markPriceUpdate"}, "field 'data' of the mark price stream is not an array"),
        ([1], "element 0 is not a mark price event"),
    ],
)
def test_a_mark_price_frame_of_the_wrong_shape_is_one_reject(data: object, reason: str) -> None:
    raw = json.dumps({"stream": "!markPrice@arr@1s", "data": data})
    [item] = decoder().decode(raw, NOW)
    assert type(item) is Reject and item.reason == reason and item.source == "binance_usdm"


def test_liquidations_keep_the_liquidated_orders_side_and_every_number_as_sent() -> None:
    [row] = decoder().decode(usdm("forceOrder_arr_CONSTRUCTED_from_recorded.json"), NOW)
    assert row == Liquidation(
        "binance_usdm", PERP, Millis(1584059031421), NOW, "buy", "4793.91", "4706.04", "0.014",
        "0.014", "FILLED",
        record_id("binance_usdm", PERP, "liquidation", 1584059031421, "buy", "4793.91",
                  "0.014", "0.014", "FILLED"),
    )  # fmt: skip
    assert b'"price":4793.91,"average_price":4706.04' in encode(row)
    assert (
        UsdmDecoder(["ETH-USDT-PERP"]).decode(
            usdm("forceOrder_arr_CONSTRUCTED_from_recorded.json"), NOW
        )
        == []
    )  # another symbol's liquidation


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("S", "LONG", "field 'S' is not BUY or SELL: 'LONG'"),
        ("q", "0", "field 'q' is not positive: '0'"),
        ("z", "1e400", "field 'z' does not fit decimal(38,18)"),
        ("X", "FILLED\n", "field 'X' is not an order status: 'FILLED\\n'"),
        ("T", "soon", "field 'T'"),
    ],
)
def test_a_malformed_liquidation_is_a_reject(field: str, value: str, reason: str) -> None:
    frame = orjson.loads(usdm("forceOrder_arr_CONSTRUCTED_from_recorded.json"))
    frame["data"]["o"][field] = value
    [item] = decoder().decode(orjson.dumps(frame), NOW)
    assert type(item) is Reject and reason in item.reason


def test_agg_trades_are_trades_of_the_usdm_exchange() -> None:
    frame = orjson.loads(usdm("aggTrade_combined_2019.json"))
    frame["data"]["a"] = 26129  # tardis's test message has no aggregate id: give it one
    [row] = decoder().decode(orjson.dumps(frame), NOW)
    rid = record_id("binance_usdm", PERP, "aggTrade", 26129)
    assert row == Trade("binance_usdm", PERP, Millis(1568693103463), NOW, "26129", "10223.74",
                        "0.236", "buy", rid)  # fmt: skip
    [missing] = decoder().decode(usdm("aggTrade_combined_2019.json"), NOW)
    assert type(missing) is Reject and missing.reason == "missing field 'a'"


def test_trades_publish_market_fills_and_track_the_others() -> None:
    d = decoder("trade")
    [old] = d.decode(usdm("trade_combined_2019.json"), NOW)  # no X: a market trade
    assert (old.trade_id, old.price, old.size, old.side) == ("10934580", "7627.60", "0.044", "buy")  # type: ignore[union-attr]
    [market] = d.decode(usdm("trade_market_combined_2020.json"), NOW)
    assert (market.symbol, market.side, market.price) == (PERP, "sell", "11343.67")  # type: ignore[union-attr]
    fund = usdm("trade_insurance_fund_combined_2020.json")
    assert d.decode(fund, NOW) == []  # X INSURANCE_FUND: not a market trade
    # ...but its id is tracked, so the next trade leaves no hole to backfill
    following = orjson.loads(fund)
    following["data"].update(t=73701057, X="MARKET")
    [row] = d.decode(orjson.dumps(following), NOW)
    assert (row.symbol, row.trade_id) == ("ETH-USDT-PERP", "73701057")  # type: ignore[union-attr]
    assert d.trade_gaps.open_holes("ETH-USDT-PERP") == []


def test_a_trade_on_another_symbols_stream_is_a_reject() -> None:
    frame = orjson.loads(usdm("trade_market_combined_2020.json"))
    frame["stream"] = "ethusdt@trade"
    [item] = decoder("trade").decode(orjson.dumps(frame), NOW)
    assert type(item) is Reject and item.reason == (
        "unknown symbol 'BTCUSDT' on the stream of ETH-USDT-PERP"
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not json", "invalid JSON"),
        ('{"stream":"btcusdt@bookTicker","data":{}}', "unsubscribed/unknown stream"),
        ('{"id":1}', "neither a combined stream event nor a control reply"),
        ('{"error":{"code":2,"msg":"Invalid request"},"id":1}', "venue error 2: Invalid request"),
    ],
)
def test_other_frames_are_rejects(raw: str, reason: str) -> None:
    [item] = decoder().decode(raw, NOW)
    assert type(item) is Reject and reason in item.reason


def test_a_control_reply_gives_nothing() -> None:
    assert decoder().decode('{"result":null,"id":1}', NOW) == []


# -- books: the futures chain rule ------------------------------------------------------------


def diff(first: int, final: int, previous: int, bids: list[list[str]], time: int = 0) -> str:
    """A futures `depthUpdate` frame (synthetic ids; the shape of the recorded ones)."""
    asks = [["8500.10", "1.000"]]
    return json.dumps({"stream": "btcusdt@depth@100ms", "data": {
        "e": "depthUpdate", "E": 1573948821952 + time, "T": 1573948821948 + time, "s": "BTCUSDT",
        "U": first, "u": final, "pu": previous, "b": bids, "a": asks}})  # fmt: skip


SNAPSHOT = json.dumps({"lastUpdateId": 160, "bids": [["8490.00", "2.000"]],
                       "asks": [["8500.10", "3.000"]]}).encode()  # fmt: skip


def test_recorded_diff_snapshot_diff_follow_the_procedure() -> None:
    d = decoder()
    first, snapshot, second = usdm("depth_diff_snapshot_diff_EDITED_2019.jsonl").splitlines()
    assert d.decode(first, NOW) == []  # buffered, its snapshot wanted
    assert list(d.books.wanted) == [PERP]  # type: ignore[union-attr]
    body = json.dumps(orjson.loads(snapshot)["data"]).encode()
    rows = d.depth_snapshot(PERP, body, NOW)
    books = [r for r in rows if type(r) is BookSnapshot]
    updates = [r for r in rows if type(r) is BookUpdate]
    # U=687687944 <= lastUpdateId=687687945 <= u=687687946: the buffered event applies
    assert [b.sequence for b in books] == [687687946]
    assert books[0].bids == (("8493.78", "0.162"), ("8488.36", "1.501"))
    assert ("4096.00000000", "2.42541900") in books[0].asks  # the size as sent
    assert {(u.side, u.price, u.size, u.is_snapshot) for u in updates} >= {
        ("bid", "8493.78", "0.162", False), ("ask", "4095.99000000", "2.31652000", True),
    }  # fmt: skip
    assert d.decode(second, NOW) == []  # u=687687946: already in the book
    assert d.stats.extra["depth_stale_events"] == 1


def test_pu_continuation_applies_and_a_break_resyncs() -> None:
    d = decoder()
    assert d.decode(diff(157, 158, 149, [["8490.00", "1.000"]]), NOW) == []
    assert d.decode(diff(159, 163, 158, [["8491.00", "1.000"]]), NOW) == []
    rows = d.depth_snapshot(PERP, SNAPSHOT, NOW)  # 160 within [159; 163]
    assert [r.sequence for r in rows if type(r) is BookSnapshot] == [163]
    # ids are not consecutive between events: pu links them
    rows = d.decode(diff(170, 171, 163, [["8492.00", "0.500"]], 100), NOW)
    assert [r.sequence for r in rows if type(r) is BookSnapshot] == [171]
    assert rows[-1].bids[0] == ("8492.00", "0.500")  # type: ignore[union-attr]
    assert d.decode(diff(180, 182, 175, [["8493.00", "1.000"]], 200), NOW) == []  # 172-175 lost
    assert d.stats.extra["depth_resyncs"] == 1
    assert list(d.books.wanted) == [PERP]  # type: ignore[union-attr]


def test_the_first_event_may_link_to_the_snapshot_by_pu() -> None:
    d = decoder()
    d.decode(diff(150, 160, 149, [["8490.00", "1.000"]]), NOW)  # ends at the snapshot's id
    d.decode(diff(165, 166, 160, [["8491.00", "1.000"]]), NOW)
    rows = d.depth_snapshot(PERP, SNAPSHOT, NOW)
    assert [r.sequence for r in rows if type(r) is BookSnapshot] == [166]
    assert d.stats.extra["depth_resyncs"] == 0


def test_a_snapshot_newer_than_every_buffered_event_syncs_on_the_next_live_one() -> None:
    # The snapshot (160) came back between two 100 ms events: nothing buffered reaches it,
    # and the next live event (U=159 <= 160 <= u=163, pu=158) is its first event.
    d = decoder()
    d.decode(diff(150, 158, 149, [["8490.00", "1.000"]]), NOW)
    assert d.depth_snapshot(PERP, SNAPSHOT, NOW) != []  # the book starts at 160
    rows = d.decode(diff(159, 163, 158, [["8491.00", "1.000"]], 100), NOW)
    assert [r.sequence for r in rows if type(r) is BookSnapshot] == [163]
    rows = d.decode(diff(170, 171, 163, [["8492.00", "0.500"]], 200), NOW)  # then by pu
    assert [r.sequence for r in rows if type(r) is BookSnapshot] == [171]
    assert d.stats.extra["depth_resyncs"] == 0
    # A later event is judged by pu alone: U <= book id is no excuse for a broken link.
    assert d.decode(diff(171, 175, 170, [["8493.00", "1.000"]], 300), NOW) == []
    assert d.stats.extra["depth_resyncs"] == 1


def test_a_snapshot_older_than_the_buffer_is_asked_again() -> None:
    d = decoder()
    d.decode(diff(170, 175, 168, [["8490.00", "1.000"]]), NOW)  # 161-168 never seen
    d.books.wanted.clear()  # type: ignore[union-attr]
    assert d.depth_snapshot(PERP, SNAPSHOT, NOW) == []
    assert d.stats.extra["depth_snapshots_too_old"] == 1
    assert list(d.books.wanted) == [PERP]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"pu": -1}, "field 'pu' is not an update id: -1"),
        ({"U": 10, "u": 9}, "update ids U=10 > u=9"),
        ({"b": [["8490.00"]]}, "holds a level that is not [price, size]"),
        ({"b": [["0", "1.0"]]}, "is not positive"),
        ({"e": "depthSnapshot"}, "field 'e' is not depthUpdate"),
    ],
)
def test_a_malformed_diff_is_a_reject(change: dict[str, object], reason: str) -> None:
    frame = orjson.loads(diff(157, 158, 149, [["8490.00", "1.000"]]))
    frame["data"].update(change)
    [item] = decoder().decode(orjson.dumps(frame), NOW)
    assert type(item) is Reject and reason in item.reason


def test_a_malformed_snapshot_is_a_reject_and_asked_again() -> None:
    d = decoder()
    d.decode(diff(157, 158, 149, [["8490.00", "1.000"]]), NOW)
    d.books.wanted.clear()  # type: ignore[union-attr]
    [item] = d.depth_snapshot(PERP, b'{"lastUpdateId":"160","bids":[],"asks":[]}', NOW)
    assert type(item) is Reject and item.source == "binance_usdm:rest"
    assert list(d.books.wanted) == [PERP]  # type: ignore[union-attr]
