"""OKX's read-at-a-time fast path (pure): a `trades-all` push, decoded straight into typed
structs (msgspec checks every field's JSON type in C) and checked as `rows.trade_row` checks
it. `trade_fields` changes no state: a frame it refuses goes through `OkxDecoder.decode`, which
names a reject's reason, so both give the same rows and rejects
(`tests/venues/test_read_paths.py`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from streamer.numbers import POSITIVE_PAIR
from streamer.timefmt import MAX_MILLIS
from streamer.venues.okx.rows import SIDES
from streamer.venues.okx.symbols import TRADES

TRADES_PREFIX = b'{"arg":{"channel":"' + TRADES.encode() + b'","instId":"'
"""How every `trades-all` push begins (OKX writes `arg` first)."""


class WireArg(msgspec.Struct, gc=False):
    channel: str
    instId: str  # OKX's names


class WireTrade(msgspec.Struct, gc=False):
    instId: str  # OKX's names
    tradeId: str
    px: str
    sz: str
    side: str
    ts: str


class WireTrades(msgspec.Struct, gc=False):
    arg: WireArg
    data: list[WireTrade]
    event: Any = msgspec.UNSET  # present: a control frame (`decode` says what it is)


TRADES_DECODER = msgspec.json.Decoder(WireTrades)
TradeFields = tuple[str, int, int, str, str, str]
"""(instId, trade id, `ts` in ms, price, size, side) of one trade."""


def trade_fields(raw: bytes) -> list[TradeFields] | None:
    """The trades of a `trades-all` push when every field passes `rows.trade_row`'s checks
    (digit ids and times, a side, a positive price and size that fit as sent), else None."""
    try:
        wire = TRADES_DECODER.decode(raw)
    except msgspec.MsgspecError:
        return None
    inst = wire.arg.instId
    if wire.event is not msgspec.UNSET or wire.arg.channel != TRADES or not wire.data:
        return None
    out: list[TradeFields] = []
    plain_pair = POSITIVE_PAIR.fullmatch
    for d in wire.data:
        tid, ts, side = d.tradeId, d.ts, d.side
        if not (
            d.instId == inst
            and side in SIDES
            and tid.isdigit()
            and tid.isascii()
            and len(tid) <= 19
            and ts.isdigit()
            and ts.isascii()
            and len(ts) <= 15
            and plain_pair(d.px + "," + d.sz) is not None
        ):
            return None
        ms = int(ts)
        if ms > MAX_MILLIS:
            return None
        out.append((inst, int(tid), ms, d.px, d.sz, side))
    return out
