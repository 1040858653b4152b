"""Binance Spot combined-stream frames -> normalized rows (pure: no sockets, no `await`).

Every configured symbol gets four streams: `<s>@ticker`, `<s>@kline_<interval>`,
`<s>@depth<N>@100ms` and `<s>@trade` (or `<s>@aggTrade`), where `<s>` is the native symbol in
lower case (`BTC-USDT` -> `btcusdt`), as Binance requires. Read as *combined* streams, every
frame arrives wrapped as `{"stream": name, "data": payload}` and is routed by its stream name.

`BinanceDecoder.decode(raw, received_at)` turns one frame into rows or a single `Reject` and
never raises. The venue quirks it handles:

* Symbols map back to the configured ones through an explicit native -> normalized dict; a
  native symbol is never split into base and quote by guessing.
* The partial book `depth<N>` has no event time and no symbol: the symbol comes from the stream
  name, and `event_time` is the local receive time. With full books (`book_updates`) the diff
  stream `<s>@depth@100ms` is read instead and kept by `depth_diff.DepthBooks`, whose books
  give the `book_updates` rows and the published top N (`event_time` the diff's `E`).
* Trade ids (`t`, `a`) count up by one per symbol: each symbol's newest is tracked
  (`trade_gaps`), a repeated trade is dropped, and a jump leaves a hole the shell backfills.
* Trades' `m` means "the buyer is the maker", so `m=true` is a taker *sell*.
* Klines are emitted once closed (`x=true`) unless `keep_open_candles` is set; a closed candle's
  `record_id` leaves the event time out, so a later REST backfill of it de-duplicates.
* Control replies (`{"result":..,"id":..}`) yield nothing; venue errors become a `Reject` with
  the venue's message; `serverShutdown` sets `shutdown_requested`, and the shell then closes
  that connection so `run_websocket` opens a fresh one.

Stream names and the candle ledger's decisions are in `streams.py`, field checks and trade
rows (shared with REST) in `fields.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import msgspec

from streamer.errors import ConfigError, FrameError
from streamer.ids import record_id_seed, record_ids
from streamer.logsafe import shown
from streamer.records import Item, Millis, Reject, book_snapshot
from streamer.sources.base import (
    FRAME_FAILURES,
    FeedStats,
    guarded,
    json_object,
    reason_for,
    reject,
)
from streamer.sources.depth_diff import DepthBooks
from streamer.sources.trade_gaps import SymbolTrades, TradeGaps
from streamer.timefmt import epoch_millis
from streamer.venues.binance.fields import (
    EXCHANGE,
    as_sent,
    fast_trade,
    flag,
    kline_row,
    levels,
    numbers,
    ticker_row,
    trade_row,
)
from streamer.venues.binance.settings import BinanceSettings
from streamer.venues.binance.streams import (
    SPOT_CHAIN,
    native_symbol,
    stream_names,
    symbol_streams,
    ticking_streams,
)
from streamer.venues.binance.wire import (
    AGG_TRADE,
    DEPTH,
    DIFF,
    TRADE,
    WireAggTrade,
    WireDepth,
    WireDepthUpdate,
    stream_of,
)

log = logging.getLogger(__name__)
__all__ = [
    "EXCHANGE",
    "BinanceDecoder",
    "native_symbol",
    "stream_names",
    "symbol_streams",
    "ticking_streams",
    "trade_row",
]

SHUTDOWN_STREAM = "!serverShutdown"

_new_row = tuple.__new__
"""Builds a row from a tuple in field order: a third of a keyword `Trade(...)`'s cost."""
_Payload = dict[str, Any]
_Handler = Callable[[_Payload, str, Millis], list[Item]]
_TradeRoute = tuple[msgspec.json.Decoder[Any], str, str, str, SymbolTrades, Any]
"""A trade stream's (decoder, stream, symbol, native symbol, trade ids, record-id seed)."""


