"""Checkpoints wait for the sink (`progress.Committer`) and never pass an open hole
(`sources.positions`); a restart seeds where the last process stopped."""

from __future__ import annotations

from streamer.checkpoints import Checkpoint
from streamer.progress import Committer, Progress
from streamer.sources.backfill import Backfiller
from streamer.sources.base import FeedStats
from streamer.sources.candles import CandleLedger, Gap
from streamer.sources.positions import candle_position, positions, seed, trade_position
from streamer.sources.trade_gaps import TradeGaps


def ids(_: object) -> str:
    return "id"


def test_a_marker_is_due_only_once_the_sink_accepted_every_row_before_it() -> None:
    committer = Committer()
    accepted = {"trades": 0, "ohlcv": 0}
    committer.mark(Progress("binance", (Checkpoint("binance", "BTC-USDT", 10, 1_000),)),
                   {"trades": 5, "ohlcv": 1})  # fmt: skip
    committer.mark(Progress("binance", (Checkpoint("binance", "BTC-USDT", 20, 2_000),)),
                   {"trades": 9, "ohlcv": 1})  # fmt: skip
    assert committer.ready(accepted.__getitem__) == []
    accepted.update(trades=5)
    assert committer.ready(accepted.__getitem__) == [], "candles of the first are not accepted"
    accepted.update(ohlcv=1, trades=8)
    assert committer.ready(accepted.__getitem__) == [Checkpoint("binance", "BTC-USDT", 10, 1_000)]
    accepted.update(trades=9)
    assert committer.ready(accepted.__getitem__) == [Checkpoint("binance", "BTC-USDT", 20, 2_000)]
    assert len(committer) == 0


def test_the_trade_position_stays_before_holes_open_or_being_fetched() -> None:
    gaps = TradeGaps()
    track = gaps.track("BTC-USDT", ids)
    assert trade_position(track) is None
    for trade_id, time in ((1, 100), (2, 200), (6, 600), (7, 700)):
        gaps.off_sequence(track, trade_id, time)
    assert trade_position(track) == (2, 200), "ids 3..5 are missing: the position stays at 2"
    holes = gaps.claim("BTC-USDT")
    assert trade_position(track) == (2, 200), "still while they are fetched"
    gaps.done("BTC-USDT", holes)
    assert trade_position(track) == (7, 700)


def test_the_candle_position_stays_before_a_gap_being_fetched() -> None:
    ledger = CandleLedger(60_000)
    backfill = Backfiller("binance", ledger, FeedStats(), fetch=None)  # type: ignore[arg-type]
    for open_time in (0, 60_000, 240_000):
        ledger.admit("BTC-USDT", open_time)
    assert candle_position(ledger, backfill, "BTC-USDT") == 240_000
    backfill.inflight["BTC-USDT"] = [Gap("BTC-USDT", 120_000, 180_000)]
    assert candle_position(ledger, backfill, "BTC-USDT") == 60_000


def test_a_seeded_track_opens_the_hole_a_restart_missed_and_drops_what_was_written() -> None:
    gaps = TradeGaps()
    track = gaps.track("BTC-USD", ids)
    ledger = CandleLedger(60_000)
    saved = {"BTC-USD": Checkpoint("coinbase", "BTC-USD", 100, 5_000, 120_000),
             "ETH-USD": Checkpoint("coinbase", "ETH-USD", 7, 1_000)}  # fmt: skip
    assert seed(gaps, ledger, saved) == 2, "ETH-USD starts there once its track is made"
    assert not gaps.off_sequence(track, 99, 4_000), "a replayed trade before it is a repeat"
    assert gaps.off_sequence(track, 130, 9_000)
    (hole,) = gaps.claim("BTC-USD")
    assert (hole.first, hole.last, hole.after, hole.before) == (101, 129, 5_000, 9_000)
    gap = ledger.missing_after("BTC-USD", 600_000)
    assert gap is not None and (gap.start, gap.end) == (180_000, 540_000)
    later = gaps.track("ETH-USD", ids)  # a feed that makes its tracks as it connects
    assert gaps.off_sequence(later, 10, 2_000)
    assert [(h.first, h.last) for h in gaps.claim("ETH-USD")] == [(8, 9)]


def test_positions_name_each_symbol_with_a_position() -> None:
    gaps = TradeGaps()
    gaps.off_sequence(gaps.track("A-B", ids), 3, 30)
    gaps.track("C-D", ids)
    out = positions("kraken", ("A-B", "C-D"), gaps, None, None)
    assert out == (Checkpoint("kraken", "A-B", 3, 30, None),)
    out = positions("okx", ("A-B", "C-D"), gaps, None, None, {"C-D": 77})
    assert out == (Checkpoint("okx", "A-B", 3, 30), Checkpoint("okx", "C-D", book_sequence=77))


def test_markers_held_while_the_sink_accepts_nothing_stay_bounded_and_lose_no_symbol() -> None:
    from streamer.progress import MAX_WAITING

    committer = Committer()
    for n in range(MAX_WAITING * 3):
        exchange = ("binance", "okx")[n % 2]
        marker = Progress(exchange, (Checkpoint(exchange, "BTC-USDT", n, n),))
        committer.mark(marker, {"trades": n, "ohlcv": 0})
    assert len(committer) == MAX_WAITING
    last = MAX_WAITING * 3 - 1
    assert committer.ready(lambda name: last - 1) != [], "the older markers still commit"
    due = committer.ready(lambda name: last)
    assert {(c.exchange, c.trade_id) for c in due} == {("okx", last), ("binance", last - 1)}
