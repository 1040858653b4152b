"""Binance USD-M combined-stream frames -> normalized rows (pure: no sockets, no `await`).

Streams, each routed by its combined-stream name (`usdm_streams`):

* `!markPrice@arr@1s`: the whole market's mark prices in one array a second, filtered to the
  selected symbols -> `derivative_tickers` (mark, index and estimated settle price, the
  predicted funding rate and the next funding time; a dated contract's `T` is 0 and its `r`
  empty or zero, so both funding columns are null for it).
* `!forceOrder@arr`: every symbol's liquidations, filtered -> `liquidations` (`side` the
  liquidated order's, `o.S`; price `o.p`, average price `o.ap`, quantity `o.q`, filled
  quantity `o.z`, status `o.X`, time `o.T`).
* `<s>@aggTrade` (id `a`) or `<s>@trade` (id `t`) -> `trades`, ids tracked for holes as on
  Spot. A `@trade` whose `X` is not `MARKET` (an insurance-fund, ADL or `NA` fill) is tracked
  but not published, as tardis does; `aggTrade` carries no `X`, so its rows include them.
* `<s>@depth@100ms` -> `book_updates` and `order_books` through `depth_diff.DepthBooks` with
  the futures chain rule (`usdm_streams.PREVIOUS_ID_CHAIN`); `depth_snapshot` takes the
  `GET /fapi/v1/depth?limit=1000` answers the books ask for.
* `<s>@kline_<interval>` -> `ohlcv` as on Spot (`fields.kline_row`): closed candles (`x`
  true) only, unless `keep_open_candles`; the shell's ledger drops repeats and backfills holes.
* `<s>@ticker` -> `tickers` (`fields.ticker_row`): futures' `24hrTicker` carries no best bid
  or ask, so those columns are null (the top of the book is in `order_books`, every 100 ms).

Klines and tickers go the general way (`json_object`), not through msgspec structs: a symbol
sends at most four klines and one ticker a second, against ten diff events and its trades.

`decode(raw, received_at)` never raises: a bad frame is one `Reject` (reason and raw text). In
an all-market array, a selected symbol's bad element is a `Reject` of its own (the rest of the
array is still good data); another symbol's element is not looked at beyond its `s`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import orjson

from streamer.errors import ConfigError, FrameError
from streamer.ids import record_id_seed, record_ids
from streamer.logsafe import shown
from streamer.records import Item, Millis, Reject
from streamer.sources.base import FRAME_FAILURES, FeedStats, guarded, json_object, reason_for
from streamer.sources.base import reject as make_reject
from streamer.sources.depth_diff import DepthBooks
from streamer.sources.trade_gaps import SymbolTrades, TradeGaps
from streamer.timefmt import epoch_millis
from streamer.venues.binance.fields import (
    as_sent,
    fast_trade,
    flag,
    kline_row,
    levels,
    numbers,
    ticker_row,
    trade_row,
)
from streamer.venues.binance.usdm_rows import liquidation_row, mark_price_row, typed_mark_rows
from streamer.venues.binance.usdm_streams import (
    EXCHANGE_USDM,
    LIQUIDATION_STREAM,
    MARK_PRICE_STREAM,
    PREVIOUS_ID_CHAIN,
    depth_stream,
    kline_stream,
    native_symbol,
    ticker_stream,
    trade_stream,
)
from streamer.venues.binance.usdm_wire import (
    FUTURES_DIFF,
    MARK_PRICES,
    MarkPriceArrayFrame,
)
from streamer.venues.binance.wire import AGG_TRADE, FRAME_HEAD, stream_of

log = logging.getLogger(__name__)

TRADE_KINDS = ("aggTrade", "trade")
_Payload = Any
_Handler = Callable[[_Payload, str, Millis, str | bytes], list[Item]]
_new_row = tuple.__new__
"""Builds a row from a tuple in field order: a third of a keyword `Trade(...)`'s cost."""
_MARK_HEAD = FRAME_HEAD + MARK_PRICE_STREAM.encode() + b'"'
_AggTradeRoute = tuple[str, str, str, SymbolTrades, Any]
"""An `@aggTrade` stream's (stream, symbol, native symbol, trade ids, record-id seed)."""


