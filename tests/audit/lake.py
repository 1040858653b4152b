"""Lakes for the audit tests, written by the real encoders and lake sink (`tests/lakes.write`).

The day audited is 2025-11-24 (UTC). Each symbol trades once a minute with consecutive ids
(`ID0 + minute` on the day, the days either side continuing the sequence), closes one-minute
candles, and its feed writes `quality` rows; every row arrives 0.5 s after its event, so the
objects (cut every `OBJECT_SECONDS`) hold whole hours and deleting one loses known ids.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from streamer.records import Candle, Dec, Holes, IdRanges, Item, Millis, Quality, Trade
from tests import lakes

DAY = date(2025, 11, 24)
D0 = int(datetime(2025, 11, 24, tzinfo=UTC).timestamp() * 1000)
MINUTE = 60_000
HOUR = 3_600_000
DAY_MS = 86_400_000
ARRIVAL_MS = 500
OBJECT_SECONDS = 3600.0

Rows = list[tuple[Item, int]]


def trade(exchange: str, symbol: str, trade_id: str, at: int) -> tuple[Item, int]:
    row = Trade(exchange, symbol, Millis(at), Millis(at + ARRIVAL_MS), trade_id, Dec("100.5"),
                Dec("0.25"), "buy", f"t-{exchange}-{symbol}-{trade_id}")  # fmt: skip
    return row, at + ARRIVAL_MS


def candle(exchange: str, symbol: str, open_ms: int, step: int = MINUTE) -> tuple[Item, int]:
    row = Candle(exchange, symbol, Millis(open_ms + step), Millis(open_ms + step),
                 "1m" if step == MINUTE else f"{step // MINUTE}m", Millis(open_ms),
                 Millis(open_ms + step - 1), Dec("1"), Dec("2"), Dec("0.5"), Dec("1.5"), Dec("3"),
                 None, None, True, "ws", f"c-{exchange}-{symbol}-{step}-{open_ms}")  # fmt: skip
    return row, open_ms + step + ARRIVAL_MS


def quality(
    exchange: str,
    symbol: str,
    stream: str,
    minute: int,
    *,
    rows: int = 0,
    gaps: Sequence[tuple[int, int]] = (),
    backfilled: int = 0,
    holes: Sequence[tuple[int, int, str]] = (),
    resyncs: tuple[int, int, int] = (0, 0, 0),
    silent: int = 0,
    connected_ms: int = 0,
    disconnected_ms: int = 0,
    rejects: int = 0,
    shard: str = "0/1",
) -> tuple[Item, int]:
    row = Quality(exchange, symbol, stream, Millis(minute), Millis(minute + MINUTE), rows, rows,
                  IdRanges(tuple(gaps)), backfilled, Holes(tuple(holes)), *resyncs, silent,
                  connected_ms, disconnected_ms, rejects, shard,
                  f"q-{exchange}-{symbol}-{stream}-{minute}-{shard}")  # fmt: skip
    return row, minute + MINUTE + ARRIVAL_MS


@dataclass
class Symbol:
    """One symbol's day: a trade a minute (ids `first_id` on), a candle a minute, a quality
    row an hour; `before` and `after` minutes of trades on the days either side."""

    exchange: str
    symbol: str
    first_id: int
    before: int = 60
    after: int = 60
    skip_candles: set[int] = field(default_factory=set)
    """Minutes of the day with no candle."""

    def id_at(self, minute: int) -> int:
        """The trade id of a minute of the day (negative: the day before; 1440 on: after)."""
        return self.first_id + minute

    def rows(self) -> Rows:
        out: Rows = []
        for minute in range(-self.before, 1440 + self.after):
            out.append(trade(self.exchange, self.symbol, str(self.id_at(minute)),
                             D0 + minute * MINUTE + 1000))  # fmt: skip
        for minute in range(1440):
            if minute not in self.skip_candles:
                out.append(candle(self.exchange, self.symbol, D0 + minute * MINUTE))
        for hour in range(24):
            out.append(quality(self.exchange, self.symbol, "trades", D0 + hour * HOUR, rows=60))
        return out


def connection(exchange: str, hours: Iterable[int] = range(24), down: dict[int, int] | None = None,
               silent: int = 0) -> Rows:  # fmt: skip
    """A venue's `connection` rows, one an hour; `down` ms disconnected by hour."""
    down = down or {}
    return [
        quality(exchange, "*", "connection", D0 + h * HOUR, connected_ms=MINUTE - down.get(h, 0),
                disconnected_ms=down.get(h, 0), silent=silent if h == 0 else 0)
        for h in hours
    ]  # fmt: skip


async def write(root: Path, rows: Rows) -> Path:
    await lakes.write(root, rows, seconds=OBJECT_SECONDS)
    return root


def objects(root: Path, dataset: str, day: date, hour: int) -> list[Path]:
    folder = root / f"crypto/tabular/{dataset}/year={day:%Y}/month={day:%m}/day={day:%d}"
    return sorted(folder.glob(f"hour={hour:02d}/*.gz"))


def ids_in(paths: Iterable[Path], exchange: str, symbol: str) -> list[int]:
    """The trade ids of one symbol in raw objects, read without DuckDB."""
    out = []
    for path in paths:
        for line in gzip.decompress(path.read_bytes()).splitlines():
            row = json.loads(line)
            if (row["exchange"], row["symbol"]) == (exchange, symbol):
                out.append(int(row["trade_id"]))
    return sorted(out)
