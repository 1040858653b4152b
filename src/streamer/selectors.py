"""Naming a market instead of listing it: `all`, `quote:<Q>`, `top:<N>` (pure).

`STREAMER_BINANCE_SYMBOLS=quote:USDT,top:100` means the 100 USDT pairs with the largest 24 h
quote volume: selectors combine by intersection, `top` ranking what the others let through.
The venue's own listing decides what exists and trades (`binance_listings` from
`/api/v3/exchangeInfo`, `coinbase_listings` from `/api/v3/brokerage/market/products`); a
normalized symbol is always built from the venue's base and quote asset, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from streamer.errors import ConfigError, FrameError

_QUOTE = re.compile(r"quote:([A-Z0-9]{1,20})")
_TOP = re.compile(r"top:([1-9][0-9]{0,4})")
NORMALIZED = re.compile(r"[A-Z0-9]{1,20}-[A-Z0-9]{1,20}")


@dataclass(frozen=True, slots=True)
class Selector:
    """What to collect: every trading spot symbol, narrowed by quote asset and volume rank."""

    quote: str | None = None
    top: int | None = None

    def __str__(self) -> str:
        parts = [f"quote:{self.quote}"] if self.quote else []
        parts += [f"top:{self.top}"] if self.top else []
        return ",".join(parts) or "all"


@dataclass(frozen=True, slots=True)
class Listing:
    symbol: str  # normalized BASE-QUOTE
    native: str  # as the venue names it (BTCUSDT, BTC-USD)
    quote: str
    trading: bool
    quote_volume: float = 0.0


def is_selector(token: str) -> bool:
    return token == "all" or token.startswith(("quote:", "top:"))


def parse_selector(tokens: Iterable[str], setting: str) -> Selector | None:
    """The selector the tokens name, or None when they are an explicit symbol list."""
    tokens = list(tokens)
    chosen = [t for t in tokens if is_selector(t)]
    if not chosen:
        return None
    if len(chosen) != len(tokens):
        raise ConfigError(
            setting, "mixes symbols and selectors", "List symbols, or use all, quote:<Q>, top:<N>."
        )
    quote: str | None = None
    top: int | None = None
    for token in chosen:
        if token == "all":
            continue
        q, t = _QUOTE.fullmatch(token), _TOP.fullmatch(token)
        if q is not None and quote in (None, q[1]):
            quote = q[1]
        elif t is not None and top is None:
            top = int(t[1])
        else:
            raise ConfigError(
                setting,
                f"{token!r} is not a selector (or repeats one)",
                "Use all, quote:USDT or top:100 (at most one of each kind).",
            )
    return Selector(quote, top)


def choose(listings: Iterable[Listing], selector: Selector) -> tuple[str, ...]:
    """The trading symbols the selector picks, sorted (by volume when ranked)."""
    picked = [item for item in listings if item.trading]
    if selector.quote is not None:
        picked = [item for item in picked if item.quote == selector.quote]
    if selector.top is not None:
        picked = sorted(picked, key=lambda item: (-item.quote_volume, item.symbol))
        picked = picked[: selector.top]
    return tuple(sorted(item.symbol for item in picked))


def _object(body: bytes | str, what: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"{what} is not JSON: {exc}") from None


def binance_listings(exchange_info: bytes | str, tickers: bytes | str | None) -> list[Listing]:
    """Spot symbols from `exchangeInfo`, with 24 h quote volumes from `ticker/24hr` if given.

    Trading means `status` TRADING and SPOT among `permissions` or `permissionSets`.
    """
    info = _object(exchange_info, "exchangeInfo")
    volumes: Mapping[str, float] = {}
    if tickers is not None:
        rows = _object(tickers, "ticker/24hr")
        if type(rows) is not list:
            raise FrameError("ticker/24hr is not a JSON array")
        volumes = {r["symbol"]: float(r.get("quoteVolume") or 0) for r in rows if type(r) is dict}
    if type(info) is not dict or type(info.get("symbols")) is not list:
        raise FrameError("exchangeInfo has no symbols list")
    out = []
    for s in info["symbols"]:
        base, quote, native = s.get("baseAsset"), s.get("quoteAsset"), s.get("symbol")
        symbol = f"{base}-{quote}"
        if not (NORMALIZED.fullmatch(symbol) and native == f"{base}{quote}"):
            continue  # a name the lake cannot write as BASE-QUOTE, or not BASE+QUOTE
        sets = s.get("permissionSets") or [s.get("permissions") or []]
        spot = any("SPOT" in group for group in sets if type(group) is list)
        trading = s.get("status") == "TRADING" and spot
        out.append(Listing(symbol, native, quote, trading, volumes.get(native, 0.0)))
    return out


def coinbase_listings(products: bytes | str) -> list[Listing]:
    """Spot products from `market/products`: trading means online and not disabled."""
    body = _object(products, "market/products")
    if type(body) is not dict or type(body.get("products")) is not list:
        raise FrameError("market/products has no products list")
    out = []
    for p in body["products"]:
        base, quote = p.get("base_currency_id"), p.get("quote_currency_id")
        native = p.get("product_id")
        symbol = f"{base}-{quote}"
        if not (NORMALIZED.fullmatch(symbol) and native == symbol):
            continue  # the product id must be the BASE-QUOTE it is subscribed by
        trading = (
            p.get("product_type") == "SPOT"
            and p.get("status") == "online"
            and not p.get("trading_disabled")
            and not p.get("is_disabled")
        )
        volume = float(p.get("approximate_quote_24h_volume") or 0)
        out.append(Listing(symbol, native, quote, trading, volume))
    return out
