"""streamer against cryptofeed 2.4.1: client CPU per message, measured side by side.

A minimal WebSocket server on 127.0.0.1 (in this process) accepts one client, waits for it to
subscribe, then writes pre-framed text frames in ~1 MiB chunks as fast as the client reads them,
so the client is the bottleneck. The figure is the client process's CPU (utime + stime from
/proc) from just before the first frame goes out until the client is idle again, divided by the
messages sent. Clients alternate A B A B within one run, so the ratio holds on a noisy machine.

- streamer runs as users run it: `streamer run`, `STREAMER_SINK=null`, one symbol,
  `STREAMER_BINANCE_TRADES=aggTrade` (Binance), or the Coinbase, OKX or Kraken source, all its
  usual streams subscribed (only the stream measured arrives; the server answers the REST calls
  each source makes at start: OKX `public/instruments`, Kraken `AssetPairs`), or the Binance
  USD-M source (below).
- cryptofeed 2.4.1 (installed into benchmarks/.venv-cryptofeed on first use; it builds from
  source) runs its FeedHandler on uvloop with a TRADES (or L2_BOOK) callback that only counts.

Binance USD-M (`binance_usdm`) against cryptofeed's `BinanceFutures`. cryptofeed asks
`<ws>/stream?streams=<s>@aggTrade/<s>@markPrice` (no routed path; `FUNDING` is the per-symbol
`<s>@markPrice`), with TRADES and FUNDING callbacks that only count. streamer runs as
`STREAMER_SOURCES=binance_usdm`, `STREAMER_BINANCE_USDM_BOOK_UPDATES=false` (no depth streams,
no snapshots), which opens one `<ws>/market/stream?streams=<s>@aggTrade/!markPrice@arr@1s/
!forceOrder@arr` connection. The server here answers any path, and `/fapi/v1/exchangeInfo`
with the perpetuals subscribed.

- `binance_usdm-trades`: the same futures `aggTrade` frames to both; the figure is CPU per trade.
- mark prices: cryptofeed subscribes each symbol's `<s>@markPrice` and streamer the all-market
  `!markPrice@arr@1s`, so the frames differ; the entries are the same (same symbols, prices,
  times, in the same order), and the figure is CPU per mark price entry (a `Funding` for
  cryptofeed, a `derivative_tickers` row for streamer). `binance_usdm-markprice-1`: one symbol,
  each entry a frame of its own for both (streamer's arrays hold one element: its worst case).
  `binance_usdm-markprice-100`: 100 symbols; cryptofeed gets one frame per entry as it
  subscribes, streamer the same entries 100 to an array, as the venue sends them (the real
  array holds every contract, ~500 a second).

OKX and Kraken (`venue_frames.py`, which says how the frames are built):

- OKX: both clients get the same bytes: `trades-all` pushes (cryptofeed dispatches on a
  substring of the channel name, so they reach its `trades` handler) and `books` (a 400-level
  `action: snapshot`, then 4-level updates on a `seqId`/`prevSeqId` chain). The frames carry
  real OKX checksums (cryptofeed's own checksum code accepts every one of them), but neither
  client verifies them: streamer does not read OKX's `checksum` (OKX sends 0 since 2026-06),
  and cryptofeed runs with its default `checksum_validation=False`.
- Kraken: cryptofeed 2.4.1's `Kraken` speaks WebSocket v1, streamer v2, so each client gets its
  own protocol's frames carrying the same trades and the same book messages (depth 10), as many
  of them. Both verify every book checksum: streamer always does, cryptofeed with
  `checksum_validation=True` (with v1 it can only check the updates, not the snapshot).

Each client reports how many trades (books, mark prices, frames) it handled when it stops, and
a round counts only if that equals the messages (USD-M mark prices: entries) sent.

    python benchmarks/vs_cryptofeed.py [--messages 200000] [--rounds 3]
        [--venues binance coinbase binance_usdm okx kraken] [--streams okx-books ...]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from venue_frames import (  # benchmarks/ is on the path when run as a script
    kraken_books_v1,
    kraken_books_v2,
    kraken_trades_v1,
    kraken_trades_v2,
    okx_books,
    okx_trades,
)

HERE = Path(__file__).resolve().parent
CF_VENV = HERE / ".venv-cryptofeed"
CF_VERSION = "2.4.1"
CHUNK = 1 << 20
TICK = os.sysconf("SC_CLK_TCK")
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# --- the recorded-shape messages ------------------------------------------------------------


def binance_frames(n: int) -> list[bytes]:
    """Combined-stream aggTrade messages, consecutive ids, as Binance sends them."""
    t0 = 1_764_000_000_000
    out = []
    for i in range(n):
        data = {
            "e": "aggTrade",
            "E": t0 + i,
            "s": "BTCUSDT",
            "a": 1_000_000 + i,
            "p": f"{67000 + (i % 997) / 100:.8f}",
            "q": f"{0.001 + (i % 89) / 1000:.8f}",
            "f": 5_000_000 + i,
            "l": 5_000_000 + i,
            "T": t0 + i,
            "m": i % 3 == 0,
            "M": True,
        }
        out.append(orjson.dumps({"stream": "btcusdt@aggTrade", "data": data}))
    return out


def coinbase_frames(n: int) -> list[bytes]:
    """Advanced Trade `market_trades` updates, one trade each, consecutive `sequence_num`."""
    out = []
    for i in range(n):
        ms = i % 1000
        stamp = f"2026-11-30T12:{(i // 60_000) % 60:02d}:{(i // 1000) % 60:02d}.{ms:03d}Z"
        trade = {
            "trade_id": str(700_000_000 + i),
            "product_id": "BTC-USD",
            "price": f"{67000 + (i % 997) / 100:.2f}",
            "size": f"{0.0001 + (i % 89) / 10_000:.8f}",
            "side": "BUY" if i % 3 else "SELL",
            "time": stamp,
        }
        message = {
            "channel": "market_trades",
            "client_id": "",
            "timestamp": stamp,
            "sequence_num": i + 1,
            "events": [{"type": "update", "trades": [trade]}],
        }
        out.append(orjson.dumps(message))
    return out


def binance_books(n: int) -> list[bytes]:
    """`depth20@100ms` partial books: 20 levels a side, as Binance sends them."""
    out = []
    for i in range(n):
        mid = 67000 + (i % 997) / 100
        bids = [
            [f"{mid - 0.01 * (k + 1):.8f}", f"{0.1 + (i + k) % 37 / 100:.8f}"] for k in range(20)
        ]
        asks = [
            [f"{mid + 0.01 * (k + 1):.8f}", f"{0.1 + (i + 2 * k) % 41 / 100:.8f}"]
            for k in range(20)
        ]
        data = {"lastUpdateId": 9_000_000 + i, "bids": bids, "asks": asks}
        out.append(orjson.dumps({"stream": "btcusdt@depth20@100ms", "data": data}))
    return out


def coinbase_books(n: int) -> list[bytes]:
    """`level2` as `l2_data`: a 500-level-a-side snapshot, then `n` updates of 4 levels each."""

    def envelope(seq: int, kind: str, updates: list[dict[str, str]]) -> bytes:
        event = {"type": kind, "product_id": "BTC-USD", "updates": updates}
        stamp = f"2026-11-30T12:00:{seq // 1000 % 60:02d}.{seq % 1000:03d}123Z"
        return orjson.dumps(
            {"channel": "l2_data", "timestamp": stamp, "sequence_num": seq, "events": [event]}
        )

    def level(side: str, price: float, size: float) -> dict[str, str]:
        return {"side": side, "event_time": "2026-11-30T12:00:00.000000Z",
                "price_level": f"{price:.2f}", "new_quantity": f"{size:.8f}"}  # fmt: skip

    snapshot = [level("bid", 66999.99 - k / 100, 0.5) for k in range(500)]
    snapshot += [level("offer", 67000.00 + k / 100, 0.5) for k in range(500)]
    out = [envelope(0, "snapshot", snapshot)]
    for i in range(n):
        k = i % 400
        updates = [
            level("bid", 66999.99 - k / 100, (i % 7) / 10),  # 0 removes the level
            level("bid", 66999.98 - k / 100, 0.25 + i % 5),
            level("offer", 67000.00 + k / 100, (i % 5) / 10 + 0.1),
            level("offer", 67000.01 + k / 100, 1.5),
        ]
        out.append(envelope(i + 1, "update", updates))
    return out


USDM_WIDTH = 100  # symbols (entries per streamer array) of `binance_usdm-markprice-100`


def usdm_natives(count: int) -> list[str]:
    """BTCUSDT, then C0001USDT...: the venue symbols of `count` perpetuals."""
    return ["BTCUSDT", *(f"C{k:04d}USDT" for k in range(1, count))]


def usdm_trades(n: int) -> list[bytes]:
    """Combined-stream USD-M `aggTrade` messages (no `M`, unlike Spot), consecutive ids."""
    t0 = 1_764_000_000_000
    out = []
    for i in range(n):
        data = {
            "e": "aggTrade",
            "E": t0 + i,
            "s": "BTCUSDT",
            "a": 1_000_000 + i,
            "p": f"{67000 + (i % 997) / 10:.1f}",
            "q": f"{0.001 + (i % 89) / 1000:.3f}",
            "f": 5_000_000 + i,
            "l": 5_000_000 + i,
            "T": t0 + i,
            "m": i % 3 == 0,
        }
        out.append(orjson.dumps({"stream": "btcusdt@aggTrade", "data": data}))
    return out


def mark_price_entries(n: int, width: int) -> list[dict[str, Any]]:
    """`n` `markPriceUpdate` entries, cycling over `width` perpetuals, distinct event times."""
    t0 = 1_764_000_000_000
    natives = usdm_natives(width)
    out = []
    for i in range(n):
        mark = 67000 + (i % 997) / 10
        out.append({"e": "markPriceUpdate", "E": t0 + i, "s": natives[i % width],
                    "p": f"{mark:.8f}", "P": f"{mark + 1.5:.8f}", "i": f"{mark - 2.25:.8f}",
                    "r": f"{0.0001 + (i % 13) / 1e6:.8f}", "T": 1_764_028_800_000})  # fmt: skip
    return out


def usdm_exchange_info(count: int) -> bytes:
    """`/fapi/v1/exchangeInfo` listing `usdm_natives(count)`, every one a trading perpetual."""
    symbols = [
        {"symbol": n, "baseAsset": n.removesuffix("USDT"), "quoteAsset": "USDT",
         "marginAsset": "USDT", "contractType": "PERPETUAL", "status": "TRADING",
         "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.10"},
                     {"filterType": "LOT_SIZE", "stepSize": "0.001"}]}
        for n in usdm_natives(count)
    ]  # fmt: skip
    return orjson.dumps({"serverTime": 1_764_000_000_000, "symbols": symbols})


def mark_price_arrays(width: int) -> Callable[[int], list[bytes]]:
    """streamer's frames: `!markPrice@arr@1s`, `width` entries each (the last maybe fewer)."""

    def frames(n: int) -> list[bytes]:
        entries = mark_price_entries(n, width)
        return [
            orjson.dumps({"stream": "!markPrice@arr@1s", "data": entries[k : k + width]})
            for k in range(0, n, width)
        ]

    return frames


