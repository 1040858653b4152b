"""Naming a market instead of listing it: `all`, `quote:<Q>`, `top:<N>` (pure).

A venue with several kinds of contract also takes kind tokens (`kinds`, e.g. Binance USD-M's
`perpetual` and `delivery`): each names one kind, and together they name the union of their
kinds; without one, the venue's first kind is meant.

`quote:USDT,top:100` (e.g. as `STREAMER_<VENUE>_SYMBOLS`) means the 100 USDT pairs with the
largest 24 h quote volume: selectors combine by intersection, `top` ranking what the others let
through. The venue's own listing decides what exists and trades (each venue's `listings.py`
turns it into `Listing`s); a normalized symbol is always built from the venue's base and quote
asset, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
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
    kinds: tuple[str, ...] = ()  # contract kinds (USD-M's perpetual, delivery); () = any
    listed: bool = False
    """Every listed symbol, trading or not (the start check of explicit symbols; no setting
    names this: a halted symbol is not collected by a selector)."""

    def __str__(self) -> str:
        parts = list(self.kinds)
        parts += [f"quote:{self.quote}"] if self.quote else []
        parts += [f"top:{self.top}"] if self.top else []
        return ",".join(parts) or ("listed" if self.listed else "all")


@dataclass(frozen=True, slots=True)
class Listing:
    symbol: str  # normalized BASE-QUOTE
    native: str  # as the venue names it (BTCUSDT, BTC-USD)
    quote: str
    trading: bool
    quote_volume: float = 0.0
    kind: str | None = None  # a contract's kind (`perpetual`, `delivery`); None on spot


def is_selector(token: str, kinds: Collection[str] = ()) -> bool:
    return token == "all" or token in kinds or token.startswith(("quote:", "top:"))


def parse_selector(
    tokens: Iterable[str], setting: str, kinds: Sequence[str] = ()
) -> Selector | None:
    """The selector the tokens name, or None when they are an explicit symbol list. `kinds`:
    the contract kinds the venue names (the first is meant when no token names one)."""
    tokens = list(tokens)
    chosen = [t for t in tokens if is_selector(t, kinds)]
    if not chosen:
        return None
    usage = ", ".join(("all", *kinds, "quote:<Q>", "top:<N>"))
    if len(chosen) != len(tokens):
        raise ConfigError(setting, "mixes symbols and selectors", f"List symbols, or use {usage}.")
    quote: str | None = None
    top: int | None = None
    named: list[str] = []
    for token in chosen:
        if token == "all":
            continue
        if token in kinds:
            named.append(token)
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
    if kinds and not named:
        named.append(kinds[0])
    return Selector(quote, top, tuple(k for k in kinds if k in named))


def choose(listings: Iterable[Listing], selector: Selector) -> tuple[str, ...]:
    """The trading symbols the selector picks (every listed one if `listed`), sorted (by
    volume when ranked)."""
    picked = [item for item in listings if item.trading or selector.listed]
    if selector.kinds:
        picked = [item for item in picked if item.kind in selector.kinds]
    if selector.quote is not None:
        picked = [item for item in picked if item.quote == selector.quote]
    if selector.top is not None:
        picked = sorted(picked, key=lambda item: (-item.quote_volume, item.symbol))
        picked = picked[: selector.top]
    return tuple(sorted(item.symbol for item in picked))


def json_body(body: bytes | str, what: str) -> Any:
    """A listing's JSON; `FrameError` naming `what` when it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"{what} is not JSON: {exc}") from None
