"""Binance USD-M REST answers -> instruments, open interest and settled funding (`usdm_rest`)."""

from __future__ import annotations

import orjson
import pytest

from streamer.ids import record_id
from streamer.records import FundingRate, Instrument, Millis, OpenInterest, Reject
from streamer.selectors import Selector, choose
from streamer.venues.binance.usdm_rest import funding_rates, instruments, listings, open_interest
from tests.conftest import fixture_text

NOW = Millis(1_772_000_000_500)


def usdm(name: str) -> str:
    return fixture_text(f"binance_usdm/{name}")


def test_recorded_exchange_info_lists_perpetuals_with_filters_as_sent() -> None:
    rows = instruments(usdm("rest_exchange_info_2022-02-19.json"), NOW, {"ETHUSDT": 4})
    assert [type(r) for r in rows] == [Instrument, Instrument]
    btc, eth = rows
    values = ("BTCUSDT", "perpetual", "BTC", "USDT", "USDT", "1", "0.10", "0.001", None, 8,
              "TRADING")  # fmt: skip
    assert btc == Instrument("binance_usdm", "BTC-USDT-PERP", Millis(1645233611962), NOW,
                             *values, record_id("binance_usdm", "BTC-USDT-PERP", "instrument",
                                                *values))  # type: ignore[arg-type]  # fmt: skip
    assert (eth.symbol, eth.tick_size, eth.funding_interval_hours) == ("ETH-USDT-PERP", "0.01", 4)


def test_dated_and_tradfi_contracts_and_unknown_kinds() -> None:
    rows = instruments(usdm("rest_exchange_info_dated_tradfi_CONSTRUCTED.json"), NOW)
    by = {r.symbol: r for r in rows if type(r) is Instrument}
    assert sorted(by) == ["BTC-USDT-260327", "BTC-USDT-PERP", "LUNA-USDT-PERP", "TSLA-USDT-PERP"]
    dated = by["BTC-USDT-260327"]
    assert (dated.venue_symbol, dated.kind, dated.delivery_time) == (
        "BTCUSDT_260327", "delivery", 1774598400000,
    )  # fmt: skip
    assert dated.funding_interval_hours is None and dated.tick_size == "0.1"
    assert by["TSLA-USDT-PERP"].kind == "perpetual" and by["TSLA-USDT-PERP"].lot_size == "0.01"
    # the settled row (contractType "") is not listed; a SETTLING perpetual is, not trading
    assert by["LUNA-USDT-PERP"].status == "SETTLING"
    picked = choose(listings(rows), Selector())
    assert picked == ("BTC-USDT-260327", "BTC-USDT-PERP", "TSLA-USDT-PERP")


def test_an_unchanged_listing_fetched_again_has_the_same_record_id() -> None:
    body = usdm("rest_exchange_info_2022-02-19.json")
    first = instruments(body, NOW)
    later = orjson.loads(body)
    later["serverTime"] += 60_000
    again = instruments(orjson.dumps(later), Millis(NOW + 60_000))
    assert [r.record_id for r in first] == [r.record_id for r in again]  # type: ignore[union-attr]
    later["symbols"][0]["filters"][0]["tickSize"] = "0.20"
    changed = instruments(orjson.dumps(later), NOW)
    assert changed[0].record_id != first[0].record_id  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "TRADING; DROP"}, "field 'status' of BTCUSDT is not a status"),
        ({"filters": [{"filterType": "PRICE_FILTER", "tickSize": "0"}]}, "is not positive"),
        ({"marginAsset": 1}, "field 'marginAsset' of BTCUSDT is not an asset"),
    ],
)
def test_a_malformed_listing_is_one_reject(change: dict[str, object], reason: str) -> None:
    info = orjson.loads(usdm("rest_exchange_info_2022-02-19.json"))
    info["symbols"][0].update(change)
    [item] = instruments(orjson.dumps(info), NOW)
    assert type(item) is Reject and reason in item.reason and item.source == "binance_usdm:rest"


def test_open_interest_keeps_the_venues_time_and_text() -> None:
    [row] = open_interest(usdm("rest_open_interest_BTCUSDT_docexample.json"), "BTC-USDT-PERP", NOW)
    assert row == OpenInterest("binance_usdm", "BTC-USDT-PERP", Millis(1589437530011), NOW,
                               "10659.509",
                               record_id("binance_usdm", "BTC-USDT-PERP", "open_interest",
                                         1589437530011))  # type: ignore[arg-type]  # fmt: skip
    [wrong] = open_interest(usdm("rest_open_interest_BTCUSDT_docexample.json"), "ETH-USDT-PERP",
                            NOW)  # fmt: skip
    assert type(wrong) is Reject and wrong.reason == "answer for 'BTCUSDT', not ETH-USDT-PERP"


def test_settled_funding_rates_are_exact_with_the_symbols_interval() -> None:
    rows = funding_rates(usdm("rest_funding_rate_BTCUSDT_docexample.json"), "BTC-USDT-PERP", NOW, 8)
    assert rows == [
        FundingRate("binance_usdm", "BTC-USDT-PERP", Millis(t), NOW, rate, 8, None,  # type: ignore[arg-type]
                    record_id("binance_usdm", "BTC-USDT-PERP", "funding_rate", t))
        for t, rate in ((1570608000000, "-0.03750000"), (1570636800000, "0.00010000"))
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{}", "fundingRate is not a JSON array"),
        (b'[{"symbol":"ETHUSDT","fundingRate":"0.1","fundingTime":1}]', "not a funding of BTCUSDT"),
        (b'[{"symbol":"BTCUSDT","fundingRate":"1e-30","fundingTime":1}]', "more than 18 decimal"),
        (b"nope", "fundingRate is not JSON"),
    ],
)
def test_a_malformed_funding_answer_is_one_reject(body: bytes, reason: str) -> None:
    [item] = funding_rates(body, "BTC-USDT-PERP", NOW, None)
    assert type(item) is Reject and reason in item.reason
