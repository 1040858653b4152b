"""`UsdmDecoder.decode_read`'s fast paths (inlined `@aggTrade`, typed mark price arrays) give
exactly the rows and rejects of the checked, field-by-field way."""

from __future__ import annotations

from typing import Any

import orjson

from streamer.errors import FrameError
from streamer.records import DerivativeTicker, Item, Millis, Reject, Trade
from streamer.venues.binance.usdm_decode import UsdmDecoder, mark_price_row

NOW = Millis(1_764_000_000_000)
SYMBOLS = ["BTC-USDT-PERP", "ETH-USDT-PERP", "BTC-USDT-260327"]


def agg(trade_id: int, price: object = "67000.1", size: object = "0.002", **over: Any) -> bytes:
    data = {"e": "aggTrade", "E": NOW, "s": "BTCUSDT", "a": trade_id, "p": price, "q": size,
            "f": 1, "l": 2, "T": NOW + trade_id, "m": trade_id % 2 == 0} | over  # fmt: skip
    return orjson.dumps({"stream": "btcusdt@aggTrade", "data": data})


def test_inlined_agg_trades_equal_the_checked_way_gaps_repeats_and_rejects_included() -> None:
    frames = [
        agg(100),
        agg(101),
        agg(101),  # a repeat: dropped
        agg(105),  # a jump: a hole behind it
        agg(106, "1.5e-3"),  # an exponent: rewritten by the checked way
        agg(107, "-1"),  # not positive: a reject
        agg(108, 67000.1),  # a number, not text: a reject
        agg(109, s="ETHUSDT"),  # another symbol on this stream: a reject
        agg(110, "0.000000000000000000001"),  # past 18 decimals: a reject
        agg(111),
    ]
    fast, slow = UsdmDecoder(SYMBOLS, books=False), UsdmDecoder(SYMBOLS, books=False)
    rows = fast.decode_read(frames, NOW)
    checked: list[Item] = [row for raw in frames for row in slow.decode(raw, NOW)]
    assert rows == checked
    trades = [r for r in rows if type(r) is Trade]
    assert [t.trade_id for t in trades] == ["100", "101", "105", "106", "111"]
    assert trades[0].side == "sell" and trades[1].side == "buy"  # `m`: the buyer made it
    assert trades[3].price == "0.0015"
    assert sum(type(r) is Reject for r in rows) == 4
    assert fast.trade_gaps.tracks["BTC-USDT-PERP"].last == 111
    assert fast.heard == {"btcusdt@aggTrade"}


def mark(symbol: str, **over: Any) -> dict[str, Any]:
    return {"e": "markPriceUpdate", "E": NOW, "s": symbol, "p": "67000.50000000",
            "i": "66990.12000000", "P": "67010.00000000", "r": "0.00010000",
            "T": NOW + 3_600_000} | over  # fmt: skip


def test_typed_mark_prices_equal_mark_price_row_element_by_element() -> None:
    elements = [
        mark("BTCUSDT"),
        mark("ETHUSDT", r="-0.00012500"),  # a negative predicted rate
        mark("BTCUSDT_260327", r="", T=0),  # a dated contract: no funding columns
        mark("SOLUSDT"),  # not selected
        mark("BTCUSDT", r="1e-4"),  # an exponent: rewritten
        mark("ETHUSDT", p="0.00000000"),  # not positive: a reject
        mark("BTCUSDT", i=""),  # no index price: null
        mark("ETHUSDT", P="1.0000000000000000000000"),  # zeros past 18 decimals: dropped
        mark("BTCUSDT", p="1" * 21),  # 21 integer digits: a reject
    ]
    decoder = UsdmDecoder(SYMBOLS, books=False)
    raw = orjson.dumps({"stream": "!markPrice@arr@1s", "data": elements})
    rows = decoder.decode_read([raw], NOW)
    assert rows == decoder.decode(raw, NOW)
    names = {"BTCUSDT": SYMBOLS[0], "ETHUSDT": SYMBOLS[1], "BTCUSDT_260327": SYMBOLS[2]}
    expected: list[object] = []
    for element in elements:
        if element["s"] not in names:
            continue
        try:
            expected.append(mark_price_row(element, names[element["s"]], NOW))
        except FrameError as exc:
            expected.append(str(exc))
    shown = [r if type(r) is DerivativeTicker else r.reason.partition(": ")[2] for r in rows]  # type: ignore[union-attr]
    assert shown == expected
    assert rows[3].funding_rate == "0.0001"  # type: ignore[union-attr]
    assert rows[6].estimated_settle_price == "1.000000000000000000"  # type: ignore[union-attr]
    assert [type(r) for r in rows].count(Reject) == 2
    assert decoder.heard == {"!markPrice@arr@1s"}


def test_trades_and_mark_price_arrays_take_the_fast_paths() -> None:
    """Guard for the tests above: a decoder whose `decode` fails still decodes them."""
    decoder = UsdmDecoder(SYMBOLS, books=False)

    def refuse(raw: object, at: object) -> list[Item]:
        raise AssertionError("took the general path")

    decoder.decode = refuse  # type: ignore[method-assign]
    marks = orjson.dumps({"stream": "!markPrice@arr@1s", "data": [mark("BTCUSDT")]})
    trade, ticker = decoder.decode_read([agg(7), marks], NOW)
    assert type(trade) is Trade and type(ticker) is DerivativeTicker
