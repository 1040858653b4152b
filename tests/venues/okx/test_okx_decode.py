"""OKX v5 decoder on recorded frames: exact decimal text, trades-all ids, books on the
`prevSeqId` chain (a break resyncs, checksum never read), merged derivative tickers, settled
funding apart from the predicted rate, liquidations replayed on subscribe de-duplicated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from streamer.records import (
    BookSnapshot,
    Candle,
    DerivativeTicker,
    Item,
    Liquidation,
    Millis,
    OpenInterest,
    Reject,
    Ticker,
    Trade,
)
from streamer.venues.okx.decode import OkxDecoder
from streamer.venues.okx.rows import funding_rows

FIXTURES = Path(__file__).parents[2] / "fixtures" / "okx"
AT = Millis(1_700_000_000_000)
TARDIS = json.loads((FIXTURES / "tardis_v5.json").read_text())


def message(group: str, index: int) -> dict[str, Any]:
    [g] = [g for g in TARDIS["groups"] if g["name"] == group]
    [m] = [m for m in g["messages"] if m["index"] == index]
    return m  # type: ignore[no-any-return]


def of(kind: type, items: list[Item]) -> list[Any]:
    return [i for i in items if type(i) is kind]


def test_trades_all_keeps_the_venue_text_and_the_trade_id() -> None:
    m = message("spot", 12)
    [trade] = OkxDecoder(["BSV-USDT"]).decode(m["raw"], AT)
    [want] = m["expected"]
    assert type(trade) is Trade
    assert (trade.trade_id, trade.price, trade.size, trade.side) == ("84834539", "42.52", "3.75",
                                                                     "buy")  # fmt: skip
    assert float(trade.price) == want["price"] and float(trade.size) == want["amount"]
    assert trade.event_time == 1697760012017 and trade.exchange == "okx"


def test_the_aggregated_trades_channel_is_not_taken() -> None:
    [reject] = OkxDecoder(["CRV-USDT"]).decode(message("spot", 8)["raw"], AT)
    assert type(reject) is Reject and "unsubscribed/unknown channel 'trades'" in reject.reason


def test_a_trade_id_hole_is_found_and_a_repeat_dropped() -> None:
    decoder = OkxDecoder(["BTC-USDT"])

    def frame(tid: int) -> str:
        return json.dumps({"arg": {"channel": "trades-all", "instId": "BTC-USDT"}, "data": [
            {"instId": "BTC-USDT", "tradeId": str(tid), "px": "1.5", "sz": "2", "side": "sell",
             "source": "0", "ts": "1700000000000"}]})  # fmt: skip

    assert len(decoder.decode(frame(10), AT)) == 1
    assert len(decoder.decode(frame(13), AT)) == 1
    assert decoder.decode(frame(13), AT) == []
    [hole] = decoder.trade_gaps.claim("BTC-USDT")
    assert (hole.first, hole.last) == (11, 12)


def test_spot_tickers_keep_the_venue_text() -> None:
    m = message("spot", 11)
    [ticker] = OkxDecoder(["ACT-USDT"]).decode(m["raw"], AT)
    assert type(ticker) is Ticker
    assert (ticker.last_price, ticker.best_bid, ticker.best_bid_size, ticker.best_ask,
            ticker.best_ask_size) == ("0.00718", "0.00713", "4092.326", "0.0072",
                                      "54969.407534")  # fmt: skip
    assert (ticker.volume_24h, ticker.quote_volume_24h) == ("39168761.49997", "278377.765301")
    [want] = m["expected"]
    assert float(ticker.best_ask_size or 0) == want["askAmount"]


def test_swap_derivative_tickers_merge_the_channels_with_the_venue_text() -> None:
    """tardis's group of WNCG-USDT-SWAP frames: funding, ticker, index, mark, open interest."""
    decoder = OkxDecoder(["WNCG-USDT-PERP"])
    rows: list[Item] = []
    for index in (14, 16, 17, 18, 19):
        rows += decoder.decode(message("swap", index)["raw"], AT)
    [ticker] = of(Ticker, rows)
    assert ticker.quote_volume_24h is None  # volCcy24h is base units on a swap
    [mark] = of(DerivativeTicker, rows)
    assert (mark.symbol, mark.mark_price, mark.index_price, mark.funding_rate,
            mark.next_funding_time, mark.last_price) == (
        "WNCG-USDT-PERP", "2.1729", "2.1675", "0.00048105", 1640131200000, "2.1729")  # fmt: skip
    assert mark.event_time == 1640131259180 and mark.estimated_settle_price is None
    want = message("swap", 18)["expected"][0]
    assert float(mark.mark_price) == want["markPrice"]
    assert float(mark.index_price or 0) == want["indexPrice"]
    assert float(mark.funding_rate or 0) == want["fundingRate"]
    [oi] = of(OpenInterest, rows)
    assert (oi.open_interest, oi.event_time) == ("644195", 1640131258756)  # contracts


