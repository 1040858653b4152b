"""The typed wire shapes of the Binance frames that take the decoder's fast path.

A combined-stream frame starts `{"stream":"<name>",`, so the stream is read off the first bytes
and the whole frame is parsed by that stream's msgspec decoder, which checks every field's JSON
type in C as it parses (a level is exactly two strings, an id an integer, `m` a boolean). A
frame that does not fit raises, and the decoder takes its general path, which names the reason
of the reject; a frame laid out differently only means the general path.

The frame structs leave `stream` out (the decoder read it off the first bytes already, and
skipping a value costs less than building it), and no struct is tracked by the garbage
collector (`gc=False`: decoded JSON holds no reference cycles). Both cut msgspec's time by a
quarter.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from streamer.numbers import SureFitText

FRAME_HEAD = b'{"stream":"'
FRAME_HEAD_TEXT = '{"stream":"'


class WireAggTrade(msgspec.Struct, gc=False):
    s: str
    a: int
    p: str
    q: str
    T: int
    m: bool


class WireTrade(msgspec.Struct, gc=False):
    s: str
    t: int
    p: str
    q: str
    T: int
    m: bool


class WireDepth(msgspec.Struct, gc=False):
    lastUpdateId: int
    bids: list[tuple[SureFitText, SureFitText]]
    asks: list[tuple[SureFitText, SureFitText]]


class WireDepthUpdate(msgspec.Struct, gc=False):
    e: Literal["depthUpdate"]
    E: int
    s: str
    U: int
    u: int
    b: list[tuple[SureFitText, SureFitText]]
    a: list[tuple[SureFitText, SureFitText]]


class AggTradeFrame(msgspec.Struct, gc=False):
    data: WireAggTrade


class TradeFrame(msgspec.Struct, gc=False):
    data: WireTrade


class DepthFrame(msgspec.Struct, gc=False):
    data: WireDepth


class DiffFrame(msgspec.Struct, gc=False):
    data: WireDepthUpdate


AGG_TRADE = msgspec.json.Decoder(AggTradeFrame)
DIFF = msgspec.json.Decoder(DiffFrame)
TRADE = msgspec.json.Decoder(TradeFrame)
DEPTH = msgspec.json.Decoder(DepthFrame)


def stream_of(raw: str | bytes) -> str | bytes | None:
    """The stream name a compact combined-stream frame starts with (None: not such a frame)."""
    head = FRAME_HEAD if type(raw) is bytes else FRAME_HEAD_TEXT
    if not raw.startswith(head):  # type: ignore[arg-type]
        return None
    end = raw.find(head[-1:], 11, 80)  # type: ignore[arg-type]
    return raw[11:end] if end > 0 else None
