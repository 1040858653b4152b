"""Binance USD-M REST answers -> rows (pure): the listing, open interest and settled funding.

* `GET /fapi/v1/exchangeInfo` -> `instruments` (and `Listing`s for the selectors): a contract's
  kind from `contractType` (`usdm_streams.CONTRACT_KINDS`), its normalized symbol from the base
  and quote asset and, for a dated one, `deliveryDate`; tick size from the `PRICE_FILTER`, lot
  size from `LOT_SIZE`'s `stepSize`. USD-M contracts are linear: one contract is one unit of the
  base asset, so `contract_size` is 1. Funding intervals are not in `exchangeInfo`
  (`/fapi/v1/fundingInfo` lists the symbols whose interval is not the default 8 h): pass them
  in as `intervals`. A row whose names do not fit (`usdm_streams.CONTRACT_SYMBOL`) or whose
  `contractType` is not known is left out, as Spot's listing does; a malformed row is a reject.
* `GET /fapi/v1/openInterest` -> one `open_interest` row at the venue's `time`.
* `GET /fapi/v1/fundingRate` -> `funding_rates`, the settled rates (never the predicted one of
  `markPrice`), one per `fundingTime`.
* `GET /fapi/v1/fundingInfo` -> `funding_intervals`: the symbols off the default 8 h interval.

Each parser returns rows (or the intervals), or exactly one `Reject` naming what is wrong
(never raises).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamer.errors import FrameError
from streamer.ids import record_id
from streamer.numbers import NON_NEGATIVE, POSITIVE, dec, opt_dec
from streamer.records import (
    Dec,
    FundingRate,
    Hours,
    Instrument,
    Item,
    Millis,
    OpenInterest,
    Reject,
)
from streamer.selectors import Listing, json_body
from streamer.sources.base import FRAME_FAILURES, guarded, json_object, reason_for, reject
from streamer.timefmt import epoch_millis
from streamer.venues.binance.usdm_streams import (
    CONTRACT_KINDS,
    CONTRACT_SYMBOL,
    EXCHANGE_USDM,
    PERPETUAL,
    contract_symbol,
    native_symbol,
)

LINEAR_CONTRACT_SIZE = Dec("1")
DEFAULT_FUNDING_HOURS = Hours(8)
"""The funding interval of a perpetual `fundingInfo` does not list (Binance's default)."""
REST_SOURCE = f"{EXCHANGE_USDM}:rest"


def instruments(
    body: bytes | str, received_at: Millis, intervals: Mapping[str, int] | None = None
) -> list[Item]:
    """`exchangeInfo` -> one `Instrument` per contract it lists (any status); `intervals` maps
    a venue symbol to its funding interval in hours (others: `DEFAULT_FUNDING_HOURS`)."""

    def decode(raw: str | bytes, at: Millis) -> list[Item]:
        info = json_object(raw)
        symbols = info["symbols"]
        if type(symbols) is not list:
            raise FrameError("field 'symbols' is not a list")
        server_time = epoch_millis(info["serverTime"], "serverTime")
        rows: list[Item] = []
        for entry in symbols:
            row = instrument_row(entry, server_time, at, intervals or {})
            if row is not None:
                rows.append(row)
        return rows

    return guarded(REST_SOURCE, decode, body, received_at)


def _filter(filters: list[Any], kind: str, field: str) -> Dec | None:
    for item in filters:
        if type(item) is dict and item.get("filterType") == kind:
            return dec(item[field], f"{kind}.{field}", POSITIVE)
    return None


def instrument_row(
    entry: Any, server_time: Millis, received_at: Millis, intervals: Mapping[str, int]
) -> Instrument | None:
    """One `exchangeInfo` symbol -> its row; None for a kind or name the lake does not list."""
    if type(entry) is not dict:
        raise FrameError("an entry of 'symbols' is not an object")
    native, base, quote = entry["symbol"], entry["baseAsset"], entry["quoteAsset"]
    kind = CONTRACT_KINDS.get(entry["contractType"])
    if kind is None or not all(type(v) is str for v in (native, base, quote)):
        return None
    delivery: Millis | None = None
    if kind != PERPETUAL:
        delivery = epoch_millis(entry["deliveryDate"], "deliveryDate")
    symbol = contract_symbol(base, quote, kind, delivery)
    if CONTRACT_SYMBOL.fullmatch(symbol) is None or native_symbol(symbol) != native:
        return None  # a name the lake cannot write, or not BASE+QUOTE(_YYMMDD)
    status = entry["status"]
    if type(status) is not str or not status.isidentifier() or len(status) > 32:
        raise FrameError(f"field 'status' of {native} is not a status: {status!r}"[:200])
    settle = entry.get("marginAsset")
    if settle is not None and type(settle) is not str:
        raise FrameError(f"field 'marginAsset' of {native} is not an asset: {settle!r}"[:200])
    filters = entry.get("filters") or []
    if type(filters) is not list:
        raise FrameError(f"field 'filters' of {native} is not a list")
    tick = _filter(filters, "PRICE_FILTER", "tickSize")
    lot = _filter(filters, "LOT_SIZE", "stepSize")
    hours = None
    if kind == PERPETUAL:
        hours = Hours(intervals.get(native, DEFAULT_FUNDING_HOURS))
    values = (native, kind, base, quote, settle, LINEAR_CONTRACT_SIZE, tick, lot, delivery,
              hours, status)  # fmt: skip
    return Instrument(EXCHANGE_USDM, symbol, server_time, received_at, *values,
                      record_id(EXCHANGE_USDM, symbol, "instrument", *values))  # fmt: skip


def listings(rows: list[Item]) -> list[Listing]:
    """The selectors' view of `instruments` rows: trading means status `TRADING`."""
    return [
        Listing(row.symbol, row.venue_symbol, row.quote, row.status == "TRADING", kind=row.kind)
        for row in rows
        if type(row) is Instrument
    ]


def open_interest(body: bytes | str, symbol: str, received_at: Millis) -> list[Item]:
    """`openInterest?symbol=` of `symbol` -> one row at the venue's `time`."""

    def decode(raw: str | bytes, at: Millis) -> list[Item]:
        msg = json_object(raw)
        native = msg["symbol"]
        if native != native_symbol(symbol):
            raise FrameError(f"answer for {native!r}, not {symbol}"[:200])
        event_time = epoch_millis(msg["time"], "time")
        value = dec(msg["openInterest"], "openInterest", NON_NEGATIVE)
        rid = record_id(EXCHANGE_USDM, symbol, "open_interest", event_time)
        return [OpenInterest(EXCHANGE_USDM, symbol, event_time, at, value, rid)]

    return guarded(REST_SOURCE, decode, body, received_at)


def funding_rates(
    body: bytes | str, symbol: str, received_at: Millis, interval_hours: int | None
) -> list[Item]:
    """`fundingRate?symbol=` of `symbol` -> its settled fundings, oldest first as sent.
    `interval_hours` is the symbol's funding interval when collected (None: unknown)."""

    def decode(raw: str | bytes, at: Millis) -> list[Item]:
        answer = json_body(raw, "fundingRate")
        if type(answer) is not list:
            raise FrameError("fundingRate is not a JSON array")
        native = native_symbol(symbol)
        hours = None if interval_hours is None else Hours(interval_hours)
        rows: list[Item] = []
        for entry in answer:
            if type(entry) is not dict or entry.get("symbol") != native:
                raise FrameError(f"an entry is not a funding of {native}: {entry!r}"[:200])
            funding_time = epoch_millis(entry["fundingTime"], "fundingTime")
            rate = dec(entry["fundingRate"], "fundingRate")
            mark = opt_dec(entry.get("markPrice"), "markPrice", POSITIVE)
            rid = record_id(EXCHANGE_USDM, symbol, "funding_rate", funding_time)
            rows.append(FundingRate(EXCHANGE_USDM, symbol, funding_time, at, rate, hours, mark,
                                    rid))  # fmt: skip
        return rows

    return guarded(REST_SOURCE, decode, body, received_at)


MAX_FUNDING_HOURS = 24 * 7  # an interval past a week is not one Binance has: a malformed row


def funding_intervals(body: bytes | str, received_at: Millis) -> dict[str, int] | Reject:
    """`fundingInfo` -> venue symbol -> its funding interval in hours (only the symbols whose
    interval is not the default are listed), or one `Reject`."""
    try:
        answer = json_body(body, "fundingInfo")
        if type(answer) is not list:
            raise FrameError("fundingInfo is not a JSON array")
        intervals: dict[str, int] = {}
        for entry in answer:
            if type(entry) is not dict or type(entry.get("symbol")) is not str:
                raise FrameError(f"an entry is not a symbol's funding info: {entry!r}"[:200])
            hours = entry["fundingIntervalHours"]
            if type(hours) is not int or not 0 < hours <= MAX_FUNDING_HOURS:
                raise FrameError(f"fundingIntervalHours of {entry['symbol']} is {hours!r}"[:200])
            intervals[entry["symbol"]] = hours
        return intervals
    except FRAME_FAILURES as exc:
        return reject(REST_SOURCE, reason_for(exc), body, received_at)
