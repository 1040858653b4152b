"""Pre-framed OKX v5 and Kraken streams for `vs_cryptofeed.py`, with their checksums.

Each generator is deterministic and keeps its own reference book (integer ticks and units,
sorted with `bisect`), so the checksums in the frames come from an implementation that shares
nothing with streamer's (`src/streamer/venues/kraken/checksum.py` is what the Kraken frames
test):

* OKX `trades-all` (one trade a message, consecutive `tradeId`) and `books` (a 400-level
  `action: snapshot`, then updates of 4 levels, a `seqId`/`prevSeqId` chain, each carrying the
  CRC32 OKX documented before it sent 0: the top 25 levels interleaved `bid:size:ask:size`,
  signed). cryptofeed 2.4.1's `OKX` takes the same bytes: it dispatches on a substring of the
  channel name, so `trades-all` reaches its trade handler.
* Kraken: cryptofeed 2.4.1's `Kraken` speaks WebSocket **v1** (`wss://ws.kraken.com`, arrays
  with a channel id), streamer v2 (objects, JSON numbers). The bytes cannot be the same, so each
  stream is built twice from one list of changes: the same trades (price, size, side, time),
  and the same book messages (a depth-10 snapshot, then updates of one side each: a size
  changed, a level removed with the next one beyond the depth brought in, or a level inserted
  inside the depth, the level it pushes out not sent, as Kraken does), every update carrying
  its CRC32 (top 10 asks then top 10 bids, each price and size with the point and leading zeros
  removed). Prices have 1 decimal and sizes 8 (BTC/USD's `pair_decimals` and `lot_decimals`) in
  both protocols, so the checksum text, and the checksum, are the same in both.
"""

from __future__ import annotations

import random
from bisect import insort
from zlib import crc32

import orjson

T0_MS = 1_764_504_000_000  # 2025-11-30T12:00:00Z
UNIT = 10**8


def _stamp_us(us: int) -> str:
    """Epoch microseconds -> RFC 3339 (`2025-11-30T12:00:00.123456Z`), the day of T0_MS."""
    seconds, micros = divmod(us, 1_000_000)
    day = seconds % 86_400
    return f"2025-11-30T{day // 3600:02d}:{day // 60 % 60:02d}:{day % 60:02d}.{micros:06d}Z"


def _price(ticks: int) -> str:
    """Ticks of 0.1 -> `67000.1`."""
    return f"{ticks // 10}.{ticks % 10}"


def _size(units: int) -> str:
    """Units of 1e-8 -> `0.50000000` (Kraken's 8 decimals)."""
    return f"{units // UNIT}.{units % UNIT:08d}"


def _okx_size(units: int) -> str:
    """Units of 1e-8 -> OKX's trimmed text (`0.5`, `2`, `0`)."""
    text = _size(units).rstrip("0").rstrip(".")
    return text or "0"


# --- OKX -------------------------------------------------------------------------------------


def okx_trades(n: int) -> list[bytes]:
    """`trades-all` pushes on `BTC-USDT`, one trade each, consecutive ids."""
    out = []
    for i in range(n):
        trade = {
            "instId": "BTC-USDT",
            "tradeId": str(400_000_000 + i),
            "px": _price(670_000 + i % 997),
            "sz": _okx_size(100_000 + (i % 89) * 1_000_000),
            "side": "buy" if i % 3 else "sell",
            "source": "0",
            "ts": str(T0_MS + i),
        }
        out.append(orjson.dumps({"arg": {"channel": "trades-all", "instId": "BTC-USDT"},
                                 "data": [trade]}))  # fmt: skip
    return out


class _Side:
    """One side of a reference book: ticks -> size text, the ticks kept sorted."""

    def __init__(self, best_high: bool) -> None:
        self.best_high = best_high
        self.sizes: dict[int, str] = {}
        self.ticks: list[int] = []  # ascending

    def set(self, ticks: int, size: str) -> None:
        if size.strip("0.") == "":
            if self.sizes.pop(ticks, None) is not None:
                self.ticks.remove(ticks)
            return
        if ticks not in self.sizes:
            insort(self.ticks, ticks)
        self.sizes[ticks] = size

    def top(self, n: int) -> list[int]:
        return self.ticks[::-1][:n] if self.best_high else self.ticks[:n]


