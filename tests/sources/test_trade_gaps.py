"""Trade ids per symbol: the next id is the hot path, a jump is a hole, a late id shrinks its
hole, a repeat is dropped; the decoders of both venues track ids this way."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from streamer.ids import record_id, record_ids
from streamer.records import Millis, Trade
from streamer.sources.trade_gaps import MAX_HOLES, Hole, TradeGaps, merge
from streamer.venues.binance.decode import BinanceDecoder
from streamer.venues.binance.settings import BinanceSettings
from streamer.venues.coinbase.decode import CoinbaseDecoder
from streamer.venues.coinbase.settings import CoinbaseSettings

RECEIVED = Millis(1_790_000_000_000)


def feed(gaps: TradeGaps, ids: list[int]) -> list[int]:
    """The ids of `ids` that are published, tracked as the decoders do."""
    track = gaps.track("BTC-USDT", record_ids("binance", "BTC-USDT", "trade"))
    published = []
    for n, trade_id in enumerate(ids):
        if trade_id == track.last + 1:
            track.last, track.last_time = trade_id, n
        elif not gaps.off_sequence(track, trade_id, n):
            continue
        published.append(trade_id)
    return published


def test_consecutive_ids_open_no_hole() -> None:
    gaps = TradeGaps()
    assert feed(gaps, [7, 8, 9, 10]) == [7, 8, 9, 10]
    assert gaps.tracks["BTC-USDT"].holes == [] and not gaps.found


def test_a_jump_is_a_hole_between_the_trades_around_it() -> None:
    gaps = TradeGaps()
    assert feed(gaps, [1, 2, 6, 7]) == [1, 2, 6, 7]
    assert gaps.tracks["BTC-USDT"].holes == [Hole("BTC-USDT", 3, 5, after=1, before=2)]
    assert list(gaps.found) == ["BTC-USDT"]


def test_a_late_trade_shrinks_its_hole_and_a_repeat_is_dropped() -> None:
    gaps = TradeGaps()
    assert feed(gaps, [1, 5, 3, 3, 5, 1, 2]) == [1, 5, 3, 2]
    track = gaps.tracks["BTC-USDT"]
    assert track.holes == [Hole("BTC-USDT", 4, 4, after=2, before=1)]
    assert (gaps.late, gaps.repeats) == (2, 3)


def test_an_id_older_than_the_first_extends_the_range_back() -> None:
    gaps = TradeGaps()
    assert feed(gaps, [10, 11, 7, 7]) == [10, 11, 7]
    assert gaps.tracks["BTC-USDT"].holes == [Hole("BTC-USDT", 8, 9, after=2, before=0)]


def test_claimed_holes_still_let_late_trades_through_until_done() -> None:
    gaps = TradeGaps()
    feed(gaps, [1, 10])
    (hole,) = gaps.claim("BTC-USDT")
    assert hole == Hole("BTC-USDT", 2, 9, 0, 1) and gaps.tracks["BTC-USDT"].holes == []
    assert feed(gaps, [4]) == [4]  # being fetched: the REST copy collapses with it
    gaps.done("BTC-USDT", [hole])
    assert feed(gaps, [5]) == [] and gaps.open_holes("BTC-USDT") == []


def test_the_oldest_holes_are_given_up_past_the_limit() -> None:
    gaps = TradeGaps()
    feed(gaps, list(range(0, 2 * (MAX_HOLES + 4), 2)))  # MAX_HOLES + 3 holes
    assert len(gaps.tracks["BTC-USDT"].holes) == MAX_HOLES
    assert [h.first for h in gaps.lost] == [1, 3, 5]


@given(st.permutations(list(range(40))), st.sets(st.integers(0, 39)))
def test_every_id_is_published_once_or_left_in_a_hole(order: list[int], dropped: set[int]) -> None:
    """Whatever the order and the losses: each arriving id is published once, and the holes
    hold exactly the ids between the oldest and the newest that never arrived."""
    arriving = [i for i in order if i not in dropped]
    gaps = TradeGaps()
    published = feed(gaps, arriving + arriving[:5])  # the first five again: repeats
    assert sorted(published) == sorted(arriving)
    if not arriving:
        return
    first, last = min(arriving), max(arriving)
    in_holes = {i for h in gaps.tracks["BTC-USDT"].holes for i in range(h.first, h.last + 1)}
    assert in_holes == {i for i in range(first, last + 1) if i not in arriving}


def test_ranges_join_holes_less_than_a_page_apart() -> None:
    holes = [Hole("S", 2000, 2010, 0, 0), Hole("S", 1, 5, 0, 0), Hole("S", 900, 950, 0, 0)]
    assert merge(holes, 1000) == [(1, 950), (2000, 2010)]
    assert merge(holes, 10) == [(1, 5), (900, 950), (2000, 2010)]


def binance_trade(trade_id: int) -> bytes:
    data = {"e": "trade", "E": 1, "s": "BTCUSDT", "t": trade_id, "p": "1.00", "q": "2.00",
            "T": 1_790_000_000_000 + trade_id, "m": False, "M": True}  # fmt: skip
    return orjson.dumps({"stream": "btcusdt@trade", "data": data})


def test_the_binance_decoder_finds_holes_and_drops_repeated_trades() -> None:
    decoder = BinanceDecoder(BinanceSettings(symbols=("BTC-USDT",)))
    got = [decoder.decode(binance_trade(i), RECEIVED) for i in (100, 101, 104, 101, 103)]
    assert [len(rows) for rows in got] == [1, 1, 1, 0, 1]
    (trade,) = got[2]
    assert isinstance(trade, Trade)
    assert trade.record_id == record_id("binance", "BTC-USDT", "trade", 104)
    gaps = decoder.trade_gaps
    assert gaps.tracks["BTC-USDT"].holes == [
        Hole("BTC-USDT", 102, 102, 1_790_000_000_101, 1_790_000_000_103)
    ]
    assert gaps.repeats == 1 and gaps.late == 1


def coinbase_trades(sequence: int, kind: str, ids: list[int]) -> bytes:
    trades = [{"trade_id": str(i), "product_id": "BTC-USD", "price": "1.5", "size": "2",
               "side": "BUY", "time": f"2026-09-30T02:39:5{i % 10}.1Z"} for i in ids]  # fmt: skip
    return orjson.dumps({"channel": "market_trades", "timestamp": "2026-09-30T02:39:53.1Z",
                         "sequence_num": sequence,
                         "events": [{"type": kind, "trades": trades}]})  # fmt: skip


def test_the_coinbase_decoder_tracks_ids_through_newest_first_snapshots() -> None:
    decoder = CoinbaseDecoder(CoinbaseSettings(symbols=("BTC-USD",)))
    first = decoder.decode(coinbase_trades(1, "snapshot", [13, 12, 11, 10]), RECEIVED)
    assert [t.trade_id for t in first if isinstance(t, Trade)] == ["10", "11", "12", "13"]
    assert decoder.decode(coinbase_trades(2, "update", [14]), RECEIVED)
    # A reconnect replays a snapshot: the trades seen are dropped, a jump is a hole.
    decoder.reset()
    again = decoder.decode(coinbase_trades(1, "snapshot", [19, 18, 14, 13]), RECEIVED)
    assert [t.trade_id for t in again if isinstance(t, Trade)] == ["18", "19"]
    (hole,) = decoder.trade_gaps.tracks["BTC-USD"].holes
    assert (hole.first, hole.last) == (15, 17)
    assert decoder.stats.extra["duplicate_trades"] == 2
