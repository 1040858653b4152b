"""The simulator's asyncio shell: one port serving every venue, its lifecycle and routing.

The venues are the registry's (`streamer.venues`), each built by its `VenueSpec.simulator`. A
WebSocket upgrade goes by path to that venue's session (its `ws_path`, or each of its
`ws_paths` for a venue routed on several); a plain HTTP GET goes to
the venue with the longest `rest_prefix` it starts with. Before a request is served its venue
`admit`s it (limits, and headers such as a used request weight); each incoming WebSocket frame
passes the venue's `meter` (messages per second). Each connection's frames leave its bounded
outbox through the `FaultSender`. Unless replaying recorded frames, one driver task per exchange
moves that venue's markets at `rate` events per second, drawn by activity weight (a whole
market: ~2,000 for 1,000 symbols), whether a client is connected or not; a connected client
that stops reading holds them still once its outbox is full, unless `keep_trading`, which cuts
that client instead. The REST trade histories serve each market's newest `history_depth`
trades (`Market.served`; `limit_history` changes it while serving). What was sent is recorded
(bounded) in `truth`, also readable as `sent_trades` and `sent_candles`, for tests to compare
the lake with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame
from websockets.http11 import Request, Response

from streamer.simulator.faults import NO_FAULTS, FaultDice, FaultPlan
from streamer.simulator.limits import Breaches
from streamer.simulator.market import TRADE_HISTORY
from streamer.simulator.outbox import Connection, FaultSender, Outbox
from streamer.simulator.proxy import OutagePlan, OutageProxy
from streamer.simulator.replay import Replay
from streamer.simulator.truth import Truth
from streamer.simulator.venue import (
    Admission,
    Context,
    Meter,
    StreamingVenue,
    Venue,
    VenueConfig,
    ws_paths,
)
from streamer.venues import VENUES

log = logging.getLogger(__name__)

MAX_CLIENT_FRAME = 2**20  # bytes; clients only send small control messages
SLOW_CLIENT_FRAMES = 20_000  # frames behind at which `keep_trading` cuts a client


def simulated() -> tuple[str, ...]:
    """The names of the registered venues that have a simulator."""
    return tuple(spec.name for spec in VENUES if spec.simulator is not None)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    rate: float = 200.0  # market events per second per venue; 0 = as fast as clients read
    symbols: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Venue name -> what it lists (a venue left out lists its `VenueSpec.sim_symbols`)."""
    markets: Mapping[str, int] = field(default_factory=dict)
    """Venue name -> generated listings after those (`streamer simulate --markets`)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Venue name -> its own options (limits, ...; e.g. `BinanceSimOptions`)."""
    replay_dir: Path | None = None
    seed: int = 7
    record_limit: int = 200_000  # sent trades/candles/books remembered for tests
    trade_history: int = TRADE_HISTORY  # trades kept per market (memory), served by default
    history_depth: int | Mapping[str, int] | None = None
    """How many of each market's newest trades the REST trade histories serve, for every venue
    or by venue name (`streamer simulate --history-depth`); older ids are no longer served, as
    on a venue whose history runs out. None (a venue left out): the `trade_history` kept."""
    keep_trading: bool = False
    """Markets trade on at `rate` whatever the clients do (`--keep-trading`): no client slows
    them, and one `slow_client_frames` frames behind is cut, as a venue drops a slow consumer.
    Off, a client that stops reading (a frozen link, a stopped process) stops the market."""
    slow_client_frames: int = SLOW_CLIENT_FRAMES
    faults: FaultPlan = NO_FAULTS  # faults injected on purpose (see faults.py)
    activity_skew: float = 1.0  # the k-th generated symbol's share of events ~ 1/(k+1)**skew

    def __post_init__(self) -> None:
        for name, depth in self.history_depths(simulated()).items():
            if depth < 0:
                raise ValueError(f"history_depth of {name} is {depth}: use 0 or more trades "
                                 "(--history-depth N or VENUE=N)")  # fmt: skip
        if self.keep_trading and self.rate <= 0:
            raise ValueError("keep_trading needs a rate above 0 (--rate): at 0 the clients "
                             "pace the market")  # fmt: skip

    def history_depths(self, names: tuple[str, ...]) -> dict[str, int]:
        """Venue name -> its REST trade history's depth (venues served whole left out); a
        name that is not one of `names` is refused."""
        depth = self.history_depth
        if depth is None:
            return {}
        if isinstance(depth, int):
            return dict.fromkeys(names, depth)
        unknown = sorted(set(depth) - set(names))
        if unknown:
            raise ValueError(f"history_depth names no venue {', '.join(unknown)}; "
                             f"venues: {', '.join(names)}")  # fmt: skip
        return dict(depth)

    def venue(self, name: str, default: tuple[str, ...]) -> VenueConfig:
        """What the venue called `name` is asked to list."""
        return VenueConfig(self.symbols.get(name, default), self.markets.get(name, 0),
                           self.activity_skew, self.options.get(name))  # fmt: skip


