"""Kraken's names for a pair (pure).

The lake's symbol is `BASE-QUOTE` with the asset names WebSocket v2 uses: `BTC-USD`. v2 writes
the pair `BTC/USD`; REST (`AssetPairs`) lists it under a key (`XXBTZUSD`) with its v1 names,
`altname` `XBTUSD` and `wsname` `XBT/USD`, in which Bitcoin is `XBT` and Dogecoin `XDG` (v2
calls them `BTC` and `DOGE`: docs.kraken.com "Spot WebSocket v2 vs v1"). A listing's v2 name
is therefore its `wsname` with those two assets renamed; a REST call names the pair by its
`altname`, which is the v1 names joined.
"""

from __future__ import annotations

EXCHANGE = "kraken"
V1_ASSETS = {"XBT": "BTC", "XDG": "DOGE"}
"""v1 (REST `wsname`, `altname`) asset names that v2 spells differently."""
_V2_TO_V1 = {v2: v1 for v1, v2 in V1_ASSETS.items()}


def ws_symbol(symbol: str) -> str:
    """`BTC-USD` -> `BTC/USD`, the pair as v2 subscribes and sends it."""
    return symbol.replace("-", "/", 1)


def from_ws(pair: str) -> str:
    """`BTC/USD` -> `BTC-USD`."""
    return pair.replace("/", "-", 1)


def v2_pair(wsname: str) -> str:
    """`AssetPairs`' `wsname` (`XBT/USD`) -> v2's pair (`BTC/USD`)."""
    base, _, quote = wsname.partition("/")
    return f"{V1_ASSETS.get(base, base)}/{V1_ASSETS.get(quote, quote)}"


def rest_pair(symbol: str) -> str:
    """`BTC-USD` -> `XBTUSD`, the `altname` REST takes (when no listing says otherwise)."""
    base, _, quote = symbol.partition("-")
    return _V2_TO_V1.get(base, base) + _V2_TO_V1.get(quote, quote)
