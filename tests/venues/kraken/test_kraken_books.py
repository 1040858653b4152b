"""Kraken books proven by their checksum: recorded v2 frames, a corrupted level, the depth cut."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from streamer.records import BookSnapshot, BookUpdate, Item, Millis, Reject
from streamer.venues.kraken.checksum import book_checksum, digits
from streamer.venues.kraken.decode import KrakenDecoder

FIXTURES = Path(__file__).parents[2] / "fixtures" / "kraken"
FRAMES = (FIXTURES / "book_btc_usd.jsonl").read_text().splitlines()
AT = Millis(1_690_731_000_000)


def decoder(depth: int = 10, precision: bool = True) -> KrakenDecoder:
    d = KrakenDecoder(["BTC-USD"], depth=depth)
    if precision:
        d.books.set_precision("BTC-USD", 1, 8)  # AssetPairs: pair_decimals, lot_decimals
    return d


def books(items: list[Item]) -> list[BookSnapshot]:
    return [i for i in items if type(i) is BookSnapshot]


def test_digits_drop_the_point_and_leading_zeros_and_pad_to_the_precision() -> None:
    assert digits("45285.2", 1) == "452852"
    assert digits("0.00100000", 8) == "100000"
    assert digits("0.001", 8) == "100000"  # a float-trimmed text padded back
    assert digits("4.0", 8) == "400000000"
    assert digits("100", 1) == "1000"
    assert digits("0.001", None) == "1"


def test_the_documented_snapshot_matches_its_checksum_with_the_text_as_sent() -> None:
    d = KrakenDecoder(["BTC-USD"])  # no precision known: the wire's text carries it
    [book] = books(d.decode((FIXTURES / "doc_example_snapshot.json").read_bytes(), AT))
    assert book.bids[3] == ("45281.0", "0.10000000")  # text kept, never a float
    assert book.asks[0] == ("45285.2", "0.00100000")
    assert book.sequence == 1_696_613_755_440_295  # the timestamp in microseconds
    assert not d.stats.extra["book_checksum_mismatches"]


def test_a_book_rebuilt_from_510_recorded_frames_matches_every_checksum() -> None:
    d = decoder()
    published = 0
    for line in FRAMES:
        items = d.decode(line.encode(), AT)
        assert not [i for i in items if type(i) is Reject]
        [book] = books(items)  # every message gives its verified book
        published += 1
        theirs = json.loads(line)["data"][0]["checksum"]
        assert book_checksum(book.bids, book.asks, 1, 8) == theirs
        assert len(book.bids) <= 10 and len(book.asks) <= 10
    assert published == len(FRAMES) == 510
    assert not d.stats.extra["book_checksum_mismatches"]
    assert not d.stats.extra["book_updates_unsynced"]


def test_without_the_pairs_precision_the_float_trimmed_recording_fails_at_once() -> None:
    d = decoder(precision=False)
    assert books(d.decode(FRAMES[0].encode(), AT)) == []
    assert d.stats.extra["book_checksum_mismatches"] == 1
    assert list(d.books.failed) == ["BTC-USD"]


def test_a_corrupted_level_is_caught_on_the_message_it_arrives_in() -> None:
    corrupt_at = 200
    frame = json.loads(FRAMES[corrupt_at], parse_float=str)
    entry = frame["data"][0]
    side = "bids" if entry["bids"] else "asks"
    level = entry[side][0]
    level["qty"] = "7.77777777" if level["qty"] != "7.77777777" else "7.7777777"
    corrupted = json.dumps(frame)
    for key in ("price", "qty"):  # the text written as JSON numbers, as the wire sends them
        for lv in entry["bids"] + entry["asks"]:
            corrupted = corrupted.replace(f'"{key}": "{lv[key]}"', f'"{key}": {lv[key]}')
    d = decoder()
    for index, line in enumerate(FRAMES[:corrupt_at]):
        assert books(d.decode(line.encode(), AT)), index
    items = d.decode(corrupted.encode(), AT)
    assert items == []  # neither its book nor its book_updates are published
    assert d.stats.extra["book_checksum_mismatches"] == 1
    assert list(d.books.failed) == ["BTC-USD"]
    for line in FRAMES[corrupt_at + 1 :]:  # nothing until a new snapshot
        assert d.decode(line.encode(), AT) == []
    assert d.stats.extra["book_updates_unsynced"] == len(FRAMES) - corrupt_at - 1
    again = books(d.decode(FRAMES[0].encode(), AT))  # the resubscribed book's snapshot
    assert len(again) == 1


def frame(kind: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]],
          checksum: int, stamp: str) -> bytes:  # fmt: skip
    def side(levels: list[tuple[str, str]]) -> str:
        return ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in levels)

    return (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"BTC/USD","bids":[{side(bids)}],'
        f'"asks":[{side(asks)}],"checksum":{checksum},"timestamp":"{stamp}"}}]}}'
    ).encode()


def crc(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> int:
    """The checksum written out by hand from the docs' steps (independent of `checksum.py`)."""
    text = "".join(p.replace(".", "").lstrip("0") + q.replace(".", "").lstrip("0")
                   for p, q in asks + bids)  # fmt: skip
    return zlib.crc32(text.encode())


def test_the_book_is_cut_to_the_subscribed_depth_and_the_cut_levels_read_zero() -> None:
    bids = [(f"{100 - i}.0", "1.00000000") for i in range(10)]  # 100.0 .. 91.0
    asks = [(f"{101 + i}.0", "2.00000000") for i in range(10)]  # 101.0 .. 110.0
    d = decoder()
    stamp = "2026-07-10T00:00:00.000001Z"
    assert books(d.decode(frame("snapshot", bids, asks, crc(asks, bids), stamp), AT))
    # A better bid enters: 11 bids, and Kraken sends no removal for 91.0, which leaves the depth.
    new_bid = ("100.5", "0.50000000")
    after = [new_bid, *bids[:9]]
    update = frame("update", [new_bid], [], crc(asks, after), "2026-07-10T00:00:00.000002Z")
    items = d.decode(update, AT)
    [book] = books(items)
    assert book.bids == tuple(after) and len(book.bids) == 10
    rows = {(r.side, r.price): r.size for r in items if type(r) is BookUpdate}
    assert rows == {("bid", "100.5"): "0.50000000", ("bid", "91.0"): "0"}
    assert book.sequence == 1_783_641_600_000_002
    assert len(d.books.books["BTC-USD"].book.bids) == 10


def test_a_removal_and_an_update_in_one_message_are_all_applied_before_the_checksum() -> None:
    bids = [("100.0", "1.0"), ("99.0", "1.0")]
    asks = [("101.0", "1.0"), ("102.0", "1.0")]
    d = decoder(depth=10)
    d.books.set_precision("BTC-USD", 1, 1)
    assert books(d.decode(frame("snapshot", bids, asks, crc(asks, bids), "2026-07-10T00:00:00Z"),
                          AT))  # fmt: skip
    new_asks = [("101.5", "3.0"), ("102.0", "1.0")]
    update = frame("update", [], [("101.0", "0"), ("101.5", "3.0")], crc(new_asks, bids),
                   "2026-07-10T00:00:01Z")  # fmt: skip
    [book] = books(d.decode(update, AT))
    assert book.asks == tuple(new_asks)
