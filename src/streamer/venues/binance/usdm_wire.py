"""The typed wire shapes of Binance USD-M's frames (msgspec; see `wire.py` for the method).

Trades share Spot's shapes (`wire.WireAggTrade`, `wire.WireTrade`: the futures payloads add
fields the structs ignore, such as `@trade`'s `X`). What USD-M adds: the futures diff event,
with `pu`; the all-market mark price array; the liquidation (`forceOrder`) event. A frame that
does not fit raises, and the decoder takes its general path, which names the reject's reason.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from streamer.numbers import SureFitText


class WireFuturesDepthUpdate(msgspec.Struct, gc=False):
    e: Literal["depthUpdate"]
    E: int
    s: str
    U: int
    u: int
    pu: int
    b: list[tuple[SureFitText, SureFitText]]
    a: list[tuple[SureFitText, SureFitText]]


class FuturesDiffFrame(msgspec.Struct, gc=False):
    data: WireFuturesDepthUpdate


class WireMarkPrice(msgspec.Struct, gc=False):
    """One symbol of `!markPrice@arr@1s`: `p` mark, `i` index, `P` estimated settle price,
    `r` predicted funding rate (`""` or `"0.00000000"` for a dated contract), `T` next funding
    time (0 for a dated contract). Frames recorded before 2020 lack `i` and `P`."""

    e: Literal["markPriceUpdate"]
    E: int
    s: str
    p: str
    r: str
    T: int
    i: str | None = None
    P: str | None = None


class MarkPriceArrayFrame(msgspec.Struct, gc=False):
    data: list[WireMarkPrice]


FUTURES_DIFF = msgspec.json.Decoder(FuturesDiffFrame)
MARK_PRICES = msgspec.json.Decoder(MarkPriceArrayFrame)