def mark_price_singles(width: int) -> Callable[[int], list[bytes]]:
    """cryptofeed's frames: the same entries, each on its symbol's `<s>@markPrice`."""

    def frames(n: int) -> list[bytes]:
        return [
            orjson.dumps({"stream": f"{e['s'].lower()}@markPrice", "data": e})
            for e in mark_price_entries(n, width)
        ]

    return frames


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked server frame (FIN set)."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, n])
    elif n < 1 << 16:
        head = bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 127]) + n.to_bytes(8, "big")
    return head + payload


def chunks(frames: list[bytes]) -> list[bytes]:
    """Whole frames joined into ~1 MiB writes (control frames can go between them)."""
    out, buf, size = [], [], 0
    for f in frames:
        framed = ws_frame(f)
        buf.append(framed)
        size += len(framed)
        if size >= CHUNK:
            out.append(b"".join(buf))
            buf, size = [], 0
    if buf:
        out.append(b"".join(buf))
    return out


# --- the server ------------------------------------------------------------------------------


@dataclass
class Session:
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    writer: asyncio.StreamWriter | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    texts: list[bytes] = field(default_factory=list)


class FrameServer:
    """Accepts a client's WebSocket connections; the frames go to the one whose subscribe
    request holds `marker` (any connection when None: Binance's and USD-M's streams ride in the
    URL). Answers text `ping`s (OKX), Kraken v2 subscriptions, and REST calls (empty results,
    but USD-M's `exchangeInfo`, OKX's `public/instruments` and Kraken's `AssetPairs`)."""

    def __init__(self, venue: str, marker: bytes | None) -> None:
        self.venue = venue
        self.marker = marker
        self.session = Session()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    def next_round(self) -> None:
        self.session = Session()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        headers = dict(
            (k.strip().lower(), v.strip())
            for k, _, v in (line.partition(":") for line in head.decode().split("\r\n")[1:])
            if k
        )
        if "sec-websocket-key" not in headers:
            await self._rest(head.decode().split(" ")[1], writer)
            return
        accept = base64.b64encode(
            hashlib.sha1(headers["sec-websocket-key"].encode() + WS_GUID).digest()
        )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        session = self.session
        if self.marker is None:  # Binance, USD-M: streams ride in the URL, no subscribe message
            session.writer = writer
            session.subscribed.set()
        await self._read_client(reader, writer, session)
        writer.close()

    async def _rest(self, path: str, writer: asyncio.StreamWriter) -> None:
        if "brokerage" in path:
            body = b'{"candles":[],"trades":[]}'
        elif path.startswith("/fapi/v1/exchangeInfo"):  # USD-M checks its symbols are listed
            body = usdm_exchange_info(USDM_WIDTH)
        elif path.startswith("/api/v5/public/instruments?instType=SPOT"):
            body = OKX_INSTRUMENTS
        elif path.startswith("/api/v5/"):
            body = b'{"code":"0","msg":"","data":[]}'
        elif path.startswith("/0/public/AssetPairs"):
            body = KRAKEN_ASSET_PAIRS
        elif path.startswith("/0/public/"):
            body = b'{"error":[],"result":{}}'
        else:
            body = b"[]"
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + body
        )
        await writer.drain()
        writer.close()

    async def _read_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, session: Session
    ) -> None:
        """Masked client frames: subscriptions are noted (Kraken v2's acknowledged), pings
        answered, a close ends it."""
        while True:
            try:
                b0, b1 = await reader.readexactly(2)
                n = b1 & 0x7F
                if n == 126:
                    n = int.from_bytes(await reader.readexactly(2), "big")
                elif n == 127:
                    n = int.from_bytes(await reader.readexactly(8), "big")
                mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
                data = bytes(c ^ mask[i % 4] for i, c in enumerate(await reader.readexactly(n)))
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            opcode = b0 & 0x0F
            if opcode == 0x8:
                return
            if opcode == 0x9:
                async with session.lock:
                    writer.write(ws_frame(data, 0xA))
            elif opcode == 0x1:
                session.texts.append(data)
                answers = [b"pong"] if data == b"ping" else kraken_v2_acks(data)
                if answers:
                    async with session.lock:
                        writer.write(b"".join(ws_frame(a) for a in answers))
                if self.marker is not None and self.marker in data:
                    session.writer = writer
                    session.subscribed.set()

    async def send(self, payload: list[bytes]) -> None:
        writer = self.session.writer
        assert writer is not None
        for chunk in payload:
            async with self.session.lock:
                writer.write(chunk)
            await writer.drain()


