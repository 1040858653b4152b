"""Binance Spot market streams (`wss://stream.binance.com:9443`, Binance.US, the simulator).

Every configured symbol gets four streams: `<s>@ticker`, `<s>@kline_<interval>`,
`<s>@depth<N>@100ms` and `<s>@trade` (or `<s>@aggTrade`), where `<s>` is the native symbol in
lower case (`BTC-USDT` -> `btcusdt`), as Binance requires. They are read as *combined* streams
(`/stream?streams=a/b/c`, at most `MAX_STREAMS_PER_CONNECTION` per connection), so every frame
arrives wrapped as `{"stream": name, "data": payload}` and is routed by its stream name.

`BinanceDecoder` is the pure part: `decode(raw, received_at)` turns one frame into rows or a
single `Reject` and never raises. The venue quirks it handles:

* Symbols map back to the configured ones through an explicit native -> normalized dict; a
  native symbol is never split into base and quote by guessing.
* The partial book `depth<N>` has no event time and no symbol: the symbol comes from the stream
  name, and `event_time` is the local receive time.
* Trades' `m` means "the buyer is the maker", so `m=true` is a taker *sell*.
* Klines are emitted once closed (`x=true`) unless `keep_open_candles` is set; a closed candle's
  `record_id` leaves the event time out, so a later REST backfill of it de-duplicates.
* Control replies (`{"result":..,"id":..}`) yield nothing; venue errors become a `Reject` with
  the venue's message; `serverShutdown` sets `shutdown_requested`, and the shell then closes
  that connection so `run_websocket` opens a fresh one.

`BinanceSource` is the thin shell: one `run_websocket` per planned connection in a TaskGroup.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection

from streamer.errors import ConfigError, FrameError, SourceError
from streamer.ids import record_id
from streamer.numbers import dec, decimals
from streamer.records import BookSnapshot, Candle, Item, Levels, Millis, Reject, Ticker, Trade
from streamer.retry import Sleep
from streamer.settings import BinanceSettings
from streamer.sources.backfill import Backfiller
from streamer.sources.base import Clock, Emit, FeedStats, guarded, reject
from streamer.sources.binance_rest import BinanceRest
from streamer.sources.candles import INTERVAL_MS, CandleLedger, Gap, RecentIds
from streamer.sources.wsconnect import run_websocket
from streamer.timefmt import epoch_millis, now_millis

log = logging.getLogger(__name__)

EXCHANGE = "binance"
SETTING = "STREAMER_BINANCE_WS_URL"
MAX_STREAMS_PER_CONNECTION = 1024  # the venue's documented limit per connection
SHUTDOWN_STREAM = "!serverShutdown"

_Payload = dict[str, Any]
_Handler = Callable[[_Payload, str, Millis], list[Item]]


def native_symbol(symbol: str) -> str:
    """`BTC-USDT` -> `BTCUSDT`, the symbol as Binance writes it in payloads."""
    return symbol.replace("-", "")


def symbol_streams(symbol: str, settings: BinanceSettings) -> tuple[str, str, str, str]:
    """The ticker, kline, partial book and trade streams of one symbol (lower case symbol)."""
    s = native_symbol(symbol).lower()
    return (
        f"{s}@ticker",
        f"{s}@kline_{settings.kline_interval}",  # the interval keeps its case: 1m vs 1M
        f"{s}@depth{settings.depth}@100ms",
        f"{s}@{settings.trades}",
    )


def stream_names(settings: BinanceSettings) -> list[str]:
    """Every stream to read, four per configured symbol, in order."""
    return [name for symbol in settings.symbols for name in symbol_streams(symbol, settings)]


def plan_connections(ws_url: str, streams: Sequence[str]) -> list[str]:
    """Combined-stream URLs, each carrying at most `MAX_STREAMS_PER_CONNECTION` streams."""
    step = MAX_STREAMS_PER_CONNECTION
    return [
        f"{ws_url}/stream?streams={'/'.join(streams[i : i + step])}"
        for i in range(0, len(streams), step)
    ]


def _count(value: object, field: str) -> int:
    if type(value) is not int or value < 0:
        raise FrameError(f"field {field!r} is not a count: {value!r}"[:200])
    return value


def _flag(value: object, field: str) -> bool:
    if type(value) is not bool:
        raise FrameError(f"field {field!r} is not a boolean: {value!r}"[:200])
    return value


def _levels(levels: list[Any], field: str) -> Levels:
    """One side of a partial book, `[[price, size], ...]` best first; one validation call."""
    if not all(type(level) is list and len(level) == 2 for level in levels):
        raise FrameError(f"field {field!r} holds a level that is not [price, size]")
    numbers = decimals(list(chain.from_iterable(levels)), field)
    return tuple(zip(numbers[0::2], numbers[1::2], strict=True))


class BinanceDecoder:
    """Combined-stream frames -> rows. Stateless apart from `shutdown_requested`."""

    def __init__(self, settings: BinanceSettings) -> None:
        self._interval = settings.kline_interval
        self._depth = settings.depth
        self._keep_open = settings.keep_open_candles
        self._symbols: dict[str, str] = {}  # native -> normalized, the only way back
        for symbol in settings.symbols:
            native = native_symbol(symbol)
            if native in self._symbols:
                raise ConfigError(
                    "STREAMER_BINANCE_SYMBOLS",
                    f"{self._symbols[native]} and {symbol} are both {native} on Binance",
                    "List only one of them.",
                )
            self._symbols[native] = symbol
        trades = self._agg_trade if settings.trades == "aggTrade" else self._trade
        handlers: tuple[_Handler, ...] = (self._ticker, self._kline, self._book, trades)
        self._routes: dict[str, tuple[_Handler, str]] = {SHUTDOWN_STREAM: (self._shutdown, "")}
        for symbol in settings.symbols:
            names = symbol_streams(symbol, settings)
            self._routes.update(zip(names, ((h, symbol) for h in handlers), strict=True))
        self.shutdown_requested = False
        """True when the last decoded frame was `serverShutdown`: close and reconnect."""
        self.last_stream: str | None = None
        """Stream of the last decoded frame (the shell's per-stream watchdog reads it)."""

    def decode(self, raw: str | bytes, received_at: Millis) -> list[Item]:
        """One frame -> rows (possibly none), or exactly one `Reject`. Never raises."""
        self.shutdown_requested = False
        return guarded(EXCHANGE, self._decode, raw, received_at)

    # -- frames ---------------------------------------------------------------------------

    def _decode(self, raw: str | bytes, received_at: Millis) -> list[Item]:
        msg = orjson.loads(raw)
        if type(msg) is not dict:
            raise FrameError("frame is not a JSON object")
        stream = msg.get("stream")
        if stream is None:
            return self._control(msg, raw, received_at)
        route = self._routes.get(stream) if type(stream) is str else None
        if route is None:
            raise FrameError(f"unsubscribed/unknown stream {stream!r}"[:200])
        handler, symbol = route
        self.last_stream = stream
        return handler(msg["data"], symbol, received_at)

    def _control(self, msg: _Payload, raw: str | bytes, received_at: Millis) -> list[Item]:
        """A frame without the combined wrapper: a control reply, an error or a shutdown."""
        if "result" in msg:
            log.info("binance.control_reply id=%r result=%r", msg.get("id"), msg["result"])
            return []
        error = msg.get("error", msg)  # seen on the wire nested; documented flat
        if type(error) is dict and "msg" in error:
            text = f"venue error {error.get('code')!r}: {error['msg']}"
            log.error("binance.venue_error id=%r %s", msg.get("id"), text)
            return [reject(EXCHANGE, text, raw, received_at)]
        if msg.get("e") == "serverShutdown":
            return self._shutdown(msg, "", received_at)
        raise FrameError("frame is neither a combined stream event nor a control reply")

    def _shutdown(self, data: _Payload, symbol: str, received_at: Millis) -> list[Item]:
        self.shutdown_requested = True
        return []

    def _check_symbol(self, data: _Payload, symbol: str) -> None:
        native = data["s"]
        if type(native) is not str or self._symbols.get(native) != symbol:
            raise FrameError(f"unknown symbol {native!r} on the stream of {symbol}"[:200])

    def _ticker(self, data: _Payload, symbol: str, received_at: Millis) -> list[Item]:
        self._check_symbol(data, symbol)
        event_time = epoch_millis(data["E"], "E")
        return [
            Ticker(
                exchange=EXCHANGE,
                symbol=symbol,
                event_time=event_time,
                received_at=received_at,
                last_price=dec(data["c"], "c"),
                best_bid=dec(data["b"], "b"),
                best_bid_size=dec(data["B"], "B"),
                best_ask=dec(data["a"], "a"),
                best_ask_size=dec(data["A"], "A"),
                open_24h=dec(data["o"], "o"),
                high_24h=dec(data["h"], "h"),
                low_24h=dec(data["l"], "l"),
                volume_24h=dec(data["v"], "v"),
                quote_volume_24h=dec(data["q"], "q"),
                price_change_pct_24h=dec(data["P"], "P"),
                trade_count_24h=_count(data["n"], "n"),
                record_id=record_id(EXCHANGE, symbol, "ticker", event_time),
            )
        ]

    def _kline(self, data: _Payload, symbol: str, received_at: Millis) -> list[Item]:
        self._check_symbol(data, symbol)
        k = data["k"]
        closed = _flag(k["x"], "x")
        if not closed and not self._keep_open:
            return []
        interval = k["i"]
        if interval != self._interval:
            raise FrameError(f"field 'i' is not the subscribed interval: {interval!r}"[:200])
        event_time = epoch_millis(data["E"], "E")
        open_time = epoch_millis(k["t"], "t")
        rid = (
            record_id(EXCHANGE, symbol, "ohlcv", interval, open_time)
            if closed
            else record_id(EXCHANGE, symbol, "ohlcv", interval, open_time, event_time)
        )
        return [
            Candle(
                exchange=EXCHANGE,
                symbol=symbol,
                event_time=event_time,
                received_at=received_at,
                interval=interval,
                open_time=open_time,
                close_time=epoch_millis(k["T"], "T"),
                open=dec(k["o"], "o"),
                high=dec(k["h"], "h"),
                low=dec(k["l"], "l"),
                close=dec(k["c"], "c"),
                volume=dec(k["v"], "v"),
                quote_volume=dec(k["q"], "q"),
                trade_count=_count(k["n"], "n"),
                is_closed=closed,
                origin="ws",
                record_id=rid,
            )
        ]

    def _book(self, data: _Payload, symbol: str, received_at: Millis) -> list[Item]:
        """The partial book carries no timestamp: `event_time` is the local receive time."""
        sequence = data["lastUpdateId"]
        if type(sequence) is not int:
            raise FrameError(f"field 'lastUpdateId' is not an integer: {sequence!r}"[:200])
        return [
            BookSnapshot(
                exchange=EXCHANGE,
                symbol=symbol,
                event_time=received_at,
                received_at=received_at,
                depth=self._depth,
                bids=_levels(data["bids"], "bids"),
                asks=_levels(data["asks"], "asks"),
                sequence=sequence,
                record_id=record_id(EXCHANGE, symbol, "book", sequence),
            )
        ]

    def _trade(self, data: _Payload, symbol: str, received_at: Millis) -> list[Item]:
        return self._trade_row(data, symbol, received_at, "t", "trade")

    def _agg_trade(self, data: _Payload, symbol: str, received_at: Millis) -> list[Item]:
        return self._trade_row(data, symbol, received_at, "a", "aggTrade")

    def _trade_row(
        self, data: _Payload, symbol: str, received_at: Millis, id_field: str, kind: str
    ) -> list[Item]:
        self._check_symbol(data, symbol)
        trade_id = _count(data[id_field], id_field)
        buyer_is_maker = _flag(data["m"], "m")
        return [
            Trade(
                exchange=EXCHANGE,
                symbol=symbol,
                event_time=epoch_millis(data["T"], "T"),
                received_at=received_at,
                trade_id=str(trade_id),
                price=dec(data["p"], "p"),
                size=dec(data["q"], "q"),
                side="sell" if buyer_is_maker else "buy",  # the taker's side
                record_id=record_id(EXCHANGE, symbol, kind, trade_id),
            )
        ]


class BinanceSource:
    """The Binance Spot feed: one combined-stream connection per 1024 streams."""

    name = EXCHANGE

    def __init__(
        self,
        settings: BinanceSettings,
        *,
        clock: Clock = now_millis,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.stats = FeedStats()
        self.decoder = BinanceDecoder(settings)
        self.urls = plan_connections(settings.ws_url, stream_names(settings))
        self._clock = clock
        self._sleep = sleep
        interval_ms = INTERVAL_MS.get(settings.kline_interval)
        self.ledger = CandleLedger(interval_ms) if interval_ms else None
        self.rest = BinanceRest(settings.rest_url, clock=clock, sleep=sleep)
        self.backfill = (
            Backfiller(EXCHANGE, self.ledger, self.stats, self._fetch) if self.ledger else None
        )
        self._recent = RecentIds()
        self._dedupe_until = 0.0  # loop time; rows are de-duplicated while sessions overlap

    async def run(self, emit: Emit) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                if self.backfill is not None:
                    self.backfill.group = group
                for index, url in enumerate(self.urls):
                    group.create_task(self._connection(index, url, emit))
        except* SourceError as group_error:
            raise group_error.exceptions[0] from None
        finally:
            if self.backfill is not None:
                self.backfill.group = None
            await self.rest.aclose()

    # -- candles without holes ----------------------------------------------------------

    def _admit(self, items: list[Item], emit: Emit) -> list[Item]:
        """Drop closed candles already published; a jump in open times starts a backfill."""
        ledger, backfill = self.ledger, self.backfill
        if ledger is None or backfill is None:
            return items
        out: list[Item] = []
        for item in items:
            if type(item) is Candle and item.is_closed:
                fresh, gap = ledger.admit(item.symbol, item.open_time)
                if gap is not None:
                    backfill.later(gap, emit)
                if not fresh:
                    self.stats.extra["duplicate_candles"] += 1
                    continue
            out.append(item)
        return out

    @property
    def backfills_pending(self) -> int:
        return self.backfill.pending if self.backfill is not None else 0

    async def _fetch(self, gap: Gap) -> list[Item]:
        interval = self.settings.kline_interval
        native = native_symbol(gap.symbol)
        return await self.rest.klines(gap.symbol, native, interval, gap.start, gap.end)

    # -- connections ----------------------------------------------------------------------

    async def _connection(self, index: int, url: str, emit: Emit) -> None:
        """One planned connection, kept up for good and rotated before Binance's 24 h limit.

        At `rotate_seconds` a second session opens to the same streams; once it has delivered
        every ticker and book stream, the old one is closed. While both run, rows are
        de-duplicated by `record_id`, so nothing is missed and nothing is doubled.
        """
        loop = asyncio.get_running_loop()
        sessions: set[asyncio.Task[None]] = set()
        try:
            await self._rotate(index, url, emit, loop, sessions)
        finally:
            running = list(sessions)
            for task in running:  # the source is stopping: no session may outlive it
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _rotate(
        self,
        index: int,
        url: str,
        emit: Emit,
        loop: asyncio.AbstractEventLoop,
        sessions: set[asyncio.Task[None]],
    ) -> None:
        old: asyncio.Task[None] | None = None
        while True:
            ready = asyncio.Event()
            new = asyncio.create_task(self._session(index, url, emit, ready))
            sessions.add(new)
            new.add_done_callback(sessions.discard)
            if old is not None:
                self._dedupe_until = float("inf")
                try:
                    async with asyncio.timeout(max(30.0, self.settings.stale_seconds)):
                        await ready.wait()
                except TimeoutError:
                    log.warning("binance.rotation_unready connection=%d (closing old anyway)",
                                index)  # fmt: skip
                old.cancel()
                await asyncio.gather(old, return_exceptions=True)
                self._dedupe_until = loop.time() + 5.0  # late frames of the old session
                self.stats.extra["rotations"] += 1
                log.info("binance.rotated connection=%d", index)
            old = new
            done, _ = await asyncio.wait({new}, timeout=self.settings.rotate_seconds)
            if new in done:
                new.result()  # a SourceError ends the source; nothing else ends a session
                return

    def _dedupe(self, items: list[Item]) -> list[Item]:
        recent = self._recent
        return [i for i in items if isinstance(i, Reject) or recent.fresh(i.record_id)]

    async def _session(self, index: int, url: str, emit: Emit, ready: asyncio.Event) -> None:
        decoder, stats = self.decoder, self.stats
        loop = asyncio.get_running_loop()
        current: ClientConnection | None = None
        opened = checked = 0.0  # loop time, as the watchdog's limit is in real seconds
        seen: dict[str, float] = {}  # stream -> loop time of its newest frame
        # Streams that must tick on their own (a silent trade stream is a quiet market).
        watched = [n for n in url.split("streams=", 1)[1].split("/") if "@trade" not in n
                   and "@aggTrade" not in n and "@kline_" not in n]  # fmt: skip
        stale = self.settings.stale_seconds

        async def on_connect(ws: ClientConnection) -> None:
            nonlocal current, opened, checked
            current = ws
            opened = checked = loop.time()
            seen.clear()
            log.info("binance.streaming connection=%d of=%d", index, len(self.urls))
            if self.ledger is not None and self.backfill is not None:
                for symbol in self.settings.symbols:
                    gap = self.ledger.missing_after(symbol, self._clock())
                    if gap is not None:
                        self.backfill.later(gap, emit)

        async def on_frame(raw: str | bytes, received_at: Millis) -> None:
            nonlocal checked
            items = decoder.decode(raw, received_at)
            now = loop.time()
            if decoder.last_stream is not None:
                seen[decoder.last_stream] = now
                decoder.last_stream = None
                if not ready.is_set() and len(seen) >= len(watched):
                    ready.set()
            stats.count(items, received_at)
            if items:
                items = self._admit(items, emit)
                if items and now < self._dedupe_until:
                    items = self._dedupe(items)
                if items:
                    await emit(items)
            elif decoder.shutdown_requested and current is not None:
                stats.extra["server_shutdowns"] += 1
                log.warning("binance.server_shutdown connection=%d reconnecting", index)
                await current.close(1000, "serverShutdown")
                return
            if now - checked >= 1.0 and current is not None:
                checked = now
                silent = [n for n in watched if now - seen.get(n, opened) > stale]
                if silent:
                    stats.stalls += 1
                    log.warning("binance.stream_stale connection=%d streams=%s (reconnecting)",
                                index, ",".join(silent[:5]))  # fmt: skip
                    await current.close(1000, "stale stream")

        await run_websocket(
            url,
            source=EXCHANGE,
            setting=SETTING,
            on_connect=on_connect,
            on_frame=on_frame,
            stats=stats,
            clock=self._clock,
            stale_after=self.settings.stale_seconds,
            sleep=self._sleep,
        )
