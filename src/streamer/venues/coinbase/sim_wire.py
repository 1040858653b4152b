"""Coinbase Advanced Trade events rendered from the synthetic market (venue shapes)."""

from __future__ import annotations

import time
from typing import Any

from streamer.simulator.listing import Listing
from streamer.simulator.market import Candle, Change, Market, Notation, Trade, quote_text

NOTATION = Notation(decimals=2, trim=True)


def rfc3339(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}000Z"


def _p(ticks: int) -> str:
    return NOTATION.price(ticks)


def _s(units: int) -> str:
    return NOTATION.size(units)


def book_top(m: Market, n: int) -> tuple[list[list[str]], list[list[str]]]:
    """The top `n` levels of each side as the wire writes them (for tests' ground truth)."""
    return (
        [[_p(p), _s(s)] for p, s in m.top("bid", n)],
        [[_p(p), _s(s)] for p, s in m.top("ask", n)],
    )


def l2_snapshot(m: Market, now: int) -> dict[str, Any]:
    stamp = rfc3339(now)
    updates = [{"side": "bid", "event_time": stamp, "price_level": _p(p), "new_quantity": _s(s)}
               for p, s in m.top("bid", len(m.bids))]  # fmt: skip
    updates += [{"side": "offer", "event_time": stamp, "price_level": _p(p), "new_quantity": _s(s)}
                for p, s in m.top("ask", len(m.asks))]  # fmt: skip
    return {"type": "snapshot", "product_id": m.symbol, "updates": updates}


def l2_update(m: Market, changes: list[Change], now: int) -> dict[str, Any]:
    stamp = rfc3339(now)
    return {
        "type": "update",
        "product_id": m.symbol,
        "updates": [
            {
                "side": "bid" if c.side == "bid" else "offer",
                "event_time": stamp,
                "price_level": _p(c.price),
                "new_quantity": _s(c.size),
            }
            for c in changes
        ],
    }


def trade(m: Market, t: Trade) -> dict[str, Any]:
    maker_side = "SELL" if t.taker_side == "buy" else "BUY"  # Coinbase reports the maker side
    return {"trade_id": str(t.trade_id), "product_id": m.symbol, "price": _p(t.price),
            "size": _s(t.size), "side": maker_side, "time": rfc3339(t.time)}  # fmt: skip


def rest_trade(m: Market, t: Trade) -> dict[str, Any]:
    """A trade of the market trades endpoint: the channel's fields and the quote at the time
    (left empty here, as the venue often does)."""
    return {**trade(m, t), "bid": "", "ask": "", "exchange": "coinbase"}


def ticker(m: Market) -> dict[str, Any]:
    (bid, bid_size), (ask, ask_size) = m.top("bid", 1)[0], m.top("ask", 1)[0]
    change = (m.last_price - m.open_24h) / m.open_24h * 100
    return {
        "type": "ticker", "product_id": m.symbol, "price": _p(m.last_price),
        "volume_24_h": _s(m.volume_24h), "low_24_h": _p(m.low_24h), "high_24_h": _p(m.high_24h),
        "low_52_w": _p(m.low_24h), "high_52_w": _p(m.high_24h),
        "price_percent_chg_24_h": f"{change:.8f}", "best_bid": _p(bid),
        "best_bid_quantity": _s(bid_size), "best_ask": _p(ask), "best_ask_quantity": _s(ask_size),
    }  # fmt: skip


def candle(m: Market, c: Candle) -> dict[str, Any]:
    return {"start": str(c.open_time // 1000), "high": _p(c.high), "low": _p(c.low),
            "open": _p(c.open), "close": _p(c.close), "volume": _s(c.volume),
            "product_id": m.symbol}  # fmt: skip


def heartbeat(now: int, counter: int, uptime: float) -> dict[str, Any]:
    wall = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now // 1000))
    go_time = f"{wall}.{now % 1000:03d}000000 +0000 UTC m=+{uptime:.9f}"
    return {"current_time": go_time, "heartbeat_counter": counter}


def product(m: Market, listing: Listing) -> dict[str, Any]:
    change = (m.last_price - m.open_24h) / m.open_24h * 100
    return {"product_id": m.symbol, "price": _p(m.last_price),
            "price_percentage_change_24h": f"{change:.8f}", "volume_24h": _s(m.volume_24h),
            "high_24h": _p(m.high_24h), "low_24h": _p(m.low_24h),
            "base_currency_id": listing.base, "quote_currency_id": listing.quote,
            "status": listing.status, "trading_disabled": listing.disabled,
            "product_type": "SPOT",
            "approximate_quote_24h_volume": quote_text(m.quote_volume_24h, 2),
            "base_increment": "0.00000001", "quote_increment": "0.01",
            "display_name": f"{listing.base}/{listing.quote}",
            "is_disabled": False, "cancel_only": False, "view_only": False}  # fmt: skip
