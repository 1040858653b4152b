"""Kraken spot's asyncio shell (WebSocket v2): subscriptions that are never lost, books that
are resubscribed when their checksum fails, and trade holes filled from REST.

At start the feed reads `AssetPairs` once (each pair's precision, which the book checksum is
built with, and its REST name); then it opens one connection per `PAIRS_PER_CONNECTION` pairs.
Each connection, once open, asks for `book` (the depth setting, with its snapshot), `trade`,
`ticker` and `ohlc` (1 minute) for its pairs: one `subscribe` request per channel, each with
a `req_id`, paced under `MESSAGES_PER_SECOND`.

Kraken's message rate limit is "dynamic" and undocumented; a request over it is answered
`Exceeded msg rate`. The session therefore keeps every (channel, pair) it asked for as
*pending* until the venue acknowledges it (`success`, or `Already subscribed`): on a rate-limit
answer it waits (`retry.backoff_delay`, growing with each one in a row) and then asks again for
every pending subscription; an acknowledgement that never comes is asked again after
`ACK_SECONDS`. Only a refusal for another reason (an unknown pair) ends a subscription, logged
and kept as a reject. A book whose checksum failed is unsubscribed and subscribed again (a new
snapshot), through the same pending set.

Heartbeats (about once a second when nothing else is sent) keep every connection talking: a
connection silent for `stale_seconds` is reconnected by the watchdog, and every read runs the
session's control step. Trade ids that skip ahead (a reconnect, a lost frame) are fetched from
`/0/public/Trades` by time and kept by id (`TradeBackfiller`). Closed candles go through a
`CandleLedger`; what closed while a connection was down (or what the stream skipped) is fetched
from `/0/public/OHLC` (`Backfiller`, on the trade backfill's semaphore).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import replace

import orjson

from streamer.records import Item
from streamer.retry import Sleep, backoff_delay
from streamer.selectors import Selector, choose
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
from streamer.venues.kraken.decode import ALIVE, KrakenDecoder
from streamer.venues.kraken.rest import TICKER, KrakenRest, PairInfo, listings, quote_volumes
from streamer.venues.kraken.settings import KrakenSettings
from streamer.venues.kraken.symbols import EXCHANGE, rest_pair, ws_symbol

log = logging.getLogger(__name__)

CLOSE_SETTLE_MS = 1_000  # wait after a candle closes before asking REST for it

SETTING = "STREAMER_KRAKEN_WS_URL"
CHANNELS = ("book", "trade", "ticker", "ohlc")
PAIRS_PER_CONNECTION = 20  # no v2 limit is documented; cryptofeed's v1 client uses 20 (verify)
MESSAGES_PER_SECOND = 5  # our requests on one connection (the venue's limit is dynamic)
ACK_SECONDS = 10.0  # a request not acknowledged this long is asked again
CONNECT_ATTEMPTS, CONNECT_WINDOW_SECONDS = 10, 10.0
OHLC_MINUTES = 1
CANDLE_MS = OHLC_MINUTES * 60_000
Key = tuple[str, str]  # (channel, normalized pair)


def plan_pairs(symbols: Sequence[str]) -> list[tuple[str, ...]]:
    step = PAIRS_PER_CONNECTION
    return [tuple(symbols[i : i + step]) for i in range(0, len(symbols), step)]


class KrakenSource(Feed):
    """The Kraken spot feed (`kraken`)."""

    settings: KrakenSettings
    rest: KrakenRest
    ledger: CandleLedger
    backfill: Backfiller

    def __init__(
        self,
        settings: KrakenSettings,
        *,
        clock: Clock = now_millis,
        sleep: Sleep = asyncio.sleep,
        rediscovery: Rediscovery | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(EXCHANGE, settings, clock=clock, sleep=sleep, rediscovery=rediscovery)
        self.rng = rng or random.Random()
        self.trade_gaps = TradeGaps()
        self.sessions: list[_Session] = []
        self.infos: dict[str, PairInfo] = {}
        self.rest = KrakenRest(settings.rest_url, clock=clock, sleep=sleep,
                               counts=self.stats.extra)  # fmt: skip
        fetches = asyncio.Semaphore(MAX_FETCHES)  # every REST backfill of this source together
        self.trade_backfill = TradeBackfiller(EXCHANGE, self.trade_gaps, self.stats,
                                              self._fetch_trades, fetches, sleep=sleep)  # fmt: skip
        self.ledger = CandleLedger(CANDLE_MS)
        self.backfill = Backfiller(EXCHANGE, self.ledger, self.stats, self._fetch_candles,
                                   fetches=fetches)  # fmt: skip
        self.attempts = AttemptWindow(CONNECT_ATTEMPTS, CONNECT_WINDOW_SECONDS)

    def decoder_for(self, symbols: Iterable[str]) -> KrakenDecoder:
        s = self.settings
        decoder = KrakenDecoder(symbols, depth=s.book_depth, levels=s.book_levels,
                                book_updates=s.book_updates,
                                keep_open_candles=s.keep_open_candles, stats=self.stats,
                                trade_gaps=self.trade_gaps)  # fmt: skip
        self._precise(decoder)
        return decoder

    def _precise(self, decoder: KrakenDecoder) -> None:
        for symbol in decoder.books.books:
            info = self.infos.get(symbol)
            if info is not None:
                decoder.books.set_precision(symbol, info.price_decimals, info.qty_decimals)

    def grouped(self) -> Iterable[Grouped]:
        return (self.trade_backfill, self.backfill)

    def start(self, group: asyncio.TaskGroup, emit: Emit) -> None:
        group.create_task(self._begin(group, emit))

    async def _begin(self, group: asyncio.TaskGroup, emit: Emit) -> None:
        """`AssetPairs` first (each pair's precision), then the connections."""
        try:
            self.infos = {info.symbol: info for info in await self.rest.pairs()}
        except Exception as exc:
            self.stats.extra["asset_pairs_failed"] += 1
            log.error("kraken.asset_pairs_failed error=%s (checksums use the text as sent)",
                      type(exc).__name__)  # fmt: skip
        for symbols in plan_pairs(self.settings.symbols):
            self._open(group, symbols, emit)

    def _open(self, group: asyncio.TaskGroup, symbols: tuple[str, ...], emit: Emit) -> None:
        session = _Session(self, self.decoder_for(symbols), symbols, emit)
        self.sessions.append(session)
        session.task = group.create_task(self._connection(session))

    async def _connection(self, session: _Session) -> None:
        await run_websocket(
            self.settings.ws_url,
            source=EXCHANGE,
            setting=SETTING,
            on_connect=session.on_connect,
            on_frames=session.on_frames,
            stats=self.stats,
            clock=self._clock,
            stale_after=self.settings.stale_seconds,
            sleep=self._sleep,
            attempts=self.attempts,
        )

    async def listed(self, selector: Selector) -> tuple[tuple[str, ...], int]:
        return await symbols(self.rest, selector)

    def subscribe(self, symbols: Sequence[str], emit: Emit) -> None:
        held = set(self.settings.symbols)
        new = [s for s in symbols if s not in held]
        if not new or self._group is None:
            return
        self.settings = replace(self.settings, symbols=(*self.settings.symbols, *new))
        for group in plan_pairs(new):
            self._open(self._group, group, emit)
            log.info("kraken.connection_added pairs=%s", ",".join(group))

    async def unsubscribe(self, symbols: Sequence[str]) -> None:
        gone = set(symbols)
        self.settings = replace(
            self.settings, symbols=tuple(s for s in self.settings.symbols if s not in gone)
        )
        for session in self.sessions:
            removed = [s for s in session.symbols if s in gone]
            if removed:
                await session.drop(removed)

    def _pair(self, symbol: str) -> str:
        info = self.infos.get(symbol)
        return info.altname if info is not None else rest_pair(symbol)

    async def _fetch_trades(self, symbol: str, holes: list[Hole]) -> list[Item]:
        ids = self.trade_gaps.tracks[symbol].record_id
        return await self.rest.trades(symbol, self._pair(symbol), ids, holes)

    # -- candles without holes (CandleLedger, Backfiller) --------------------------------

    def backfill_missed(self, decoder: KrakenDecoder, symbols: Iterable[str], emit: Emit) -> None:
        """After a (re)connect: fetch every candle that closed since the newest published. A
        candle the decoder held open whose minute has ended is let go: its last state may be
        stale, and either the `ohlc` snapshot brings it again, final, or this fetch does (kept
        while nothing of its pair was published: no fetch would know where to start)."""
        now = self._clock()
        for symbol, (candle, _) in list(decoder.candles.items()):
            if candle.open_time + CANDLE_MS <= now and symbol in self.ledger.newest:
                del decoder.candles[symbol]
        for gap in self.ledger.missing(symbols, now):
            self.backfill.later(gap, emit)

    async def _fetch_candles(self, gap: Gap) -> list[Item]:
        settle = gap.end + CANDLE_MS + CLOSE_SETTLE_MS - self._clock()
        if settle > 0:  # a minute that closed this instant: let the venue finalize it first
            await self._sleep(settle / 1000)
        pair = self._pair(gap.symbol)
        return await self.rest.candles(gap.symbol, pair, OHLC_MINUTES, gap.start, gap.end)


async def symbols(rest: KrakenRest, selector: Selector) -> tuple[tuple[str, ...], int]:
    """(the pairs `selector` picks, how many trade), from `AssetPairs` (and `Ticker` for
    `top:N`)."""
    infos = await rest.pairs()
    volumes = quote_volumes(await rest.public(TICKER, {})) if selector.top else {}
    listed = listings(infos, volumes)
    return choose(listed, selector), sum(1 for item in listed if item.trading)


class _Session(FeedSession):
    """One connection: its pairs, the subscriptions not yet acknowledged, and its pacing."""

    feed: KrakenSource
    decoder: KrakenDecoder

    def __init__(
        self, source: KrakenSource, decoder: KrakenDecoder, symbols: tuple[str, ...], emit: Emit
    ) -> None:
        super().__init__(source, decoder, (ALIVE,), emit, len(source.sessions))
        self.symbols = symbols
        self.task: asyncio.Task[None] | None = None
        self.pending: dict[Key, float | None] = {}
        """Subscriptions asked for and not acknowledged: when last asked (None: to ask)."""
        self.resume_at = 0.0  # no request before this (a rate-limit answer's back-off)
        self.rate_limits = 0  # rate-limit answers in a row
        self.messages = AttemptWindow(MESSAGES_PER_SECOND, 1.0)
        self._req_id = 0

    async def connected(self, ws: WsConnection) -> None:
        self.decoder.reset()
        self.pending = {(c, s): None for c in CHANNELS for s in self.symbols}
        self.resume_at = 0.0
        self.feed.backfill_missed(self.decoder, self.symbols, self.emit)
        await self._ask(ws)
        log.info("kraken.subscribing connection=%d pairs=%s", self.index, ",".join(self.symbols))

    async def control(self, ws: WsConnection, flag: bool) -> bool:
        """Read the venue's answers, resubscribe failed books, ask again what is pending."""
        decoder = self.decoder
        now = self._loop.time()
        if decoder.answers:
            answers, decoder.answers = decoder.answers, []
            for answer in answers:
                key = (answer.channel, answer.symbol)
                if answer.rate_limited:
                    self._backoff(now)
                elif answer.method == "subscribe" and answer.channel and answer.symbol:
                    if answer.success or "Already subscribed" in (answer.error or ""):
                        self.pending.pop(key, None)  # type: ignore[arg-type]
                        self.rate_limits = 0
                    else:
                        self.pending.pop(key, None)  # type: ignore[arg-type]
                        self.feed.stats.extra["subscriptions_refused"] += 1
        failed = decoder.books.failed
        if failed:
            gone = [s for s in failed if s in self.symbols]
            failed.clear()
            if gone:
                self.feed.stats.extra["book_resubscribes"] += len(gone)
                await self._send(ws, self._request("unsubscribe", "book", gone))
                for symbol in gone:
                    self.pending[("book", symbol)] = None
        if self.pending and now >= self.resume_at:
            await self._ask(ws)
        return False

    def _backoff(self, now: float) -> None:
        """`Exceeded msg rate`: nothing is asked for a while; then all pending, again."""
        wait = max(1.0, backoff_delay(self.rate_limits, self.feed.rng, first=2.0, cap=60.0))
        self.rate_limits += 1
        self.resume_at = now + wait
        self.pending = dict.fromkeys(self.pending)
        self.feed.stats.extra["rate_limited_ws"] += 1
        log.warning("kraken.rate_limited connection=%d wait=%.1fs pending=%d", self.index, wait,
                    len(self.pending))  # fmt: skip

    async def _ask(self, ws: WsConnection) -> None:
        """Ask (again) for every pending subscription not asked for within `ACK_SECONDS`."""
        now = self._loop.time()
        due: dict[str, list[str]] = {}
        for (channel, symbol), asked in self.pending.items():
            if asked is None or now - asked >= ACK_SECONDS:
                due.setdefault(channel, []).append(symbol)
        for channel, symbols in due.items():
            for symbol in symbols:
                self.pending[(channel, symbol)] = now
            await self._send(ws, self._request("subscribe", channel, symbols))

    def _request(self, method: str, channel: str, symbols: list[str]) -> str:
        params: dict[str, object] = {"channel": channel, "symbol": [ws_symbol(s) for s in symbols]}
        if channel == "book":
            params["depth"] = self.feed.settings.book_depth
        if channel == "ohlc":
            params["interval"] = OHLC_MINUTES
        if method == "subscribe" and channel in ("book", "trade", "ticker", "ohlc"):
            params["snapshot"] = True
        self._req_id += 1
        return orjson.dumps({"method": method, "params": params, "req_id": self._req_id}).decode()

    async def _send(self, ws: WsConnection, message: str) -> None:
        wait = self.messages.reserve(self._loop.time())
        if wait > 0:
            await self.feed._sleep(wait)
        await ws.send(message)

    async def drop(self, removed: list[str]) -> None:
        gone = set(removed)
        self.symbols = tuple(s for s in self.symbols if s not in gone)
        self.pending = {k: v for k, v in self.pending.items() if k[1] not in gone}
        if not self.symbols:
            if self.task is not None:
                self.task.cancel()
            return
        ws = self.ws
        if ws is not None and ws.close_code is None:
            for channel in CHANNELS:
                await self._send(ws, self._request("unsubscribe", channel, removed))
        log.info("kraken.unsubscribed pairs=%s", ",".join(removed))
