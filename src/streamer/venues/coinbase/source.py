"""Coinbase Advanced Trade market data (`wss://advanced-trade-ws.coinbase.com`), no API key.

One connection subscribes to `heartbeats` (without it quiet subscriptions close after 60-90 s)
and to `ticker`, `candles`, `level2` and `market_trades` for the configured products, one
channel per subscribe message, sent right after connecting (the venue closes a socket that has
not subscribed within 5 s).

Decoding, the local books, the candle ledger's decisions and the silence watchdog are pure
(`coinbase_decode`, `watchdog`); this module is the thin asyncio shell around them:
`run_websocket` for the connection, the level2 resubscribe the decoder asks for after a gap
or a crossed book, a task that emits the sampled books every `book_interval` seconds, and REST
fetches of the closed candles and of the trades missing between two trade ids.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace

import orjson

from streamer.records import Item
from streamer.retry import Sleep
from streamer.selectors import Selector
from streamer.sources.attempts import AttemptWindow
from streamer.sources.backfill import MAX_FETCHES, Backfiller
from streamer.sources.base import Clock, Emit
from streamer.sources.candles import CandleLedger, Gap
from streamer.sources.feed import Feed, FeedSession, Grouped
from streamer.sources.rediscovery import Rediscovery
from streamer.sources.trade_backfill import TradeBackfiller
from streamer.sources.trade_gaps import Hole, TradeGaps
from streamer.sources.transport import WsConnection
from streamer.sources.wsconnect import run_websocket
from streamer.timefmt import now_millis
from streamer.venues.coinbase.decode import EXCHANGE, CoinbaseDecoder, closed_candle_gaps
from streamer.venues.coinbase.listings import symbols as listed
from streamer.venues.coinbase.rest import CANDLE_MS, CoinbaseRest
from streamer.venues.coinbase.settings import CoinbaseSettings

log = logging.getLogger(__name__)

PRODUCT_CHANNELS = ("ticker", "candles", "level2", "market_trades")
CLOSE_SETTLE_SECONDS = 1.0  # wait after a candle closes before asking REST for it
RESYNC_MIN_SECONDS = 1.0  # at most one level2 resubscribe (two messages) per second
L2_PRODUCTS_PER_CONNECTION = 16  # undocumented cap: 32 products fail with "too many L2 streams"
CONNECT_SPACING_SECONDS = 1.0  # connections start this far apart: each sends 5 subscribes
MESSAGES_PER_SECOND = 7  # all connections' messages together, under the 8 a second per IP
CONNECT_ATTEMPTS_PER_SECOND = 6  # all reconnects together, under the venue's 8 a second


def subscribe_messages(symbols: Iterable[str]) -> list[str]:
    """The subscribe frames sent after each connect: heartbeats, then one per product channel."""
    products = list(symbols)
    messages: list[dict[str, object]] = [{"type": "subscribe", "channel": "heartbeats"}]
    messages += [
        {"type": "subscribe", "product_ids": products, "channel": channel}
        for channel in PRODUCT_CHANNELS
    ]
    return [orjson.dumps(m).decode() for m in messages]


def resubscribe_level2(symbols: Iterable[str]) -> list[str]:
    """Unsubscribe and subscribe `level2` again: the venue answers with fresh snapshots."""
    products = list(symbols)
    return [
        orjson.dumps({"type": kind, "product_ids": products, "channel": "level2"}).decode()
        for kind in ("unsubscribe", "subscribe")
    ]


def plan_products(symbols: Iterable[str]) -> list[tuple[str, ...]]:
    """Products per connection: at most `L2_PRODUCTS_PER_CONNECTION` (level2's session cap)."""
    products = list(symbols)
    step = L2_PRODUCTS_PER_CONNECTION
    return [tuple(products[i : i + step]) for i in range(0, len(products), step)]


class CoinbaseSource(Feed):
    """The Advanced Trade feed: one WebSocket connection per 16 products (each with its own
    sequence numbers, so its own decoder) plus a book-sampling task."""

    settings: CoinbaseSettings
    rest: CoinbaseRest
    ledger: CandleLedger
    backfill: Backfiller

    def __init__(
        self,
        settings: CoinbaseSettings,
        *,
        clock: Clock = now_millis,
        sleep: Sleep = asyncio.sleep,
        rediscovery: Rediscovery | None = None,
    ) -> None:
        super().__init__(EXCHANGE, settings, clock=clock, sleep=sleep, rediscovery=rediscovery)
        self.groups = plan_products(settings.symbols)
        self.trade_gaps = TradeGaps()  # one for every connection's decoder: products differ
        self.decoders = [
            CoinbaseDecoder(replace(settings, symbols=group), self.stats, self.trade_gaps)
            for group in self.groups
        ]
        self.sessions: list[_Session] = []
        self.ledger = CandleLedger(CANDLE_MS)
        self.rest = CoinbaseRest(
            settings.rest_url, clock=clock, sleep=sleep, counts=self.stats.extra
        )
        fetches = asyncio.Semaphore(MAX_FETCHES)  # every REST backfill of this source together
        self.backfill = Backfiller(
            EXCHANGE, self.ledger, self.stats, self._fetch_closed, fetches=fetches
        )
        self.trade_backfill = TradeBackfiller(
            EXCHANGE, self.trade_gaps, self.stats, self._fetch_trades, fetches, sleep=sleep
        )
        self.attempts = AttemptWindow(CONNECT_ATTEMPTS_PER_SECOND, 1.0)
        self.messages = AttemptWindow(MESSAGES_PER_SECOND, 1.0)

    @property
    def decoder(self) -> CoinbaseDecoder:
        """The first connection's decoder (all of them when there are 16 products or fewer)."""
        return self.decoders[0]

    def grouped(self) -> Iterable[Grouped]:
        return (self.trade_backfill, self.backfill)

    def start(self, group: asyncio.TaskGroup, emit: Emit) -> None:
        group.create_task(self._publish_books(emit))
        for index, decoder in enumerate(self.decoders):
            self._start(_Session(self, decoder, self.groups[index], emit), index)

    async def listed(self, selector: Selector) -> tuple[tuple[str, ...], int]:
        return await listed(self.rest, selector)

    def _start(self, session: _Session, spacing: int) -> None:
        assert self._group is not None
        self.sessions.append(session)
        session.task = self._group.create_task(self._connection(spacing, session))

    # -- the market changes -------------------------------------------------------------

    def subscribe(self, products: Sequence[str], emit: Emit) -> None:
        """New listings: new connections of their own (16 products each), opened one second
        apart; the running connections are left alone."""
        held = set(self.settings.symbols)
        products = [p for p in products if p not in held]
        if not products or self._group is None:
            return
        self.settings = replace(self.settings, symbols=(*self.settings.symbols, *products))
        for spacing, group in enumerate(plan_products(products)):
            decoder = CoinbaseDecoder(
                replace(self.settings, symbols=group), self.stats, self.trade_gaps
            )
            self.groups.append(group)
            self.decoders.append(decoder)
            self._start(_Session(self, decoder, group, emit), spacing)
            log.info("coinbase.connection_added products=%s", ",".join(group))

    async def unsubscribe(self, products: Sequence[str]) -> None:
        """Halted or delisted products: unsubscribed live from every channel on the connections
        that carry them, which keep running; a connection left with no product is closed."""
        gone = set(products)
        self.settings = replace(
            self.settings, symbols=tuple(p for p in self.settings.symbols if p not in gone)
        )
        for session in self.sessions:
            removed = [p for p in session.products if p in gone]
            if removed:
                await session.drop(removed)

    async def _connection(self, index: int, session: _Session) -> None:
        # Connections open gradually: the venue allows 8 connection attempts a second.
        if index:
            await self._sleep(index * CONNECT_SPACING_SECONDS)
        await run_websocket(
            self.settings.ws_url,
            source=EXCHANGE,
            setting="STREAMER_COINBASE_WS_URL",
            on_connect=session.on_connect,
            on_frames=session.on_frames,
            stats=self.stats,
            clock=self._clock,
            max_size=self.settings.max_frame_bytes,
            stale_after=self.settings.stale_seconds,
            sleep=self._sleep,
            attempts=self.attempts,
        )

    def admit(self, items: list[Item], emit: Emit) -> list[Item]:
        """Closed WebSocket candles are not published: each starts a REST fetch instead."""
        items, gaps = closed_candle_gaps(self.ledger, items)
        for gap in gaps:
            self.backfill.later(gap, emit)
        return items

    def backfill_missed(self, products: Iterable[str], emit: Emit) -> None:
        """After a (re)connect: fetch every candle that closed since the newest published."""
        for gap in self.ledger.missing(products, self._clock()):
            self.backfill.later(gap, emit)

    @property
    def backfills_pending(self) -> int:
        return self.backfill.pending

    async def _fetch_trades(self, symbol: str, holes: list[Hole]) -> list[Item]:
        record_id = self.trade_gaps.tracks[symbol].record_id
        return await self.rest.trades(symbol, record_id, holes)

    async def _fetch_closed(self, gap: Gap) -> list[Item]:
        newest = self.ledger.newest.get(gap.symbol)
        if newest is not None and newest >= gap.end:
            return []  # an earlier fetch already published these
        await self._sleep(CLOSE_SETTLE_SECONDS)  # let the venue finalize the candle
        return await self.rest.candles(gap.symbol, gap.start, gap.end)

    async def _publish_books(self, emit: Emit) -> None:
        interval = self.settings.book_interval
        while True:
            await self._sleep(interval)
            books = [book for decoder in self.decoders for book in decoder.books_due()]
            if books:
                self.stats.rows += len(books)
                await emit(books)


class _Session(FeedSession):
    """The connection's state: its socket, when level2 was last resubscribed, and the watchdog
    over the products' candles updates (the channel updates every product every second, so a
    product that goes quiet while the connection still delivers is a dead subscription)."""

    feed: CoinbaseSource
    decoder: CoinbaseDecoder

    def __init__(
        self,
        source: CoinbaseSource,
        decoder: CoinbaseDecoder,
        products: tuple[str, ...],
        emit: Emit,
    ) -> None:
        super().__init__(source, decoder, products, emit, len(source.sessions))
        self.products = products
        self.subscribe = subscribe_messages(products)
        self.resubscribe = resubscribe_level2(products)
        self.task: asyncio.Task[None] | None = None
        self.last_resync = 0.0

    async def _send(self, ws: WsConnection, message: str) -> None:
        """Send within the venue's 8 unauthenticated messages a second per IP, shared by
        every connection (a burst of subscribes would get them closed)."""
        wait = self.feed.messages.reserve(self._loop.time())
        if wait > 0:
            await self.feed._sleep(wait)
        await ws.send(message)

    async def drop(self, removed: list[str]) -> None:
        """Stop collecting `removed`: unsubscribed now (one message per channel, paced), left
        out of the next connection's subscribes, no longer watched."""
        gone = set(removed)
        self.products = tuple(p for p in self.products if p not in gone)
        self.watchdog.forget(removed)
        if not self.products:
            if self.task is not None:
                self.task.cancel()
            log.info("coinbase.connection_closed products=%s (none left)", ",".join(removed))
            return
        self.subscribe = subscribe_messages(self.products)
        self.resubscribe = resubscribe_level2(self.products)
        ws = self.ws
        if ws is not None:
            for channel in PRODUCT_CHANNELS:
                message = {"type": "unsubscribe", "product_ids": removed, "channel": channel}
                await self._send(ws, orjson.dumps(message).decode())
        log.info("coinbase.unsubscribed products=%s", ",".join(removed))

    async def connected(self, ws: WsConnection) -> None:
        self.decoder.reset()
        for message in self.subscribe:
            await self._send(ws, message)
        log.info("coinbase.subscribed products=%s", ",".join(self.products))
        self.feed.backfill_missed(self.products, self.emit)

    async def control(self, ws: WsConnection, flag: bool) -> bool:
        """Resubscribe level2 when the decoder dropped the books (at most once a second)."""
        if self.decoder.resync_requested:
            now = self._loop.time()
            if now - self.last_resync >= RESYNC_MIN_SECONDS:  # a gap storm stays under the limit
                self.last_resync = now
                self.decoder.resync_requested = False
                for message in self.resubscribe:  # two control messages; snapshots follow
                    await self._send(ws, message)
        return False