class UsdmDecoder:
    """USD-M frames -> rows. Its state: each symbol's newest trade id (`trade_gaps`), the full
    books (`books`, when kept) and the stream of the last frame (`last_stream`)."""

    def __init__(
        self,
        symbols: Iterable[str],
        *,
        trades: str = "aggTrade",
        depth: int = 20,
        books: bool = True,
        kline_interval: str | None = None,
        tickers: bool = False,
        keep_open_candles: bool = False,
        stats: FeedStats | None = None,
    ) -> None:
        """`kline_interval` (None: no candles) and `tickers` add those streams of each symbol."""
        if trades not in TRADE_KINDS:
            raise ConfigError(
                "STREAMER_BINANCE_USDM_TRADES", f"{trades!r}", "Use aggTrade or trade."
            )
        self.stats = FeedStats() if stats is None else stats
        self._trades_kind = trades
        self._id_field = "a" if trades == "aggTrade" else "t"
        self._interval = kline_interval
        self._tickers = tickers
        self._keep_open = keep_open_candles
        self._symbols: dict[str, str] = {}  # native -> normalized, the only way back
        self._book_ids: dict[str, Callable[[object], str]] = {}
        self._trades: dict[str, SymbolTrades] = {}
        self._agg_trades: dict[bytes, _AggTradeRoute] = {}  # `decode_read`'s inlined path
        self._mark_ids: dict[str, Callable[[object], str]] = {}
        self._routes: dict[str, tuple[_Handler, str]] = {
            MARK_PRICE_STREAM: (self._mark_prices, ""),
            LIQUIDATION_STREAM: (self._liquidation, ""),
        }
        self.trade_gaps = TradeGaps()
        """Each symbol's newest trade id and the holes behind it (the shell backfills them)."""
        self.books = (
            DepthBooks(EXCHANGE_USDM, (), depth, self.stats, self._book_ids, PREVIOUS_ID_CHAIN)
            if books
            else None
        )
        """The full books kept from `<s>@depth@100ms` with the futures chain rule."""
        self.last_stream: str | None = None
        """Stream of the last decoded frame (the shell's per-stream watchdog reads it)."""
        self.heard: set[str] = set()
        """Streams that delivered since the shell last looked (`decode_read` adds them)."""
        self.add_symbols(symbols)

    def add_symbols(self, symbols: Iterable[str]) -> None:
        """Decode the streams of `symbols` (normalized: `BTC-USDT-PERP`) too."""
        new = [symbol for symbol in symbols if symbol not in self._trades]
        for symbol in new:
            native = native_symbol(symbol)
            if native in self._symbols:
                raise ConfigError(
                    "STREAMER_BINANCE_USDM_SYMBOLS",
                    f"{self._symbols[native]} and {symbol} are both {native} on Binance USD-M",
                    "List only one of them.",
                )
            self._symbols[native] = symbol
            self._book_ids[symbol] = record_ids(EXCHANGE_USDM, symbol, "book")
            ids = record_ids(EXCHANGE_USDM, symbol, self._trades_kind)
            track = self._trades[symbol] = self.trade_gaps.track(symbol, ids)
            handlers = (self._trade, self._diff, self._kline, self._ticker)
            for name, handler in zip(self.symbol_streams(symbol), handlers, strict=True):
                if name is not None:
                    self._routes[name] = (handler, symbol)
            if self._trades_kind == "aggTrade":
                stream = trade_stream(symbol, "aggTrade")
                seed = record_id_seed(EXCHANGE_USDM, symbol, "aggTrade")
                self._agg_trades[stream.encode()] = (stream, symbol, native, track, seed)
        if self.books is not None:
            self.books.add(new)

    def symbol_streams(self, symbol: str) -> tuple[str, str | None, str | None, str | None]:
        """`symbol`'s trade, depth, kline and ticker streams (None: not read)."""
        interval = self._interval
        return (
            trade_stream(symbol, self._trades_kind),
            depth_stream(symbol) if self.books is not None else None,
            kline_stream(symbol, interval) if interval is not None else None,
            ticker_stream(symbol) if self._tickers else None,
        )

    @property
    def streams(self) -> list[str]:
        """Every stream these symbols need: the two all-market ones, then per symbol."""
        return list(self._routes)

    def decode(self, raw: str | bytes, received_at: Millis) -> list[Item]:
        """One frame -> rows (possibly none), or a `Reject`. Never raises."""
        try:
            msg = json_object(raw)
            stream = msg.get("stream")
            if stream is None:
                return self._control(msg, raw, received_at)
            route = self._routes.get(stream) if type(stream) is str else None
            if route is None:
                raise FrameError(f"unsubscribed/unknown stream {stream!r}"[:200])
            handler, symbol = route
            self.last_stream = stream
            return handler(msg["data"], symbol, received_at, raw)
        except FRAME_FAILURES as exc:
            return [make_reject(EXCHANGE_USDM, reason_for(exc), raw, received_at)]

    def decode_read(self, payloads: list[bytes], received_at: Millis) -> list[Item]:
        """Every frame of one socket read -> its rows, in order; their streams join `heard`.

        Two fast paths, each taking only what passes every check as it is (else `decode`,
        which names a reject's reason; both give the same rows): `@aggTrade` frames inline,
        as Spot's `decode_read` does (one msgspec call per frame), and `!markPrice@arr@1s`
        parsed once, by its typed decoder only."""
        rows: list[Item] = []
        heard = self.heard
        agg_trades = self._agg_trades
        gaps = self.trade_gaps
        for raw in payloads:
            route = (  # the stream name, inline: `stream_of` costs a call per frame
                agg_trades.get(raw[11 : raw.find(b'"', 11, 80)])
                if raw.startswith(b'{"stream":"')
                else None
            )
            if route is not None:
                stream, symbol, native, track, seed = route
                try:
                    data = AGG_TRADE.decode(raw).data
                except msgspec.MsgspecError:
                    data = None
                if data is not None:
                    row = fast_trade(data, data.a, EXCHANGE_USDM, symbol,
                                     native, track, gaps, seed, received_at)  # fmt: skip
                    if row is not None:
                        heard.add(stream)
                        if row is not False:
                            rows.append(row)
                        continue
            elif raw.startswith(_MARK_HEAD):
                try:
                    frame = MARK_PRICES.decode(raw)
                except msgspec.MsgspecError:
                    frame = None
                if frame is not None:
                    heard.add(MARK_PRICE_STREAM)
                    rows += self._typed_marks(frame, received_at)
                    continue
            self.last_stream = None
            items = self.decode(raw, received_at)
            if self.last_stream is not None:
                heard.add(self.last_stream)
            if items:
                rows += items
        self.last_stream = None
        return rows

    def _control(self, msg: dict[str, Any], raw: str | bytes, received_at: Millis) -> list[Item]:
        if "result" in msg:
            log.info("binance_usdm.control_reply id=%s result=%s", shown(msg.get("id")),
                     shown(msg["result"]))  # fmt: skip
            return []
        error = msg.get("error", msg)
        if type(error) is dict and "msg" in error:
            text = f"venue error {error.get('code')!r}: {error['msg']}"
            log.error("binance_usdm.venue_error id=%s error=%s", shown(msg.get("id")), shown(text))
            return [make_reject(EXCHANGE_USDM, text, raw, received_at)]
        raise FrameError("frame is neither a combined stream event nor a control reply")

    def _symbol_of(self, native: object, symbol: str) -> str:
        """The configured symbol of a per-symbol stream's payload (its `s` must match)."""
        if type(native) is not str or self._symbols.get(native) != symbol:
            raise FrameError(f"unknown symbol {native!r} on the stream of {symbol}"[:200])
        return symbol

    # -- derivative tickers ---------------------------------------------------------------

    def _mark_prices(
        self, data: _Payload, _: str, received_at: Millis, raw: str | bytes
    ) -> list[Item]:
        """`!markPrice@arr@1s`: the selected symbols' elements, typed where they fit."""
        wanted = self._symbols
        try:
            frame = MARK_PRICES.decode(raw)
        except msgspec.MsgspecError:
            frame = None
        if frame is not None:
            return self._typed_marks(frame, received_at)
        if type(data) is not list:
            raise FrameError("field 'data' of the mark price stream is not an array")
        out: list[Item] = []
        for index, element in enumerate(data):
            if type(element) is not dict or type(element.get("s")) is not str:
                raise FrameError(f"element {index} is not a mark price event"[:200])
            symbol = wanted.get(element["s"])
            if symbol is not None:
                out += self._guarded_mark(element, symbol, received_at)
        return out

    def _typed_marks(self, frame: MarkPriceArrayFrame, received_at: Millis) -> list[Item]:
        return typed_mark_rows(frame, self._symbols, self._mark_ids, received_at,
                               self._guarded_mark)  # fmt: skip

    def _guarded_mark(self, item: Any, symbol: str, received_at: Millis) -> list[Item]:
        try:
            return [mark_price_row(item, symbol, received_at)]
        except FRAME_FAILURES as exc:
            text = (
                orjson.dumps(item).decode()
                if type(item) is dict
                else msgspec.json.encode(item).decode()
            )
            reason = f"{symbol}: {reason_for(exc)}"
            return [make_reject(EXCHANGE_USDM, reason, text, received_at)]

    # -- liquidations ---------------------------------------------------------------------

    def _liquidation(
        self, data: _Payload, _: str, received_at: Millis, raw: str | bytes
    ) -> list[Item]:
        """`!forceOrder@arr` (one event per frame, despite the name), filtered."""
        if type(data) is not dict or data.get("e") != "forceOrder":
            raise FrameError("field 'e' is not forceOrder")
        order = data["o"]
        if type(order) is not dict:
            raise FrameError("field 'o' is not an object")
        symbol = self._symbols.get(order["s"]) if type(order.get("s")) is str else None
        if symbol is None:
            if type(order.get("s")) is not str:
                raise FrameError(f"field 's' is not a symbol: {order.get('s')!r}"[:200])
            return []  # another symbol's liquidation
        return [liquidation_row(order, symbol, received_at)]

    # -- trades ---------------------------------------------------------------------------

    def _trade(
        self, data: _Payload, symbol: str, received_at: Millis, raw: str | bytes
    ) -> list[Item]:
        """`@aggTrade` or `@trade`: checked, built, its id tracked; a repeat is dropped."""
        if type(data) is not dict:
            raise FrameError("field 'data' is not an object")
        self._symbol_of(data["s"], symbol)
        id_field = self._id_field
        trade_id = data[id_field]
        track = self._trades[symbol]
        row = trade_row(symbol, trade_id, id_field, data["m"], data["T"], data["p"], data["q"],
                        received_at, track.record_id, EXCHANGE_USDM)  # fmt: skip
        kind = data.get("X", "MARKET")
        if type(kind) is not str:
            raise FrameError(f"field 'X' is not an order type: {kind!r}"[:200])
        if trade_id == track.last + 1:
            track.last = trade_id
            track.last_time = row.event_time
        elif not self.trade_gaps.off_sequence(track, trade_id, row.event_time):
            return []
        return [row] if kind == "MARKET" else []

    # -- candles and tickers --------------------------------------------------------------

    def _kline(
        self, data: _Payload, symbol: str, received_at: Millis, raw: str | bytes
    ) -> list[Item]:
        """`<s>@kline_<interval>`: a closed candle (an open one only if kept)."""
        if type(data) is not dict or data.get("e") != "kline":
            raise FrameError("field 'e' is not kline")
        self._symbol_of(data["s"], symbol)
        k = data["k"]
        if type(k) is not dict:
            raise FrameError("field 'k' is not an object")
        closed = flag(k["x"], "x")
        if not closed and not self._keep_open:
            return []
        interval = k["i"]
        if interval != self._interval:
            raise FrameError(f"field 'i' is not the subscribed interval: {interval!r}"[:200])
        return [kline_row(data, k, interval, closed, symbol, received_at, EXCHANGE_USDM)]

    def _ticker(
        self, data: _Payload, symbol: str, received_at: Millis, raw: str | bytes
    ) -> list[Item]:
        """`<s>@ticker`: the rolling 24 h statistics, without a best bid or ask."""
        if type(data) is not dict or data.get("e") != "24hrTicker":
            raise FrameError("field 'e' is not 24hrTicker")
        self._symbol_of(data["s"], symbol)
        return [ticker_row(data, symbol, received_at, EXCHANGE_USDM, quotes=False)]

    # -- books ----------------------------------------------------------------------------

    def _diff(
        self, data: _Payload, symbol: str, received_at: Millis, raw: str | bytes
    ) -> list[Item]:
        """`<s>@depth@100ms`: typed where it fits, else checked field by field."""
        try:
            event = FUTURES_DIFF.decode(raw).data
        except msgspec.MsgspecError:
            event = None
        if event is not None:
            return self._diff_from(symbol, event.s, event.U, event.u, event.pu, event.b,
                                   event.a, event.E, received_at, as_sent)  # fmt: skip
        if type(data) is not dict or data.get("e") != "depthUpdate":
            raise FrameError("field 'e' is not depthUpdate")
        return self._diff_from(symbol, data["s"], data["U"], data["u"], data["pu"], data["b"],
                               data["a"], data["E"], received_at, levels)  # fmt: skip

    def _diff_from(
        self, symbol: str, native: object, first: object, final: object, previous: object,
        bids: Any, asks: Any, event_time: object, received_at: Millis,
        shape: Callable[[Any, str], Any],
    ) -> list[Item]:  # fmt: skip
        self._symbol_of(native, symbol)
        for value, name in ((first, "U"), (final, "u"), (previous, "pu")):
            if type(value) is not int or value < 0:
                raise FrameError(f"field {name!r} is not an update id: {value!r}"[:200])
        assert type(first) is int and type(final) is int and type(previous) is int
        if first > final:
            raise FrameError(f"update ids U={first!r} > u={final!r}"[:200])
        books = self.books
        assert books is not None  # the diff stream is routed only for full books
        measured = shape is as_sent
        return books.event(symbol, first, final, numbers(shape(bids, "b"), "b", measured),
                           numbers(shape(asks, "a"), "a", measured),
                           epoch_millis(event_time, "E"), received_at, previous)  # fmt: skip

    def depth_snapshot(self, symbol: str, body: bytes, received_at: Millis) -> list[Item]:
        """A `GET /fapi/v1/depth` answer for `symbol`'s book: the rows of the book it starts
        (none if too old: asked again), or one Reject (asked again too)."""

        def decode(raw: str | bytes, at: Millis) -> list[Item]:
            msg = json_object(raw)
            last_id = msg["lastUpdateId"]
            if type(last_id) is not int or last_id < 0:
                raise FrameError(f"field 'lastUpdateId' is not an update id: {last_id!r}"[:200])
            bids = numbers(levels(msg["bids"], "bids"), "bids")
            asks = numbers(levels(msg["asks"], "asks"), "asks")
            assert self.books is not None
            return self.books.snapshot(symbol, last_id, bids, asks, at)

        items = guarded(f"{EXCHANGE_USDM}:rest", decode, body, received_at)
        if items and type(items[0]) is Reject and self.books is not None:
            self.books.want(symbol)
        return items


__all__ = ["EXCHANGE_USDM", "UsdmDecoder", "liquidation_row", "mark_price_row", "stream_of"]
