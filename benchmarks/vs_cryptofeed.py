"""streamer against cryptofeed 2.4.1: client CPU per trade message, measured side by side.

A minimal WebSocket server on 127.0.0.1 (in this process) accepts one client, waits for it to
subscribe, then writes pre-framed text frames in ~1 MiB chunks as fast as the client reads them,
so the client is the bottleneck. The figure is the client process's CPU (utime + stime from
/proc) from just before the first frame goes out until the client is idle again, divided by the
messages sent. Clients alternate A B A B within one run, so the ratio holds on a noisy machine.

- streamer runs as users run it: `streamer run`, `STREAMER_SINK=null`, one symbol,
  `STREAMER_BINANCE_TRADES=aggTrade` (Binance) or the Coinbase source, all its usual streams
  subscribed (only trades arrive).
- cryptofeed 2.4.1 (installed into benchmarks/.venv-cryptofeed on first use; it builds from
  source) runs its FeedHandler on uvloop with a TRADES callback that only counts.

Each client reports how many trades it handled when it stops, and a round counts only if that
equals the messages sent.

    python benchmarks/vs_cryptofeed.py [--messages 200000] [--rounds 3] [--venues binance coinbase]
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
from dataclasses import dataclass, field
from pathlib import Path

import orjson

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
    """Accepts one WebSocket client per round; answers REST calls with empty results."""

    def __init__(self, venue: str) -> None:
        self.venue = venue
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
        session.writer = writer
        if self.venue == "binance":  # streams ride in the URL: no subscribe message
            session.subscribed.set()
        await self._read_client(reader, session)
        writer.close()

    async def _rest(self, path: str, writer: asyncio.StreamWriter) -> None:
        body = b'{"candles":[],"trades":[]}' if "brokerage" in path else b"[]"
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + body
        )
        await writer.drain()
        writer.close()

    async def _read_client(self, reader: asyncio.StreamReader, session: Session) -> None:
        """Masked client frames: subscriptions are noted, pings answered, a close ends it."""
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
            if opcode == 0x9 and session.writer is not None:
                async with session.lock:
                    session.writer.write(ws_frame(data, 0xA))
            elif opcode == 0x1:
                session.texts.append(data)
                if b"market_trades" in data:
                    session.subscribed.set()

    async def send(self, payload: list[bytes]) -> None:
        writer = self.session.writer
        assert writer is not None
        for chunk in payload:
            async with self.session.lock:
                writer.write(chunk)
            await writer.drain()


# --- the clients -----------------------------------------------------------------------------

CRYPTOFEED_SCRIPT = textwrap.dedent(
    """
    import asyncio, signal, sys
    from cryptofeed import FeedHandler
    from cryptofeed.connection import WebsocketEndpoint
    from cryptofeed.defines import TRADES
    from cryptofeed.exchanges import Binance, Coinbase
    from cryptofeed.symbols import Symbols

    venue, port = sys.argv[1], int(sys.argv[2])
    count = 0

    async def on_trade(trade, receipt_timestamp):
        global count
        count += 1

    async def plain_ws(self, address, options):
        return address.replace("wss://", "ws://", 1), options

    endpoint = [WebsocketEndpoint(f"wss://127.0.0.1:{port}", authentication=True)]
    if venue == "binance":
        cls, symbol, native, config = Binance, "BTC-USDT", "BTCUSDT", None
    else:
        cls, symbol, native = Coinbase, "BTC-USD", "BTC-USD"
        config = {"coinbase": {"key_id": "bench", "key_secret": "bench"}}
    cls.websocket_endpoints = endpoint
    cls._ws_authentication = plain_ws
    Symbols.set(cls.id, {symbol: native}, {"tick_size": {symbol: "0.01"},
                                            "instrument_type": {symbol: "spot"}})
    fh = FeedHandler(config={"log": {"disabled": True}, "uvloop": True})
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    kwargs = {"config": config} if config else {}
    fh.add_feed(cls(symbols=[symbol], channels=[TRADES], callbacks={TRADES: on_trade}, **kwargs))
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


