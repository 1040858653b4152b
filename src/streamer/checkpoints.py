"""Durable checkpoints: how far each symbol's streams are written, to resume after a restart.

One checkpoint per (exchange, symbol), not per shard, so a symbol that moves to another shard
(a change of `shards`) is resumed by its new owner. It records, per stream kind, the last
position whose rows the sink accepted: the last trade id, the open time of the last closed
candle, the book's sequence. Write it only after the rows it covers are delivered or spooled.

Writes are monotonic: `save` reads the stored checkpoint, keeps the larger of each position
(`merge`) and writes the result, so a process that is behind (the old task of a rolling
deploy) does not move a position back.

The race, honestly: the local store holds an exclusive `flock` over read-compare-write, so
processes on one host never lose an update. The S3 store has no lock: two writers that read
before either writes can each put their merge, and the later put can carry an older position
for a stream the other advanced. The error is always backwards (a position both had read), so
the next start backfills ids already written (duplicates with the same `record_id`, removed
by compaction), never skips any. A book sequence is kept as the largest seen; a venue that
resets its sequence makes it stale, which only matters as a hint (books always resync from a
snapshot on start).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

STATE_FOLDER = ".state/checkpoints"
"""Under the local lake's root; dot-named, so no dataset glob sees it."""
S3_FOLDER = "state/checkpoints/"
"""Under the lake's S3 prefix (`crypto/`), beside `tabular/`, outside every table."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """How far one symbol's streams are written; None where a stream has no position yet."""

    exchange: str
    symbol: str
    trade_id: int | None = None
    """The last trade id whose row the sink accepted, every id before it accepted too."""
    trade_time: int | None = None
    """That trade's time (epoch ms): where a venue's history is addressed by time, the
    backfill after a restart starts there."""
    candle_open_time: int | None = None
    """The open time (epoch ms) of the last closed candle the sink accepted."""
    book_sequence: int | None = None
    """The book's last sequence (update id) written."""


_POSITIONS = ("trade_id", "trade_time", "candle_open_time", "book_sequence")


def _larger(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def merge(stored: Checkpoint | None, new: Checkpoint) -> Checkpoint:
    """`new` with each position never behind `stored`'s (the monotonic write)."""
    if stored is None:
        return new
    if (stored.exchange, stored.symbol) != (new.exchange, new.symbol):
        raise ValueError(
            f"merging {stored.exchange}/{stored.symbol} into {new.exchange}/{new.symbol}"
        )
    newer = (
        stored
        if new.trade_id is None or (stored.trade_id is not None and stored.trade_id > new.trade_id)
        else new
    )
    return Checkpoint(
        new.exchange,
        new.symbol,
        newer.trade_id,
        newer.trade_time,  # the time of whichever trade id is kept
        _larger(stored.candle_open_time, new.candle_open_time),
        _larger(stored.book_sequence, new.book_sequence),
    )


def to_json(checkpoint: Checkpoint) -> bytes:
    return json.dumps({f.name: getattr(checkpoint, f.name) for f in fields(Checkpoint)},
                      sort_keys=True).encode()  # fmt: skip


def from_json(data: bytes) -> Checkpoint:
    raw: dict[str, Any] = json.loads(data)
    exchange, symbol = raw.get("exchange"), raw.get("symbol")
    if not isinstance(exchange, str) or not isinstance(symbol, str):
        raise ValueError("checkpoint without an exchange and symbol")
    positions = [raw.get(name) for name in _POSITIONS]
    for name, value in zip(_POSITIONS, positions, strict=True):
        if value is not None and type(value) is not int:
            raise ValueError(f"checkpoint {name} is not an integer: {value!r}")
    return Checkpoint(exchange, symbol, *positions)


def relative_key(exchange: str, symbol: str) -> str:
    """`<exchange>/<symbol>.json`; names that could leave the folder are refused."""
    for name in (exchange, symbol):
        if not _NAME.fullmatch(name) or ".." in name:
            raise ValueError(f"not a checkpoint name: {name!r}")
    return f"{exchange}/{symbol}.json"


class CheckpointStore(Protocol):
    """Load and save checkpoints (blocking: the asyncio shell calls these in a thread)."""

    def load(self, exchange: str, symbol: str) -> Checkpoint | None: ...

    def save(self, checkpoint: Checkpoint) -> Checkpoint:
        """Store `merge(stored, checkpoint)` and return it."""
        ...


class LocalCheckpoints:
    """Checkpoints as JSON files in `<lake>/.state/checkpoints/<exchange>/<symbol>.json`.

    Each save is read-compare-write under an exclusive lock on `<symbol>.json.lock`, then a
    temporary file in the same folder, fsync, rename over the old file, and fsync of the folder:
    a crash leaves the old checkpoint or the new one, never a torn file (and at most a
    temporary file, which the symbol's next save deletes).
    """

    def __init__(self, lake_root: Path) -> None:
        self.folder = lake_root / STATE_FOLDER

    def _path(self, exchange: str, symbol: str) -> Path:
        return self.folder / relative_key(exchange, symbol)

    def load(self, exchange: str, symbol: str) -> Checkpoint | None:
        try:
            return from_json(self._path(exchange, symbol).read_bytes())
        except FileNotFoundError:
            return None

    def save(self, checkpoint: Checkpoint) -> Checkpoint:
        path = self._path(checkpoint.exchange, checkpoint.symbol)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            merged = merge(self.load(checkpoint.exchange, checkpoint.symbol), checkpoint)
            for stale in path.parent.glob(f".{path.name}.*.tmp"):  # a killed saver's; ours
                stale.unlink(missing_ok=True)  # are made only under this lock
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(to_json(merged))
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temp, path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        return merged


class S3Checkpoints:
    """Checkpoints as S3 objects `<prefix>state/checkpoints/<exchange>/<symbol>.json`.

    `client` is a boto3 S3 client (passed in); `prefix` the lake's prefix (`crypto/`). A save
    is read-compare-write without a lock (see the module's note on the race).
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "crypto/") -> None:
        self._client = client
        self._bucket = bucket
        self._folder = prefix + S3_FOLDER

    def key(self, exchange: str, symbol: str) -> str:
        return self._folder + relative_key(exchange, symbol)

    def load(self, exchange: str, symbol: str) -> Checkpoint | None:
        try:
            answer = self._client.get_object(Bucket=self._bucket, Key=self.key(exchange, symbol))
        except self._client.exceptions.NoSuchKey:
            return None
        return from_json(answer["Body"].read())

    def save(self, checkpoint: Checkpoint) -> Checkpoint:
        merged = merge(self.load(checkpoint.exchange, checkpoint.symbol), checkpoint)
        self._client.put_object(
            Bucket=self._bucket,
            Key=self.key(checkpoint.exchange, checkpoint.symbol),
            Body=to_json(merged),
            ContentType="application/json",
        )
        return merged
