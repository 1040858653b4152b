"""Instructions per frame on the hot path, counted by valgrind (callgrind): figures that do not
move with the machine's load, for comparing two versions of the code on a noisy machine.

The frames are `vs_cryptofeed.py`'s (Binance `aggTrade` and `depth20`, Coinbase
`market_trades` and `l2_data` updates). Each stream's frames go, 64 to a socket read, through
the real session's `on_frames` (decode, trade ids, candle ledger, counters), the pipeline's
bounded queue and its consumer (encoders, null sink): everything `streamer run` does per frame
except the socket and the WebSocket parsing. A run of `n1` and one of `n2` frames are counted,
and their difference divided by `n2 - n1`, so start-up (imports, connection set-up) cancels out.

    python benchmarks/instructions.py [--streams ...] [--baseline DIR]

`--baseline DIR` counts another checkout's `src` (for example a `git worktree` of main) the
same way. Needs valgrind (Debian: `apt-get install valgrind`); a run takes about a minute per
stream and version.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
STREAMS = ("binance-trades", "coinbase-trades", "binance-books", "coinbase-books")
PER_READ = 64


def frames_file(stream: str, n: int, folder: Path) -> Path:
    """The stream's first `n` frames, one per line (made once, outside the counted process)."""
    sys.path.insert(0, str(HERE))
    import vs_cryptofeed as vs

    make = {
        "binance-trades": vs.binance_frames,
        "coinbase-trades": vs.coinbase_frames,
        "binance-books": vs.binance_books,
        "coinbase-books": vs.coinbase_books,
    }[stream]
    path = folder / f"{stream}-{n}.txt"
    path.write_bytes(b"\n".join(make(n)))
    return path


async def replay(stream: str, path: Path) -> int:
    """Runs in the counted process: every frame through one session and the pipeline."""
    from streamer.pipeline import _END, PipelineStats, RowQueue, _consume
    from streamer.records import Millis
    from streamer.sinks.null import NullSink
    from streamer.venues.binance.settings import BinanceSettings
    from streamer.venues.coinbase.settings import CoinbaseSettings

    frames = path.read_bytes().split(b"\n")
    queue = RowQueue(10_000)
    if stream.startswith("binance"):
        from streamer.venues.binance.source import BinanceSource
        from streamer.venues.binance.source import _Session as BinanceSession

        binance = BinanceSource(BinanceSettings(
            symbols=("BTC-USDT",), trades="aggTrade", ws_url="ws://127.0.0.1:9",
            rest_url="http://127.0.0.1:9",
        ))  # fmt: skip
        on_frames = BinanceSession(binance, binance.plans[0], queue.put).on_frames
    else:
        from streamer.venues.coinbase.source import CoinbaseSource
        from streamer.venues.coinbase.source import _Session as CoinbaseSession

        coinbase = CoinbaseSource(CoinbaseSettings(
            symbols=("BTC-USD",), ws_url="ws://127.0.0.1:9", rest_url="http://127.0.0.1:9"
        ))  # fmt: skip
        session = CoinbaseSession(coinbase, coinbase.decoders[0], coinbase.groups[0], queue.put)
        on_frames = session.on_frames
    t0 = 1_764_000_000_000
    stats = PipelineStats()
    # Older checkouts (`--baseline`) have no `stopping` argument.
    extra = (asyncio.Event(),) if "stopping" in inspect.signature(_consume).parameters else ()
    consumer = asyncio.ensure_future(_consume(queue, NullSink(), lambda: Millis(t0), stats, *extra))
    for i in range(0, len(frames), PER_READ):
        await on_frames(frames[i : i + PER_READ], Millis(t0 + i))
    await queue.put(_END)
    await consumer
    return stats.total()


def counted(src: Path, stream: str, path: Path) -> int:
    """Instructions of one replay, in a fresh interpreter under callgrind."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--replay", stream, str(path),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stderr
    found = re.search(r"Collected : ([\d,]+)", out)
    assert found, out[-2000:]
    return int(found.group(1).replace(",", ""))


def per_frame(src: Path, stream: str, files: tuple[Path, Path], sizes: tuple[int, int]) -> float:
    few, many = (counted(src, stream, f) for f in files)
    return (many - few) / (sizes[1] - sizes[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", nargs="+", default=list(STREAMS), choices=STREAMS)
    parser.add_argument("--baseline", type=Path, help="another checkout, counted the same way")
    parser.add_argument("--frames", type=int, nargs=2, default=(4_000, 12_000))
    parser.add_argument("--replay", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replay:
        import uvloop

        stream, path = args.replay
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(replay(stream, Path(path)))
        return
    if shutil.which("valgrind") is None:
        sys.exit("instructions.py needs valgrind (Debian: apt-get install valgrind)")
    versions = {"streamer": SRC}
    if args.baseline:
        versions["baseline"] = args.baseline.resolve() / "src"
    sizes: tuple[int, int] = (args.frames[0], args.frames[1])
    print("| stream | " + " | ".join(versions) + (" | ratio |" if args.baseline else " |"))
    print("|---|" + "---|" * (len(versions) + (1 if args.baseline else 0)))
    with tempfile.TemporaryDirectory() as tmp:
        for stream in args.streams:
            files = (frames_file(stream, n, Path(tmp)) for n in sizes)
            pair = (next(files), next(files))
            counts = {name: per_frame(src, stream, pair, sizes) for name, src in versions.items()}
            cells = [f"{c:,.0f}" for c in counts.values()]
            if args.baseline:
                cells.append(f"{counts['streamer'] / counts['baseline']:.2f}x")
            print(f"| {stream} | " + " | ".join(cells) + " |", flush=True)
    print(f"instructions per frame ({sizes[1]:,} minus {sizes[0]:,} frames, {PER_READ} a read)")


if __name__ == "__main__":
    main()
