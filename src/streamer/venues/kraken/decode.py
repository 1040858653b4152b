"""Kraken WebSocket v2 frames -> normalized rows (pure: no sockets, no `await`).

Frames are JSON objects. Data frames carry `channel`, `type` (`snapshot` or `update`) and a
`data` array of entries, each naming its pair (`symbol`, `BTC/USD`):

* `book` -> `order_books` and `book_updates`, each message proven by its CRC32 (`books`);
* `trade` -> `trades`; `trade_id` counts up per pair, so holes are tracked (`trade_gaps`) and
  the shell fills them from REST; the snapshot on subscribe replays the last 50 trades, whose
  repeats are dropped;
* `ticker` -> `tickers`;
* `ohlc` -> `ohlcv`: an update carries the candle's state after each trade and no "closed"
  flag, so a candle is final when a later `interval_begin` arrives for its pair (in-progress
  states are published only with `keep_open_candles`);
* `heartbeat` (about once a second when nothing else is sent) and `status`: no rows.

Control frames carry `method`: the acknowledgements of `subscribe` and `unsubscribe` (one per
pair, with `success`, `result` or `error`, and our `req_id`), and `pong`. They land in
`answers` for the shell, which tracks what it asked; an answer that refuses a subscription for
any reason but the rate limit is also a `Reject`. `Exceeded msg rate` (`error`, or v1's `Error`)
is an answer too: the shell backs off and asks again.

Numbers are parsed with their text (`DECODER`: JSON floats become their literal text), never
through a float. `decode(raw, received_at)` never raises: a bad frame is one `Reject`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from streamer.errors import FrameError
from streamer.ids import record_ids
from streamer.logsafe import shown
from streamer.records import Candle, Item, Millis, Trade
from streamer.sources.base import FRAME_FAILURES, FeedStats, reason_for
from streamer.sources.base import reject as make_reject
from streamer.sources.trade_gaps import SymbolTrades, TradeGaps
from streamer.venues.kraken.books import KrakenBooks
from streamer.venues.kraken.read_path import TRADE_PREFIX, trade_fields
from streamer.venues.kraken.rows import candle_row, levels, micros, ticker_row, trade_row
from streamer.venues.kraken.symbols import EXCHANGE, ws_symbol

log = logging.getLogger(__name__)

DECODER = msgspec.json.Decoder(float_hook=str)
"""JSON with every non-integer number as its literal text (`0.10000000` stays so)."""
RATE_LIMITED = "Exceeded msg rate"
_new_row = tuple.__new__
_Handler = Callable[[str, dict[str, Any], bool, Millis], list[Item]]
ALIVE = "connection"
"""The watchdog's one key: any frame (a heartbeat when nothing else is sent) is heard on it."""


@dataclass(frozen=True, slots=True)
class Answer:
    """The venue's answer to one request (or a rate-limit error that names none)."""

    method: str | None  # subscribe, unsubscribe (None: an error without a method)
    channel: str | None
    symbol: str | None  # normalized
    req_id: int | None
    success: bool
    error: str | None

    @property
    def rate_limited(self) -> bool:
        return self.error is not None and RATE_LIMITED in self.error


