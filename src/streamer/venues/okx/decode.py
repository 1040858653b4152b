"""OKX v5 frames -> normalized rows (pure: no sockets, no `await`).

Every push is `{"arg": {"channel", "instId" | "instType"}, "data": [...]}` (books add
`action`); control replies carry `event` (`subscribe`, `unsubscribe`, `error`, `notice`); the
answer to our text `ping` is the text `pong`. Channels (`symbols`):

* `trades-all` -> `trades`, each id tracked for holes (`trade_gaps`; the shell backfills them).
* `books` -> `book_updates` and `order_books` through `depth_diff.DepthBooks` with the
  `prevSeqId` chain (`symbols.PREV_SEQ_CHAIN`). A message with `action: snapshot` replaces the
  book; otherwise the book starts from a REST snapshot (`rest_book`) and the buffer. `checksum`
  is not read (OKX sends 0 since 2026-06-23: "not sent", never a mismatch).
* `tickers` -> `tickers`; `candle1m` -> `ohlcv` (closed candles only, `confirm` "1").
* `mark-price`, `index-tickers`, `funding-rate`, `open-interest` -> `derivative_tickers`: one
  row per mark price, with the latest index price, predicted funding (`fundingRate` for the
  funding at `fundingTime`), open interest and last price of the swap (as tardis merges them).
  `open-interest` also gives an `open_interest` row (`oi`, in contracts).
* `liquidation-orders` (one subscription for every swap) -> `liquidations` of the selected
  swaps. OKX replays recent liquidations on subscribe: a liquidation seen already (by its
  `record_id`, among the last `LIQUIDATIONS_KEPT`) is dropped and counted.

`decode` never raises: a bad frame is one `Reject` (reason and raw text).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from streamer.errors import ConfigError, FrameError
from streamer.ids import record_id, record_ids
from streamer.logsafe import shown
from streamer.numbers import NON_NEGATIVE, POSITIVE, book_numbers, dec, opt_dec
from streamer.records import (
    Dec,
    DerivativeTicker,
    Item,
    Levels,
    Millis,
    OpenInterest,
    Reject,
    Trade,
)
from streamer.sources.base import FRAME_FAILURES, FeedStats, guarded, json_object, reason_for
from streamer.sources.base import reject as make_reject
from streamer.sources.depth_diff import DepthBooks
from streamer.sources.trade_gaps import SymbolTrades, TradeGaps
from streamer.venues.okx.read_path import TRADES_PREFIX, trade_fields
from streamer.venues.okx.rows import candle_row, liquidation_row, millis, ticker_row, trade_row
from streamer.venues.okx.symbols import (
    BOOKS,
    CANDLES,
    EXCHANGE,
    FUNDING,
    INDEX,
    LIQUIDATIONS,
    MARK,
    OPEN_INTEREST,
    PREV_SEQ_CHAIN,
    SWAP,
    TICKERS,
    TRADES,
    index_id,
    inst_id,
    is_perpetual,
)

log = logging.getLogger(__name__)

LIQUIDATIONS_KEPT = 10_000
"""Liquidation ids remembered to drop OKX's replay on (re)subscribe."""
_PRICES = slice(0, None, 2)
_Handler = Callable[["OkxDecoder", Any, list[Any], str, Millis], list[Item]]
_new_row = tuple.__new__
_LEVEL_FIELDS = {"bids": ("bids price", "bids size"), "asks": ("asks price", "asks size")}


class _Derivative:
    """A swap's latest values from the channels merged into its `derivative_tickers` rows."""

    __slots__ = ("funding_rate", "funding_time", "index", "last", "open_interest")

    def __init__(self) -> None:
        self.index: Dec | None = None
        self.funding_rate: Dec | None = None
        self.funding_time: Millis | None = None
        self.open_interest: Dec | None = None
        self.last: Dec | None = None


