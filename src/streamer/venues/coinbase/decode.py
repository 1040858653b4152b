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
  `start` arrives for its product. `heard` tells the shell's watchdog which products
  had an update.
* Errors come as `{"type":"error","message":...}` without the channel envelope.
* `client_id` is absent on the production market-data endpoint; nothing here reads it.

`read_path.py` holds the read-at-a-time fast paths, `rows.py` the row builders and the candle
ledger's decision on decoded rows (`closed_candle_gaps`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from streamer.book_updates import update_rows
from streamer.errors import FrameError
from streamer.ids import record_id, record_id_seed, record_ids
from streamer.logsafe import shown
from streamer.numbers import POSITIVE, dec, opt_decimals
from streamer.quality import ResyncCause
from streamer.records import BookSnapshot, Candle, Item, Level, Millis, Trade, book_snapshot
from streamer.sources.base import FRAME_FAILURES, FeedStats, json_object, reason_for, reject
from streamer.sources.trade_gaps import TradeGaps
from streamer.timefmt import parse_rfc3339
from streamer.venues.coinbase.read_path import ReadPath
from streamer.venues.coinbase.rest import trade_row, wire_candle
from streamer.venues.coinbase.rows import (
    EXCHANGE,
    TICKER_NUMBERS,
    TICKER_SIGNS,
    closed,
    closed_candle_gaps,
    id_order,
    levels,
    ticker_row,
    trade_id_text,
)
from streamer.venues.coinbase.settings import CoinbaseSettings
from streamer.venues.coinbase.state import ProductState
from streamer.venues.coinbase.wire import (
    BOOK_DECODER,
    BOOK_HEAD,
    TRADES_DECODER,
    TRADES_HEAD,
    BookEvent,
    TradeFields,
    wire_fields,
)

log = logging.getLogger(__name__)
__all__ = ["EXCHANGE", "CoinbaseDecoder", "closed_candle_gaps"]

_Event = dict[str, Any]


class CoinbaseDecoder(ReadPath):
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
        self.heard: set[str] = set()
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
        for symbol, product in self._products.items():
            if product.synced:
                self.stats.quality.resync(symbol, ResyncCause.SEQUENCE_BREAK)
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
                book_snapshot(
                    EXCHANGE,
                    symbol,
                    event_time,
                    product.received_at,
                    depth,
                    bids,
                    asks,
                    sequence,
                    record_id(EXCHANGE, symbol, "book", event_time, sequence),
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
        log.error("coinbase.venue_error message=%s", shown(text))
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
            log.info("coinbase.subscriptions active=%s", shown(event.get("subscriptions")))
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
        bids = levels(bid_prices, bid_sizes)
        asks = levels(ask_prices, ask_sizes)
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
                trade_id = trade_id_text(trade_id)
            trade = trade_row(symbol, trade_id, maker_side, price_text, size_text, time_text,
                              received_at, product.trades.record_id)  # fmt: skip
            parsed.append((product, trade))
        if len(parsed) > 1:
            parsed.sort(key=id_order)  # snapshots (and batches) come newest first
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
                price = dec(t["price"], "price", POSITIVE)
                numbers = opt_decimals(
                    [t.get(f) for f in TICKER_NUMBERS], TICKER_NUMBERS, TICKER_SIGNS
                )
                rows.append(ticker_row(symbol, event_time, received_at, price, numbers))
        return rows

    def _candles(self, msg: _Event, received_at: Millis) -> list[Item]:
        event_time = parse_rfc3339(msg["timestamp"], "timestamp")
        parsed: list[tuple[ProductState, Candle]] = []
        for event in msg["events"]:
            for c in event["candles"]:
                symbol, product = self._product(c["product_id"])
                self.heard.add(symbol)
                candle = wire_candle(c, symbol, event_time, received_at, closed=False, origin="ws")
                parsed.append((product, candle))
        rows: list[Item] = []
        for product, candle in parsed:
            current = product.candle
            if current is not None:
                if candle.open_time < current.open_time:
                    continue  # a late update of a candle already closed
                if candle.open_time > current.open_time:
                    rows.append(closed(current))
            product.candle = candle
            if self._keep_open:
                rows.append(candle)
        return rows
