"""OKX v5 payloads rendered from the synthetic market, in the venue's shapes (pure).

Shapes follow the recorded frames in `tests/fixtures/okx/` and what `okx.decode`, `okx.rows`
and `okx.rest` read. OKX writes every number and time as a string and numbers without trailing
zeros (`"42219.9"`, `"39"`): prices are the market's 0.01 ticks (`tickSz` "0.01"), sizes its
1e-8 units (`lotSz` "0.00000001"; on a swap they count contracts), mark and index prices and
rates 1e-8 units. Book levels are `[price, size, "0", orders]` (the third is a deprecated
field OKX still sends as "0"). REST answers are `{"code": "0", "msg": "", "data": [...]}`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from streamer.simulator.listing import Listing
from streamer.simulator.market import Candle, Market, Notation, Trade, quote_text
from streamer.venues.okx.sim_listing import INVERSE, Spec
from streamer.venues.okx.symbols import inst_id

UNIT = 10**8  # mark and index prices, rates: integers of 1e-8
LIST_TIME = "1606468572000"  # when every simulated instrument was listed


def trimmed(units: int, scale: int = UNIT) -> str:
    """An integer of 1/`scale` as OKX writes it: `-0.0001`, `86000.5`, `39`."""
    sign, units = ("-" if units < 0 else ""), abs(units)
    digits = len(str(scale)) - 1
    whole, part = divmod(units, scale)
    text = f"{whole}.{part:0{digits}d}".rstrip("0").rstrip(".") if digits else str(whole)
    return sign + text


@dataclass(frozen=True, slots=True)
class OkxNotation(Notation):
    """Prices in 0.01 ticks and sizes in 1e-8 units, trailing zeros dropped, as OKX writes."""

    def price(self, ticks: int) -> str:
        return trimmed(ticks, 100)

    def size(self, units: int) -> str:
        return trimmed(units)


NOTATION = OkxNotation(decimals=2, trim=True)
px, sz = NOTATION.price, NOTATION.size


def push(channel: str, inst: str, data: list[Any], *, key: str = "instId") -> dict[str, Any]:
    return {"arg": {"channel": channel, key: inst}, "data": data}


def rest(data: list[Any]) -> dict[str, Any]:
    return {"code": "0", "msg": "", "data": data}


def error(code: str, msg: str, conn_id: str, ident: str | None = None) -> dict[str, Any]:
    body = {"event": "error", "code": code, "msg": msg, "connId": conn_id}
    return {"id": ident, **body} if ident is not None else body


def wrong_channel(arg: dict[str, Any]) -> str:
    """OKX's 60018 message for a channel asked on the wrong path, or of nothing it lists."""
    what = f"instType:{arg.get('instType')}" if "instType" in arg else f"instId:{arg.get('instId')}"
    return (f"Wrong URL or channel:{arg.get('channel')},{what} doesn't exist. Please use the "
            "correct URL, channel and parameters referring to API document.")  # fmt: skip


def levels(book: Iterable[tuple[int, int]], orders: bool = True) -> list[list[str]]:
    """(price ticks, size units) pairs as `[px, sz, "0", orders]` (orders "0" with size 0)."""
    return [[px(p), sz(s), "0", str(1 + s % 7) if s and orders else "0"] for p, s in book]


def trade(m: Market, t: Trade, *, aggregated: bool = False) -> dict[str, Any]:
    """A `trades-all` element (`trades` adds `count`: every simulated fill is its own)."""
    row = {"instId": inst_id(m.symbol), "tradeId": str(t.trade_id), "px": px(t.price),
           "sz": sz(t.size), "side": t.taker_side, "source": "0", "ts": str(t.time)}  # fmt: skip
    return row | {"count": "1"} if aggregated else row


def book(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], seq: int, prev: int, now: int
) -> dict[str, Any]:
    """A `books` element: `checksum` is 0 (OKX stopped computing it)."""
    return {"asks": levels(asks), "bids": levels(bids), "ts": str(now), "checksum": 0,
            "seqId": seq, "prevSeqId": prev}  # fmt: skip


def rest_book(m: Market, count: int, now: int) -> dict[str, Any]:
    """`GET /api/v5/market/books`: the whole book now, `seqId` its sequence."""
    return {"asks": levels(m.top("ask", count)), "bids": levels(m.top("bid", count)),
            "ts": str(now), "seqId": m.sequence}  # fmt: skip


