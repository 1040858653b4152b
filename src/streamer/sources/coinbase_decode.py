"""Coinbase Advanced Trade frames -> normalized rows (pure: no sockets, no `await`).

`CoinbaseDecoder.decode(raw, received_at)` turns one frame into rows or a single `Reject` and
never raises. The venue quirks it handles:

* `level2` arrives as channel `l2_data`: a snapshot of the *entire* book (BTC-USD: about 22k
  bids, several MiB in one frame), then absolute-size updates. The decoder keeps a local
  `OrderBook` per product; `books_due()` samples the top N of each book that changed. With
  `book_updates` on, every event applied also gives its `book_updates` rows (`event_time` the
  frame's, `sequence` its `sequence_num`), from which `book_replay` rebuilds those samples.
* `sequence_num` is one counter per connection across all channels; a jump is a gap (counted
  in `FeedStats.gaps` and logged) and, like a crossed book, drops the books and sets
  `resync_requested`. Expectations reset on every connect.
* `market_trades.side` is the *maker's* side, so the taker side is the opposite. The first
  snapshot event replays recent trades (newest first), and every reconnect replays them
  again. `trade_id`s count up per product, so each product's newest id is tracked
  (`trade_gaps`): a frame's trades are taken oldest first, a repeat is dropped, and a jump is a
  hole the shell fills from REST.
* `candles` are five-minute buckets with no "closed" flag: a candle is final when a later
  `start` arrives for its product. `candle_products` tells the shell's watchdog which products
  had an update.
* Errors come as `{"type":"error","message":...}` without the channel envelope.
* `client_id` is absent on the production market-data endpoint; nothing here reads it.

`closed_candle_gaps` is the candle ledger's decision on decoded rows: a closed WebSocket candle
is not published but names the candles to fetch from REST.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

import msgspec

from streamer.book_updates import update_rows
from streamer.errors import FrameError
from streamer.ids import record_id, record_id_seed, record_ids
from streamer.numbers import PLAIN_PAIR, dec, decimals, opt_decimals, plain_numbers
from streamer.records import BookSnapshot, Candle, Dec, Item, Level, Millis, Ticker, Trade
from streamer.settings import CoinbaseSettings
from streamer.sources.base import FRAME_FAILURES, FeedStats, json_object, reason_for, reject
from streamer.sources.candles import CandleLedger, Gap
from streamer.sources.coinbase_rest import CANDLE_MS, INTERVAL, TAKER_SIDE, trade_row, wire_candle
from streamer.sources.coinbase_state import ProductState
from streamer.sources.coinbase_wire import (
    BOOK_DECODER,
    BOOK_HEAD,
    BOOK_PREFIX,
    TICKER_DECODER,
    TICKER_PREFIX,
    TRADES_DECODER,
    TRADES_HEAD,
    TRADES_PREFIX,
    BookEvent,
    TradeFields,
    wire_fields,
)
from streamer.sources.trade_gaps import TradeGaps
from streamer.timefmt import parse_rfc3339

log = logging.getLogger(__name__)

EXCHANGE = "coinbase"

_Event = dict[str, Any]
_TICKER_NUMBERS = (
    "best_bid", "best_bid_quantity", "best_ask", "best_ask_quantity", "high_24_h", "low_24_h",
    "volume_24_h", "price_percent_chg_24_h",
)  # fmt: skip
_new_row = tuple.__new__
"""Builds a row from a tuple in field order: a third of a keyword `Trade(...)`'s cost."""


def _levels(prices: list[str], sizes: list[str]) -> list[Level]:
    both = prices + sizes
    try:
        checked: list[Dec] | None = decimals(both, "price_level")  # one regex call
    except FrameError:
        checked = None
    if checked is both:  # valid as sent
        valid_prices, valid_sizes = checked[: len(prices)], checked[len(prices) :]
    else:  # a bad value (named here) or an exponent to rewrite
        valid_prices = decimals(prices, "price_level")
        valid_sizes = decimals(sizes, "new_quantity")
    # Valid number text sorts "-" before every digit, so the minimum shows any negative value.
    if valid_sizes and min(valid_sizes).startswith("-"):
        raise FrameError("field 'new_quantity' is negative")
    return list(zip(valid_prices, valid_sizes, strict=True))