OKX_INSTRUMENTS = orjson.dumps({"code": "0", "msg": "", "data": [{
    "instId": "BTC-USDT", "instType": "SPOT", "baseCcy": "BTC", "quoteCcy": "USDT",
    "tickSz": "0.1", "lotSz": "0.00000001", "state": "live"}]})  # fmt: skip
KRAKEN_ASSET_PAIRS = orjson.dumps({"error": [], "result": {"XXBTZUSD": {
    "altname": "XBTUSD", "wsname": "XBT/USD", "base": "XXBT", "quote": "ZUSD",
    "pair_decimals": 1, "lot_decimals": 8, "status": "online"}}})  # fmt: skip


def kraken_v2_acks(text: bytes) -> list[bytes]:
    """Kraken v2's answers to a `subscribe` request: one success per pair."""
    if b'"method":"subscribe"' not in text:
        return []
    request = orjson.loads(text)
    params = request.get("params", {})
    return [orjson.dumps({"method": "subscribe", "result": {"channel": params.get("channel"),
                          "symbol": pair}, "success": True, "req_id": request.get("req_id")})
            for pair in params.get("symbol", [])]  # fmt: skip


# --- the clients -----------------------------------------------------------------------------

CRYPTOFEED_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, signal, sys
    from cryptofeed import FeedHandler
    from cryptofeed.connection import WebsocketEndpoint
    from cryptofeed.defines import FUNDING, L2_BOOK, TRADES
    from cryptofeed.exchanges import OKX, Binance, BinanceFutures, Coinbase, Kraken
    from cryptofeed.symbols import Symbols

    venue, port, channel = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    width, options = int(sys.argv[4]), json.loads(sys.argv[5])
    channel = {"books": L2_BOOK, "funding": FUNDING}.get(channel, TRADES)
    count = 0

    async def on_event(event, receipt_timestamp):
        global count
        count += 1

    async def plain_ws(self, address, options):
        return address.replace("wss://", "ws://", 1), options

    endpoint = [WebsocketEndpoint(f"wss://127.0.0.1:{port}", authentication=True)]
    channels, kind, config = [channel], "spot", None
    if venue == "binance":
        cls, names = Binance, {"BTC-USDT": "BTCUSDT"}
    elif venue == "binance_usdm":  # BTCUSDT, then C0001USDT...: as the server sends
        cls, channels, kind = BinanceFutures, [TRADES, FUNDING], "perpetual"  # as streamer
        natives = ["BTCUSDT", *(f"C{k:04d}USDT" for k in range(1, width))]
        names = {f"{n.removesuffix('USDT')}-USDT-PERP": n for n in natives}
        endpoint = [WebsocketEndpoint(f"wss://127.0.0.1:{port}", authentication=True,
                                      options={"compression": None})]
    elif venue == "okx":
        cls, names = OKX, {"BTC-USDT": "BTC-USDT"}
    elif venue == "kraken":
        cls, names = Kraken, {"BTC-USD": "XBT/USD"}
    else:
        cls, names = Coinbase, {"BTC-USD": "BTC-USD"}
        config = {"coinbase": {"key_id": "bench", "key_secret": "bench"}}
    cls.websocket_endpoints = endpoint
    cls._ws_authentication = plain_ws
    Symbols.set(cls.id, names, {"tick_size": {s: "0.01" for s in names},
                                "instrument_type": {s: kind for s in names}})
    fh = FeedHandler(config={"log": {"disabled": True}, "uvloop": True})
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    kwargs = {"config": config, **options} if config else options
    fh.add_feed(cls(symbols=list(names), channels=channels,
                    callbacks={c: on_event for c in channels}, **kwargs))
    fh.run(start_loop=False, install_signal_handlers=False)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.run_forever()
    print(f"handled={count}", flush=True)
    """
)


def ensure_cryptofeed() -> Path:
    python = CF_VENV / "bin" / "python"
    probe = [str(python), "-c", "import cryptofeed, uvloop"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"installing cryptofeed=={CF_VERSION} into {CF_VENV} (builds from source, ~1 min)")
    subprocess.run([sys.executable, "-m", "venv", str(CF_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, f"cryptofeed=={CF_VERSION}", "uvloop"], check=True)
    return python


@dataclass(frozen=True)
class Stream:
    label: str
    venue: str
    frames: Callable[[int], list[bytes]]
    with_cryptofeed: bool  # Binance and Coinbase books: cryptofeed's are built another way
    dataset: str = "trades"  # streamer's rows counted: order_books, derivative_tickers... (or
    # "frames": Coinbase level2)
    marker: bytes | None = None  # in the subscribe request of the connection the frames go to
    cf_frames: Callable[[int], list[bytes]] | None = None  # cryptofeed's, when not `frames`
    cf_options: str = "{}"  # keyword arguments of cryptofeed's feed, as JSON
    width: int = 1  # entries per streamer frame (and symbols subscribed): USD-M mark prices

    @property
    def channel(self) -> str:
        """cryptofeed's channel: trades, books or funding (USD-M subscribes trades and funding)."""
        return {"trades": "trades", "derivative_tickers": "funding"}.get(self.dataset, "books")

    def payload(self, kind: str, n: int) -> tuple[list[bytes], int]:
        """`kind`'s ~1 MiB writes for `n` messages (the frames of its protocol), and how many
        messages they hold (a book stream's snapshot counts)."""
        frames = self.cf_frames(n) if kind == "cryptofeed" and self.cf_frames else self.frames(n)
        return chunks(frames), self.messages(kind, frames)

    def messages(self, kind: str, frames: list[bytes]) -> int:
        """The messages `frames` hold for `kind`: one a frame, but each entry of streamer's
        USD-M mark price arrays."""
        if kind == "cryptofeed" or self.dataset != "derivative_tickers":
            return len(frames)
        return sum(len(orjson.loads(f)["data"]) for f in frames)

    def handled(self, kind: str, output: str) -> int:
        """What the client says it handled: trades, books, mark prices or (Coinbase level2)
        frames."""
        if kind == "cryptofeed":
            found = re.findall(r"handled=(\d+)", output)
        elif self.dataset == "frames":
            found = re.findall(r"feed\.stats source=coinbase connects=\d+ frames=(\d+)", output)
        else:
            rows = rf"service\.stopped rows=\{{[^}}]*'{self.dataset}': (\d+)"
            found = re.findall(rows, output)
        return int(found[-1]) if found else -1