def levels(value: object, field: str) -> Levels:
    """A book side `[[px, sz, "0", orders], ...]` -> ((price, size), ...), checked."""
    if type(value) is not list:
        raise FrameError(f"field {field!r} is not an array")
    flat: list[str] = []
    for level in value:
        if type(level) is not list or len(level) < 2:
            raise FrameError(f"a level of {field!r} is not [price, size, ...]: {level!r}"[:200])
        flat += level[:2]
    numbers = book_numbers(flat, _PRICES, _LEVEL_FIELDS[field])
    it = iter(numbers)
    return tuple(zip(it, it, strict=True))


class OkxDecoder:
    """OKX frames -> rows. Its state: each symbol's newest trade id, the full books (when
    kept), each swap's merged derivative values, the liquidations seen, and what delivered."""

    def __init__(
        self,
        symbols: Iterable[str],
        *,
        depth: int = 20,
        books: bool = True,
        stats: FeedStats | None = None,
    ) -> None:
        self.stats = FeedStats() if stats is None else stats
        self._symbols: dict[str, str] = {}  # instId -> normalized
        self._index: dict[str, list[str]] = {}  # index instId -> the swaps on it
        self._book_ids: dict[str, Callable[[object], str]] = {}
        self._trades: dict[str, SymbolTrades] = {}
        self._derivatives: dict[str, _Derivative] = {}
        self._liquidations_seen: set[str] = set()
        self._liquidations_order: deque[str] = deque()
        self.trade_gaps = TradeGaps()
        self.books = (
            DepthBooks(EXCHANGE, (), depth, self.stats, self._book_ids, PREV_SEQ_CHAIN)
            if books
            else None
        )
        self.heard: set[str] = set()
        """`channel:instId` keys that delivered since the shell last looked."""
        self.pongs = 0
        self.add_symbols(symbols)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._symbols.values())

    def add_symbols(self, symbols: Iterable[str]) -> None:
        """Decode the channels of `symbols` (normalized: `BTC-USDT`, `BTC-USDT-PERP`) too."""
        new = [symbol for symbol in symbols if symbol not in self._trades]
        for symbol in new:
            inst = inst_id(symbol)
            if inst in self._symbols:
                raise ConfigError("STREAMER_OKX_SYMBOLS", f"{symbol} is listed twice",
                                  "List it once.")  # fmt: skip
            self._symbols[inst] = symbol
            self._book_ids[symbol] = record_ids(EXCHANGE, symbol, "book")
            self._trades[symbol] = self.trade_gaps.track(
                symbol, record_ids(EXCHANGE, symbol, "trade")
            )
            if is_perpetual(symbol):
                self._derivatives[symbol] = _Derivative()
                self._index.setdefault(index_id(symbol), []).append(symbol)
        if self.books is not None:
            self.books.add(new)

    def decode(self, raw: str | bytes, received_at: Millis) -> list[Item]:
        """One frame -> rows (possibly none), or a `Reject`. Never raises."""
        if raw == b"pong" or raw == "pong":
            self.pongs += 1
            return []
        try:
            msg = json_object(raw)
            if "event" in msg:
                return self._control(msg, raw, received_at)
            arg = msg["arg"]
            if type(arg) is not dict:
                raise FrameError("field 'arg' is not an object")
            channel = arg.get("channel")
            data = msg["data"]
            if type(data) is not list:
                raise FrameError("field 'data' is not an array")
            if channel == LIQUIDATIONS:
                self.heard.add(f"{LIQUIDATIONS}:{arg.get('instType')}")
                return self._liquidations(data, received_at)
            inst = arg.get("instId")
            if channel == INDEX:
                if inst not in self._index:
                    raise FrameError(f"unsubscribed index {inst!r}"[:200])
                self.heard.add(f"{INDEX}:{inst}")
                return self._index_prices(data, inst)
            symbol = self._symbols.get(inst) if type(inst) is str else None
            handler = self._handlers.get(channel) if type(channel) is str else None
            if symbol is None or handler is None:
                raise FrameError(f"unsubscribed/unknown channel {channel!r} {inst!r}"[:200])
            self.heard.add(f"{channel}:{inst}")
            return handler(self, msg, data, symbol, received_at)
        except FRAME_FAILURES as exc:
            return [make_reject(EXCHANGE, reason_for(exc), raw, received_at)]

    def decode_read(self, payloads: list[bytes], received_at: Millis) -> list[Item]:
        """Every frame of one socket read -> its rows, in order: `decode` on each, but a
        `trades-all` push whose checks all pass (`read_path.trade_fields`) is turned into its
        rows here, with the same trade-id bookkeeping as `_trade`."""
        rows: list[Item] = []
        symbols, tracks, gaps = self._symbols, self._trades, self.trade_gaps
        prefix, cut = TRADES_PREFIX, len(TRADES_PREFIX)
        for raw in payloads:
            if raw[:cut] == prefix:
                trades = trade_fields(raw)
                symbol = symbols.get(trades[0][0]) if trades else None
                if trades and symbol is not None:
                    self.heard.add(f"{TRADES}:{trades[0][0]}")
                    track = tracks[symbol]
                    for _, tid, ms, price, size, side in trades:
                        if tid == track.last + 1:
                            track.last, track.last_time = tid, ms
                        elif not gaps.off_sequence(track, tid, ms):
                            continue
                        rows.append(_new_row(Trade, (EXCHANGE, symbol, ms, received_at,
                                                     str(tid), price, size, side,
                                                     track.record_id(tid))))  # fmt: skip
                    continue
            items = self.decode(raw, received_at)
            if items:
                rows += items
        return rows

    def _control(self, msg: dict[str, Any], raw: str | bytes, received_at: Millis) -> list[Item]:
        event = msg["event"]
        if event in ("subscribe", "unsubscribe"):
            log.info("okx.%s arg=%s conn=%s", event, shown(msg.get("arg")),
                     shown(msg.get("connId")))  # fmt: skip
            return []
        if event == "notice":  # e.g. 64008: the connection will close for a service upgrade
            log.warning("okx.notice code=%s msg=%s", shown(msg.get("code")), shown(msg.get("msg")))
            self.stats.extra["notices"] += 1
            return []
        if event == "error":
            text = f"venue error {msg.get('code')!r}: {msg.get('msg')}"
            log.error("okx.venue_error %s", shown(text))
            return [make_reject(EXCHANGE, text, raw, received_at)]
        raise FrameError(f"unknown event {event!r}"[:200])

    def _check_inst(self, d: object, symbol: str) -> dict[str, Any]:
        if type(d) is not dict:
            raise FrameError(f"a data element is not an object: {d!r}"[:200])
        inst = d.get("instId")
        if inst is not None and self._symbols.get(inst) != symbol:
            raise FrameError(f"instId {inst!r} on the channel of {symbol}"[:200])
        return d

    # -- trades -----------------------------------------------------------------------------

    def _trade(self, msg: Any, data: list[Any], symbol: str, received_at: Millis) -> list[Item]:
        track = self._trades[symbol]
        gaps = self.trade_gaps
        rows: list[Item] = []
        for d in data:
            tid, row = trade_row(self._check_inst(d, symbol), symbol, received_at,
                                 track.record_id)  # fmt: skip
            if tid == track.last + 1:
                track.last, track.last_time = tid, row.event_time
            elif not gaps.off_sequence(track, tid, row.event_time):
                continue
            rows.append(row)
        return rows

    # -- books ------------------------------------------------------------------------------

    def _book(self, msg: Any, data: list[Any], symbol: str, received_at: Millis) -> list[Item]:
        books = self.books
        if books is None:
            raise FrameError("books are not kept (STREAMER_OKX_BOOK_UPDATES is false)")
        if len(data) != 1:
            raise FrameError(f"a books message holds {len(data)} books, not 1")
        d = self._check_inst(data[0], symbol)
        action = msg.get("action", "update")
        seq, prev = d["seqId"], d.get("prevSeqId")
        if type(seq) is not int or seq < 0:
            raise FrameError(f"field 'seqId' is not a sequence id: {seq!r}"[:200])
        if prev is not None and (type(prev) is not int or prev < -1):
            raise FrameError(f"field 'prevSeqId' is not a sequence id: {prev!r}"[:200])
        bids, asks = levels(d["bids"], "bids"), levels(d["asks"], "asks")
        event_time = millis(d["ts"], "ts")
        if action == "snapshot":
            return books.replace(symbol, seq, bids, asks, event_time, received_at)
        if action != "update":
            raise FrameError(f"field 'action' is not snapshot or update: {action!r}"[:200])
        if prev is None or prev < 0:  # a missing prevSeqId is not 0 (gocryptotrader PR#2255)
            raise FrameError(f"an update's 'prevSeqId' is {prev!r}"[:200])
        if prev == seq and not bids and not asks:
            return []  # OKX's keep-alive: nothing changed
        return books.event(symbol, prev, seq, bids, asks, event_time, received_at, prev)

    def rest_book(self, symbol: str, body: bytes, received_at: Millis) -> list[Item]:
        """A `GET /api/v5/market/books` answer for `symbol`'s book: the rows of the book it
        starts (none if too old: asked again), or one Reject (asked again too)."""

        def decode(raw: str | bytes, at: Millis) -> list[Item]:
            d = _first(json_object(raw), "market/books")
            seq = d.get("seqId")
            if type(seq) is not int or seq < 0:
                raise FrameError(f"the REST book has no 'seqId': {seq!r}"[:200])
            assert self.books is not None
            return self.books.snapshot(symbol, seq, levels(d["bids"], "bids"),
                                       levels(d["asks"], "asks"), at)  # fmt: skip

        items = guarded(f"{EXCHANGE}:rest", decode, body, received_at)
        if items and type(items[0]) is Reject and self.books is not None:
            self.books.want(symbol)
        return items

    # -- tickers and candles ----------------------------------------------------------------

    def _ticker(self, msg: Any, data: list[Any], symbol: str, received_at: Millis) -> list[Item]:
        rows: list[Item] = []
        perpetual = is_perpetual(symbol)
        for d in data:
            row = ticker_row(self._check_inst(d, symbol), symbol, received_at, not perpetual)
            if perpetual:
                self._derivatives[symbol].last = row.last_price
            rows.append(row)
        return rows

    def _candle(self, msg: Any, data: list[Any], symbol: str, received_at: Millis) -> list[Item]:
        rows: list[Item] = []
        for c in data:
            row = candle_row(c, symbol, received_at)
            if row is not None:
                rows.append(row)
        return rows

    # -- derivatives ------------------------------------------------------------------------

    def _mark(self, msg: Any, data: list[Any], symbol: str, received_at: Millis) -> list[Item]:
        state = self._derivatives.get(symbol)
        if state is None:
            raise FrameError(f"{symbol} is not a swap")
        rows: list[Item] = []
        for d in data:
            self._check_inst(d, symbol)
            at = millis(d["ts"], "ts")
            rows.append(DerivativeTicker(
                EXCHANGE, symbol, at, received_at, dec(d["markPx"], "markPx", POSITIVE),
                state.index, None, state.funding_rate, state.funding_time,
                state.open_interest, state.last,
                record_id(EXCHANGE, symbol, "derivative_ticker", at),
            ))  # fmt: skip
        return rows

    def _index_prices(self, data: list[Any], inst: str) -> list[Item]:
        for d in data:
            if type(d) is not dict or d.get("instId") != inst:
                raise FrameError(f"an index element is not of {inst}: {d!r}"[:200])
            millis(d["ts"], "ts")
            price = dec(d["idxPx"], "idxPx", NON_NEGATIVE)
            for symbol in self._index[inst]:
                self._derivatives[symbol].index = price
        return []

    def _funding(self, msg: Any, data: list[Any], symbol: str, received_at: Millis) -> list[Item]:
        """`fundingRate` is the rate predicted for the funding at `fundingTime` (the next one);
        settled rates come from REST (`funding-rate-history`), never from here."""
        state = self._derivatives.get(symbol)
        if state is None:
            raise FrameError(f"{symbol} is not a swap")
        for d in data:
            self._check_inst(d, symbol)
            rate = opt_dec(d.get("fundingRate"), "fundingRate")
            at = millis(d["fundingTime"], "fundingTime")
            state.funding_rate, state.funding_time = rate, at
        return []

    def _open_interest(
        self, msg: Any, data: list[Any], symbol: str, received_at: Millis
    ) -> list[Item]:
        state = self._derivatives.get(symbol)
        if state is None:
            raise FrameError(f"{symbol} is not a swap")
        rows: list[Item] = []
        for d in data:
            self._check_inst(d, symbol)
            at = millis(d["ts"], "ts")
            oi = dec(d["oi"], "oi", NON_NEGATIVE)
            state.open_interest = oi
            rows.append(OpenInterest(EXCHANGE, symbol, at, received_at, oi,
                                     record_id(EXCHANGE, symbol, "open_interest", at)))  # fmt: skip
        return rows

    def _liquidations(self, data: list[Any], received_at: Millis) -> list[Item]:
        rows: list[Item] = []
        seen, order = self._liquidations_seen, self._liquidations_order
        for d in data:
            if type(d) is not dict or type(d.get("instId")) is not str:
                raise FrameError(f"a liquidation-orders element has no instId: {d!r}"[:200])
            symbol = self._symbols.get(d["instId"])
            if symbol is None:
                if not d["instId"].endswith("-" + SWAP):
                    raise FrameError(f"instId {d['instId']!r} is not a swap"[:200])
                continue  # another swap's
            details = d["details"]
            if type(details) is not list:
                raise FrameError("field 'details' is not an array")
            for detail in details:
                if type(detail) is not dict:
                    raise FrameError(f"a liquidation detail is not an object: {detail!r}"[:200])
                row = liquidation_row(detail, symbol, received_at)
                if row.record_id in seen:
                    self.stats.extra["liquidations_replayed"] += 1
                    continue
                seen.add(row.record_id)
                order.append(row.record_id)
                if len(order) > LIQUIDATIONS_KEPT:
                    seen.discard(order.popleft())
                rows.append(row)
        return rows

    _handlers: ClassVar[
        dict[str, Callable[[OkxDecoder, Any, list[Any], str, Millis], list[Item]]]
    ] = {
        TRADES: _trade,
        BOOKS: _book,
        TICKERS: _ticker,
        CANDLES: _candle,
        MARK: _mark,
        FUNDING: _funding,
        OPEN_INTEREST: _open_interest,
    }


def _first(msg: dict[str, Any], what: str) -> dict[str, Any]:
    """The one element of an OKX REST answer `{"code": "0", "data": [{...}]}`."""
    code = msg.get("code")
    if code != "0":
        raise FrameError(f"{what} answered code {code!r}: {msg.get('msg')!r}"[:200])
    data = msg["data"]
    if type(data) is not list or len(data) != 1 or type(data[0]) is not dict:
        raise FrameError(f"{what} 'data' is not one object")
    return data[0]


def rest_data(body: bytes | str, what: str) -> list[Any]:
    """The `data` array of an OKX REST answer; `FrameError` for another code or shape."""
    msg = json_object(body)
    code = msg.get("code")
    if code != "0":
        raise FrameError(f"{what} answered code {code!r}: {msg.get('msg')!r}"[:200])
    data = msg["data"]
    if type(data) is not list:
        raise FrameError(f"{what} 'data' is not an array")
    return data