def okx_checksum(bids: _Side, asks: _Side) -> int:
    """OKX's book checksum: the top 25 levels a side interleaved (`bid:size:ask:size:...`, a
    side's extra levels after the other's end), CRC32 as a signed 32-bit integer."""
    b, a = bids.top(25), asks.top(25)
    parts = []
    for k in range(max(len(b), len(a))):
        if k < len(b):
            parts += (_price(b[k]), bids.sizes[b[k]])
        if k < len(a):
            parts += (_price(a[k]), asks.sizes[a[k]])
    value = crc32(":".join(parts).encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def okx_books(n: int) -> list[bytes]:
    """`books` on `BTC-USDT`: a 400-level-a-side snapshot, then `n` updates of 4 levels."""
    bids, asks = _Side(True), _Side(False)
    mid = 670_000

    def push(action: str, seq: int, prev: int, b: list[tuple[int, str]],
             a: list[tuple[int, str]]) -> bytes:  # fmt: skip
        for ticks, size in b:
            bids.set(ticks, size)
        for ticks, size in a:
            asks.set(ticks, size)
        data = {
            "asks": [[_price(t), s, "0", "1" if s != "0" else "0"] for t, s in a],
            "bids": [[_price(t), s, "0", "1" if s != "0" else "0"] for t, s in b],
            "ts": str(T0_MS + seq),
            "checksum": okx_checksum(bids, asks),
            "prevSeqId": prev,
            "seqId": seq,
        }
        return orjson.dumps({"arg": {"channel": "books", "instId": "BTC-USDT"},
                             "action": action, "data": [data]})  # fmt: skip

    first = 9_000_000
    out = [push("snapshot", first, -1, [(mid - 1 - k, "0.5") for k in range(400)],
                [(mid + k, "0.5") for k in range(400)])]  # fmt: skip
    for i in range(n):
        k = i % 400
        b = [(mid - 1 - k, _okx_size((i % 7) * 10_000_000)),  # 0 removes the level
             (mid - 2 - k, _okx_size(25_000_000 + (i % 5) * UNIT))]  # fmt: skip
        a = [(mid + k, _okx_size((i % 5) * 10_000_000 + 10_000_000)),
             (mid + 1 + k, "1.5")]  # fmt: skip
        out.append(push("update", first + i + 1, first + i, b, a))
    return out


# --- Kraken ----------------------------------------------------------------------------------

KRAKEN_DEPTH = 10
V1_CHANNEL_ID = 336


def _kraken_trades(n: int) -> list[tuple[int, int, int, str, int]]:
    """(trade id, price ticks, size units, side, epoch µs) of `n` trades."""
    return [(1_000_000 + i, 670_000 + i % 997, 100_000 + (i % 89) * 1_000_000,
             "buy" if i % 3 else "sell", T0_MS * 1000 + i * 1000 + i % 1000)
            for i in range(n)]  # fmt: skip


def kraken_trades_v2(n: int) -> list[bytes]:
    """WebSocket v2 `trade` updates on `BTC/USD`, one trade each, consecutive `trade_id`."""
    out = []
    for tid, ticks, units, side, us in _kraken_trades(n):
        entry = (f'{{"symbol":"BTC/USD","side":"{side}","price":{_price(ticks)},'
                 f'"qty":{_size(units)},"ord_type":"limit","trade_id":{tid},'
                 f'"timestamp":"{_stamp_us(us)}"}}')  # fmt: skip
        out.append(f'{{"channel":"trade","type":"update","data":[{entry}]}}'.encode())
    return out


def kraken_trades_v1(n: int) -> list[bytes]:
    """The same trades as WebSocket v1 `trade` messages (no trade id in v1)."""
    out = []
    for _, ticks, units, side, us in _kraken_trades(n):
        row = [_price(ticks), _size(units), f"{us // 1_000_000}.{us % 1_000_000:06d}",
               side[0], "l", ""]  # fmt: skip
        out.append(orjson.dumps([V1_CHANNEL_ID, [row], "trade", "XBT/USD"]))
    return out


def kraken_checksum(bids: _Side, asks: _Side) -> int:
    """Kraken's book checksum (v1 and v2): the top 10 asks (lowest first), then the top 10
    bids (highest first), each price then size with the point and leading zeros removed."""
    text = "".join(
        _price(t).replace(".", "").lstrip("0") + side.sizes[t].replace(".", "").lstrip("0")
        for side in (asks, bids)
        for t in side.top(10)
    )
    return crc32(text.encode())


Message = tuple[str, list[tuple[int, str]], int, int]
"""(side: `bids`, `asks` or `snapshot`, levels set (ticks, size text), checksum, epoch µs)."""


def _kraken_book_messages(n: int) -> tuple[list[tuple[int, str]], list[tuple[int, str]],
                                           list[Message]]:  # fmt: skip
    """The snapshot's (bids, asks), then `n` one-sided updates of a depth-10 book."""
    rng = random.Random(25)
    bids, asks = _Side(True), _Side(False)
    price = 670_000
    for _ in range(KRAKEN_DEPTH):
        price -= rng.randint(1, 3)
        bids.set(price, _size(rng.randint(1, 500) * 1_000_000))
    price = 670_000
    for _ in range(KRAKEN_DEPTH):
        asks.set(price, _size(rng.randint(1, 500) * 1_000_000))
        price += rng.randint(1, 3)
    snapshot = ([(t, bids.sizes[t]) for t in bids.top(10)],
                [(t, asks.sizes[t]) for t in asks.top(10)])  # fmt: skip
    messages: list[Message] = []
    for i in range(n):
        name = "bids" if i % 2 else "asks"
        side, other = (bids, asks) if name == "bids" else (asks, bids)
        sign = -1 if side.best_high else 1  # worse prices are this way
        levels = side.top(KRAKEN_DEPTH)
        r = rng.random()
        changes: list[tuple[int, str]] = []
        if r < 0.2:  # a level removed, the next one beyond the depth brought in
            gone = rng.choice(levels)
            changes = [(gone, _size(0)), (levels[-1] + sign * rng.randint(1, 3),
                                          _size(rng.randint(1, 500) * 1_000_000))]  # fmt: skip
        elif r < 0.4:  # a level inserted inside the depth (the worst one drops out unsent)
            best_other = other.top(1)[0]
            lo, hi = sorted((levels[-1], best_other + sign))
            free = [t for t in range(lo, hi + 1) if t not in side.sizes]
            if free:
                changes = [(rng.choice(free), _size(rng.randint(1, 500) * 1_000_000))]
        if not changes:  # a size changed
            changes = [(rng.choice(levels), _size(rng.randint(1, 500) * 1_000_000))]
        for ticks, size in changes:
            side.set(ticks, size)
        for extra in side.top(len(side.ticks))[KRAKEN_DEPTH:]:  # the subscribed depth
            side.set(extra, _size(0))
        messages.append((name, changes, kraken_checksum(bids, asks),
                         T0_MS * 1000 + i * 1000 + i % 1000))  # fmt: skip
    return *snapshot, messages


def _v2_levels(levels: list[tuple[int, str]]) -> str:
    return ",".join(f'{{"price":{_price(t)},"qty":{size}}}' for t, size in levels)


def kraken_books_v2(n: int) -> list[bytes]:
    """WebSocket v2 `book` (depth 10) on `BTC/USD`: its snapshot, then `n` updates."""
    bids, asks, messages = _kraken_book_messages(n)
    ref_bids, ref_asks = _Side(True), _Side(False)
    for t, s in bids:
        ref_bids.set(t, s)
    for t, s in asks:
        ref_asks.set(t, s)
    out = [(f'{{"channel":"book","type":"snapshot","data":[{{"symbol":"BTC/USD",'
            f'"bids":[{_v2_levels(bids)}],"asks":[{_v2_levels(asks)}],'
            f'"checksum":{kraken_checksum(ref_bids, ref_asks)}}}]}}').encode()]  # fmt: skip
    for name, changes, checksum, us in messages:
        b, a = (changes, []) if name == "bids" else ([], changes)
        out.append(
            (
                f'{{"channel":"book","type":"update","data":[{{"symbol":"BTC/USD",'
                f'"bids":[{_v2_levels(b)}],"asks":[{_v2_levels(a)}],'
                f'"checksum":{checksum},"timestamp":"{_stamp_us(us)}"}}]}}'
            ).encode()
        )
    return out


def kraken_books_v1(n: int) -> list[bytes]:
    """The same book messages in WebSocket v1 (`book-10`, one side per update with its `c`)."""
    bids, asks, messages = _kraken_book_messages(n)
    at = f"{T0_MS // 1000}.000000"

    def rows(levels: list[tuple[int, str]], stamp: str) -> list[list[str]]:
        return [[_price(t), size, stamp] for t, size in levels]

    out = [orjson.dumps([V1_CHANNEL_ID, {"as": rows(asks, at), "bs": rows(bids, at)},
                         "book-10", "XBT/USD"])]  # fmt: skip
    for name, changes, checksum, us in messages:
        stamp = f"{us // 1_000_000}.{us % 1_000_000:06d}"
        body = {name[0]: rows(changes, stamp), "c": str(checksum)}
        out.append(orjson.dumps([V1_CHANNEL_ID, body, "book-10", "XBT/USD"]))
    return out
