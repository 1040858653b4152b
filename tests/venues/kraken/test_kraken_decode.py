"""Kraken v2 frames -> rows: trade ids tracked, tickers and candles, rejects, names, listings."""

from __future__ import annotations

from pathlib import Path

from streamer.records import Candle, Millis, Reject, Ticker, Trade
from streamer.venues.kraken.decode import KrakenDecoder
from streamer.venues.kraken.rest import pairs, parse_trades
from streamer.venues.kraken.symbols import rest_pair, v2_pair

AT = Millis(1_783_641_700_000)
FIXTURES = Path(__file__).parents[2] / "fixtures" / "kraken"


def trade(trade_id: int, price: str = "105944.20") -> bytes:
    return (
        '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell",'
        f'"price":{price},"qty":0.00027625,"ord_type":"limit","trade_id":{trade_id},'
        '"timestamp":"2026-07-10T00:00:01.123456Z"}]}'
    ).encode()


def test_trade_ids_are_tracked_a_skip_is_a_hole_and_a_repeat_is_dropped() -> None:
    d = KrakenDecoder(["BTC-USD"])
    [row] = d.decode(trade(10), AT)
    assert type(row) is Trade
    assert (row.trade_id, row.price, row.size, row.side) == ("10", "105944.20", "0.00027625",
                                                             "sell")  # fmt: skip
    assert row.event_time == 1_783_641_601_123
    assert d.decode(trade(11), AT) and not d.trade_gaps.found
    assert d.decode(trade(14), AT)
    [hole] = d.trade_gaps.tracks["BTC-USD"].holes
    assert (hole.first, hole.last) == (12, 13)
    assert d.decode(trade(11), AT) == []  # a replay (the snapshot on resubscribe)
    assert d.trade_gaps.repeats == 1


def ohlc(begin: str, close: str, stamp: str, kind: str = "update") -> bytes:
    return (
        f'{{"channel":"ohlc","type":"{kind}","data":[{{"symbol":"BTC/USD","open":100.0,'
        f'"high":101.5,"low":99.9,"close":{close},"trades":3,"volume":1.50000000,"vwap":100.2,'
        f'"interval_begin":"{begin}","interval":1,"timestamp":"{stamp}"}}]}}'
    ).encode()


def test_a_candle_is_published_closed_once_a_later_one_begins_with_its_last_state() -> None:
    d = KrakenDecoder(["BTC-USD"])
    assert (
        d.decode(ohlc("2026-07-10T00:00:00.000000000Z", "100.1", "2026-07-10T00:00:10Z"), AT) == []
    )
    assert (
        d.decode(ohlc("2026-07-10T00:00:00.000000000Z", "100.7", "2026-07-10T00:00:50Z"), AT) == []
    )
    [closed] = d.decode(ohlc("2026-07-10T00:01:00.000000000Z", "100.2", "2026-07-10T00:01:02Z"), AT)
    assert type(closed) is Candle and closed.is_closed
    assert (closed.close, closed.interval, closed.trade_count) == ("100.7", "1m", 3)
    assert closed.open_time == 1_783_641_600_000 and closed.close_time == 1_783_641_659_999
    assert d.decode(ohlc("2026-07-10T00:00:00.000000000Z", "100.7", "2026-07-10T00:00:50Z",
                         "snapshot"), AT) == []  # fmt: skip  # history replayed: not again


def test_a_ticker_keeps_the_venues_digits() -> None:
    d = KrakenDecoder(["BTC-USD"])
    frame = (b'{"channel":"ticker","type":"snapshot","data":[{"symbol":"BTC/USD","bid":105944.20,'
             b'"bid_qty":2.5,"ask":105944.30,"ask_qty":3.2,"last":105899.40,"volume":163.28908096,'
             b'"vwap":105904.39279,"low":104711.00,"high":106613.10,"change":250.00,'
             b'"change_pct":0.24,"timestamp":"2026-07-10T00:00:01.000000Z"}]}')  # fmt: skip
    [row] = d.decode(frame, AT)
    assert type(row) is Ticker
    assert (row.last_price, row.best_bid, row.low_24h, row.volume_24h) == (
        "105899.40",
        "105944.20",
        "104711.00",
        "163.28908096",
    )


def test_bad_frames_are_rejects_with_their_reason() -> None:
    d = KrakenDecoder(["BTC-USD"])
    cases = {
        b"not json": "invalid JSON",
        b'{"channel":"trade","type":"update","data":[{"symbol":"DOGE/USD"}]}': "unknown symbol",
        trade(-1): "trade_id",
        trade(1, "-5"): "price",
        b'{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","checksum":-1}]}': "CRC32",
        b'{"channel":"nope","type":"update","data":[]}': "unknown channel",
        b'{"method":"subscribe","success":false,"error":"Unknown pair"}': "venue error",
    }
    for frame, reason in cases.items():
        [row] = d.decode(frame, AT)
        assert type(row) is Reject and reason in row.reason, (frame, row.reason)


def test_a_rate_limit_answer_is_no_reject_and_reaches_the_shell() -> None:
    d = KrakenDecoder(["BTC-USD"])
    assert d.decode(b'{"Error":"Exceeded msg rate"}', AT) == []
    assert d.decode(b'{"channel":"heartbeat"}', AT) == []
    [answer] = d.answers
    assert answer.rate_limited and answer.req_id is None


def test_pair_names_between_v2_rest_and_the_lake() -> None:
    assert v2_pair("XBT/USD") == "BTC/USD" and v2_pair("XDG/EUR") == "DOGE/EUR"
    assert rest_pair("BTC-USD") == "XBTUSD" and rest_pair("ETH-USD") == "ETHUSD"
    [info] = pairs((FIXTURES / "asset_pairs_xbtusdt.json").read_bytes())
    assert (info.symbol, info.altname, info.price_decimals, info.qty_decimals, info.online) == (
        "BTC-USDT",
        "XBTUSDT",
        1,
        8,
        True,
    )


def test_rest_trades_keep_the_time_digits_and_the_id() -> None:
    body = (b'{"error":[],"result":{"XXBTZUSD":[["30243.40000","0.34507674",1688669597.8277369,'
            b'"b","m","",61044952]],"last":"1688671969993150842"}}')  # fmt: skip
    [row], last = parse_trades(body, "BTC-USD", str, AT)
    assert type(row) is Trade
    assert (row.trade_id, row.event_time, row.side, row.price) == (
        "61044952",
        1_688_669_597_827,
        "buy",
        "30243.40000",
    )
    assert last == 1_688_671_969_993_150_842
    [reject], _ = parse_trades(b'{"error":["EQuery:Unknown asset pair"]}', "BTC-USD", str, AT)
    assert type(reject) is Reject and "Unknown asset pair" in reject.reason