class KrakenDecoder:
    """v2 frames -> rows. Its state: the books, each pair's newest trade id, each pair's
    candle not yet final, and the answers the shell has not read."""

    def __init__(
        self,
        symbols: Iterable[str],
        *,
        depth: int = 10,
        levels: int = 10,
        book_updates: bool = True,
        keep_open_candles: bool = False,
        stats: FeedStats | None = None,
        trade_gaps: TradeGaps | None = None,
    ) -> None:
        self.stats = FeedStats() if stats is None else stats
        self.keep_open = keep_open_candles
        self.pairs: dict[str, str] = {}  # v2 pair (BTC/USD) -> normalized (BTC-USD)
        self.trade_gaps = TradeGaps() if trade_gaps is None else trade_gaps
        """Each pair's newest trade id and the holes behind it (may be shared by several
        connections' decoders: their pairs differ)."""
        self._trades: dict[str, SymbolTrades] = {}
        self.books = KrakenBooks((), depth, levels, self.stats, updates=book_updates)
        self.candles: dict[str, tuple[Candle, dict[str, Any]]] = {}
        """The newest candle of each pair (and its entry), not yet final."""
        self.answers: list[Answer] = []
        """Answers to requests since the shell last looked."""
        self.heard: set[str] = set()
        self._channels: dict[str, _Handler] = {
            "book": self._book, "trade": self._trade, "ticker": self._ticker, "ohlc": self._ohlc,
        }  # fmt: skip
        self.add_symbols(symbols)

    def add_symbols(self, symbols: Iterable[str]) -> None:
        new = [s for s in symbols if s not in self._trades]
        for symbol in new:
            self.pairs[ws_symbol(symbol)] = symbol
            self._trades[symbol] = self.trade_gaps.track(
                symbol, record_ids(EXCHANGE, symbol, "trade")
            )
        self.books.add(new)

    def reset(self) -> None:
        """A new connection: books wait for their snapshots; the unfinished candles are kept
        (the ohlc snapshot brings their state again); trade ids are kept (replays dropped)."""
        self.books.reset()
        self.answers.clear()

    # -- frames -----------------------------------------------------------------------

    def decode(self, raw: str | bytes, received_at: Millis) -> list[Item]:
        """One frame -> rows (possibly none), or a `Reject`. Never raises."""
        try:
            msg = DECODER.decode(raw)
            if type(msg) is not dict:
                raise FrameError("frame is not a JSON object")
            self.heard.add(ALIVE)
            channel = msg.get("channel")
            if channel is None:
                return self._control(msg, raw, received_at)
            if channel == "heartbeat":
                return []
            if channel == "status":
                log.info("kraken.status data=%s", shown(msg.get("data")))
                return []
            handler = self._channels.get(channel) if type(channel) is str else None
            if handler is None:
                raise FrameError(f"unknown channel {channel!r}"[:200])
            kind = msg["type"]
            if kind not in ("snapshot", "update"):
                raise FrameError(f"field 'type' is not snapshot or update: {kind!r}"[:200])
            data = msg["data"]
            if type(data) is not list:
                raise FrameError("field 'data' is not an array")
            rows: list[Item] = []
            for entry in data:
                if type(entry) is not dict:
                    raise FrameError("an entry of 'data' is not an object")
                rows += handler(self._symbol(entry["symbol"]), entry, kind == "snapshot",
                                received_at)  # fmt: skip
            return rows
        except (*FRAME_FAILURES, msgspec.MsgspecError) as exc:
            reason = f"invalid JSON: {exc}" if isinstance(exc, msgspec.MsgspecError) else None
            return [make_reject(EXCHANGE, reason or reason_for(exc), raw, received_at)]

    def decode_read(self, payloads: list[bytes], received_at: Millis) -> list[Item]:
        """Every frame of one socket read -> its rows, in order: `decode` on each, but a
        `trade` update whose entries all pass their checks (`read_path.trade_fields`) is
        turned into its rows here, with the same trade-id bookkeeping as `_trade`."""
        rows: list[Item] = []
        pairs, tracks, gaps = self.pairs, self._trades, self.trade_gaps
        prefix, cut = TRADE_PREFIX, len(TRADE_PREFIX)
        for raw in payloads:
            if raw[:cut] == prefix:
                trades = trade_fields(raw, pairs)
                if trades is not None:
                    self.heard.add(ALIVE)
                    for symbol, tid, ms, price, size, side in trades:
                        track = tracks[symbol]
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

    def _symbol(self, pair: object) -> str:
        symbol = self.pairs.get(pair) if type(pair) is str else None
        if symbol is None:
            raise FrameError(f"unsubscribed/unknown symbol {pair!r}"[:200])
        return symbol

    def _control(self, msg: dict[str, Any], raw: str | bytes, received_at: Millis) -> list[Item]:
        method = msg.get("method")
        error = msg.get("error", msg.get("Error"))
        if method == "pong":
            return []
        if method is None and error is None:
            raise FrameError("frame has neither a channel nor a method")
        result = msg.get("result")
        result = result if type(result) is dict else {}
        pair = result.get("symbol", msg.get("symbol"))
        req_id = msg.get("req_id")
        answer = Answer(
            method=method if type(method) is str else None,
            channel=result.get("channel") if type(result.get("channel")) is str else None,
            symbol=self.pairs.get(pair) if type(pair) is str else None,
            req_id=req_id if type(req_id) is int else None,
            success=msg.get("success") is True,
            error=str(error)[:300] if error is not None else None,
        )
        self.answers.append(answer)
        if answer.success or answer.rate_limited:
            return []
        log.error("kraken.request_refused method=%s symbol=%s error=%s", shown(method),
                  shown(pair), shown(answer.error))  # fmt: skip
        return [make_reject(EXCHANGE, f"venue error: {answer.error}", raw, received_at)]

    # -- channels ---------------------------------------------------------------------

    def _book(self, symbol: str, entry: dict[str, Any], snapshot: bool, at: Millis) -> list[Item]:
        checksum = entry["checksum"]
        if type(checksum) is not int or not 0 <= checksum < 2**32:
            raise FrameError(f"field 'checksum' is not a CRC32: {checksum!r}"[:200])
        stamp = entry.get("timestamp")  # snapshots recorded in 2023 carry none
        event_time, sequence = (at, at * 1000) if stamp is None else micros(stamp, "timestamp")
        bids = levels(entry.get("bids", []), "bids")
        asks = levels(entry.get("asks", []), "asks")
        return self.books.message(symbol, snapshot, bids, asks, checksum, event_time, sequence,
                                  at)  # fmt: skip

    def _trade(self, symbol: str, entry: dict[str, Any], snapshot: bool, at: Millis) -> list[Item]:
        track = self._trades[symbol]
        row = trade_row(symbol, entry, at, track.record_id)
        trade_id = entry["trade_id"]
        if trade_id == track.last + 1:
            track.last = trade_id
            track.last_time = row.event_time
            return [row]
        return [row] if self.trade_gaps.off_sequence(track, trade_id, row.event_time) else []

    def _ticker(self, symbol: str, entry: dict[str, Any], snapshot: bool, at: Millis) -> list[Item]:
        return [ticker_row(symbol, entry, at)]

    def _ohlc(self, symbol: str, entry: dict[str, Any], snapshot: bool, at: Millis) -> list[Item]:
        """A candle's state: the one held before it is final once a later one begins."""
        candle = candle_row(symbol, entry, at, closed=False)
        held = self.candles.get(symbol)
        rows: list[Item] = []
        if held is not None:
            before, before_entry = held
            if candle.open_time < before.open_time:
                return []  # an older candle (a snapshot's history): published already or missed
            if candle.open_time > before.open_time:
                rows.append(candle_row(symbol, before_entry, before.received_at, closed=True))
        self.candles[symbol] = (candle, entry)
        if self.keep_open:
            rows.append(candle)
        return rows


__all__ = ["ALIVE", "DECODER", "EXCHANGE", "Answer", "KrakenDecoder"]
