"""CPU cost of one Kraken `book` update with its checksum verified, per message.

Replays the 509 recorded BTC/USD updates of `tests/fixtures/kraken/book_btc_usd.jsonl` (depth
10, each proven by its CRC32) through the real decoder after their snapshot, and encodes every
row they give with the lake's encoder (what the pipeline does before the sink), timed with
`time.process_time`; `--repeat` replays them that many times a round (each replay starts from
the snapshot again), and the figure is the median of the rounds. The checksum step alone (the
text of the top 10 levels a side and its CRC32, by the books' `BookChecksum`, whose level
texts are kept, over the tops the replay gives in turn) is timed apart, for its share, with the
reference `book_checksum` (every text written out each time) beside it.

    python benchmarks/kraken_book.py [--repeat 40] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from streamer.jsonline import encode
from streamer.records import Levels, Millis
from streamer.venues.kraken.checksum import BookChecksum, book_checksum
from streamer.venues.kraken.decode import KrakenDecoder

FRAMES = Path(__file__).parents[1] / "tests" / "fixtures" / "kraken" / "book_btc_usd.jsonl"
AT = Millis(1_690_731_000_000)


def run(frames: list[bytes], repeat: int) -> float:
    """CPU seconds for `repeat` replays of the updates (the snapshots are not counted)."""
    spent = 0.0
    for _ in range(repeat):
        decoder = KrakenDecoder(["BTC-USD"], depth=10)
        decoder.books.set_precision("BTC-USD", 1, 8)
        decoder.decode(frames[0], AT)
        started = time.process_time()
        for frame in frames[1:]:
            for row in decoder.decode(frame, AT):
                encode(row)
        spent += time.process_time() - started
        assert not decoder.stats.extra["book_checksum_mismatches"]
    return spent


def tops(frames: list[bytes]) -> list[tuple[Levels, Levels]]:
    """The top 10 a side after each message of one replay."""
    decoder = KrakenDecoder(["BTC-USD"], depth=10)
    decoder.books.set_precision("BTC-USD", 1, 8)
    book = decoder.books.books["BTC-USD"].book
    out = []
    for frame in frames:
        decoder.decode(frame, AT)
        out.append(book.top(10))
    return out


def checksum_only(books: list[tuple[Levels, Levels]], repeat: int, kept: bool) -> float:
    """CPU seconds per checksum over `books` in turn, `repeat` times (`kept`: `BookChecksum`,
    a fresh one each replay; else the reference)."""
    started = time.process_time()
    for _ in range(repeat):
        checksum = BookChecksum(1, 8)
        for bids, asks in books:
            if kept:
                checksum(bids, asks)
            else:
                book_checksum(bids, asks, 1, 8)
    return (time.process_time() - started) / (repeat * len(books))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    frames = [line.encode() for line in FRAMES.read_text().splitlines()]
    updates = (len(frames) - 1) * args.repeat
    whole = [run(frames, args.repeat) / updates for _ in range(args.rounds)]
    books = tops(frames)
    crc = [checksum_only(books, args.repeat, True) for _ in range(args.rounds)]
    reference = [checksum_only(books, args.repeat, False) for _ in range(args.rounds)]
    print(f"kraken book update, depth 10, checksum verified: "
          f"{statistics.median(whole) * 1e6:.2f} µs/msg (decode, book, CRC32, rows encoded; "
          f"median of {args.rounds} rounds of {updates} updates)")  # fmt: skip
    print(f"  the checksum alone (top 10 a side, CRC32): {statistics.median(crc) * 1e6:.2f} µs "
          f"(written out every time: {statistics.median(reference) * 1e6:.2f} µs)")  # fmt: skip


if __name__ == "__main__":
    main()