KRAKEN_CHECKED = '{"max_depth": 10, "checksum_validation": true}'
STREAMS = {
    "binance-trades": Stream("Binance combined `aggTrade`", "binance", binance_frames, True),
    "coinbase-trades": Stream(
        "Coinbase `market_trades`", "coinbase", coinbase_frames, True, marker=b"market_trades"
    ),
    "binance-books": Stream(
        "Binance `depth20@100ms`", "binance", binance_books, False, "order_books"
    ),
    "coinbase-books": Stream(
        "Coinbase `l2_data` updates", "coinbase", coinbase_books, False, "frames", b"market_trades"
    ),
    "binance_usdm-trades": Stream("USD-M `aggTrade`", "binance_usdm", usdm_trades, True),
    "binance_usdm-markprice-1": Stream(
        "USD-M mark price, 1 symbol (streamer: 1-entry arrays)",
        "binance_usdm",
        mark_price_arrays(1),
        True,
        dataset="derivative_tickers",
        cf_frames=mark_price_singles(1),
    ),
    "binance_usdm-markprice-100": Stream(
        f"USD-M mark price, {USDM_WIDTH} symbols (streamer: {USDM_WIDTH}-entry arrays)",
        "binance_usdm",
        mark_price_arrays(USDM_WIDTH),
        True,
        dataset="derivative_tickers",
        cf_frames=mark_price_singles(USDM_WIDTH),
        width=USDM_WIDTH,
    ),
    "okx-trades": Stream("OKX `trades-all`", "okx", okx_trades, True, marker=b'"trades'),
    "okx-books": Stream(
        "OKX `books` (4-level updates)", "okx", okx_books, True, "order_books", b'"books"'
    ),
    "kraken-trades": Stream(
        "Kraken `trade` (v2; cryptofeed v1)",
        "kraken",
        kraken_trades_v2,
        True,
        marker=b'"trade"',
        cf_frames=kraken_trades_v1,
    ),
    "kraken-books": Stream(
        "Kraken `book` depth 10, CRC32 (v2; cryptofeed v1)",
        "kraken",
        kraken_books_v2,
        True,
        "order_books",
        b'"book"',
        kraken_books_v1,
        KRAKEN_CHECKED,
    ),
}


