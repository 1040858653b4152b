"""The simulator's asyncio shell: one port serving Binance, Coinbase and CoinGecko.

WebSocket paths: `/stream?streams=...` (Binance combined streams) and `/coinbase` (Coinbase
Advanced Trade). Plain HTTP GETs are answered from `process_request`: Binance REST under
`/api/v3/`, Coinbase REST under `/api/v3/brokerage/`, CoinGecko under `/coingecko/api/v3/`.

One driver task per venue steps the synthetic markets at `rate` events per second (0 = as fast
as the clients read) and fans frames out to each subscribed connection's bounded outbox, so a
slow client slows the market instead of growing memory. What was sent is recorded (bounded) in
`sent_trades`, `sent_candles` and `sent_books` for tests to compare against the lake.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from streamer.simulator import binance_wire, coinbase_wire
from streamer.simulator.coingecko_wire import CoinUniverse
from streamer.simulator.faults import NO_FAULTS, OVERSIZED_BYTES, FaultDice, FaultPlan
from streamer.simulator.market import Market, Trade, price_text, size_text, start_price

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 2000
COINBASE_CANDLE_MS = 300_000
COINBASE_TRUTH_DEPTH = 50  # levels of each Coinbase book remembered per frame, for tests
COINBASE_CHANNELS = ("heartbeats", "ticker", "candles", "level2", "market_trades", "status")


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    rate: float = 200.0  # market events per second per venue; 0 = as fast as clients read
    binance_symbols: tuple[str, ...] = ("BTC-USDT", "ETH-USDT", "SOL-USDT")
    coinbase_symbols: tuple[str, ...] = ("BTC-USD", "ETH-USD", "SOL-USD")
    coingecko_coins: tuple[str, ...] = ("bitcoin", "ethereum", "solana")
    replay_dir: Path | None = None
    seed: int = 7
    subscribe_timeout: float = 5.0  # Coinbase closes connections that never subscribe
    record_limit: int = 200_000  # sent trades/candles/books remembered for tests
    faults: FaultPlan = NO_FAULTS  # faults injected on purpose (see faults.py)
    coinbase_truth: bool = False  # remember the true Coinbase book after every level2 frame


class Outbox:
    """A per-connection queue that never blocks the producer for one item, but lets it wait
    until the connection has drained below `OUTBOX_LIMIT`."""

    def __init__(self) -> None:
        self.items: collections.deque[Any] = collections.deque()
        self.ready = asyncio.Event()
        self.space = asyncio.Event()
        self.space.set()
        self.closed = False

    def push(self, item: Any) -> None:
        if self.closed:
            return
        self.items.append(item)
        self.ready.set()
        if len(self.items) >= OUTBOX_LIMIT:
            self.space.clear()

    def close(self) -> None:
        """The connection is gone: release anyone waiting for space, accept nothing more."""
        self.closed = True
        self.items.clear()
        self.space.set()

    async def pop_all(self) -> list[Any]:
        await self.ready.wait()
        items = list(self.items)
        self.items.clear()
        self.ready.clear()
        self.space.set()
        return items


@dataclass(eq=False)
class _Client:
    ws: ServerConnection
    outbox: Outbox
    streams: frozenset[str] = frozenset()  # Binance
    channels: dict[str, set[str]] | None = None  # Coinbase channel -> products
    sequence: int = 0
    number: int = 0  # connection number, from 1
    opened: float = 0.0  # loop time
    silent_until: float = 0.0  # loop time; a stalled connection sends nothing before it


def _limit(record: dict[Any, Any], limit: int) -> None:
    while len(record) > limit:
        del record[next(iter(record))]


class Simulator:
    """`async with Simulator(config) as sim:` serves until the block ends."""

    def __init__(self, config: SimulatorConfig, clock: Callable[[], int] | None = None) -> None:
        self.config = config
        self.clock = clock or (lambda: time.time_ns() // 1_000_000)
        self.rng = random.Random(config.seed)
        now = self.clock()
        self.markets: dict[tuple[str, str], Market] = {}
        for venue, symbols in (("binance", config.binance_symbols),
                               ("coinbase", config.coinbase_symbols)):  # fmt: skip
            for symbol in symbols:
                rng = random.Random(f"{config.seed}:{venue}:{symbol}")
                market = Market(symbol, rng, start_price(symbol), now)
                market.track(60_000 if venue == "binance" else COINBASE_CANDLE_MS)
                self.markets[(venue, symbol)] = market
        self.coins = CoinUniverse(config.coingecko_coins, random.Random(config.seed))
        self.recent: dict[tuple[str, str], collections.deque[Trade]] = collections.defaultdict(
            lambda: collections.deque(maxlen=50)
        )
        self.sent_trades: dict[tuple[str, str], dict[str, tuple[str, str, str, int]]] = (
            collections.defaultdict(dict)
        )
        self.sent_candles: dict[tuple[str, str, str, int], tuple[str, ...]] = {}
        self.sent_books: dict[tuple[str, int], tuple[list[list[str]], list[list[str]]]] = {}
        # Coinbase: (frame time ms, sequence_num, product) -> the true top levels after the frame
        self.sent_coinbase_books: dict[
            tuple[int, int, str], tuple[list[list[str]], list[list[str]]]
        ] = {}
        self.binance_clients: set[_Client] = set()
        self.coinbase_clients: set[_Client] = set()
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started = time.monotonic()
        self._next_periodic: dict[tuple[str, str, str], int] = {}
        self.dice = FaultDice(config.faults)
        self.connections = 0
        self.closed_at: dict[int, float] = {}  # connection number -> loop time it ended

    # ---- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Simulator:
        self._server = await serve(
            self._handle, self.config.host, self.config.port,
            process_request=self._process_request, compression=None, max_size=2**20,
            ping_interval=20,
        )  # fmt: skip
        if self.config.replay_dir is None:
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._drive("binance")),
                loop.create_task(self._drive("coinbase")),
            ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def host(self) -> str:
        return self.config.host

    def environment(self) -> dict[str, str]:
        """The `STREAMER_*` settings that point `streamer run` at this simulator."""
        base = f"{self.host}:{self.port}"
        return {
            "STREAMER_BINANCE_WS_URL": f"ws://{base}",
            "STREAMER_BINANCE_REST_URL": f"http://{base}",
            "STREAMER_COINBASE_WS_URL": f"ws://{base}/coinbase",
            "STREAMER_COINBASE_REST_URL": f"http://{base}",
            "STREAMER_COINGECKO_URL": f"http://{base}/coingecko/api/v3",
            "STREAMER_BINANCE_SYMBOLS": ",".join(self.config.binance_symbols),
            "STREAMER_COINBASE_SYMBOLS": ",".join(self.config.coinbase_symbols),
            "STREAMER_COINGECKO_COINS": ",".join(self.config.coingecko_coins),
        }

    def exports(self) -> list[str]:
        """`environment()` as shell lines: `export STREAMER_...=...`."""
        return [f"export {key}={value}" for key, value in self.environment().items()]

    # ---- WebSocket connections -------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        path = urlsplit(ws.request.path)
        self.connections += 1
        client = _Client(ws, Outbox(), number=self.connections)
        try:
            async with asyncio.TaskGroup() as group:
                sender = group.create_task(self._send_loop(client))
                if path.path == "/stream":
                    await self._binance_session(client, path.query)
                else:
                    await self._coinbase_session(client)
                sender.cancel()
        except* ConnectionClosed:
            pass
        finally:
            self.closed_at[client.number] = asyncio.get_running_loop().time()
            self.binance_clients.discard(client)
            self.coinbase_clients.discard(client)
            client.outbox.close()  # a driver waiting for this client's space must not hang

    async def _send_loop(self, client: _Client) -> None:
        loop = asyncio.get_running_loop()
        client.opened = loop.time()
        faults = self.config.faults.active
        held: str | None = None  # a frame held back to be sent after the next (reorder)
        while True:
            for item in await client.outbox.pop_all():
                if isinstance(item, tuple):
                    channel, events, *truth = item
                    if faults and self.dice.roll("gap"):
                        client.sequence += 1  # the frame is lost: the client sees a gap
                        continue
                    stamp = self.clock()
                    envelope = {
                        "channel": channel,
                        "timestamp": coinbase_wire.rfc3339(stamp),
                        "sequence_num": client.sequence,
                        "events": events,
                    }
                    if truth:
                        symbol, top = truth
                        self.sent_coinbase_books[(stamp, client.sequence, symbol)] = top
                        _limit(self.sent_coinbase_books, self.config.record_limit)
                    client.sequence += 1
                    item = orjson.dumps(envelope)
                text = item if isinstance(item, str) else item.decode()
                if not faults:
                    await client.ws.send(text)
                    continue
                now = loop.time()
                if now < client.silent_until:
                    continue  # stalled: the frame is lost, pings are still answered
                held = await self._send_with_faults(client, text, held, now)

    async def _send_with_faults(
        self, client: _Client, text: str, held: str | None, now: float
    ) -> str | None:
        dice, plan = self.dice, self.config.faults
        if not dice.enabled:
            await client.ws.send(text)
            return None
        if plan.rotate_seconds and now - client.opened >= plan.rotate_seconds:
            dice.injected["rotate"] += 1
            await client.ws.close(1000, "connection lifetime reached")
            return None
        if dice.roll("disconnect"):
            assert client.ws.transport is not None
            client.ws.transport.abort()
            return None
        if dice.roll("close"):
            code = dice.rng.choice((1001, 1011))
            await client.ws.close(code, "injected fault")
            return None
        if dice.roll("stall"):
            client.silent_until = now + plan.stall_seconds
            return None
        if dice.roll("garbage"):
            await client.ws.send(dice.garbage(client.number, now))
        if dice.roll("oversized"):
            await client.ws.send("x" * OVERSIZED_BYTES)
        if held is None and dice.roll("reorder"):
            return text
        await client.ws.send(text)
        if held is not None:
            await client.ws.send(held)
        if dice.roll("duplicate"):
            await client.ws.send(text)
        return None

    async def _binance_session(self, client: _Client, query: str) -> None:
        streams = parse_qs(query).get("streams", [""])[0].split("/")
        client.streams = frozenset(s for s in streams if s)
        for stream in client.streams:
            symbol_part, _, kind = stream.partition("@")
            if kind.startswith("kline_"):
                for (venue, symbol), market in self.markets.items():
                    interval = binance_wire.INTERVALS_MS.get(kind.removeprefix("kline_"))
                    if venue == "binance" and interval and symbol_part == _native(symbol):
                        market.track(interval)
        if self.config.replay_dir is not None:
            for line in _replay_lines(self.config.replay_dir / "binance.jsonl"):
                client.outbox.push(line)
        self.binance_clients.add(client)
        async for message in client.ws:  # control messages: SUBSCRIBE, LIST_SUBSCRIPTIONS
            try:
                request = orjson.loads(message)
                method, ident = request["method"], request.get("id")
            except (orjson.JSONDecodeError, KeyError, TypeError):
                await client.ws.close(1008, "Invalid request")
                return
            if method == "SUBSCRIBE":
                client.streams = client.streams | set(request.get("params", []))
                client.outbox.push(orjson.dumps({"result": None, "id": ident}).decode())
            elif method == "UNSUBSCRIBE":
                client.streams = client.streams - set(request.get("params", []))
                client.outbox.push(orjson.dumps({"result": None, "id": ident}).decode())
            elif method == "LIST_SUBSCRIPTIONS":
                reply = {"result": sorted(client.streams), "id": ident}
                client.outbox.push(orjson.dumps(reply).decode())
            else:
                error = {"code": 2, "msg": f"Invalid request: unknown variant `{method}`"}
                client.outbox.push(orjson.dumps({"error": error, "id": ident}).decode())

    async def _coinbase_session(self, client: _Client) -> None:
        client.channels = {}
        try:
            async with asyncio.timeout(self.config.subscribe_timeout):
                first = await client.ws.recv()
        except TimeoutError:
            await client.ws.close(1008, "subscribe required within 5 seconds")
            return
        if self.config.replay_dir is not None:
            for line in _replay_lines(self.config.replay_dir / "coinbase.jsonl"):
                client.outbox.push(line)
        else:
            self.coinbase_clients.add(client)
        heartbeats = asyncio.get_running_loop().create_task(self._heartbeats(client))
        try:
            self._coinbase_subscribe(client, first)
            async for message in client.ws:
                self._coinbase_subscribe(client, message)
        finally:
            heartbeats.cancel()

    def _coinbase_subscribe(self, client: _Client, message: str | bytes) -> None:
        assert client.channels is not None
        try:
            request = orjson.loads(message)
            kind, channel = request["type"], request["channel"]
            products = list(request.get("product_ids", []))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            client.outbox.push(orjson.dumps({"type": "error", "message": "bad request"}).decode())
            return
        if channel not in COINBASE_CHANNELS or kind not in ("subscribe", "unsubscribe"):
            error = {"type": "error", "message": f"Failed to subscribe: unknown channel {channel}"}
            client.outbox.push(orjson.dumps(error).decode())
            return
        current = client.channels.setdefault(channel, set())
        if kind == "unsubscribe":
            current.difference_update(products)
            return
        current.update(products)
        if self.config.replay_dir is not None:
            return  # a replay sends exactly the recorded frames, acks included
        self._coinbase_snapshots(client, channel, products)
        acked = {ch: sorted(p) if ch != "heartbeats" else ["heartbeats"]
                 for ch, p in client.channels.items()}  # fmt: skip
        client.outbox.push(("subscriptions", [{"subscriptions": acked}]))

    def _coinbase_snapshots(self, client: _Client, channel: str, products: list[str]) -> None:
        now = self.clock()
        for product in products:
            market = self.markets.get(("coinbase", product))
            if market is None:
                continue
            if channel == "level2":
                snapshot = coinbase_wire.l2_snapshot(market, now)
                if self.config.coinbase_truth:
                    client.outbox.push(("l2_data", [snapshot], product, self._cb_top(market)))
                else:
                    client.outbox.push(("l2_data", [snapshot]))
            elif channel == "market_trades":
                trades = [
                    coinbase_wire.trade(market, t)
                    for t in reversed(self.recent[("coinbase", product)])
                ]
                client.outbox.push(("market_trades", [{"type": "snapshot", "trades": trades}]))
            elif channel == "ticker":
                tick = {"type": "snapshot", "tickers": [coinbase_wire.ticker(market)]}
                client.outbox.push(("ticker", [tick]))
            elif channel == "candles":
                candle = market.candles[COINBASE_CANDLE_MS]
                event = {"type": "snapshot", "candles": [coinbase_wire.candle(market, candle)]}
                client.outbox.push(("candles", [event]))

    async def _heartbeats(self, client: _Client) -> None:
        counter = 0
        while True:
            await asyncio.sleep(1.0)
            if client.channels and "heartbeats" in client.channels:
                counter += 1
                uptime = time.monotonic() - self._started
                beat = coinbase_wire.heartbeat(self.clock(), counter, uptime)
                client.outbox.push(("heartbeats", [beat]))

    # ---- market drivers --------------------------------------------------------------------

    async def _drive(self, venue: str) -> None:
        markets = [m for (v, _), m in self.markets.items() if v == venue]
        if not markets:
            return
        clients = self.binance_clients if venue == "binance" else self.coinbase_clients
        rate = self.config.rate
        interval = 1.0 / rate if rate > 0 else 0.0
        next_at = time.monotonic()
        steps = 0
        while True:
            for client in list(clients):
                if not client.outbox.space.is_set():
                    await client.outbox.space.wait()
            now = self.clock()
            for market in markets:
                self._periodic(venue, market, now, clients)
            market = markets[self.rng.randrange(len(markets))]
            changes, trade = market.step()
            if venue == "binance":
                self._binance_event(market, trade, now, clients)
            else:
                self._coinbase_event(market, changes, trade, now, clients)
            steps += 1
            if interval:
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -1:
                    next_at = time.monotonic()  # fell behind: don't burst
            elif steps % 64 == 0 or not clients:
                await asyncio.sleep(0 if clients else 0.01)

    def _due(self, key: tuple[str, str, str], now: int, every: int) -> bool:
        if now < self._next_periodic.get(key, 0):
            return False
        self._next_periodic[key] = now - now % every + every
        return True

    def _periodic(self, venue: str, market: Market, now: int, clients: set[_Client]) -> None:
        for candle in market.advance(now):
            self._closed_candle(venue, market, candle, clients, now)
        if venue == "binance":
            native = _native(market.symbol)
            if self._due((venue, market.symbol, "depth"), now, 100):
                self._binance_depth(market, native, clients)
            if self._due((venue, market.symbol, "ticker"), now, 1000):
                frame = binance_wire.ticker(market, now)
                _fan_out(clients, f"{native}@ticker", frame)
            for interval, candle in market.candles.items():
                name = _interval_name(interval)
                if self._due((venue, market.symbol, name), now, 1000 if interval == 1000 else 2000):
                    frame = binance_wire.kline(market, candle, name, False, now)
                    _fan_out(clients, f"{native}@kline_{name}", frame)
        elif self._due((venue, market.symbol, "candles"), now, 1000):
            event = {
                "type": "update",
                "candles": [coinbase_wire.candle(market, market.candles[COINBASE_CANDLE_MS])],
            }
            for client in clients:
                if market.symbol in (client.channels or {}).get("candles", ()):
                    client.outbox.push(("candles", [event]))

    def _binance_depth(self, market: Market, native: str, clients: set[_Client]) -> None:
        for levels in (5, 10, 20):
            names = (f"{native}@depth{levels}@100ms", f"{native}@depth{levels}")
            if any(n in c.streams for c in clients for n in names):
                payload = binance_wire.depth(market, levels)
                if levels == 20:
                    self.sent_books[(market.symbol, market.sequence)] = (
                        payload["bids"], payload["asks"],
                    )  # fmt: skip
                    _limit(self.sent_books, self.config.record_limit)
                for name in names:
                    _fan_out(clients, name, payload)

    def _closed_candle(self, venue: str, market: Market, candle: Any, clients: set[_Client],
                       now: int) -> None:  # fmt: skip
        name = _interval_name(candle.interval_ms)
        decimals = 8 if venue == "binance" else 2
        key = (venue, market.symbol, name, candle.open_time)
        prices = (candle.open, candle.high, candle.low, candle.close)
        self.sent_candles[key] = (
            *(price_text(t, decimals) for t in prices),
            size_text(candle.volume, trim=venue == "coinbase"),
        )
        _limit(self.sent_candles, self.config.record_limit)
        if venue == "binance":
            frame = binance_wire.kline(market, candle, name, True, now)
            _fan_out(clients, f"{_native(market.symbol)}@kline_{name}", frame)

    def _record_trade(self, venue: str, market: Market, trade: Trade) -> None:
        decimals = 8 if venue == "binance" else 2
        record = self.sent_trades[(venue, market.symbol)]
        record[str(trade.trade_id)] = (
            price_text(trade.price, decimals),
            size_text(trade.size, trim=venue == "coinbase"),
            trade.taker_side,
            trade.time,
        )
        _limit(record, self.config.record_limit)
        self.recent[(venue, market.symbol)].append(trade)

    def _binance_event(self, market: Market, trade: Trade | None, now: int,
                       clients: set[_Client]) -> None:  # fmt: skip
        if trade is None:
            return
        self._record_trade("binance", market, trade)
        native = _native(market.symbol)
        _fan_out(clients, f"{native}@trade", binance_wire.trade(market, trade, now))
        _fan_out(clients, f"{native}@aggTrade", binance_wire.agg_trade(market, trade, now))

    @staticmethod
    def _cb_top(market: Market) -> tuple[list[list[str]], list[list[str]]]:
        return coinbase_wire.book_top(market, COINBASE_TRUTH_DEPTH)

    def _coinbase_event(self, market: Market, changes: list[Any], trade: Trade | None, now: int,
                        clients: set[_Client]) -> None:  # fmt: skip
        if trade is not None:
            self._record_trade("coinbase", market, trade)
        for client in clients:
            channels = client.channels or {}
            if market.symbol in channels.get("level2", ()) and changes:
                update = coinbase_wire.l2_update(market, changes, now)
                if self.config.coinbase_truth:
                    client.outbox.push(("l2_data", [update], market.symbol, self._cb_top(market)))
                else:
                    client.outbox.push(("l2_data", [update]))
            if trade is not None and market.symbol in channels.get("market_trades", ()):
                event = {"type": "update", "trades": [coinbase_wire.trade(market, trade)]}
                client.outbox.push(("market_trades", [event]))
            if trade is not None and market.symbol in channels.get("ticker", ()):
                event = {"type": "update", "tickers": [coinbase_wire.ticker(market)]}
                client.outbox.push(("ticker", [event]))

    # ---- REST ------------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if url.path in ("/stream", "/coinbase"):
                return None
            return connection.respond(404, "no such WebSocket endpoint\n")
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        if self.dice.roll("rest_429"):
            limited = connection.respond(429, '{"code":-1003,"msg":"Too many requests."}')
            limited.headers["Retry-After"] = "1"
            return limited
        if self.dice.roll("rest_5xx"):
            return connection.respond(503, '{"code":-1001,"msg":"Service unavailable."}')
        try:
            status, body = self._rest(url.path, params)
        except (KeyError, ValueError) as exc:
            status, body = 400, {"code": -1100, "msg": f"Illegal parameter: {exc}"}
        response = connection.respond(status, "")
        del response.headers["Content-Type"]
        del response.headers["Content-Length"]
        payload = body if isinstance(body, bytes) else orjson.dumps(body)
        response.headers["Content-Type"] = "application/json"
        response.headers["Content-Length"] = str(len(payload))
        response.body = payload
        return response

    def _rest(self, path: str, q: dict[str, str]) -> tuple[int, Any]:
        replay = self.config.replay_dir
        if path.startswith("/coingecko/api/v3/"):
            endpoint = path.removeprefix("/coingecko/api/v3")
            if endpoint == "/ping":
                return 200, {"gecko_says": "(V3) To the Moon!"}
            if endpoint == "/simple/price":
                if replay is not None:
                    return 200, _replay_body(replay / "coingecko_simple_price.json")
                ids, vs = q["ids"].split(","), q["vs_currencies"].split(",")
                return 200, self.coins.simple_price(ids, vs)
            if endpoint == "/coins/markets":
                if replay is not None:
                    return 200, _replay_body(replay / "coingecko_coins_markets.json")
                per_page, page = int(q.get("per_page", 100)), int(q.get("page", 1))
                return 200, self.coins.markets(min(per_page, 250), page)
            return 404, {"error": "Not found"}
        if path.startswith("/api/v3/brokerage/market/products/"):
            parts = path.removeprefix("/api/v3/brokerage/market/products/").split("/")
            market = self.markets.get(("coinbase", parts[0]))
            if market is None:
                return 404, {"error": "NOT_FOUND", "message": "product not found"}
            if len(parts) == 1:
                return 200, coinbase_wire.product(market)
            if parts[1:] == ["candles"] and replay is not None:
                start, end = int(q["start"]), int(q["end"])
                rows = [c for c in _replayed_candles(replay, parts[0])
                        if start <= int(c["start"]) <= end]  # fmt: skip
                return 200, {"candles": sorted(rows, key=lambda c: -int(c["start"]))}
            if parts[1:] == ["candles"]:
                start, end = int(q["start"]) * 1000, int(q["end"]) * 1000
                history = market.closed.get(COINBASE_CANDLE_MS, [])
                rows = [coinbase_wire.candle(market, c) for c in history
                        if start <= c.open_time <= end]  # fmt: skip
                newest_first = [{k: v for k, v in r.items() if k != "product_id"}
                                for r in reversed(rows)]  # fmt: skip
                return 200, {"candles": newest_first}
            return 404, {"error": "NOT_FOUND"}
        if path.startswith("/api/v3/"):
            return self._binance_rest(path.removeprefix("/api/v3"), q)
        return 404, {"error": "Not found"}

    def _binance_rest(self, endpoint: str, q: dict[str, str]) -> tuple[int, Any]:
        if endpoint == "/ping":
            return 200, {}
        if endpoint == "/exchangeInfo":
            symbols = [{"symbol": s.replace("-", ""), "status": "TRADING"}
                       for (v, s) in self.markets if v == "binance"]  # fmt: skip
            return 200, {"timezone": "UTC", "serverTime": self.clock(), "symbols": symbols}
        by_native = {s.replace("-", ""): m for (v, s), m in self.markets.items() if v == "binance"}
        market = by_native.get(q.get("symbol", ""))
        if market is None:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        if endpoint == "/depth":
            return 200, binance_wire.depth(market, min(int(q.get("limit", 100)), 5000))
        if endpoint == "/ticker/24hr":
            t = binance_wire.ticker(market, self.clock())
            keys = ("symbol", "priceChange", "priceChangePercent", "weightedAvgPrice",
                    "prevClosePrice", "lastPrice", "lastQty", "bidPrice", "bidQty", "askPrice",
                    "askQty", "openPrice", "highPrice", "lowPrice", "volume", "quoteVolume",
                    "openTime", "closeTime", "firstId", "lastId", "count")  # fmt: skip
            values = [t[k] for k in "spPwxcQbBaAohlvqOCFLn"]
            return 200, dict(zip(keys, values, strict=True))
        if endpoint == "/klines":
            interval = binance_wire.INTERVALS_MS[q["interval"]]
            market.track(interval)
            start, end = int(q.get("startTime", 0)), int(q.get("endTime", 2**62))
            limit = min(int(q.get("limit", 500)), 1000)
            candles = [*market.closed[interval], market.candles[interval]]
            rows = [binance_wire.rest_kline(c) for c in candles if start <= c.open_time <= end]
            return 200, rows[:limit]
        return 404, {"code": -1, "msg": "Not found"}


def _native(symbol: str) -> str:
    return symbol.replace("-", "").lower()


def _interval_name(interval_ms: int) -> str:
    for name, ms in binance_wire.INTERVALS_MS.items():
        if ms == interval_ms:
            return name
    return f"{interval_ms}ms"


def _fan_out(clients: set[_Client], stream: str, payload: dict[str, Any]) -> None:
    frame: str | None = None
    for client in clients:
        if stream in client.streams:
            if frame is None:
                frame = orjson.dumps({"stream": stream, "data": payload}).decode()
            client.outbox.push(frame)


def _replay_lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [line for line in path.read_text().splitlines() if line.strip()]


def _replayed_candles(folder: Path, product: str) -> list[dict[str, Any]]:
    """The last state of each candle of `product` in the replayed Coinbase frames, so REST
    agrees with the WebSocket replay."""
    path = folder / "coinbase.jsonl"
    latest: dict[str, dict[str, Any]] = {}
    for line in _replay_lines(path) if path.exists() else []:
        try:
            msg = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(msg, dict) or msg.get("channel") != "candles":
            continue
        for event in msg.get("events", []):
            for candle in event.get("candles", []):
                if candle.get("product_id") == product:
                    latest[str(candle["start"])] = {
                        k: v for k, v in candle.items() if k != "product_id"
                    }
    return list(latest.values())


def _replay_body(path: Path) -> bytes:
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes()
    return b"[]"


async def run_simulator(config: SimulatorConfig, out: Callable[[str], None] = print) -> None:
    """Serve until cancelled, after printing the `export STREAMER_...` lines."""
    async with Simulator(config) as sim:
        for line in sim.exports():
            out(line)
        log.info("simulator.serving host=%s port=%d replay=%s", sim.host, sim.port,
                 config.replay_dir)  # fmt: skip
        await asyncio.Event().wait()
