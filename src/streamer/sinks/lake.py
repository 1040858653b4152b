"""The local lake: the objects Firehose would deliver to S3, written to a directory instead.

Layout: `<root>/<rendered prefix><stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz`, gzip NDJSON, with
the prefix rendered from the arrival time of the oldest row in the object (UTC), as Firehose
does. A buffer is written when it reaches `buffer_bytes` (uncompressed, like Firehose's
`SizeInMBs`) or `buffer_seconds` old (`IntervalInSeconds`; 0 writes on every pipeline pass),
and on close. Objects appear atomically: written to a hidden temporary name in the target
directory, flushed and fsynced, then renamed.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streamer.partitioning import object_name, render_prefix
from streamer.records import Millis
from streamer.schema import Dataset, stream_name
from streamer.settings import LakeSettings

log = logging.getLogger(__name__)

STREAM_VERSION = 1
GZIP_LEVEL = 6


@dataclass(slots=True)
class _Buffer:
    dataset: Dataset
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    oldest: int = 0


def write_object(path: Path, lines: list[bytes]) -> int:
    """Gzip `lines` into `path` atomically; returns the compressed size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    payload = gzip.compress(b"".join(lines), compresslevel=GZIP_LEVEL, mtime=0)
    with open(tmp, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return len(payload)


class LakeSink:
    """Implements `streamer.sinks.base.Sink` over a local directory."""

    def __init__(self, settings: LakeSettings) -> None:
        self.root = settings.root
        self.max_bytes = settings.buffer_bytes
        self.max_age_ms = int(settings.buffer_seconds * 1000)
        self.stream_prefix = settings.stream_prefix
        self._buffers: dict[str, _Buffer] = {}
        self._full: set[str] = set()
        self.objects_written = 0
        self.rows_written = 0
        self.rows_in = 0

    async def start(self) -> None:
        return None

    def counters_snapshot(self) -> dict[str, int]:
        return {
            "RowsIn": self.rows_in,
            "RowsDelivered": self.rows_written,
            "ObjectsWritten": self.objects_written,
        }

    def add(self, dataset: Dataset, line: bytes, arrival: Millis) -> None:
        buffer = self._buffers.get(dataset.name)
        if buffer is None:
            buffer = self._buffers[dataset.name] = _Buffer(dataset)
        if not buffer.lines:
            buffer.oldest = arrival
        buffer.lines.append(line)
        buffer.size += len(line)
        self.rows_in += 1
        if buffer.size >= self.max_bytes:
            self._full.add(dataset.name)

    def add_many(self, dataset: Dataset, lines: Sequence[bytes], arrival: Millis) -> None:
        buffer = self._buffers.get(dataset.name)
        if buffer is None:
            buffer = self._buffers[dataset.name] = _Buffer(dataset)
        if not buffer.lines:
            buffer.oldest = arrival
        buffer.lines += lines
        buffer.size += sum(map(len, lines))
        self.rows_in += len(lines)
        if buffer.size >= self.max_bytes:
            self._full.add(dataset.name)

    def seconds_until_due(self, now: Millis) -> float | None:
        oldest = [b.oldest for b in self._buffers.values() if b.lines]
        if not oldest:
            return None
        return max(0.0, (min(oldest) + self.max_age_ms - now) / 1000)

    async def flush_due(self, now: Millis) -> None:
        for name, buffer in self._buffers.items():
            if buffer.lines and (name in self._full or now - buffer.oldest >= self.max_age_ms):
                await self._write(buffer)
        self._full.clear()

    async def aclose(self) -> None:
        for buffer in self._buffers.values():
            if buffer.lines:
                await self._write(buffer)
        self._full.clear()

    def path_for(self, dataset: Dataset, oldest: int) -> Path:
        prefix = render_prefix(dataset.prefix_template, oldest)
        stream = stream_name(self.stream_prefix, dataset.name)
        name = object_name(stream, STREAM_VERSION, oldest, str(uuid.uuid4())) + ".gz"
        return self.root / prefix / name

    async def _write(self, buffer: _Buffer) -> None:
        lines, size, count = buffer.lines, buffer.size, len(buffer.lines)
        path = self.path_for(buffer.dataset, buffer.oldest)
        buffer.lines, buffer.size = [], 0
        try:
            compressed = await asyncio.to_thread(write_object, path, lines)
        except OSError:
            # Keep the rows: put them back in front of anything added meanwhile.
            buffer.lines[:0] = lines
            buffer.size += size
            log.exception("lake.write_failed path=%s rows=%d", path, count)
            raise
        self.objects_written += 1
        self.rows_written += count
        log.debug("lake.object_written path=%s rows=%d bytes=%d", path, count, compressed)