def test_the_2026_funding_schema_gives_the_predicted_rate_never_the_settled_one() -> None:
    frame = orjson.loads(message("funding_2026", 15)["raw"])
    frame["arg"]["instId"] = frame["data"][0]["instId"] = "BTC-USD-SWAP"
    decoder = OkxDecoder(["BTC-USD-PERP"])
    assert decoder.decode(orjson.dumps(frame), AT) == []
    mark = {"arg": {"channel": "mark-price", "instId": "BTC-USD-SWAP"},
            "data": [{"instId": "BTC-USD-SWAP", "instType": "SWAP", "markPx": "64281.3",
                      "ts": "1785870856000"}]}  # fmt: skip
    [row] = decoder.decode(orjson.dumps(mark), AT)
    assert type(row) is DerivativeTicker
    assert row.funding_rate == "-0.0004270396398519"  # not settFundingRate -0.000199...
    assert row.next_funding_time == 1785888000000


def test_settled_funding_comes_from_rest_realized_rates_oldest_first() -> None:
    data = [
        {"instId": "BTC-USDT-SWAP", "fundingRate": "0.0001", "realizedRate": "0.00009876",
         "fundingTime": "1700028800000", "method": "current_period"},
        {"instId": "BTC-USDT-SWAP", "fundingRate": "0.0002", "realizedRate": "0.00020000",
         "fundingTime": "1700000000000", "method": "current_period"},
    ]  # fmt: skip
    rows = funding_rows(data, "BTC-USDT-PERP", AT)
    assert [(r.event_time, r.funding_rate, r.funding_interval_hours) for r in rows] == [
        (1700000000000, "0.00020000", None), (1700028800000, "0.00009876", 8)]  # fmt: skip


def book(action: str, seq: int, prev: int, bids: Any, asks: Any, checksum: int = 0) -> bytes:
    data = {"asks": asks, "bids": bids, "ts": str(1765201257000 + seq), "checksum": checksum,
            "seqId": seq, "prevSeqId": prev}  # fmt: skip
    return orjson.dumps({"arg": {"channel": "books", "instId": "NEAR-USDT"}, "action": action,
                         "data": [data]})  # fmt: skip


def test_a_recorded_snapshot_and_update_rebuild_the_book_whatever_the_checksum() -> None:
    snapshot, update = (FIXTURES / "books_NEAR-USDT_snapshot_update_REAL-CUT_2025.jsonl"
                        ).read_text().splitlines()  # fmt: skip
    decoder = OkxDecoder(["NEAR-USDT"], depth=5)
    decoder.decode(snapshot, AT)  # checksum -1197821412 (of the uncut book): not read
    rows = decoder.decode(update, AT)
    [top] = of(BookSnapshot, rows)
    assert top.sequence == 9690930617
    assert top.bids == (("1.782", "2173.46443964"), ("1.781", "14694.07509503"),
                        ("1.78", "12102.991384"), ("1.32", "541.81794985"))  # fmt: skip
    assert top.asks == (("1.783", "411.15719291"), ("1.784", "5842.06737585"),
                        ("2.194", "1.02075576"))  # fmt: skip
    assert decoder.stats.extra["depth_resyncs"] == 0


