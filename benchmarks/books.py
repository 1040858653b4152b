"""CPU cost of full-depth books (`STREAMER_*_BOOK_UPDATES=true`) per book update, measured side
by side with the partial books they replace, in one process.

Each case decodes pre-built frames with the real decoder and encodes every row it gives with
the lake's encoder (what the pipeline does before the sink), timed with `time.process_time`;
cases alternate within each round and the figure is the median of the rounds.

- Binance off: `depth20@100ms` frames (20 levels a side, the stream read without full books).
- Binance on: `<s>@depth@100ms` diffs of `--changes` levels each on a book synced from a
  5,000-level-a-side snapshot: the local book, a `book_updates` row per level and the top 20.
- Coinbase off / on: `l2_data` updates of `--changes` levels on a 5,000-level-a-side book;
  on adds a `book_updates` row per level (the top-N sampling is the same either way).

    python benchmarks/books.py [--frames 20000] [--changes 10] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import orjson

from streamer.jsonline import encode
from streamer.records import Millis
from streamer.venues.binance.decode import BinanceDecoder
from streamer.venues.binance.settings import BinanceSettings
from streamer.venues.coinbase.decode import CoinbaseDecoder
from streamer.venues.coinbase.settings import CoinbaseSettings

RECEIVED = Millis(1_790_000_000_000)
LEVELS = 5000
MID = 6_700_000  # price in cents


def price(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}000000"


def size(n: int) -> str:
    return f"{n % 97 / 10 + 0.01:.8f}"


def binance_snapshot() -> bytes:
    bids = [[price(MID - 1 - k), size(k)] for k in range(LEVELS)]
    asks = [[price(MID + 1 + k), size(k + 3)] for k in range(LEVELS)]
    return orjson.dumps({"lastUpdateId": 1002, "bids": bids, "asks": asks})  # in the 1st diff


def binance_diffs(frames: int, changes: int) -> list[bytes]:
    out = []
    for i in range(frames):
        half = changes // 2
        bids = [[price(MID - 1 - (i * 7 + k) % 400), size(i + k) if (i + k) % 5 else "0.00000000"]
                for k in range(half)]  # fmt: skip
        asks = [
            [price(MID + 1 + (i * 5 + k) % 400), size(i + 2 * k)] for k in range(changes - half)
        ]
        data = {"e": "depthUpdate", "E": 1_790_000_000_000 + 100 * i, "s": "BTCUSDT",
                "U": 1001 + 3 * i, "u": 1003 + 3 * i, "b": bids, "a": asks}  # fmt: skip
        out.append(orjson.dumps({"stream": "btcusdt@depth@100ms", "data": data}))
    return out


def binance_partials(frames: int) -> list[bytes]:
    out = []
    for i in range(frames):
        bids = [[price(MID - 1 - k), size(i + k)] for k in range(20)]
        asks = [[price(MID + 1 + k), size(i + 2 * k)] for k in range(20)]
        data = {"lastUpdateId": 1000 + i, "bids": bids, "asks": asks}
        out.append(orjson.dumps({"stream": "btcusdt@depth20@100ms", "data": data}))
    return out


def coinbase_frames(frames: int, changes: int) -> tuple[bytes, list[bytes]]:
    def envelope(seq: int, kind: str, updates: list[dict[str, str]]) -> bytes:
        event = {"type": kind, "product_id": "BTC-USD", "updates": updates}
        stamp = f"2026-11-30T12:{seq // 60000 % 60:02d}:{seq // 1000 % 60:02d}.{seq % 1000:03d}Z"
        return orjson.dumps({"channel": "l2_data", "timestamp": stamp, "sequence_num": seq,
                             "events": [event]})  # fmt: skip

    def level(side: str, cents: int, qty: str) -> dict[str, str]:
        return {"side": side, "event_time": "2026-11-30T12:00:00.000000Z",
                "price_level": price(cents)[:-6], "new_quantity": qty}  # fmt: skip

    snapshot = [level("bid", MID - 1 - k, size(k)) for k in range(LEVELS)]
    snapshot += [level("offer", MID + 1 + k, size(k)) for k in range(LEVELS)]
    updates = []
    for i in range(frames):
        half = changes // 2
        ups = [level("bid", MID - 1 - (i * 7 + k) % 400, size(i + k) if (i + k) % 5 else "0")
               for k in range(half)]  # fmt: skip
        ups += [level("offer", MID + 1 + (i * 5 + k) % 400, size(i + k))
                for k in range(changes - half)]  # fmt: skip
        updates.append(envelope(i + 1, "update", ups))
    return envelope(0, "snapshot", snapshot), updates


def timed(run: Callable[[], int]) -> tuple[float, int]:
    start = time.process_time()
    rows = run()
    return time.process_time() - start, rows


def binance_case(full: bool, frames: list[bytes], snapshot: bytes) -> Callable[[], int]:
    def run() -> int:
        decoder = BinanceDecoder(BinanceSettings(symbols=("BTC-USDT",), book_updates=full))
        if full:
            decoder.decode(frames[0], RECEIVED)  # buffered, then the snapshot syncs the book
            decoder.depth_snapshot("BTC-USDT", snapshot, RECEIVED)
        rows = 0
        for frame in frames[1:] if full else frames:  # (the first diff was applied on sync)
            for row in decoder.decode(frame, RECEIVED):
                encode(row)
                rows += 1
        return rows

    return run


def coinbase_case(full: bool, snapshot: bytes, frames: list[bytes]) -> Callable[[], int]:
    def run() -> int:
        decoder = CoinbaseDecoder(CoinbaseSettings(symbols=("BTC-USD",), book_updates=full))
        decoder.decode(snapshot, RECEIVED)
        rows = 0
        for frame in frames:
            for row in decoder.decode(frame, RECEIVED):
                encode(row)
                rows += 1
        return rows

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--changes", type=int, default=10, help="levels each update sets")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n, changes = args.frames, args.changes
    snapshot = binance_snapshot()
    cb_snapshot, cb_updates = coinbase_frames(n, changes)
    cases = {
        "binance depth20 (partial)": (binance_case(False, binance_partials(n), snapshot), n),
        "binance full (diff)": (binance_case(True, binance_diffs(n + 1, changes), snapshot), n),
        "coinbase level2, no rows": (coinbase_case(False, cb_snapshot, cb_updates), n),
        "coinbase level2 + book_updates": (coinbase_case(True, cb_snapshot, cb_updates), n),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    rows: dict[str, int] = {}
    names = list(cases)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            seconds, rows[name] = timed(cases[name][0])
            times[name].append(seconds)
    print(f"{n:,} updates of {changes} levels (a 5,000-level-a-side book), median of "
          f"{args.rounds} rounds, decode + encode, CPU of this process")  # fmt: skip
    print("| case | µs per update | µs per level change | rows per update |")
    print("|---|---|---|---|")
    for name, (_, frames) in cases.items():
        us = statistics.median(times[name]) / frames * 1e6
        per_level = "" if "partial" in name else f"{us / changes:.2f}"
        print(f"| {name} | {us:.1f} | {per_level} | {rows[name] / frames:.1f} |")


if __name__ == "__main__":
    main()
