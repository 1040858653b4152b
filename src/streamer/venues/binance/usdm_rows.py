"""Binance USD-M rows of the all-market streams (pure): mark prices -> `derivative_tickers`,
liquidation orders -> `liquidations`.

`mark_price_row` checks every field of one element (typed `WireMarkPrice` or a dict);
`typed_mark_rows` builds the rows of a typed array at once where an element's numbers fit as
sent (the same rows `mark_price_row` would make), and hands any other element to `checked`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from streamer.errors import FrameError
from streamer.ids import record_id, record_ids
from streamer.numbers import NON_NEGATIVE, POSITIVE, dec, opt_dec
from streamer.records import DerivativeTicker, Item, Liquidation, Millis
from streamer.timefmt import MAX_MILLIS, epoch_millis
from streamer.venues.binance.usdm_streams import EXCHANGE_USDM
from streamer.venues.binance.usdm_wire import MarkPriceArrayFrame, WireMarkPrice

_SIDES = {"BUY": "buy", "SELL": "sell"}
_REQUIRED_MARK_FIELDS = frozenset({"e", "E", "s", "p", "r", "T"})
"""A mark price element's fields that must be there (`i` and `P` are missing before 2020)."""
_new_row = tuple.__new__
"""Builds a row from a tuple in field order: a third of a keyword constructor's cost."""
_UNSIGNED = r"(?:0|[1-9][0-9]{0,19}+)(?:\.[0-9]{1,18}+)?+"
_MARK_NUMBERS = re.compile(f"{_UNSIGNED},{_UNSIGNED},{_UNSIGNED},-?+{_UNSIGNED}")
"""`p,i,P,r` of a funding contract's mark price, as `mark_price_row` keeps them unchanged: no
exponent, within `decimal(38,18)`, the prices unsigned (the mark's sign is checked apart)."""


def typed_mark_rows(
    frame: MarkPriceArrayFrame,
    wanted: dict[str, str],
    ids: dict[str, Callable[..., str]],
    received_at: Millis,
    checked: Callable[[Any, str, Millis], list[Item]],
) -> list[Item]:
    """The rows of `wanted`'s elements (native -> lake symbol) of a typed mark price array: a
    funding contract's whose numbers fit as sent built at once (record-id makers cached in
    `ids`), any other element through `checked`."""
    rows: list[Item] = []
    fits = _MARK_NUMBERS.fullmatch
    for item in frame.data:
        symbol = wanted.get(item.s)
        if symbol is None:
            continue
        p, i, settle, r, event_time, funding_time = (
            item.p,
            item.i,
            item.P,
            item.r,
            item.E,
            item.T,
        )
        if (
            0 < funding_time <= MAX_MILLIS
            and 0 <= event_time <= MAX_MILLIS
            and i is not None
            and settle is not None
            and fits(f"{p},{i},{settle},{r}") is not None
            and p.strip("0.")  # positive
        ):
            make = ids.get(symbol)
            if make is None:
                make = ids[symbol] = record_ids(EXCHANGE_USDM, symbol, "derivative_ticker")
            rows.append(_new_row(DerivativeTicker, (EXCHANGE_USDM, symbol, event_time,
                                                    received_at, p, i, settle, r,
                                                    funding_time, None, None,
                                                    make(event_time))))  # fmt: skip
        else:
            rows += checked(item, symbol, received_at)
    return rows


def _field(item: Any, name: str) -> Any:
    """A field of a mark price element, typed (`WireMarkPrice`) or a dict."""
    if type(item) is WireMarkPrice:
        return getattr(item, name)
    return item[name] if name in _REQUIRED_MARK_FIELDS else item.get(name)


def mark_price_row(item: Any, symbol: str, received_at: Millis) -> DerivativeTicker:
    """One `markPriceUpdate` (typed or a dict) of `symbol` -> its `derivative_tickers` row."""
    if _field(item, "e") != "markPriceUpdate":
        raise FrameError(f"field 'e' is not markPriceUpdate: {_field(item, 'e')!r}"[:200])
    event_time = epoch_millis(_field(item, "E"), "E")
    next_funding = _field(item, "T")
    if type(next_funding) is not int or next_funding < 0:
        raise FrameError(f"field 'T' is not epoch milliseconds: {next_funding!r}"[:200])
    funds = next_funding > 0  # a dated contract: T is 0 and r "" or zero
    rate = _field(item, "r")
    if not funds and rate not in ("", None) and type(rate) is str:
        dec(rate, "r")  # still a number, though not a funding rate
    return DerivativeTicker(
        exchange=EXCHANGE_USDM,
        symbol=symbol,
        event_time=event_time,
        received_at=received_at,
        mark_price=dec(_field(item, "p"), "p", POSITIVE),
        index_price=opt_dec(_field(item, "i"), "i", NON_NEGATIVE),
        estimated_settle_price=opt_dec(_field(item, "P"), "P", NON_NEGATIVE),
        funding_rate=dec(rate, "r") if funds else None,
        next_funding_time=epoch_millis(next_funding, "T") if funds else None,
        open_interest=None,
        last_price=None,
        record_id=record_id(EXCHANGE_USDM, symbol, "derivative_ticker", event_time),
    )


def liquidation_row(order: dict[str, Any], symbol: str, received_at: Millis) -> Liquidation:
    """A `forceOrder` event's order `o` of `symbol` -> its `liquidations` row. Binance gives no
    id: the `record_id` is the order's time, side, prices and quantities."""
    side = _SIDES.get(order["S"]) if type(order["S"]) is str else None
    if side is None:
        raise FrameError(f"field 'S' is not BUY or SELL: {order['S']!r}"[:200])
    status = order["X"]
    if type(status) is not str or not status.isidentifier() or len(status) > 32:
        raise FrameError(f"field 'X' is not an order status: {status!r}"[:200])
    event_time = epoch_millis(order["T"], "T")
    price = dec(order["p"], "p", POSITIVE)
    average = opt_dec(order.get("ap"), "ap", NON_NEGATIVE)
    quantity = dec(order["q"], "q", POSITIVE)
    filled = dec(order["z"], "z", NON_NEGATIVE)
    rid = record_id(EXCHANGE_USDM, symbol, "liquidation", event_time, side, price, quantity,
                    filled, status)  # fmt: skip
    return Liquidation(EXCHANGE_USDM, symbol, event_time, received_at, side, price, average,
                       quantity, filled, status, rid)  # fmt: skip