def test_a_snapshot_message_equals_the_peers_answer() -> None:
    """tardis's BTC-DAI snapshot (books-l2-tbt of 2021, without ids), asked as `books` with a
    `seqId` added (edited): the book is the peer's, level for level, in the venue's text."""
    m = message("spot", 9)
    frame = orjson.loads(m["raw"])
    frame["arg"]["channel"] = "books"
    frame["data"][0].update(seqId=5, prevSeqId=-1)
    [want] = m["expected"]
    rows = OkxDecoder(["BTC-DAI"]).decode(orjson.dumps(frame), AT)
    [top] = of(BookSnapshot, rows)
    assert [(float(p), float(q)) for p, q in top.bids] == [
        (x["price"], x["amount"]) for x in want["bids"]]  # fmt: skip
    assert [(float(p), float(q)) for p, q in top.asks] == [
        (x["price"], x["amount"]) for x in want["asks"]]  # fmt: skip
    assert top.bids[0] == ("46043.4", "0.00375882")


def test_a_prev_seq_id_break_asks_for_a_snapshot_and_the_book_then_equals_a_reference() -> None:
    decoder = OkxDecoder(["NEAR-USDT"], depth=10)
    books = decoder.books
    assert books is not None
    decoder.decode(book("snapshot", 10, -1, [["1.0", "1", "0", "1"]], [["2.0", "1", "0", "1"]]), AT)
    assert of(BookSnapshot, decoder.decode(book("update", 12, 10, [["1.1", "3", "0", "1"]], []),
                                           AT))  # fmt: skip
    assert decoder.decode(book("update", 12, 12, [], []), AT) == []  # keep-alive
    assert decoder.decode(book("update", 20, 15, [["0.9", "5", "0", "1"]], []), AT) == []  # break
    assert decoder.stats.extra["depth_resyncs"] == 1 and list(books.wanted) == ["NEAR-USDT"]
    decoder.decode(book("update", 24, 20, [], [["2.5", "4", "0", "1"]]), AT)
    rest = {"code": "0", "msg": "", "data": [{"asks": [["2.0", "7", "0", "2"]],
            "bids": [["1.1", "3", "0", "1"], ["0.9", "5", "0", "1"]], "ts": "1765201257999",
            "seqId": 21}]}  # fmt: skip
    rows = decoder.rest_book("NEAR-USDT", orjson.dumps(rest), AT)
    [top] = of(BookSnapshot, rows)  # the buffered 20 is in the snapshot; 24 (prev 20) applies
    assert top.sequence == 24
    assert top.bids == (("1.1", "3"), ("0.9", "5")) and top.asks == (("2.0", "7"), ("2.5", "4"))
    assert of(BookSnapshot, decoder.decode(book("update", 25, 24, [["1.1", "0", "0", "0"]], []),
                                           AT))[0].bids == (("0.9", "5"),)  # fmt: skip


def test_a_rest_book_without_a_seq_id_is_a_reject_and_asked_again() -> None:
    decoder = OkxDecoder(["NEAR-USDT"])
    decoder.decode(book("update", 5, 4, [["1.0", "1", "0", "1"]], []), AT)
    assert decoder.books is not None
    decoder.books.wanted.clear()
    body = orjson.dumps({"code": "0", "data": [{"asks": [], "bids": [], "ts": "1"}]})
    [reject] = decoder.rest_book("NEAR-USDT", body, AT)
    assert type(reject) is Reject and "seqId" in reject.reason
    assert list(decoder.books.wanted) == ["NEAR-USDT"]


