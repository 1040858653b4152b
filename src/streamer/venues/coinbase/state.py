"""What the Coinbase decoder remembers about one product between frames (pure state)."""

from __future__ import annotations

from streamer.book import OrderBook
from streamer.ids import record_ids
from streamer.records import Candle, Millis
from streamer.sources.trade_gaps import SymbolTrades

TRADE_MEMORY = 4096
"""Trade ids remembered per product, at least, when they are not numbers (`first_sight`)."""


class ProductState:
    """Everything the decoder remembers about one product."""

    __slots__ = (
        "book",
        "book_update_ids",
        "candle",
        "changed",
        "event_time",
        "older_trade_ids",
        "received_at",
        "sequence",
        "synced",
        "trade_ids",
        "trades",
    )

    def __init__(self, trades: SymbolTrades) -> None:
        self.trades = trades  # its trade ids, tracked for holes (`trade_gaps`)
        self.book_update_ids = record_ids("coinbase", trades.symbol, "book_update")
        self.book = OrderBook()
        self.synced = False  # a snapshot arrived on this connection
        self.changed = False  # the book changed since it was last sampled
        self.event_time = Millis(0)
        self.received_at = Millis(0)
        self.sequence = 0
        self.candle: Candle | None = None  # the latest, not yet final, candle
        self.trade_ids: set[str] = set()
        self.older_trade_ids: set[str] = set()

    def first_sight(self, trade_id: str) -> bool:
        """Remember `trade_id`; False if it was seen recently (a replayed trade). Only for ids
        that are not numbers (the venue's are: those are tracked by `trades`).

        Two generations of ids: the newest `TRADE_MEMORY` at least, twice that at most, with
        no per-id eviction bookkeeping on the hot path.
        """
        if trade_id in self.trade_ids or trade_id in self.older_trade_ids:
            return False
        ids = self.trade_ids
        ids.add(trade_id)
        if len(ids) >= TRADE_MEMORY:
            self.older_trade_ids, self.trade_ids = ids, set()
        return True