class BinanceDecoder:
    """Combined-stream frames -> rows. Its state: each symbol's newest trade id (`trade_gaps`),
    the full books (`books`, when kept) and `shutdown_requested`."""

    def __init__(self, settings: BinanceSettings, stats: FeedStats | None = None) -> None:
        self.stats = FeedStats() if stats is None else stats
        self._settings = settings
        self._interval = settings.kline_interval
        self._depth = settings.depth
        self._keep_open = settings.keep_open_candles
        self._symbols: dict[str, str] = {}  # native -> normalized, the only way back
        self._id_field = "a" if settings.trades == "aggTrade" else "t"
        self._book_ids: dict[str, Callable[[object], str]] = {}
        self._routes: dict[str, tuple[_Handler, str]] = {SHUTDOWN_STREAM: (self._shutdown, "")}
        self._fast: dict[str | bytes | None, tuple[msgspec.json.Decoder[Any], str, str]] = {}
        self._trade_streams: dict[str | bytes | None, _TradeRoute] = {}
        """`decode_read`'s inlined trade path, by stream name (bytes, as frames start)."""
        self.heard: set[str] = set()
        """Streams that delivered a frame in `decode_read` (the shell clears it)."""
        self.trade_gaps = TradeGaps()
        """Each symbol's newest trade id and the holes behind it (the shell backfills them)."""
        self._trades: dict[str, SymbolTrades] = {}
        self.books = (
            DepthBooks(EXCHANGE, (), settings.depth, self.stats, self._book_ids, SPOT_CHAIN)
            if settings.book_updates
            else None
        )
        """The full books kept from the diff stream (`STREAMER_BINANCE_BOOK_UPDATES`)."""
        self.add_symbols(settings.symbols)
        self.shutdown_requested = False
        """True when the last decoded frame was `serverShutdown`: close and reconnect."""
        self.last_stream: str | None = None
        """Stream of the last decoded frame (the shell's per-stream watchdog reads it)."""

    def add_symbols(self, symbols: Iterable[str]) -> None:
        """Decode the streams of `symbols` too (at start, and for new listings)."""
        settings = self._settings
        new = [symbol for symbol in symbols if symbol not in self._trades]
        for symbol in new:
            native = native_symbol(symbol)
            if native in self._symbols:
                raise ConfigError(
                    "STREAMER_BINANCE_SYMBOLS",
                    f"{self._symbols[native]} and {symbol} are both {native} on Binance",
                    "List only one of them.",
                )
            self._symbols[native] = symbol
        trades = partial(self._trade_row, self._id_field)
        book = self._book if self.books is None else self._diff
        handlers: tuple[_Handler, ...] = (self._ticker, self._kline, book, trades)
        trade_decoder = AGG_TRADE if settings.trades == "aggTrade" else TRADE
        book_decoder = DEPTH if self.books is None else DIFF
        for symbol in new:
            self._book_ids[symbol] = record_ids(EXCHANGE, symbol, "book")
            ids = record_ids(EXCHANGE, symbol, settings.trades)
            track = self._trades[symbol] = self.trade_gaps.track(symbol, ids)
            names = symbol_streams(symbol, settings)
            self._routes.update(zip(names, ((h, symbol) for h in handlers), strict=True))
            _, _, book_stream, trade = names
            for name, wire in ((book_stream, book_decoder), (trade, trade_decoder)):
                self._fast[name] = self._fast[name.encode()] = (wire, name, symbol)
            seed = record_id_seed(EXCHANGE, symbol, settings.trades)
            route = (trade_decoder, trade, symbol, native_symbol(symbol), track, seed)
            self._trade_streams[trade.encode()] = route
        if self.books is not None:
            self.books.add(new)

    def decode(self, raw: str | bytes, received_at: Millis) -> list[Item]:
        """One frame -> rows (possibly none), or exactly one `Reject`. Never raises.

        Trade and book frames, the most frequent, take a typed fast path (`binance_wire`);
        anything it does not take, or whose shape it refuses, goes the general way, which
        names the reason of a reject.
        """
        self.shutdown_requested = False
        try:
            fast = self._fast.get(stream_of(raw))
            if fast is not None:
                decoder, stream, symbol = fast
                try:
                    frame = decoder.decode(raw)
                except msgspec.MsgspecError:
                    return self._decode(raw, received_at)
                self.last_stream = stream
                data = frame.data
                if type(data) is WireDepth:
                    return self._book_from(symbol, data.lastUpdateId, data.bids, data.asks,
                                           received_at, as_sent)  # fmt: skip
                if type(data) is WireDepthUpdate:
                    return self._diff_from(symbol, data.s, data.U, data.u, data.b, data.a,
                                           data.E, received_at, as_sent)  # fmt: skip
                trade_id = data.a if type(data) is WireAggTrade else data.t
                return self._trade_from(symbol, data.s, trade_id, self._id_field, data.m,
                                        data.T, data.p, data.q, received_at)  # fmt: skip
            return self._decode(raw, received_at)
        except FRAME_FAILURES as exc:
            return [reject(EXCHANGE, reason_for(exc), raw, received_at)]

    def decode_read(self, payloads: list[bytes], received_at: Millis) -> list[Item]:
        """Every frame of one socket read -> its rows, in order: `decode` on each, with the
        trade frames (the most frequent) decoded inline, in one loop with no call per frame
        but msgspec's. Their streams are added to `heard`;
        `shutdown_requested` is True if any frame was `serverShutdown` (the rest of the read
        is still good data).

        The inlined path only takes a frame whose every check passes as it is (msgspec has
        checked each field's JSON type); anything else goes through `decode`, which names the
        reason of a reject, so both give the same rows and the same rejects.
        """
        rows: list[Item] = []
        heard = self.heard
        trades = self._trade_streams
        gaps = self.trade_gaps
        shutdown = False
        for raw in payloads:
            route = (  # the stream name, inline: `stream_of` costs a call per frame
                trades.get(raw[11 : raw.find(b'"', 11, 80)])
                if raw.startswith(b'{"stream":"')
                else None
            )
            if route is not None:
                decoder, stream, symbol, native, track, seed = route
                try:
                    data = decoder.decode(raw).data
                except msgspec.MsgspecError:
                    data = None
                if data is not None:
                    trade_id = data.a if type(data) is WireAggTrade else data.t
                    row = fast_trade(data, trade_id, EXCHANGE, symbol, native, track, gaps,
                                     seed, received_at)  # fmt: skip
                    if row is not None:
                        heard.add(stream)
                        if row is not False:
                            rows.append(row)
                        continue
            items = self.decode(raw, received_at)
            if self.last_stream is not None:
                heard.add(self.last_stream)
            if items:
                rows += items
            elif self.shutdown_requested:
                shutdown = True
        self.last_stream = None
        self.shutdown_requested = shutdown
        return rows

    # -- frames ---------------------------------------------------------------------------

    def _decode(self, raw: str | bytes, received_at: Millis) -> list[Item]:
        msg = json_object(raw)
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
            log.info(
                "binance.control_reply id=%s result=%s", shown(msg.get("id")), shown(msg["result"])
            )
            return []
        error = msg.get("error", msg)  # seen on the wire nested; documented flat
        if type(error) is dict and "msg" in error:
            text = f"venue error {error.get('code')!r}: {error['msg']}"
            log.error("binance.venue_error id=%s error=%s", shown(msg.get("id")), shown(text))
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
        return [ticker_row(data, symbol, received_at)]

    def _kline(self, data: _Payload, symbol: str, received_at: Millis) -> list[Item]:
        self._check_symbol(data, symbol)
        k = data["k"]
        closed = flag(k["x"], "x")
        if not closed and not self._keep_open:
            return []
        interval = k["i"]
        if interval != self._interval:
            raise FrameError(f"field 'i' is not the subscribed interval: {interval!r}"[:200])
        return [kline_row(data, k, interval, closed, symbol, received_at)]

    def _book(self, data: _Payload, symbol: str, received_at: Millis) -> list[Item]:
        bids, asks = data["bids"], data["asks"]
        return self._book_from(symbol, data["lastUpdateId"], bids, asks, received_at, levels)

    def _book_from(
        self,
        symbol: str,
        sequence: object,
        bids: Any,
        asks: Any,
        received_at: Millis,
        shape: Callable[[Any, str], Any],
    ) -> list[Item]:
        """The partial book carries no timestamp: `event_time` is the local receive time.
        `shape` checks that each side is a list of [price, size] (the fast path's sides were
        checked while parsed) before the numbers are."""
        if type(sequence) is not int:
            raise FrameError(f"field 'lastUpdateId' is not an integer: {sequence!r}"[:200])
        measured = shape is as_sent  # parsed by the wire struct, lengths checked
        return [
            book_snapshot(EXCHANGE, symbol, received_at, received_at, self._depth,
                          numbers(shape(bids, "bids"), "bids", measured),
                          numbers(shape(asks, "asks"), "asks", measured),
                          sequence, self._book_ids[symbol](sequence))
        ]  # fmt: skip

    def _diff(self, data: _Payload, symbol: str, received_at: Millis) -> list[Item]:
        """`<s>@depth@100ms` the general way (the fast path is in `decode`)."""
        if data.get("e") != "depthUpdate":
            raise FrameError(f"field 'e' is not depthUpdate: {data.get('e')!r}"[:200])
        return self._diff_from(symbol, data["s"], data["U"], data["u"], data["b"], data["a"],
                               data["E"], received_at, levels)  # fmt: skip

    def _diff_from(
        self,
        symbol: str,
        native: object,
        first: object,
        final: object,
        bids: Any,
        asks: Any,
        event_time: object,
        received_at: Millis,
        shape: Callable[[Any, str], Any],
    ) -> list[Item]:
        """A diff event, checked, to the symbol's full book (`depth_diff`)."""
        if type(native) is not str or self._symbols.get(native) != symbol:
            raise FrameError(f"unknown symbol {native!r} on the stream of {symbol}"[:200])
        for value, name in ((first, "U"), (final, "u")):
            if type(value) is not int or value < 0:
                raise FrameError(f"field {name!r} is not an update id: {value!r}"[:200])
        if type(first) is not int or type(final) is not int or first > final:
            raise FrameError(f"update ids U={first!r} > u={final!r}"[:200])
        books = self.books
        assert books is not None  # the diff stream is read only for full books
        measured = shape is as_sent  # parsed by the wire struct, lengths checked
        return books.event(symbol, first, final, numbers(shape(bids, "b"), "b", measured),
                           numbers(shape(asks, "a"), "a", measured),
                           epoch_millis(event_time, "E"), received_at)  # fmt: skip

    def depth_snapshot(self, symbol: str, body: bytes, received_at: Millis) -> list[Item]:
        """A `GET /api/v3/depth` answer for `symbol`'s full book: the rows of the book it
        starts (none if too old: asked again), or one Reject (asked again too)."""

        def decode(raw: str | bytes, at: Millis) -> list[Item]:
            msg = json_object(raw)
            last_id = msg["lastUpdateId"]
            if type(last_id) is not int:
                raise FrameError(f"field 'lastUpdateId' is not an integer: {last_id!r}"[:200])
            bids = numbers(levels(msg["bids"], "bids"), "bids")
            asks = numbers(levels(msg["asks"], "asks"), "asks")
            assert self.books is not None
            return self.books.snapshot(symbol, last_id, bids, asks, at)

        items = guarded(f"{EXCHANGE}:rest", decode, body, received_at)
        if items and type(items[0]) is Reject and self.books is not None:
            self.books.want(symbol)
        return items

    def _trade_row(
        self, id_field: str, data: _Payload, symbol: str, received_at: Millis
    ) -> list[Item]:
        """`@trade` (id `t`) or `@aggTrade` (id `a`), the general way."""
        return self._trade_from(symbol, data["s"], data[id_field], id_field, data["m"],
                                data["T"], data["p"], data["q"], received_at)  # fmt: skip

    def _trade_from(
        self,
        symbol: str,
        native: object,
        trade_id: object,
        id_field: str,
        buyer_is_maker: object,
        event_time: object,
        price_text: object,
        size_text: object,
        received_at: Millis,
    ) -> list[Item]:
        """A live trade: checked, built, then its id tracked (`trade_gaps`); a repeat is not
        published."""
        if type(native) is not str or self._symbols.get(native) != symbol:
            raise FrameError(f"unknown symbol {native!r} on the stream of {symbol}"[:200])
        track = self._trades[symbol]
        row = trade_row(symbol, trade_id, id_field, buyer_is_maker, event_time, price_text,
                        size_text, received_at, track.record_id)  # fmt: skip
        if trade_id == track.last + 1:  # the next trade: the hot path
            track.last = trade_id
            track.last_time = event_time  # type: ignore[assignment]
        elif not self.trade_gaps.off_sequence(track, trade_id, event_time):  # type: ignore[arg-type]
            return []
        return [row]
