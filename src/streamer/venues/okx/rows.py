"""OKX v5 payload elements -> normalized rows (pure). Each function checks the fields it reads
and raises `FrameError` (or `ValueError` from the numbers) naming what is wrong; the decoder
turns that into a `Reject`. Numbers stay the venue's text (`numbers.dec`), never floats.

OKX writes every number and time as a string: `"px": "42219.9"`, `"ts": "1630048897897"`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamer.errors import FrameError
from streamer.ids import record_id
from streamer.numbers import NON_NEGATIVE, POSITIVE, dec, dec_pair, opt_dec
from streamer.records import Candle, Dec, FundingRate, Hours, Liquidation, Millis, Ticker, Trade
from streamer.timefmt import MAX_MILLIS
from streamer.venues.okx.symbols import EXCHANGE

SIDES = ("buy", "sell")
CANDLE_MS = 60_000
INTERVAL = "1m"
_new_row = tuple.__new__


def millis(value: object, field: str) -> Millis:
    """OKX's epoch milliseconds, sent as digit text (`"1597026383085"`)."""
    if type(value) is str and value.isdigit() and len(value) <= 15:
        ms = int(value)
        if ms <= MAX_MILLIS:
            return Millis(ms)
    raise FrameError(f"field {field!r} is not epoch milliseconds: {value!r}"[:200])


def trade_id(value: object) -> int:
    """A `tradeId`: digit text (OKX numbers each instrument's trades one after another)."""
    if type(value) is str and value.isdigit() and len(value) <= 19:
        return int(value)
    raise FrameError(f"field 'tradeId' is not a trade id: {value!r}"[:200])


def trade_row(
    d: dict[str, Any], symbol: str, received_at: Millis, ids: Callable[[object], str]
) -> tuple[int, Trade]:
    """One `trades-all` (or REST `history-trades`) element: (its id, its row). `side` is the
    taker's; `sz` is base units on spot, contracts on swaps."""
    tid = trade_id(d["tradeId"])
    side = d["side"]
    if side not in SIDES:
        raise FrameError(f"field 'side' is not buy or sell: {side!r}"[:200])
    price, size = dec_pair(d["px"], d["sz"], ("px", "sz"))
    row = _new_row(Trade, (EXCHANGE, symbol, millis(d["ts"], "ts"), received_at, str(tid),
                           price, size, side, ids(tid)))  # fmt: skip
    return tid, row


def ticker_row(d: dict[str, Any], symbol: str, received_at: Millis, spot: bool) -> Ticker:
    """A `tickers` element. `vol24h` is base units on spot, contracts on swaps; `volCcy24h` is
    the quote currency's volume only on spot (on swaps it is the base currency's: left out)."""
    event_time = millis(d["ts"], "ts")
    return Ticker(
        exchange=EXCHANGE,
        symbol=symbol,
        event_time=event_time,
        received_at=received_at,
        last_price=dec(d["last"], "last", POSITIVE),
        best_bid=opt_dec(d.get("bidPx"), "bidPx", NON_NEGATIVE),
        best_bid_size=opt_dec(d.get("bidSz"), "bidSz", NON_NEGATIVE),
        best_ask=opt_dec(d.get("askPx"), "askPx", NON_NEGATIVE),
        best_ask_size=opt_dec(d.get("askSz"), "askSz", NON_NEGATIVE),
        open_24h=opt_dec(d.get("open24h"), "open24h", POSITIVE),
        high_24h=opt_dec(d.get("high24h"), "high24h", POSITIVE),
        low_24h=opt_dec(d.get("low24h"), "low24h", POSITIVE),
        volume_24h=opt_dec(d.get("vol24h"), "vol24h", NON_NEGATIVE),
        quote_volume_24h=opt_dec(d.get("volCcy24h"), "volCcy24h", NON_NEGATIVE) if spot else None,
        price_change_pct_24h=None,
        trade_count_24h=None,
        record_id=record_id(EXCHANGE, symbol, "ticker", event_time),
    )


def candle_row(c: object, symbol: str, received_at: Millis) -> Candle | None:
    """One `candle1m` element `[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`: its row
    once closed (`confirm` "1"), None while it is still open."""
    if type(c) is not list or len(c) < 9:
        raise FrameError(f"a candle is not [ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]: "
                         f"{c!r}"[:200])  # fmt: skip
    confirm = c[8]
    if confirm not in ("0", "1"):
        raise FrameError(f"candle field 'confirm' is not 0 or 1: {confirm!r}"[:200])
    open_time = millis(c[0], "ts")
    high = dec(c[2], "h", POSITIVE)
    volume = dec(c[5], "vol", NON_NEGATIVE)
    if confirm == "0":
        dec(c[1], "o", POSITIVE), dec(c[3], "l", POSITIVE), dec(c[4], "c", POSITIVE)
        return None
    return Candle(EXCHANGE, symbol, open_time, received_at, INTERVAL, open_time,
                  Millis(open_time + CANDLE_MS - 1), dec(c[1], "o", POSITIVE), high,
                  dec(c[3], "l", POSITIVE), dec(c[4], "c", POSITIVE), volume,
                  opt_dec(c[7], "volCcyQuote", NON_NEGATIVE), None, True, "ws",
                  record_id(EXCHANGE, symbol, "ohlcv", INTERVAL, open_time))  # fmt: skip


def liquidation_row(detail: dict[str, Any], symbol: str, received_at: Millis) -> Liquidation:
    """One `details` element of `liquidation-orders`. `side` is the liquidated order's (buy: a
    short was liquidated), price its bankruptcy price `bkPx`, quantity `sz` (contracts). OKX
    pushes filled liquidations only, without an id or a status: status is `filled`, the filled
    quantity the quantity, and the `record_id` its time, side, price and size (a replay on
    subscribe gives the same id)."""
    side = detail["side"]
    if side not in SIDES:
        raise FrameError(f"field 'side' is not buy or sell: {side!r}"[:200])
    event_time = millis(detail["ts"], "ts")
    price = dec(detail["bkPx"], "bkPx", POSITIVE)
    quantity = dec(detail["sz"], "sz", POSITIVE)
    rid = record_id(EXCHANGE, symbol, "liquidation", event_time, side, price, quantity)
    return Liquidation(EXCHANGE, symbol, event_time, received_at, side, price, None, quantity,
                       quantity, "filled", rid)  # fmt: skip


def funding_rows(data: object, symbol: str, received_at: Millis) -> list[FundingRate]:
    """A `funding-rate-history` answer's `data` (newest first) -> settled rates, oldest first.
    The settled rate is `realizedRate` (`fundingRate` is the rate predicted for it); the
    interval is the time since the funding before, where it is a whole number of hours."""
    if type(data) is not list:
        raise FrameError("funding-rate-history 'data' is not an array")
    settled: list[tuple[Millis, str]] = []
    for d in data:
        if type(d) is not dict:
            raise FrameError(f"a funding-rate-history element is not an object: {d!r}"[:200])
        settled.append((millis(d["fundingTime"], "fundingTime"),
                        dec(d["realizedRate"], "realizedRate")))  # fmt: skip
    settled.sort()
    rows: list[FundingRate] = []
    for index, (at, rate) in enumerate(settled):
        hours: Hours | None = None
        if index:
            gap = at - settled[index - 1][0]
            hours = Hours(gap // 3_600_000) if gap > 0 and gap % 3_600_000 == 0 else None
        rid = record_id(EXCHANGE, symbol, "funding", at)
        rows.append(FundingRate(EXCHANGE, symbol, at, received_at, Dec(rate), hours, None, rid))
    return rows
