"""How far a feed's rows are handed on, per symbol, and where a restart resumes (pure).

A checkpoint's position must have every row before it handed on, not only the newest: a
trade hole still open or being fetched holds the trade position just before it, and a candle
gap being fetched holds the candle position just before it. So a kill while a hole is open
leaves the hole to the next start, which fetches it again (rows it already has come back
with the same `record_id`; duplicates, never holes).

Resuming is seeding: a symbol's trade track starts at its checkpoint's id, as if that trade had
just been seen, so the first live trade after a restart opens the hole the process missed and
the usual backfill fills it (`trade_gaps`, `trade_backfill`); older ids (a venue replaying its
last trades on subscribe) are repeats. The candle ledger starts at the checkpoint's candle, so
the fetch after connecting covers every candle that closed meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from streamer.checkpoints import Checkpoint
from streamer.sources.backfill import Backfiller
from streamer.sources.candles import CandleLedger
from streamer.sources.trade_gaps import UNSEEN, SymbolTrades, TradeGaps, resume


def trade_position(track: SymbolTrades) -> tuple[int, int] | None:
    """(id, time) of the newest trade with every id up to it handed on; None before any."""
    if track.last == UNSEEN:
        return None
    position, at = track.last, track.last_time
    for hole in (*track.holes, *track.fetching):
        if hole.first - 1 < position:
            position, at = hole.first - 1, hole.after
    return position, at


def candle_position(ledger: CandleLedger, backfill: Backfiller | None, symbol: str) -> int | None:
    """Open time of the newest closed candle with every one before it handed on."""
    newest = ledger.newest.get(symbol)
    if newest is None:
        return None
    waiting = backfill.inflight.get(symbol, ()) if backfill is not None else ()
    for gap in waiting:
        newest = min(newest, gap.start - ledger.interval_ms)
    return newest


def positions(
    exchange: str,
    symbols: Iterable[str],
    gaps: TradeGaps,
    ledger: CandleLedger | None,
    backfill: Backfiller | None,
    books: Mapping[str, int] | None = None,
) -> tuple[Checkpoint, ...]:
    """The checkpoint of each of `symbols` with a position (`books`: the book sequences)."""
    out = []
    books = books or {}
    for symbol in symbols:
        track = gaps.tracks.get(symbol)
        trade = trade_position(track) if track is not None else None
        candle = candle_position(ledger, backfill, symbol) if ledger is not None else None
        book = books.get(symbol)
        if trade is None and candle is None and book is None:
            continue
        trade_id, trade_time = trade if trade is not None else (None, None)
        out.append(Checkpoint(exchange, symbol, trade_id, trade_time, candle, book))
    return tuple(out)


def seed(gaps: TradeGaps, ledger: CandleLedger | None, saved: Mapping[str, Checkpoint]) -> int:
    """Start each symbol's trade track and candle ledger at its checkpoint; how many trade
    tracks start there (now, or when the feed makes them)."""
    seeded = 0
    for symbol, checkpoint in saved.items():
        if checkpoint.trade_id is not None:
            start = (checkpoint.trade_id, checkpoint.trade_time or 0)
            track = gaps.tracks.get(symbol)
            if track is None:  # tracked once its connection is planned: started then
                gaps.resume_at[symbol] = start
                seeded += 1
            elif track.last == UNSEEN:
                resume(track, *start)
                seeded += 1
        if ledger is not None and checkpoint.candle_open_time is not None:
            ledger.seed(symbol, checkpoint.candle_open_time)
    return seeded