def _trade_id(value: object) -> str:
    if type(value) is str and value:
        return value
    if type(value) is int:
        return str(value)
    raise FrameError(f"field 'trade_id' is not an id: {value!r}"[:200])


class CoinbaseDecoder:
    """Advanced Trade frames -> rows, keeping the per-connection and per-product state."""

    def __init__(
        self,
        settings: CoinbaseSettings,
        stats: FeedStats | None = None,
        trade_gaps: TradeGaps | None = None,
    ) -> None:
        self.stats = FeedStats() if stats is None else stats
        self._depth = settings.book_depth
        self._keep_open = settings.keep_open_candles
        self._book_updates = settings.book_updates
        self.trade_gaps = TradeGaps() if trade_gaps is None else trade_gaps
        """Each product's newest trade id and the holes behind it (may be shared by several
        connections' decoders: their products differ)."""
        self._products = {
            symbol: ProductState(
                self.trade_gaps.track(symbol, record_ids(EXCHANGE, symbol, "trade"))
            )
            for symbol in settings.symbols
        }
        self._trade_seeds = {s: record_id_seed(EXCHANGE, s, "trade") for s in settings.symbols}
        """Each product's record-id seed for trades (`decode_read`'s inlined path)."""
        self._last_sequence: int | None = None
        self.resync_requested = False
        """Set when the books were dropped; the shell resubscribes level2 and clears it."""
        self.candle_products: set[str] = set()
        """Products with a `candles` update since the shell last looked (its watchdog)."""
        self._channels: dict[str, Callable[[_Event, Millis], list[Item]]] = {
            "l2_data": self._level2,
            "market_trades": self._trades,
            "ticker": self._ticker,
            "candles": self._candles,
            "heartbeats": self._nothing,
            "subscriptions": self._subscriptions,
        }

    def reset(self) -> None:
        """A new connection: forget the sequence and the books; the venue sends new snapshots.

        Trade ids are kept, so the trades the venue replays after a reconnect are dropped.
        The open candle is dropped: its last update before the drop may not be its final
        state, so the shell fetches it (and any other candle that closed meanwhile) from REST.
        """
        self._last_sequence = None
        self.resync_requested = False
        for product in self._products.values():
            product.book.clear()
            product.synced = False
            product.changed = False
            product.candle = None  # its last update may not be final; REST backfills it

    def lose_sync(self, why: str) -> None:
        """The local state can no longer be trusted (a missed frame, a crossed book): drop the
        books and open candles and ask the shell to resubscribe level2 for fresh snapshots.
        No book is published until they arrive."""
        for product in self._products.values():
            product.book.clear()
            product.synced = False
            product.changed = False
            # Candle updates carry a candle's full state, but the missed frame may have held
            # the last one: the open candle is dropped and, once closed, fetched from REST.
            product.candle = None
        if not self.resync_requested:
            self.resync_requested = True
            self.stats.extra["resyncs"] += 1
            log.warning("coinbase.resync reason=%s", why)

    def decode(self, raw: str | bytes, received_at: Millis) -> list[Item]:
        """One frame -> rows (possibly none), or exactly one `Reject`. Never raises.

        `market_trades` frames, the most frequent with rows, take a typed fast path (msgspec
        checks every field's JSON type while it parses); any frame it does not take, or whose
        shape it refuses, goes the general way, which names the reason of a reject.
        """
        try:
            head = raw[:20]
            if head in BOOK_HEAD:
                try:
                    book = BOOK_DECODER.decode(raw)
                except msgspec.MsgspecError:
                    return self._decode(raw, received_at)
                if not self._check_sequence(book.sequence_num):
                    return []
                events = (
                    (e.product_id, e.type, ((u.side, u.price_level, u.new_quantity)
                                            for u in e.updates))
                    for e in book.events
                )  # fmt: skip
                return self._apply_level2(book.timestamp, book.sequence_num, events, received_at)
            if raw[:26] in TRADES_HEAD:
                try:
                    wire = TRADES_DECODER.decode(raw)
                except msgspec.MsgspecError:
                    return self._decode(raw, received_at)
                if not self._check_sequence(wire.sequence_num):
                    return []
                fields = [wire_fields(t) for event in wire.events for t in event.trades]
                return self._trade_rows(fields, received_at)
            return self._decode(raw, received_at)
        except FRAME_FAILURES as exc:
            return [reject(EXCHANGE, reason_for(exc), raw, received_at)]

    def decode_read(self, payloads: list[bytes], received_at: Millis) -> list[Item]:
        """Every frame of one socket read -> its rows, in order: `decode` on each, with the
        most frequent frames (`market_trades` of one trade, inline in this loop; `l2_data`
        updates; tickers) taken by a path that changes no state until every check passes. Any
        other frame, or one a check refuses, goes through `decode`, which names the reason of
        a reject, so both give the same rows and the same rejects.
        """
        rows: list[Item] = []
        products = self._products
        gaps = self.trade_gaps
        plain_pair = PLAIN_PAIR.fullmatch
        sides = TAKER_SIDE
        seeds = self._trade_seeds
        for raw in payloads:
            if raw.startswith(TRADES_PREFIX):
                try:
                    wire = TRADES_DECODER.decode(raw)
                except msgspec.MsgspecError:
                    wire = None
                events = wire.events if wire is not None else ()
                if len(events) == 1 and len(trades := events[0].trades) == 1:
                    t = trades[0]
                    product = products.get(t.product_id)
                    side = sides.get(t.side)
                    trade_id, price, size = t.trade_id, t.price, t.size
                    try:  # every check first: nothing changes until all pass
                        event_time = (
                            parse_rfc3339(t.time, "time")
                            if product is not None
                            and side is not None
                            and type(trade_id) is str
                            and trade_id.isdigit()
                            and trade_id.isascii()
                            and plain_pair(price + "," + size) is not None
                            else None
                        )
                    except FrameError:
                        event_time = None
                    if event_time is not None:
                        assert wire is not None and product is not None
                        if not self._check_sequence(wire.sequence_num):
                            continue
                        track, number = product.trades, int(trade_id)
                        if number == track.last + 1:
                            track.last = number
                            track.last_time = event_time
                        elif not gaps.off_sequence(track, number, event_time):
                            self.stats.extra["duplicate_trades"] += 1
                            continue
                        h = seeds[t.product_id].copy()
                        h.update(trade_id.encode())
                        rows.append(_new_row(Trade, (EXCHANGE, t.product_id, event_time,
                                                     received_at, trade_id, price, size, side,
                                                     h.hexdigest())))  # fmt: skip
                        continue
            elif raw.startswith(BOOK_PREFIX):
                if self._book_update(raw, received_at):
                    continue
            elif raw.startswith(TICKER_PREFIX):
                tickers = self._tickers(raw, received_at)
                if tickers is not None:
                    rows += tickers
                    continue
            items = self.decode(raw, received_at)
            if items:
                rows += items
        return rows

    def _book_update(self, raw: bytes, received_at: Millis) -> bool:
        """An `l2_data` frame of one `update` event for a synced book, applied if every check
        passes (True); False, with nothing changed, sends it the general way. Only when no
        `book_updates` rows are kept (they are built the general way)."""
        if self._book_updates:
            return False
        try:
            book = BOOK_DECODER.decode(raw)
        except msgspec.MsgspecError:
            return False
        if len(book.events) != 1:
            return False
        event = book.events[0]
        product = self._products.get(event.product_id)
        if product is None or not product.synced or event.type != "update":
            return False
        bids: list[Level] = []
        asks: list[Level] = []
        for u in event.updates:
            level = (u.price_level, u.new_quantity)
            if u.side == "bid":
                bids.append(level)  # type: ignore[arg-type]  # checked below
            elif u.side == "offer":
                asks.append(level)  # type: ignore[arg-type]
            else:
                return False
        levels = bids + asks
        numbers = ",".join(chain.from_iterable(levels))
        if "-" in numbers or not plain_numbers(numbers, 2 * len(levels)):  # (a negative size is a
            return False  # reject, a negative price is not: both go the general way)
        try:
            event_time = parse_rfc3339(book.timestamp, "timestamp")
        except FrameError:
            return False
        if self._check_sequence(book.sequence_num):
            if product.synced:  # a gap in the sequence has just dropped every book
                product.book.update(bids, asks)
                product.changed = True
                product.event_time = event_time
                product.received_at = received_at
                product.sequence = book.sequence_num
            else:
                self.stats.extra["unsynced_updates"] += 1
        return True

    def _tickers(self, raw: bytes, received_at: Millis) -> list[Item] | None:
        """A `ticker` frame's rows, if every check passes; None, with nothing changed, sends
        it the general way (`_ticker`, the same rows)."""
        try:
            msg = TICKER_DECODER.decode(raw)
            event_time = parse_rfc3339(msg.timestamp, "timestamp")
        except (msgspec.MsgspecError, FrameError):
            return None
        parsed = []
        for event in msg.events:
            for t in event.tickers:
                if t.product_id not in self._products:
                    return None
                numbers = (t.best_bid, t.best_bid_quantity, t.best_ask, t.best_ask_quantity,
                           t.high_24_h, t.low_24_h, t.volume_24_h,
                           t.price_percent_chg_24_h)  # fmt: skip
                present = [t.price, *filter(None, numbers)]
                if not plain_numbers(",".join(present), len(present)):
                    return None
                parsed.append((t, [v or None for v in numbers]))
        if not self._check_sequence(msg.sequence_num):
            return []
        return [
            _ticker_row(t.product_id, event_time, received_at, t.price, numbers)
            for t, numbers in parsed
        ]

    def books_due(self) -> list[BookSnapshot]:
        """The top N of every synced book that changed since the last call, crossed ones left out.

        `event_time` and `sequence` are those of the last applied `l2_data` frame and
        `received_at` is its local arrival, so sampling an unchanged book again would only
        repeat the same record (same `record_id`): such books are skipped.
        """
        snapshots: list[BookSnapshot] = []
        depth = self._depth
        for symbol, product in self._products.items():
            if not product.changed:
                continue
            product.changed = False
            book = product.book
            if book.crossed():
                self.stats.extra["crossed_books"] += 1
                log.warning(
                    "coinbase.crossed_book symbol=%s bid=%s ask=%s sequence=%d",
                    symbol, book.bids.best_price(), book.asks.best_price(), product.sequence,
                )  # fmt: skip
                self.lose_sync(f"crossed book {symbol}")
                return []  # every book was dropped; none is published before the resync
            bids, asks = book.top(depth)
            event_time, sequence = product.event_time, product.sequence
            snapshots.append(
                BookSnapshot(
                    exchange=EXCHANGE,
                    symbol=symbol,
                    event_time=event_time,
                    received_at=product.received_at,
                    depth=depth,
                    bids=bids,
                    asks=asks,
                    sequence=sequence,
                    record_id=record_id(EXCHANGE, symbol, "book", event_time, sequence),
                )
            )
        return snapshots

    # -- frames ---------------------------------------------------------------------------

    def _decode(self, raw: str | bytes, received_at: Millis) -> list[Item]:
        msg = json_object(raw)
        channel = msg.get("channel")
        if channel is None:
            if msg.get("type") == "error":
                return [self._venue_error(msg, raw, received_at)]
            raise FrameError("frame has no channel")
        if not self._check_sequence(msg["sequence_num"]):
            return []
        handler = self._channels.get(channel)
        if handler is None:
            raise FrameError(f"unknown channel {channel!r}"[:200])
        return handler(msg, received_at)

    def _check_sequence(self, sequence: object) -> bool:
        """False for a frame to skip (a sequence number already seen)."""
        if type(sequence) is not int:
            raise FrameError(f"field 'sequence_num' is not an integer: {sequence!r}"[:200])
        last = self._last_sequence
        if last is None or sequence == last + 1:
            self._last_sequence = sequence
        elif sequence > last:
            self._last_sequence = sequence
            self.stats.gaps += 1
            log.warning(
                "coinbase.sequence_gap expected=%d got=%d missing=%d",
                last + 1, sequence, sequence - last - 1,
            )  # fmt: skip
            self.lose_sync("sequence gap")
        else:
            # A repeat or a latecomer: its content is already applied (or was lost to the gap
            # that started a resync), so applying it now could only move the book backwards.
            self.stats.extra["sequence_regressions"] += 1
            log.warning("coinbase.sequence_regress last=%d got=%d (skipped)", last, sequence)
            return False
        return True

    def _venue_error(self, msg: _Event, raw: str | bytes, received_at: Millis) -> Item:
        text = str(msg.get("message", ""))
        if msg.get("reason"):
            text = f"{text}: {msg['reason']}"
        log.error("coinbase.venue_error message=%r", text)
        return reject(EXCHANGE, f"venue error: {text}", raw, received_at)

    def _product(self, product_id: object) -> tuple[str, ProductState]:
        product = self._products.get(product_id) if type(product_id) is str else None
        if product is None:
            raise FrameError(f"unknown product {product_id!r}"[:200])
        return str(product_id), product

    def _nothing(self, msg: _Event, received_at: Millis) -> list[Item]:
        return []

    def _subscriptions(self, msg: _Event, received_at: Millis) -> list[Item]:
        for event in msg["events"]:
            log.info("coinbase.subscriptions active=%s", event.get("subscriptions"))
        return []

    def _level2(self, msg: _Event, received_at: Millis) -> list[Item]:
        """`l2_data` the general way (the fast path is in `decode`)."""
        events = (
            (e["product_id"], e["type"], ((u["side"], u["price_level"], u["new_quantity"])
                                          for u in e["updates"]))
            for e in msg["events"]
        )  # fmt: skip
        return self._apply_level2(msg["timestamp"], msg["sequence_num"], events, received_at)

    def _apply_level2(
        self, timestamp: object, sequence: int, events: Iterable[BookEvent], received_at: Millis
    ) -> list[Item]:
        event_time = parse_rfc3339(timestamp, "timestamp")
        parsed = [self._book_event(*event) for event in events]  # validate all first
        rows: list[Item] = []
        for symbol, product, snapshot, bids, asks in parsed:
            if snapshot:
                product.book.replace(bids, asks)
                product.synced = True
                log.info(
                    "coinbase.book_snapshot symbol=%s bids=%d asks=%d sequence=%d",
                    symbol, len(product.book.bids), len(product.book.asks), sequence,
                )  # fmt: skip
            elif product.synced:
                product.book.update(bids, asks)
            else:
                self.stats.extra["unsynced_updates"] += 1
                continue
            product.changed = True
            product.event_time = event_time
            product.received_at = received_at
            product.sequence = sequence
            if self._book_updates:
                rows += update_rows(EXCHANGE, symbol, event_time, received_at, sequence, bids,
                                    asks, snapshot, product.book_update_ids)  # fmt: skip
        return rows

    def _book_event(
        self, product_id: object, kind: object, updates: Iterable[tuple[Any, Any, Any]]
    ) -> tuple[str, ProductState, bool, list[Level], list[Level]]:
        symbol, product = self._product(product_id)
        if kind != "snapshot" and kind != "update":
            raise FrameError(f"unknown l2_data event type {kind!r}"[:200])
        bid_prices: list[str] = []
        bid_sizes: list[str] = []
        ask_prices: list[str] = []
        ask_sizes: list[str] = []
        for side, price, quantity in updates:
            if side == "bid":
                bid_prices.append(price)
                bid_sizes.append(quantity)
            elif side == "offer":
                ask_prices.append(price)
                ask_sizes.append(quantity)
            else:
                raise FrameError(f"unknown book side {side!r}"[:200])
        bids = _levels(bid_prices, bid_sizes)
        asks = _levels(ask_prices, ask_sizes)
        return symbol, product, kind == "snapshot", bids, asks

    def _trades(self, msg: _Event, received_at: Millis) -> list[Item]:
        """`market_trades` the general way (the fast path is in `decode`)."""
        fields = [
            (t["product_id"], t["trade_id"], t["side"], t["price"], t["size"], t["time"])
            for event in msg["events"]
            for t in event["trades"]
        ]
        return self._trade_rows(fields, received_at)

    def _trade_rows(self, trades: list[TradeFields], received_at: Millis) -> list[Item]:
        """Rows from (product, id, maker side, price, size, time), oldest first; repeats
        (replayed snapshots, duplicated frames) dropped, jumps in the ids left as holes."""
        products = self._products
        parsed: list[tuple[ProductState, Trade]] = []
        for symbol, trade_id, maker_side, price_text, size_text, time_text in trades:
            product = products.get(symbol) if type(symbol) is str else None
            if product is None:
                raise FrameError(f"unknown product {symbol!r}"[:200])
            if type(trade_id) is not str or not trade_id:
                trade_id = _trade_id(trade_id)
            trade = trade_row(symbol, trade_id, maker_side, price_text, size_text, time_text,
                              received_at, product.trades.record_id)  # fmt: skip
            parsed.append((product, trade))
        if len(parsed) > 1:
            parsed.sort(key=_id_order)  # snapshots (and batches) come newest first
        gaps = self.trade_gaps
        rows: list[Item] = []
        for product, trade in parsed:
            track = product.trades
            try:
                trade_id = int(trade.trade_id)
            except ValueError:  # not a number: remembered by id instead
                if product.first_sight(trade.trade_id):
                    rows.append(trade)
                continue
            if trade_id == track.last + 1:  # the next trade: the hot path
                track.last = trade_id
                track.last_time = trade.event_time
                rows.append(trade)
            elif gaps.off_sequence(track, trade_id, trade.event_time):
                rows.append(trade)
        if len(rows) < len(parsed):
            self.stats.extra["duplicate_trades"] += len(parsed) - len(rows)
        return rows

    def _ticker(self, msg: _Event, received_at: Millis) -> list[Item]:
        event_time = parse_rfc3339(msg["timestamp"], "timestamp")
        rows: list[Item] = []
        for event in msg["events"]:
            for t in event["tickers"]:
                symbol, _ = self._product(t["product_id"])
                price = dec(t["price"], "price")
                numbers = opt_decimals([t.get(f) for f in _TICKER_NUMBERS], _TICKER_NUMBERS)
                rows.append(_ticker_row(symbol, event_time, received_at, price, numbers))
        return rows

    def _candles(self, msg: _Event, received_at: Millis) -> list[Item]:
        event_time = parse_rfc3339(msg["timestamp"], "timestamp")
        parsed: list[tuple[ProductState, Candle]] = []
        for event in msg["events"]:
            for c in event["candles"]:
                symbol, product = self._product(c["product_id"])
                self.candle_products.add(symbol)
                candle = wire_candle(c, symbol, event_time, received_at, closed=False, origin="ws")
                parsed.append((product, candle))
        rows: list[Item] = []
        for product, candle in parsed:
            current = product.candle
            if current is not None:
                if candle.open_time < current.open_time:
                    continue  # a late update of a candle already closed
                if candle.open_time > current.open_time:
                    rows.append(_closed(current))
            product.candle = candle
            if self._keep_open:
                rows.append(candle)
        return rows