def start_client(
    kind: str, venue: str, port: int, cf_python: Path, script: Path
) -> subprocess.Popen[str]:
    if kind == "cryptofeed":
        command = [str(cf_python), str(script), venue, str(port)]
        env = dict(os.environ)
    else:
        command = [sys.executable, "-m", "streamer.cli", "run"]
        env = {
            **os.environ,
            "STREAMER_SOURCES": venue,
            "STREAMER_SINK": "null",
            "STREAMER_STATS_INTERVAL": "3600",
            "STREAMER_BINANCE_SYMBOLS": "BTC-USDT",
            "STREAMER_BINANCE_TRADES": "aggTrade",
            "STREAMER_BINANCE_WS_URL": f"ws://127.0.0.1:{port}",
            "STREAMER_BINANCE_REST_URL": f"http://127.0.0.1:{port}",
            "STREAMER_COINBASE_SYMBOLS": "BTC-USD",
            "STREAMER_COINBASE_WS_URL": f"ws://127.0.0.1:{port}/coinbase",
            "STREAMER_COINBASE_REST_URL": f"http://127.0.0.1:{port}",
        }
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
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


def handled(kind: str, output: str) -> int:
    if kind == "cryptofeed":
        match = re.search(r"handled=(\d+)", output)
        return int(match.group(1)) if match else -1
    counts = re.findall(r"service\.stopped rows=\{[^}]*'trades': (\d+)", output)
    return int(counts[-1]) if counts else 0


async def one_round(
    kind: str, venue: str, payload: list[bytes], messages: int, cf_python: Path, script: Path
) -> dict[str, float]:
    server = FrameServer(venue)
    port = await server.start()
    client = start_client(kind, venue, port, cf_python, script)
    try:
        await asyncio.wait_for(server.session.subscribed.wait(), 60)
        await wait_idle(client.pid)  # imports, connect, subscribe: done
        t0 = cpu_ticks(client.pid)
        await server.send(payload)
        t1 = await wait_idle(client.pid)
        rss = peak_rss_mb(client.pid)
    finally:
        client.send_signal(signal.SIGTERM)
        output, _ = await asyncio.to_thread(client.communicate, timeout=60)
        assert server.server is not None
        server.server.close()
    count = handled(kind, output)
    if count != messages:
        tail = "\n".join(output.splitlines()[-15:])
        raise SystemExit(f"{kind} {venue}: handled {count} of {messages} messages\n{tail}")
    us = (t1 - t0) / TICK * 1e6 / messages
    return {"us": us, "rss": rss}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--venues", nargs="+", default=["binance", "coinbase"])
    args = parser.parse_args()
    cf_python = ensure_cryptofeed()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "cryptofeed_client.py"
        script.write_text(CRYPTOFEED_SCRIPT)
        rows = []
        for venue in args.venues:
            frames = (
                binance_frames(args.messages)
                if venue == "binance"
                else coinbase_frames(args.messages)
            )
            payload = chunks(frames)
            results: dict[str, list[dict[str, float]]] = {"streamer": [], "cryptofeed": []}
            for r in range(args.rounds):
                for kind in (
                    ("streamer", "cryptofeed") if r % 2 == 0 else ("cryptofeed", "streamer")
                ):
                    res = await one_round(kind, venue, payload, args.messages, cf_python, script)
                    results[kind].append(res)
                    print(
                        f"  {venue:>8} round {r + 1} {kind:>10}: {res['us']:6.2f} µs/msg"
                        f"  (peak RSS {res['rss']:.0f} MB)",
                        flush=True,
                    )
            med = {k: statistics.median(x["us"] for x in v) for k, v in results.items()}
            rss = {k: statistics.median(x["rss"] for x in v) for k, v in results.items()}
            rows.append((venue, med, rss))
    print()
    print(
        f"median of {args.rounds} rounds, {args.messages:,} messages each,"
        " CPU of the client process"
    )
    print(
        "| stream | streamer µs/msg | cryptofeed µs/msg | streamer msg/s/core"
        " | cryptofeed msg/s/core | ratio | RSS MB (s / cf) |"
    )
    print("|---|---|---|---|---|---|---|")
    names = {"binance": "Binance combined `aggTrade`", "coinbase": "Coinbase `market_trades`"}
    for venue, med, rss in rows:
        s, c = med["streamer"], med["cryptofeed"]
        print(
            f"| {names[venue]} | {s:.2f} | {c:.2f} | {1e6 / s:,.0f} | {1e6 / c:,.0f} | {s / c:.2f}x"
            f" | {rss['streamer']:.0f} / {rss['cryptofeed']:.0f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