def ticker(m: Market, swap: bool, contract_value: str, state: str, now: int) -> dict[str, Any]:
    """A `tickers` element (and `market/tickers` row). `vol24h` is base units on spot,
    contracts on a swap; `volCcy24h` the quote currency's on spot, the base's on a swap."""
    bid, ask = m.best_bid(), m.best_ask()
    live = state == "live"
    if swap:
        value = round(float(contract_value) * UNIT)
        volume_ccy = trimmed(m.volume_24h * value // UNIT)
    else:
        volume_ccy = quote_text(m.quote_volume_24h).rstrip("0").rstrip(".")
    return {
        "instType": "SWAP" if swap else "SPOT", "instId": inst_id(m.symbol),
        "last": px(m.last_price), "lastSz": sz(m.history[-1].size) if m.history else "0",
        "askPx": px(ask) if live else "", "askSz": sz(m.asks[ask]) if live else "",
        "bidPx": px(bid) if live else "", "bidSz": sz(m.bids[bid]) if live else "",
        "open24h": px(m.open_24h), "high24h": px(m.high_24h), "low24h": px(m.low_24h),
        "sodUtc0": px(m.open_24h), "sodUtc8": px(m.open_24h),
        "volCcy24h": volume_ccy, "vol24h": sz(m.volume_24h), "ts": str(now),
    }  # fmt: skip


def candle(m: Market, c: Candle, swap: bool, contract_value: str, closed: bool) -> list[str]:
    """A `candle1m` element `[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`: `vol` in
    base units (contracts on a swap), `volCcy` in the quote (the base on a swap)."""
    quote = quote_text(c.quote_volume).rstrip("0").rstrip(".")
    if swap:
        value = round(float(contract_value) * UNIT)
        volume_ccy = trimmed(c.volume * value // UNIT)
    else:
        volume_ccy = quote
    return [str(c.open_time), px(c.open), px(c.high), px(c.low), px(c.close), sz(c.volume),
            volume_ccy, quote, "1" if closed else "0"]  # fmt: skip


def instrument(item: Listing, spec: Spec) -> dict[str, Any]:
    """A `public/instruments` row (SPOT or a linear SWAP)."""
    inst = inst_id(item.symbol)
    family = f"{item.base}-{item.quote}"
    common = {"instId": inst, "listTime": LIST_TIME, "expTime": "", "tickSz": "0.01",
              "lotSz": "0.00000001", "minSz": "0.00000001", "state": item.status,
              "alias": "", "optType": "", "stk": ""}  # fmt: skip
    if not spec.swap:
        return common | {"instType": "SPOT", "baseCcy": item.base, "quoteCcy": item.quote,
                         "settleCcy": "", "uly": "", "instFamily": "", "ctVal": "",
                         "ctMult": "", "ctValCcy": "", "ctType": "", "lever": "10"}  # fmt: skip
    return common | {"instType": "SWAP", "baseCcy": "", "quoteCcy": "", "settleCcy": item.quote,
                     "uly": family, "instFamily": family, "ctVal": spec.contract_value,
                     "ctMult": "1", "ctValCcy": item.base, "ctType": "linear",
                     "lever": "100"}  # fmt: skip


def inverse_instrument() -> dict[str, Any]:
    """`BTC-USD-SWAP`: listed, counted in USD, never served (a client must leave it out)."""
    return {"instId": INVERSE, "instType": "SWAP", "listTime": LIST_TIME, "expTime": "",
            "tickSz": "0.1", "lotSz": "1", "minSz": "1", "state": "live", "alias": "",
            "optType": "", "stk": "", "baseCcy": "", "quoteCcy": "", "settleCcy": "BTC",
            "uly": "BTC-USD", "instFamily": "BTC-USD", "ctVal": "100", "ctMult": "1",
            "ctValCcy": "USD", "ctType": "inverse", "lever": "100"}  # fmt: skip


def mark_price(inst: str, mark: int, now: int) -> dict[str, Any]:
    return {"instId": inst, "instType": "SWAP", "markPx": trimmed(mark), "ts": str(now)}


def index_ticker(index: str, price: int, open_24h: int, now: int) -> dict[str, Any]:
    idx, opened = trimmed(price), trimmed(open_24h)
    return {"instId": index, "idxPx": idx, "open24h": opened, "high24h": trimmed(max(price,
            open_24h)), "low24h": trimmed(min(price, open_24h)), "sodUtc0": opened,
            "sodUtc8": opened, "ts": str(now)}  # fmt: skip


def funding_rate(
    inst: str, rate: int, funding_time: int, hours: int, premium: int, now: int
) -> dict[str, Any]:
    """A `funding-rate` element: `fundingRate` the rate predicted for `fundingTime` (the next
    funding), `nextFundingTime` the one after."""
    return {"formulaType": "withRate", "fundingRate": trimmed(rate),
            "fundingTime": str(funding_time), "impactValue": "", "instId": inst,
            "instType": "SWAP", "interestRate": "0.0001", "maxFundingRate": "0.0075",
            "method": "current_period", "minFundingRate": "-0.0075", "nextFundingRate": "",
            "nextFundingTime": str(funding_time + hours * 3_600_000),
            "premium": trimmed(premium), "settFundingRate": "", "settState": "settled",
            "sign": "", "ts": str(now)}  # fmt: skip


def funding_history_row(inst: str, at: int, rate: int, realized: int) -> dict[str, Any]:
    """A `funding-rate-history` row: `realizedRate` is what was charged."""
    return {"instType": "SWAP", "instId": inst, "formulaType": "withRate",
            "fundingRate": trimmed(rate), "realizedRate": trimmed(realized),
            "fundingTime": str(at), "method": "current_period"}  # fmt: skip


def open_interest(inst: str, contracts: int, contract_value: str, price: int, now: int
                  ) -> dict[str, Any]:  # fmt: skip
    value = round(float(contract_value) * UNIT)
    base = contracts * value // UNIT
    return {"instId": inst, "instType": "SWAP", "oi": trimmed(contracts), "oiCcy": trimmed(base),
            "oiUsd": trimmed(base * price // 100), "ts": str(now)}  # fmt: skip


def liquidation(inst: str, details: list[dict[str, str]]) -> dict[str, Any]:
    family = inst.removesuffix("-SWAP")
    return {"details": details, "instFamily": family, "instId": inst, "instType": "SWAP",
            "uly": family}  # fmt: skip


def liquidation_detail(side: str, bankruptcy: int, size: int, now: int) -> dict[str, str]:
    """One liquidated order: `side` buy when a short was closed (`posSide` short)."""
    return {"bkLoss": "0", "bkPx": px(bankruptcy), "ccy": "",
            "posSide": "short" if side == "buy" else "long", "side": side, "sz": sz(size),
            "ts": str(now)}  # fmt: skip