def _ticker_row(
    symbol: str, event_time: Millis, received_at: Millis, price: str, numbers: list[Any]
) -> Ticker:
    """A ticker row from its checked number text (`numbers` in `_TICKER_NUMBERS` order, None
    where absent). The venue sends no 24 h open, quote volume or trade count (None)."""
    bid, bid_size, ask, ask_size, high, low, volume, change = numbers
    rid = record_id(EXCHANGE, symbol, "ticker", event_time, price, volume)
    return _new_row(Ticker, (EXCHANGE, symbol, event_time, received_at, price, bid, bid_size,
                             ask, ask_size, None, high, low, volume, None, change, None,
                             rid))  # fmt: skip


def _id_order(parsed: tuple[ProductState, Trade]) -> tuple[int, str]:
    """Numeric order of decimal id text (shorter is smaller), without parsing it."""
    trade_id = parsed[1].trade_id
    return len(trade_id), trade_id


def _closed(candle: Candle) -> Candle:
    """The last update of a candle, marked final (a later `start` arrived)."""
    rid = record_id(EXCHANGE, candle.symbol, "ohlcv", INTERVAL, candle.open_time)
    return candle._replace(is_closed=True, record_id=rid)


def closed_candle_gaps(ledger: CandleLedger, items: list[Item]) -> tuple[list[Item], list[Gap]]:
    """(the rows to publish, the candles to fetch from REST): closed candles come from REST.

    The `candles` channel sends a candle's state once a second, so its last update before the
    next candle starts can miss the final trades. A WebSocket close therefore only names the
    candles closed since the newest one published; REST has their final values, and the
    ledger publishes each candle once.
    """
    out: list[Item] = []
    gaps: list[Gap] = []
    for item in items:
        if type(item) is Candle and item.is_closed:
            newest = ledger.newest.get(item.symbol)
            if newest is None or item.open_time > newest:
                start = item.open_time if newest is None else newest + CANDLE_MS
                gaps.append(Gap(item.symbol, start, item.open_time))
            continue
        out.append(item)
    return out, gaps