def test_an_update_without_prev_seq_id_is_a_reject_not_a_zero() -> None:
    frame = orjson.loads(book("update", 5, 4, [], []))
    del frame["data"][0]["prevSeqId"]
    [reject] = OkxDecoder(["NEAR-USDT"]).decode(orjson.dumps(frame), AT)
    assert type(reject) is Reject and "prevSeqId" in reject.reason


def liquidation_frame(*details: tuple[str, str]) -> bytes:
    """The recorded futures `liquidation-orders` element (okex-futures [13]) on two swaps."""
    base = orjson.loads(message("futures", 13)["raw"])["data"][0]["details"][0]
    data = [{"details": [dict(base, bkPx=px, ts=ts)], "instFamily": "XRP-USDT",
             "instId": "XRP-USDT-SWAP", "instType": "SWAP", "uly": "XRP-USDT"}
            for px, ts in details]  # fmt: skip
    data.append(dict(data[0], instId="DOGE-USDT-SWAP"))
    return orjson.dumps({"arg": {"channel": "liquidation-orders", "instType": "SWAP"},
                         "data": data})  # fmt: skip


def test_liquidations_replayed_on_subscribe_are_dropped() -> None:
    decoder = OkxDecoder(["XRP-USDT-PERP"])
    first = decoder.decode(liquidation_frame(("0.55205", "1680173247614")), AT)
    [row] = first
    assert type(row) is Liquidation
    assert (row.side, row.price, row.quantity, row.filled_quantity, row.event_time) == (
        "buy", "0.55205", "39", "39", 1680173247614)  # fmt: skip
    replay = decoder.decode(
        liquidation_frame(("0.55205", "1680173247614"), ("0.55", "1680173249000")), AT
    )
    assert [r.price for r in replay] == ["0.55"]
    assert decoder.stats.extra["liquidations_replayed"] == 1


def test_only_closed_candles_are_written() -> None:
    decoder = OkxDecoder(["BTC-USDT"])

    def frame(confirm: str) -> bytes:
        return orjson.dumps({"arg": {"channel": "candle1m", "instId": "BTC-USDT"}, "data": [[
            "1700000040000", "100.5", "101", "99.25", "100.75", "12.5", "1250.1", "1250.1",
            confirm]]})  # fmt: skip

    assert decoder.decode(frame("0"), AT) == []
    [candle] = decoder.decode(frame("1"), AT)
    assert type(candle) is Candle
    assert (candle.open, candle.low, candle.close, candle.volume, candle.quote_volume) == (
        "100.5", "99.25", "100.75", "12.5", "1250.1")  # fmt: skip
    assert (candle.open_time, candle.close_time, candle.is_closed) == (
        1700000040000, 1700000099999, True)  # fmt: skip


def test_bad_frames_are_rejects_with_reasons() -> None:
    decoder = OkxDecoder(["BTC-USDT"])
    trade = {"instId": "BTC-USDT", "tradeId": "1", "px": "1", "sz": "1", "side": "buy",
             "ts": "1700000000000"}  # fmt: skip

    def frame(**change: object) -> bytes:
        return orjson.dumps({"arg": {"channel": "trades-all", "instId": "BTC-USDT"},
                             "data": [dict(trade, **change)]})  # fmt: skip

    error = b'{"event":"error","code":"60012","msg":"Invalid request"}'
    frames = (frame(px=1.5), frame(ts="soon"), frame(side="up"), frame(tradeId="x"), b"{", error,
              frame(px="-1"))  # fmt: skip
    reasons = [decoder.decode(raw, AT)[0].reason for raw in frames]  # type: ignore[union-attr]
    assert "'px' is not a decimal string" in reasons[0]
    assert "'ts' is not epoch milliseconds" in reasons[1]
    assert "'side' is not buy or sell" in reasons[2]
    assert "'tradeId' is not a trade id" in reasons[3]
    assert reasons[4].startswith("invalid JSON")
    assert reasons[5] == "venue error '60012': Invalid request"
    assert "px" in reasons[6]
    assert decoder.decode(b"pong", AT) == [] and decoder.pongs == 1