class GatedConnection(ServerConnection):
    """A server connection whose incoming frames (pings and pongs too) pass its venue's
    `meter`; a frame past the limit fails the connection with 1008 "Too many requests"."""

    meter: Meter | None = None

    def process_event(self, event: object) -> None:
        meter = self.meter
        if meter is not None and isinstance(event, Frame) and not meter(event.opcode):
            self.meter = None
            self.protocol.fail(1008, "Too many requests")
            self.send_data()
            return
        super().process_event(event)  # type: ignore[arg-type]


class Simulator:
    """`async with Simulator(config) as sim:` serves until the block ends."""

    def __init__(
        self,
        config: SimulatorConfig,
        clock: Callable[[], int] | None = None,
        monotonic: Callable[[], float] | None = None,  # the limits' clock, seconds
    ) -> None:
        self.config = config
        self.clock = clock or (lambda: time.time_ns() // 1_000_000)
        self.rng = random.Random(config.seed)
        self.truth = Truth(config.record_limit)
        self.sent_trades = self.truth.trades
        self.sent_candles = self.truth.candles
        replay = None if config.replay_dir is None else Replay(config.replay_dir)
        self.breaches = Breaches()  # every limit breached: `breaches.counts[name]`
        context = Context(self.clock, self.rng, config.rate, config.seed, self.truth, replay,
                          self.breaches, monotonic or time.monotonic, config.trade_history,
                          config.history_depths(simulated()))  # fmt: skip
        self.venues: dict[str, Venue] = {
            spec.name: spec.simulator(config.venue(spec.name, spec.sim_symbols), context)
            for spec in VENUES
            if spec.simulator is not None
        }
        exchanges = [v for v in self.venues.values() if isinstance(v, StreamingVenue)]
        self.exchanges: list[StreamingVenue] = exchanges  # each has WebSocket sessions
        self.streaming: dict[str, StreamingVenue] = {
            path: venue for venue in exchanges for path in ws_paths(venue)
        }
        self.dice = FaultDice(config.faults)
        self.sender = FaultSender(self.dice)
        self.connections = 0
        self.slow_cuts = 0  # clients cut for falling `slow_client_frames` behind (keep_trading)
        self.closed_at: dict[int, float] = {}  # connection number -> loop time it ended
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # ---- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Simulator:
        self._server = await serve(
            self._handle, self.config.host, self.config.port,
            process_request=self._process_request, compression=None,
            create_connection=GatedConnection,
            max_size=MAX_CLIENT_FRAME, ping_interval=20,
        )  # fmt: skip
        if self.config.replay_dir is None:  # a replay sends only the recorded frames
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(venue.drive()) for venue in self.exchanges]
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
        env: dict[str, str] = {}
        for venue in self.venues.values():
            env.update(venue.environment(base))
        return env

    def exports(self) -> list[str]:
        """`environment()` as shell lines: `export STREAMER_...=...`."""
        return [f"export {key}={value}" for key, value in self.environment().items()]

    # ---- WebSocket connections -------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        url = urlsplit(ws.request.path)
        venue = self.streaming[url.path]  # `_process_request` refused every other path
        loop = asyncio.get_running_loop()
        self.connections += 1
        conn = Connection(ws, number=self.connections, opened=loop.time())
        if self.config.keep_trading and self.config.replay_dir is None:
            conn.outbox = Outbox(self.config.slow_client_frames, lambda: self._cut_slow(conn))
        try:
            async with asyncio.TaskGroup() as group:
                sender = group.create_task(self.sender.run(conn))
                await venue.session(conn, url.query)
                sender.cancel()
        except* ConnectionClosed:
            pass
        finally:
            self.closed_at[conn.number] = loop.time()
            conn.outbox.close()  # a driver waiting for this client's space must not hang

    def _cut_slow(self, conn: Connection) -> None:
        """`keep_trading`: a client too far behind is cut (TCP reset), its frames dropped."""
        self.slow_cuts += 1
        log.warning("simulator.slow_client connection=%d frames=%d (cut: the market trades on)",
                    conn.number, self.config.slow_client_frames)  # fmt: skip
        if conn.ws.transport is not None:
            conn.ws.transport.abort()

    def limit_history(self, depth: int | None, venue: str | None = None) -> None:
        """From now on the REST trade histories of `venue` (None: every venue) serve the newest
        `depth` trades of each market (None: all kept, up to `trade_history`)."""
        if venue is not None and venue not in self.venues:
            raise ValueError(f"no simulated venue {venue!r}; venues: {', '.join(self.venues)}")
        for name, served in self.venues.items():
            if venue is None or name == venue:
                for market in getattr(served, "markets", {}).values():
                    market.depth = depth

    # ---- REST ------------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        client = str(connection.remote_address[0]) if connection.remote_address else ""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            venue = self.streaming.get(url.path)
            if venue is None:
                return connection.respond(404, "no such WebSocket endpoint\n")
            admission = venue.admit(request.path, client, websocket=True)
            if admission.refusal is not None:
                return self._answer(connection, *admission.refusal, admission)
            if isinstance(connection, GatedConnection):
                connection.meter = venue.meter(client, str(connection.id))
            return None
        if self.dice.roll("rest_429"):
            limited = connection.respond(429, '{"code":-1003,"msg":"Too many requests."}')
            limited.headers["Retry-After"] = "1"
            return limited
        if self.dice.roll("rest_5xx"):
            return connection.respond(503, '{"code":-1001,"msg":"Service unavailable."}')
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        admission = Admission()
        answering = self._venue(url.path)
        if answering is not None:
            admission = answering.admit(request.path, client, websocket=False)
        if admission.refusal is not None:
            return self._answer(connection, *admission.refusal, admission)
        return self._answer(connection, *self._rest(url.path, params), admission)

    def _answer(
        self, connection: ServerConnection, status: int, body: Any, admission: Admission
    ) -> Response:
        response = connection.respond(status, "")
        del response.headers["Content-Type"]
        del response.headers["Content-Length"]
        payload = body if isinstance(body, bytes) else orjson.dumps(body)
        response.headers["Content-Type"] = "application/json"
        response.headers["Content-Length"] = str(len(payload))
        response.body = payload
        for key, value in admission.headers.items():
            response.headers[key] = value
        return response

    def _venue(self, path: str) -> Venue | None:
        """The venue whose `rest_prefix` is the longest one `path` starts with."""
        matches = [v for v in self.venues.values() if path.startswith(f"{v.rest_prefix}/")]
        return max(matches, key=lambda v: len(v.rest_prefix)) if matches else None

    def _rest(self, path: str, params: Mapping[str, str]) -> tuple[int, Any]:
        """The answer of the venue whose `rest_prefix` is the longest one `path` starts with."""
        venue = self._venue(path)
        if venue is None:
            return 404, {"error": "Not found"}
        try:
            return venue.rest(path.removeprefix(venue.rest_prefix), params)
        except (KeyError, ValueError) as exc:
            return 400, {"code": -1100, "msg": f"Illegal parameter: {exc}"}


async def run_simulator(
    config: SimulatorConfig,
    out: Callable[[str], None] = print,
    outages: OutagePlan | None = None,
) -> None:
    """Serve until cancelled, after printing the `export STREAMER_...` lines (pointing at an
    `OutageProxy` in front when `outages` cut or freeze anything)."""
    async with Simulator(config) as sim, contextlib.AsyncExitStack() as stack:
        env = sim.environment()
        if outages is not None and (outages.cut_every or outages.freeze_every):
            proxy = await stack.enter_async_context(OutageProxy(sim.port, outages))
            env = proxy.environment(env)
            log.info("simulator.outages port=%d plan=%s", proxy.port, outages)
        for key, value in env.items():
            out(f"export {key}={value}")
        log.info("simulator.serving host=%s port=%d replay=%s", sim.host, sim.port,
                 config.replay_dir)  # fmt: skip
        await asyncio.Event().wait()
