"""A toy venue, defined only here, to prove that a venue is one package: its settings, decoder,
feed and simulator, tied in by one `VenueSpec`, with no edit anywhere else.

The toy speaks one WebSocket message, `{"s": "TOY-USD", "i": 7, "p": "1.5", "q": "2",
"side": "buy", "T": 1764892800000}` (a trade), on `/toy`, and answers `GET /toy/api/ping`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from websockets.frames import Opcode

from streamer.ids import record_id
from streamer.records import Item, Millis, Trade
from streamer.selectors import Selector
from streamer.settings_read import Reader
from streamer.settings_spec import Setting, row
from streamer.simulator.outbox import Connection, fan_out
from streamer.simulator.venue import ADMITTED, Admission, Context, Meter, VenueConfig
from streamer.sources.base import Clock, Emit, FeedStats, guarded, json_object
from streamer.sources.rediscovery import Rediscovery
from streamer.sources.transport import WsConnection
from streamer.sources.wsconnect import run_websocket
from streamer.timefmt import epoch_millis
from streamer.venue_spec import VenueSpec

NAME = "toy"


@dataclass(frozen=True, slots=True)
class ToySettings:
    symbols: tuple[str, ...] = ("TOY-USD",)
    selector: Selector | None = None
    ws_url: str = "wss://toy.example"


ROWS: tuple[Setting, ...] = (
    row("toy_symbols", "TOY-USD", "the toy's symbols"),
    row("toy_ws_url", "wss://toy.example", "the toy's WebSocket"),
)


def load(r: Reader) -> ToySettings:
    d = ToySettings()
    symbols, selector = r.market("toy_symbols", d.symbols)
    return ToySettings(symbols, selector, r.url("toy_ws_url", d.ws_url, ("ws", "wss")))


def _trade(raw: str | bytes, received_at: Millis) -> list[Item]:
    msg = json_object(raw)
    symbol, trade_id, time = msg["s"], str(msg["i"]), epoch_millis(msg["T"], "T")
    rid = record_id(NAME, symbol, "trade", trade_id)
    return [Trade(NAME, symbol, time, received_at, trade_id, msg["p"], msg["q"], msg["side"], rid)]


class ToySource:
    name = NAME

    def __init__(self, settings: ToySettings, clock: Clock) -> None:
        self.settings, self.clock, self.stats = settings, clock, FeedStats()

    async def run(self, emit: Emit) -> None:
        async def on_connect(ws: WsConnection) -> None:
            await ws.send(orjson.dumps({"subscribe": list(self.settings.symbols)}).decode())

        async def on_frames(payloads: list[bytes], received_at: Millis) -> None:
            rows = [r for raw in payloads for r in guarded(NAME, _trade, raw, received_at)]
            self.stats.count_read(len(payloads), rows, received_at)
            await emit(rows)

        url = f"{self.settings.ws_url}/toy"
        await run_websocket(url, source=NAME, setting="STREAMER_TOY_WS_URL",
                            on_connect=on_connect, on_frames=on_frames, stats=self.stats,
                            clock=self.clock)  # fmt: skip


class ToyVenue:
    """The toy on loopback: every subscriber gets one trade of each symbol per tick."""

    rest_prefix = "/toy/api"
    ws_path = "/toy"

    def __init__(self, config: VenueConfig, context: Context) -> None:
        self.symbols, self.context = config.symbols, context
        self.listeners: set[Connection] = set()
        self.sent: list[dict[str, Any]] = []

    def environment(self, base: str) -> dict[str, str]:
        return {
            "STREAMER_TOY_WS_URL": f"ws://{base}",
            "STREAMER_TOY_SYMBOLS": ",".join(self.symbols),
        }

    def admit(self, target: str, client: str, websocket: bool) -> Admission:
        return ADMITTED

    def rest(self, endpoint: str, params: Mapping[str, str]) -> tuple[int, Any]:
        return (200, {"pong": True}) if endpoint == "/ping" else (404, {"error": "Not found"})

    def meter(self, client: str, who: str) -> Meter:
        def check(opcode: Opcode) -> bool:
            return True

        return check

    async def session(self, conn: Connection, query: str) -> None:
        await conn.ws.recv()  # the subscribe
        self.listeners.add(conn)
        try:
            await conn.ws.wait_closed()
        finally:
            self.listeners.discard(conn)

    async def drive(self) -> None:
        trade_id = 0
        while True:
            await asyncio.sleep(0.05)
            for symbol in self.symbols:
                trade_id += 1
                side = "buy" if trade_id % 2 else "sell"
                msg = {"s": symbol, "i": trade_id, "p": f"{trade_id}.5", "q": "2",
                       "side": side, "T": self.context.clock()}  # fmt: skip
                self.sent.append(msg)
                fan_out(self.listeners, lambda m=msg: orjson.dumps(m).decode())  # type: ignore[misc]


def _source(config: Any, *, clock: Clock, rediscovery: Rediscovery | None) -> ToySource:
    return ToySource(config, clock)


VENUE = VenueSpec(
    name=NAME,
    rows=ROWS,
    load=load,
    defaults=ToySettings(),
    source=_source,
    simulator=ToyVenue,
    sim_symbols=("TOY-USD", "ZAP-USD"),
)