def start_client(
    kind: str,
    stream: Stream,
    port: int,
    cf_python: Path,
    script: Path,
    baseline: Path | None,
    wrap: tuple[str, ...] = (),
) -> subprocess.Popen[str]:
    venue = stream.venue
    if kind == "cryptofeed":
        command = [str(cf_python), str(script), venue, str(port), stream.channel,
                   str(stream.width), stream.cf_options]  # fmt: skip
        env = dict(os.environ)
    else:
        command = [sys.executable, "-m", "streamer.cli", "run"]
        usdm = [f"{n.removesuffix('USDT')}-USDT-PERP" for n in usdm_natives(stream.width)]
        env = {
            **os.environ,
            "STREAMER_SOURCES": stream.venue,
            "STREAMER_SINK": "null",
            "STREAMER_STATS_INTERVAL": "3600",
            "STREAMER_STALE_SECONDS": "3600",  # only trades arrive (and valgrind is slow)
            "STREAMER_BINANCE_SYMBOLS": "BTC-USDT",
            "STREAMER_BINANCE_TRADES": "aggTrade",
            "STREAMER_BINANCE_WS_URL": f"ws://127.0.0.1:{port}",
            "STREAMER_BINANCE_REST_URL": f"http://127.0.0.1:{port}",
            "STREAMER_COINBASE_SYMBOLS": "BTC-USD",
            "STREAMER_COINBASE_WS_URL": f"ws://127.0.0.1:{port}/coinbase",
            "STREAMER_COINBASE_REST_URL": f"http://127.0.0.1:{port}",
            "STREAMER_BINANCE_USDM_SYMBOLS": ",".join(usdm),
            "STREAMER_BINANCE_USDM_WS_URL": f"ws://127.0.0.1:{port}",
            "STREAMER_BINANCE_USDM_REST_URL": f"http://127.0.0.1:{port}",
            "STREAMER_BINANCE_USDM_BOOK_UPDATES": "false",  # trades and mark prices only
            "STREAMER_OKX_SYMBOLS": "BTC-USDT",
            "STREAMER_OKX_WS_URL": f"ws://127.0.0.1:{port}",
            "STREAMER_OKX_REST_URL": f"http://127.0.0.1:{port}",
            "STREAMER_KRAKEN_SYMBOLS": "BTC-USD",
            "STREAMER_KRAKEN_WS_URL": f"ws://127.0.0.1:{port}/v2",
            "STREAMER_KRAKEN_REST_URL": f"http://127.0.0.1:{port}",
        }
        if kind == "baseline":
            assert baseline is not None
            env["PYTHONPATH"] = str(baseline / "src")
    return subprocess.Popen(
        [*wrap, *command], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_idle(pid: int, *, window: float = 0.3, polls: int = 3) -> int:
    """CPU ticks at the start of the first `polls` windows in a row with (almost) no CPU."""
    last, quiet, start = cpu_ticks(pid), 0, cpu_ticks(pid)
    while quiet < polls:
        await asyncio.sleep(window)
        now = cpu_ticks(pid)
        if now - last <= 1:
            quiet += 1
        else:
            quiet, start = 0, now
        last = now
    return start


async def one_round(
    kind: str, stream: Stream, payload: list[bytes], messages: int, clients: dict[str, Any]
) -> dict[str, float]:
    server = FrameServer(stream.venue, stream.marker)
    port = await server.start()
    client = start_client(kind, stream, port, **clients)
    try:
        await asyncio.wait_for(server.session.subscribed.wait(), 600)  # valgrind: slow start
        await wait_idle(client.pid)  # imports, connect, subscribe: done
        t0 = cpu_ticks(client.pid)
        await server.send(payload)
        t1 = await wait_idle(client.pid)
        rss = peak_rss_mb(client.pid)
    finally:
        client.send_signal(signal.SIGTERM)
        output, _ = await asyncio.to_thread(client.communicate, timeout=600)
        assert server.server is not None
        server.server.close()
    count = stream.handled(kind, output)
    if count == -1 and kind == "baseline":
        pass  # an older streamer may not log the figure checked; it ran to idle all the same
    elif count != messages:
        tail = "\n".join(output.splitlines()[-15:])
        raise SystemExit(f"{kind} {stream.label}: handled {count} of {messages}\n{tail}")
    collected = re.findall(r"Collected : ([\d,]+)", output)  # under --instructions
    instructions = float(collected[-1].replace(",", "")) if collected else float("nan")
    return {"us": (t1 - t0) / TICK * 1e6 / messages, "rss": rss, "instructions": instructions}


CALLGRIND = ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null")


async def instructions_table(args: argparse.Namespace, clients: dict[str, Any]) -> None:
    """Each client under callgrind, once with a quarter of the messages and once with all:
    the difference of the instruction counts over the difference of messages is the cost of
    one message, start-up and connection cancelled out. Repeatable on a loaded machine."""
    print("| stream | client | instructions/msg | streamer ÷ this |")
    print("|---|---|---|---|")
    clients = {**clients, "wrap": CALLGRIND}
    for name in args.streams:
        stream = STREAMS[name]
        kinds = ["streamer"]
        kinds += ["cryptofeed"] if stream.with_cryptofeed else []
        kinds += ["baseline"] if args.baseline else []
        per: dict[str, float] = {}
        for kind in kinds:
            counts, sent = [], []
            for n in (args.messages // 4, args.messages):
                payload, messages = stream.payload(kind, n)
                res = await one_round(kind, stream, payload, messages, clients)
                counts.append(res["instructions"])
                sent.append(messages)
            per[kind] = (counts[1] - counts[0]) / (sent[1] - sent[0])
        for kind, value in per.items():
            note = "" if kind == "streamer" else f"{per['streamer'] / value:.2f}x"
            print(f"| {stream.label} | {kind} | {value:,.0f} | {note} |", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--streams", nargs="+", default=list(STREAMS), choices=list(STREAMS))
    venues = sorted({s.venue for s in STREAMS.values()})
    parser.add_argument("--venues", nargs="+", choices=venues, help="only these venues' streams")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of an earlier streamer (e.g. `git worktree add /tmp/base <rev>`), "
        "run as a third client from its src/ for before/after figures",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count each client's instructions per message under valgrind (callgrind) instead "
        "of timing it: figures the machine's load does not move (default 40,000 messages)",
    )
    args = parser.parse_args()
    if args.venues:
        args.streams = [name for name in args.streams if STREAMS[name].venue in args.venues]
    if args.instructions and "--messages" not in sys.argv:
        args.messages = 40_000
    cf_python = ensure_cryptofeed()
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "cryptofeed_client.py"
        script.write_text(CRYPTOFEED_SCRIPT)
        clients = {"cf_python": cf_python, "script": script, "baseline": args.baseline}
        if args.instructions:
            await instructions_table(args, clients)
            return
        for name in args.streams:
            stream = STREAMS[name]
            kinds = ["streamer"]
            kinds += ["cryptofeed"] if stream.with_cryptofeed else []
            kinds += ["baseline"] if args.baseline else []
            payloads = {k: stream.payload(k, args.messages) for k in kinds}
            results: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
            for r in range(args.rounds):
                for kind in kinds if r % 2 == 0 else kinds[::-1]:  # A B A B
                    payload, messages = payloads[kind]
                    res = await one_round(kind, stream, payload, messages, clients)
                    results[kind].append(res)
                    print(
                        f"  {name:>15} round {r + 1} {kind:>10}: {res['us']:6.2f} µs/msg"
                        f"  (peak RSS {res['rss']:.0f} MB)",
                        flush=True,
                    )
            med = {k: statistics.median(x["us"] for x in v) for k, v in results.items()}
            rss = {k: statistics.median(x["rss"] for x in v) for k, v in results.items()}
            table.append((stream, med, rss))
    print(
        f"\nmedian of {args.rounds} rounds, {args.messages:,} messages each, client CPU"
        " (USD-M mark prices: per entry, whatever the frames)"
    )
    print("| stream | client | µs/msg | msg/s per core | streamer ÷ this | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for stream, med, rss in table:
        for kind, us in med.items():
            # a CPU clock that did not tick (10 ms steps, a short run) has no ratio
            note = "" if kind == "streamer" else (f"{med['streamer'] / us:.2f}x" if us else "n/a")
            print(
                f"| {stream.label} | {kind} | {us:.2f} | {1e6 / us if us else 0:,.0f} | {note}"
                f" | {rss[kind]:.0f} |"
            )


if __name__ == "__main__":
    asyncio.run(main())
