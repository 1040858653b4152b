"""`decode_read` (a whole socket read, trades inlined) gives what `decode` gives frame by frame.

Two decoders of the same settings read the same frames, one a read at a time and one a frame at
a time; their rows, rejects, trade ids, holes and counters must agree. The frames are recorded
ones with their trade ids stepped (in order, repeated, skipped, going back) and, now and then,
one field replaced by anything JSON can hold, written compactly (the inlined path) or with
spaces (the general path).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamer.records import Item, Millis
from streamer.venues.binance.decode import BinanceDecoder
from streamer.venues.binance.settings import BinanceSettings
from streamer.venues.binance.usdm_decode import UsdmDecoder
from streamer.venues.coinbase.decode import CoinbaseDecoder
from streamer.venues.coinbase.settings import CoinbaseSettings
from streamer.venues.kraken.decode import KrakenDecoder
from streamer.venues.okx.decode import OkxDecoder
from tests.conftest import fixture_text
from tests.venues.test_parsers_fuzz import check, json_values, mutate

NOW = Millis(1_764_000_000_000)
AGG = orjson.loads(fixture_text("binance/aggTrade_combined.json"))
TRADE = orjson.loads(fixture_text("binance/trade_combined_testnet.json"))
OTHER_BINANCE = [
    orjson.loads(fixture_text(f"binance/{name}"))
    for name in (
        "depth20_100ms_combined_trimmed_2levels.json",
        "serverShutdown_combined_docexample.json",
        "ws_control_subscribe_ack.json",
    )
]
COINBASE_TRADES = orjson.loads(fixture_text("coinbase/advanced_doc_market_trades.json"))
COINBASE_L2 = orjson.loads(fixture_text("coinbase/advanced_doc_l2_snapshot.json"))
COINBASE_TICKER = orjson.loads(fixture_text("coinbase/advanced_doc_ticker.json"))
OKX_TRADES = next(
    orjson.loads(case["raw"])
    for group in orjson.loads(fixture_text("okx/tardis_v5.json"))["groups"]
    for case in group["messages"]
    if '"trades-all"' in case["raw"]
)
OKX_SUBSCRIBED = {"event": "subscribe", "arg": OKX_TRADES["arg"], "connId": "a4d3ae55"}
KRAKEN_TRADES = {  # docs.kraken.com websocket-v2/trade, the update example
    "channel": "trade",
    "type": "update",
    "data": [{"symbol": "MATIC/USD", "side": "sell", "price": 0.5117, "qty": 40.0,
              "ord_type": "market", "trade_id": 4665906,
              "timestamp": "2023-09-25T07:49:37.708706Z"}],
}  # fmt: skip
KRAKEN_HEARTBEAT = {"channel": "heartbeat"}

USDM_AGG = orjson.loads(fixture_text("binance_usdm/aggTrade_combined_2019.json"))
USDM_OTHER = [
    orjson.loads(fixture_text(f"binance_usdm/{name}"))
    for name in (
        "markPrice_arr_1s_CONSTRUCTED_from_recorded.json",
        "markPrice_arr_docexample.json",
        "forceOrder_arr_CONSTRUCTED_from_recorded.json",
    )
]

READS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# One frame: (which template, trade id step, a mutation or none, compact or spaced JSON).
frame_specs = st.tuples(
    st.integers(0, 9),  # Binance: 0-6 a trade; Coinbase: 0 a ticker, 1-4 a trade, 5-7 l2
    st.sampled_from([1, 1, 1, 1, 0, 2, 5, -1, -3]),
    st.none() | st.tuples(st.lists(st.integers(0, 30), min_size=1, max_size=4), json_values),
    st.booleans() | st.just(True),
)
reads = st.lists(st.lists(frame_specs, min_size=1, max_size=12), min_size=1, max_size=6)


def _text(doc: Any, spec: tuple[int, int, Any, bool]) -> bytes:
    _, _, mutation, compact = spec
    if mutation is not None:
        doc = mutate(doc, *mutation)
    return json.dumps(doc, separators=(",", ":") if compact else None).encode()


def _compare(reads_of_frames: list[list[bytes]], by_read: Any, by_frame: Any) -> None:
    for n, payloads in enumerate(reads_of_frames):
        at = Millis(NOW + n)
        got: list[Item] = by_read.decode_read(payloads, at)
        want: list[Item] = [row for raw in payloads for row in by_frame.decode(raw, at)]
        assert got == want
        check(got)
    gaps_read, gaps_frame = by_read.trade_gaps, by_frame.trade_gaps
    assert gaps_read.tracks.keys() == gaps_frame.tracks.keys()
    for symbol, track in gaps_read.tracks.items():
        other = gaps_frame.tracks[symbol]
        assert (track.last, track.last_time, track.first, track.holes) == (
            other.last, other.last_time, other.first, other.holes,
        )  # fmt: skip
    assert gaps_read.repeats == gaps_frame.repeats and gaps_read.late == gaps_frame.late
    assert by_read.stats.extra == by_frame.stats.extra


@READS
@given(reads=reads, agg=st.booleans())
def test_binance_reads_match_frame_by_frame(reads: list[list[Any]], agg: bool) -> None:
    config = BinanceSettings(
        symbols=("NKN-USDT", "BTC-USDT"), trades="aggTrade" if agg else "trade"
    )
    template, id_field = (AGG, "a") if agg else (TRADE, "t")
    by_read, by_frame = BinanceDecoder(config), BinanceDecoder(config)
    trade_id, frames = 1000, []
    for read in reads:
        payloads = []
        for spec in read:
            kind, step, _, _ = spec
            if kind < 7:
                trade_id += step
                doc = {**template, "data": {**template["data"], id_field: trade_id}}
            else:
                doc = OTHER_BINANCE[kind - 7]
            payloads.append(_text(doc, spec))
        frames.append(payloads)
    _compare(frames, by_read, by_frame)
    heard = set()
    for payloads in frames:
        by_read.decode_read(payloads, NOW)
        heard |= by_read.heard
    assert heard <= set(by_read._routes)  # only subscribed streams are ever heard


@READS
@given(reads=reads)
def test_coinbase_reads_match_frame_by_frame(reads: list[list[Any]]) -> None:
    config = CoinbaseSettings(symbols=("ETH-USD", "BTC-USD"))
    by_read, by_frame = CoinbaseDecoder(config), CoinbaseDecoder(config)
    trade_id, sequence, frames = 100, 0, []
    event = COINBASE_TRADES["events"][0]
    l2_event = COINBASE_L2["events"][0]
    for read in reads:
        payloads = []
        for spec in read:
            kind, step, _, _ = spec
            sequence += 1 if step else 0  # a repeated trade id comes in a repeated frame
            if kind == 0:
                doc = {**COINBASE_TICKER, "sequence_num": sequence}
            elif kind < 5:
                trade_id += step
                trade = {**event["trades"][0], "trade_id": str(trade_id)}
                doc = {**COINBASE_TRADES, "sequence_num": sequence,
                       "events": [{**event, "type": "update", "trades": [trade]}]}  # fmt: skip
            elif kind < 8:  # one or two levels set, as the venue sends them
                updates = [{**level, "price_level": f"{level['price_level']}{step % 3}",
                            "new_quantity": "0" if step < 0 else f"{step}.5"}
                           for level in l2_event["updates"][: 1 + kind % 2]]  # fmt: skip
                doc = {**COINBASE_L2, "sequence_num": sequence,
                       "events": [{**l2_event, "type": "update", "updates": updates}]}  # fmt: skip
            else:
                doc = {**COINBASE_L2, "sequence_num": sequence}
            payloads.append(_text(doc, spec))
        frames.append(payloads)
    _compare(frames, by_read, by_frame)
    for symbol in config.symbols:
        mine, theirs = by_read._products[symbol], by_frame._products[symbol]
        assert mine.book.top(100) == theirs.book.top(100)
        assert (mine.synced, mine.changed, mine.sequence, mine.event_time) == (
            theirs.synced, theirs.changed, theirs.sequence, theirs.event_time,
        )  # fmt: skip
    assert by_read.resync_requested == by_frame.resync_requested


@READS
@given(reads=reads)
def test_usdm_reads_match_frame_by_frame(reads: list[list[Any]]) -> None:
    symbols = ("BTC-USDT-PERP", "BTC-BUSD-210129")
    by_read, by_frame = UsdmDecoder(symbols, books=False), UsdmDecoder(symbols, books=False)
    trade_id, frames = 1000, []
    for read in reads:
        payloads = []
        for spec in read:
            kind, step, _, _ = spec
            if kind < 7:
                trade_id += step
                doc = {**USDM_AGG, "data": {**USDM_AGG["data"], "a": trade_id}}
            else:
                doc = USDM_OTHER[kind - 7]
            payloads.append(_text(doc, spec))
        frames.append(payloads)
    _compare(frames, by_read, by_frame)


def _trades(template: dict[str, Any], id_field: str, ids: list[int], text: bool) -> Any:
    entry = template["data"][0]
    return {**template, "data": [{**entry, id_field: str(i) if text else i} for i in ids]}


@READS
@given(reads=reads)
def test_okx_reads_match_frame_by_frame(reads: list[list[Any]]) -> None:
    symbols = ("BSV-USDT", "BTC-USDT-PERP")
    by_read, by_frame = OkxDecoder(symbols), OkxDecoder(symbols)
    trade_id, frames = 1000, []
    for read in reads:
        payloads = []
        for spec in read:
            kind, step, _, _ = spec
            trade_id += step if kind < 9 else 0
            if kind < 7:  # one trade a push, as OKX sends them
                doc = _trades(OKX_TRADES, "tradeId", [trade_id], True)
            elif kind < 9:
                doc = _trades(OKX_TRADES, "tradeId", [trade_id - 1, trade_id], True)
            else:
                doc = OKX_SUBSCRIBED
            payloads.append(_text(doc, spec))
        frames.append(payloads)
    _compare(frames, by_read, by_frame)
    assert by_read.heard == by_frame.heard


@READS
@given(reads=reads)
def test_kraken_reads_match_frame_by_frame(reads: list[list[Any]]) -> None:
    symbols = ("MATIC-USD", "BTC-USD")
    by_read, by_frame = KrakenDecoder(symbols), KrakenDecoder(symbols)
    trade_id, frames = 1000, []
    for read in reads:
        payloads = []
        for spec in read:
            kind, step, _, _ = spec
            trade_id += step if kind < 9 else 0
            if kind < 7:
                doc = _trades(KRAKEN_TRADES, "trade_id", [trade_id], False)
            elif kind < 9:  # v2 sends the trades of one moment in one update
                doc = _trades(KRAKEN_TRADES, "trade_id", [trade_id - 1, trade_id], False)
            else:
                doc = KRAKEN_HEARTBEAT
            payloads.append(_text(doc, spec))
        frames.append(payloads)
    _compare(frames, by_read, by_frame)
    assert by_read.heard == by_frame.heard


def _edit(template: dict[str, Any], **fields: Any) -> bytes:
    return orjson.dumps({**template, "data": [{**template["data"][0], **fields}]})


OKX_EDGES = [
    _edit(OKX_TRADES, instId="BTC-USDT-SWAP"),  # a trade of another instrument on the channel
    _edit(OKX_TRADES, tradeId="-5"),
    _edit(OKX_TRADES, tradeId="١٢٣"),  # digits, but not ASCII ones
    _edit(OKX_TRADES, ts="99999999999999999"),
    _edit(OKX_TRADES, px="4.2e1"),
    _edit(OKX_TRADES, side="BUY"),
    orjson.dumps({**OKX_TRADES, "event": "error"}),
    orjson.dumps({**OKX_TRADES, "arg": {**OKX_TRADES["arg"], "instId": "BTC-USDT-SWAP"}}),
]
KRAKEN_EDGES = [
    _edit(KRAKEN_TRADES, trade_id=-1),
    _edit(KRAKEN_TRADES, trade_id=True),
    _edit(KRAKEN_TRADES, price="0.5117"),  # a string: taken as the number's text, as `decode`
    _edit(KRAKEN_TRADES, price=0),
    _edit(KRAKEN_TRADES, symbol="BTC/EUR"),
    _edit(KRAKEN_TRADES, timestamp="2023-09-25 07:49:37"),
    _edit(KRAKEN_TRADES, side=None),
    b'{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"buy",'
    b'"price":5.117e-1,"qty":40,"ord_type":"market","trade_id":7,'
    b'"timestamp":"2023-09-25T07:49:37.708706Z"}]}',
]


def test_edge_frames_give_what_decode_gives() -> None:
    """Frames each of whose one odd field a check of the inlined paths must catch."""
    for make, frames in ((lambda: OkxDecoder(["BSV-USDT", "BTC-USDT-PERP"]), OKX_EDGES),
                         (lambda: KrakenDecoder(["MATIC-USD"]), KRAKEN_EDGES)):  # fmt: skip
        for frame in frames:
            by_read, by_frame = make(), make()
            assert by_read.decode_read([frame], NOW) == by_frame.decode(frame, NOW), frame


def test_the_inlined_paths_are_taken() -> None:
    """Guard for the tests above: their compact trade frames do go the inlined way (a decoder
    whose `decode` fails still decodes them)."""
    binance = BinanceDecoder(BinanceSettings(symbols=("NKN-USDT",), trades="aggTrade"))
    coinbase = CoinbaseDecoder(CoinbaseSettings(symbols=("ETH-USD",)))
    for decoder, frame in ((binance, AGG), (coinbase, COINBASE_TRADES)):
        if decoder is coinbase:
            frame = {**frame, "events": [{**frame["events"][0], "type": "update"}]}

        def refuse(raw: object, at: object) -> list[Item]:
            raise AssertionError("took the general path")

        decoder.decode = refuse  # type: ignore[method-assign]
        (row,) = decoder.decode_read([orjson.dumps(frame)], NOW)
        assert row.price == (frame["data"]["p"] if decoder is binance else "1260.01")
    okx, kraken = OkxDecoder(["BSV-USDT"]), KrakenDecoder(["MATIC-USD"])
    for decoder, frame, want in (
        (okx, OKX_TRADES, ("BSV-USDT", "42.52")),
        (kraken, KRAKEN_TRADES, ("MATIC-USD", "0.5117")),
    ):
        decoder.decode = refuse  # type: ignore[method-assign]
        (row,) = decoder.decode_read([orjson.dumps(frame)], NOW)
        assert (row.symbol, row.price) == want
