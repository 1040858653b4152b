"""The local lake: the objects Firehose would deliver to S3, written to a directory instead.

Layout: `<root>/<rendered prefix><stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz`, gzip NDJSON, with
the prefix rendered from the arrival time of the oldest row in the object (UTC), as Firehose
does. A buffer is written when it reaches `buffer_bytes` (uncompressed, like Firehose's
`SizeInMBs`) or `buffer_seconds` old (`IntervalInSeconds`; 0 writes on every pipeline pass),
and on close.

Durability (`lake_staging.py`): every row is appended to its dataset's journal within
`JOURNAL_SECONDS` (50 ms) of its arrival, so a killed process loses at most the rows of the last
50 ms besides those not yet handed to the sink (a host crash, the last second: journals are
fsynced every second); the next start writes a dead run's journals as objects. Objects appear
atomically: written and fsynced in the run's staging folder, renamed into their partition, and
the partition folder fsynced.

A failed write (a full disk, a read-only remount, a path that became a file) keeps its rows,
logs an ERROR naming the path and the errno, and is retried with backoff (`storage.Outage`).
Meanwhile `failing_since` tells `/health`, and once a buffer is full `room` makes the pipeline
wait, so the sources wait too instead of memory growing.

With `format="iceberg"` (`STREAMER_LAKE_FORMAT=iceberg`) the same buffers, journals and retries
apply, but a buffer of a dataset with an Iceberg table (`iceberg_tables.py`) is written as ONE
append commit to that table instead of a gzip object; a commit that did not land is a failed
write (`CommitError` is an `OSError`): rows kept, retried with backoff. Rejects stay gzip JSON
objects under `crypto/rejects/`: raw payloads that fit no schema, kept as received.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gzip
import logging
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from streamer import iceberg_tables
from streamer.iceberg_layout import ICEBERG_TABLES
from streamer.partitioning import object_name, render_prefix
from streamer.records import Millis
from streamer.schema import DATASETS, REJECTS, Dataset, stream_name
from streamer.settings import LakeSettings
from streamer.sinks.lake_staging import (
    Journal,
    Orphan,
    Staging,
    place,
    read_journal,
    sweep_legacy_tmp,
)
from streamer.spool import fsync_and_close
from streamer.storage import Outage, describe, write_all
from streamer.timefmt import now_millis

if TYPE_CHECKING:
    from pyiceberg.catalog.sql import SqlCatalog

log = logging.getLogger(__name__)

STREAM_VERSION = 1
GZIP_LEVEL = 6
JOURNAL_SECONDS = 0.05
"""Rows reach their journal within this long: one write per journal for every pass's rows
within it (a write per pass cost 2-4 µs per frame), and all a kill -9 can lose of them."""


@dataclass(slots=True)
class _Buffer:
    dataset: Dataset
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    oldest: int = 0
    journal: Journal | None = None
    covered: list[Journal] = field(default_factory=list)  # closed journals of these rows
    added: int = 0  # rows added since start
    writing: int = 0  # rows in an object being written


def write_object(tmp: Path, path: Path, lines: list[bytes]) -> int:
    """Gzip `lines` into `tmp`, fsync, rename to `path` (atomic); returns the compressed size."""
    payload = gzip.compress(b"".join(lines), compresslevel=GZIP_LEVEL, mtime=0)
    try:
        with open(tmp, "wb", buffering=0) as handle:
            write_all(handle, payload)
            os.fsync(handle.fileno())
        place(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return len(payload)


class LakeSink:
    """Implements `streamer.sinks.base.Sink` over a local directory."""

    def __init__(self, settings: LakeSettings) -> None:
        self.root = settings.root
        self.max_bytes = settings.buffer_bytes
        self.max_age_ms = int(settings.buffer_seconds * 1000)
        self.stream_prefix = settings.stream_prefix
        self.iceberg = settings.format == "iceberg"
        self._catalog: SqlCatalog | None = None
        self.shutdown_seconds = settings.shutdown_seconds
        self.staging = Staging(settings.root)
        self.outage = Outage("lake")
        self._buffers: dict[str, _Buffer] = {}
        self._full: set[str] = set()
        self._orphans: list[Orphan] = []
        self._journal_due: float | None = None  # when pending journal frames must be written
        self._syncer: asyncio.Task[None] | None = None
        self.compact_seconds = settings.compact_seconds if self.iceberg else 0.0
        self._compactor: asyncio.Task[None] | None = None
        self.objects_written = 0
        self.rows_written = 0
        self.rows_in = 0
        self.rows_recovered = 0  # rows of dead runs' journals written as objects
        self.rows_dropped = 0
        self.storage_errors = 0

    async def start(self) -> None:
        """Adopt what dead runs left: their journals become objects, their temp files go."""
        swept = await asyncio.to_thread(sweep_legacy_tmp, self.root)
        if swept:
            log.warning("lake.tmp_removed files=%d (left by a killed process)", swept)
        self._orphans = await asyncio.to_thread(lambda: list(self.staging.orphans()))
        if self.iceberg:  # pyiceberg's import and the catalog's creation take seconds: now
            with contextlib.suppress(OSError):  # else the first write tries again
                await asyncio.to_thread(self._iceberg_catalog)
        await self._recover()
        self._syncer = asyncio.create_task(self._sync_journals(), name="lake-journal-sync")
        if self.compact_seconds > 0:
            self._compactor = asyncio.create_task(self._compact(), name="lake-iceberg-compact")

    async def _compact(self) -> None:
        """Compact the Iceberg tables every `compact_seconds`, off the event loop."""
        from streamer.compaction.iceberg import maintain

        while True:
            await asyncio.sleep(self.compact_seconds)
            try:
                done = await asyncio.to_thread(maintain, self.root)
            except Exception as exc:  # the next round tries again; the rows are safe
                log.error("lake.iceberg_compact_failed error=%s: %s", type(exc).__name__, exc)
                continue
            log.info("lake.iceberg_compacted rewrites=%d snapshots_expired=%d files_deleted=%d",
                     len(done.rewrites), done.snapshots_expired, done.files_deleted)  # fmt: skip

    async def _sync_journals(self) -> None:
        """fsync journal appends at least once a second, off the event loop."""
        while True:
            await asyncio.sleep(1.0)
            for buffer in list(self._buffers.values()):
                fd = None if buffer.journal is None else buffer.journal.sync_handle()
                if fd is None:
                    continue
                try:
                    await asyncio.to_thread(fsync_and_close, fd)
                except OSError as exc:  # the appends reached the OS; a host crash may lose them
                    self.storage_errors += 1
                    log.error("lake.journal_fsync_failed dataset=%s error=%s",
                              buffer.dataset.name, describe(exc))  # fmt: skip

    def counters_snapshot(self) -> dict[str, int]:
        since = self.outage.since_ms
        return {
            "RowsIn": self.rows_in,
            "RowsDelivered": self.rows_written,
            "RowsRecovered": self.rows_recovered,
            "RowsDropped": self.rows_dropped,
            "ObjectsWritten": self.objects_written,
            "StorageErrors": self.storage_errors,
            "BufferedBytes": sum(b.size for b in self._buffers.values()),
            "FailingSeconds": 0 if since is None else max(0, (now_millis() - since) // 1000),
        }

    def failing_since(self) -> Millis | None:
        return Millis(self.outage.since_ms) if self.outage.since_ms is not None else None

    def added(self, dataset: str) -> int:
        buffer = self._buffers.get(dataset)
        return 0 if buffer is None else buffer.added

    def accepted(self, dataset: str) -> int:
        """Journaled rows are safe from a kill (the next start writes them); rows whose
        journal broke are safe only once in an object. The same in iceberg mode: counting
        only committed rows would make a resume after a kill fetch again the rows the
        journal already holds, and the next start commits them too (duplicates)."""
        buffer = self._buffers.get(dataset)
        if buffer is None:
            return 0
        journal = buffer.journal
        if (journal is not None and journal.broken) or any(j.broken for j in buffer.covered):
            return buffer.added - len(buffer.lines) - buffer.writing
        return buffer.added - (len(journal.pending) if journal is not None else 0)

    # --- buffering ---------------------------------------------------------------------

    def _buffer(self, dataset: Dataset, arrival: Millis) -> _Buffer:
        buffer = self._buffers.get(dataset.name)
        if buffer is None:
            buffer = self._buffers[dataset.name] = _Buffer(dataset)
        if not buffer.lines:
            buffer.oldest = arrival
        return buffer

    def add(self, dataset: Dataset, line: bytes, arrival: Millis) -> None:
        self.add_many(dataset, (line,), arrival)

    def add_many(self, dataset: Dataset, lines: Sequence[bytes], arrival: Millis) -> None:
        buffer = self._buffer(dataset, arrival)
        buffer.lines += lines
        buffer.added += len(lines)
        buffer.size += sum(map(len, lines))
        self.rows_in += len(lines)
        journal = buffer.journal
        if journal is None:
            journal = buffer.journal = self._new_journal(dataset)
        if not journal.broken:
            if not journal.pending:
                journal.pending_arrival = arrival
            journal.pending += lines
            if self._journal_due is None:
                self._journal_due = time.monotonic() + JOURNAL_SECONDS
        if buffer.size >= self.max_bytes:
            self._full.add(dataset.name)

    def _new_journal(self, dataset: Dataset) -> Journal:
        if self.staging.ready or self._open_staging():
            return self.staging.new_journal(dataset.name)
        return Journal(None, broken=True)  # these rows are in memory only

    def _write_journals(self) -> None:
        """Hand every journal's pending frames to the OS (one write per journal)."""
        self._journal_due = None
        for buffer in self._buffers.values():
            journal = buffer.journal
            if journal is not None and journal.pending:
                self._write_journal(journal)

    def _write_journal(self, journal: Journal) -> None:
        try:
            journal.write()
        except OSError as exc:
            self._failed(exc, journal.path or self.staging.directory)

    def _open_staging(self) -> bool:
        if self.outage.failing and not self.outage.due(time.monotonic()):
            return False
        try:
            self.staging.open()
            return True
        except OSError as exc:
            self._failed(exc, self.staging.directory)
            return False

    # --- writing -----------------------------------------------------------------------

    def seconds_until_due(self, now: Millis) -> float | None:
        oldest = [b.oldest for b in self._buffers.values() if b.lines]
        if not oldest:
            return None
        wait = max(0.0, (min(oldest) + self.max_age_ms - now) / 1000)
        if self.outage.failing:
            wait = max(wait, self.outage.retry_at - time.monotonic())
        if self._journal_due is not None:
            wait = min(wait, max(0.0, self._journal_due - time.monotonic()))
        return wait

    async def flush_due(self, now: Millis) -> None:
        due = self._journal_due
        if due is not None and time.monotonic() >= due:
            self._write_journals()
        outage = self.outage
        if outage.since_ms is not None and not outage.due(time.monotonic()):
            return
        if self._orphans:
            await self._recover()
        full, max_age = self._full, self.max_age_ms
        ready = [
            buffer
            for name, buffer in self._buffers.items()
            if buffer.lines and (name in full or now - buffer.oldest >= max_age)
        ]
        for buffer in ready:
            if not await self._write(buffer):
                return  # the disk fails: try again after the backoff
            full.discard(buffer.dataset.name)

    async def room(self) -> None:
        """Wait while a write fails and a buffer is full; the sources wait meanwhile."""
        while self.outage.failing and any(b.size >= self.max_bytes for b in self._buffers.values()):
            await asyncio.sleep(max(0.0, self.outage.retry_at - time.monotonic()))
            await self.flush_due(now_millis())

    async def aclose(self) -> None:
        """Write everything; a failing disk is retried for `shutdown_seconds`."""
        deadline = time.monotonic() + self.shutdown_seconds
        while True:
            if self._orphans:
                await self._recover()
            pending = [b for b in self._buffers.values() if b.lines]
            for buffer in pending:
                if not await self._write(buffer):
                    break
            else:
                if not self._orphans:
                    break
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(max(0.0, min(self.outage.retry_at, deadline) - time.monotonic()))
        self._full.clear()
        for task in (self._syncer, self._compactor):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._close_journals()

    def _close_journals(self) -> None:
        self._write_journals()
        held = 0
        for buffer in self._buffers.values():
            for journal in [*buffer.covered, *([buffer.journal] if buffer.journal else [])]:
                journal.close()
            if buffer.lines:
                journals = [*buffer.covered, *([buffer.journal] if buffer.journal else [])]
                if any(j.broken for j in journals):
                    # Some of these rows reached no journal: the disk refused them.
                    self.rows_dropped += len(buffer.lines)
                    log.error("lake.rows_lost dataset=%s rows=%d reason=disk unwritable at "
                              "shutdown", buffer.dataset.name, len(buffer.lines))  # fmt: skip
                held += len(buffer.lines)
        for orphan in self._orphans:
            os.close(orphan.lock)  # its journals stay for the next start
        self._orphans = []
        self.staging.close(keep=held > 0)
        if held:
            log.warning("lake.closed_with_rows rows=%d dir=%s (journaled rows are written at "
                        "the next start)", held, self.staging.directory)  # fmt: skip

    def path_for(self, dataset: Dataset, oldest: int) -> Path:
        prefix = render_prefix(dataset.prefix_template, oldest)
        stream = stream_name(self.stream_prefix, dataset.name)
        name = object_name(stream, STREAM_VERSION, oldest, str(uuid.uuid4())) + ".gz"
        return self.root / prefix / name

    async def _write(self, buffer: _Buffer) -> bool:
        """Write the buffer as one object; False (rows kept) when the disk refused it."""
        if not self.staging.ready and not self._open_staging():
            return False
        lines, size, count = buffer.lines, buffer.size, len(buffer.lines)
        if buffer.journal is not None:  # later rows go to a new journal
            self._write_journal(buffer.journal)  # in case the object cannot be written
            buffer.journal.close()
            buffer.covered.append(buffer.journal)
            buffer.journal = None
        covered = list(buffer.covered)
        dataset, oldest = buffer.dataset, buffer.oldest
        buffer.lines, buffer.size, buffer.writing = [], 0, count
        try:
            path, compressed = await asyncio.to_thread(
                self._store, dataset, oldest, lines, self.staging.directory
            )
        except OSError as exc:
            buffer.writing = 0
            # Keep the rows: put them back in front of anything added meanwhile.
            buffer.lines[:0] = lines
            buffer.size += size
            self._failed(exc, getattr(exc, "filename", None) or self.root)
            return False
        buffer.writing = 0
        for journal in covered:
            buffer.covered.remove(journal)
            journal.remove()
        self.objects_written += 1
        self.rows_written += count
        self.outage.recovered(now_millis())
        log.debug("lake.object_written path=%s rows=%d bytes=%d", path, count, compressed)
        return True

    def _store(
        self, dataset: Dataset, oldest: int, lines: list[bytes], tmp: Path
    ) -> tuple[str, int]:
        """Write rows (in a thread): one gzip object, or one Iceberg append for a dataset with
        an Iceberg table in iceberg mode. Returns where they went and the bytes written (0 for
        an append: pyiceberg writes the Parquet)."""
        if self.iceberg and dataset.name in ICEBERG_TABLES:
            name = f"{dataset.name}-{uuid.uuid4().hex}.ndjson"
            iceberg_tables.write_lines(self._iceberg_catalog(), dataset, lines, oldest, tmp / name)
            return iceberg_tables.identifier(dataset), 0
        path = self.path_for(dataset, oldest)
        try:
            return str(path), write_object(tmp / f"{path.name}.tmp", path, lines)
        except OSError as exc:
            exc.filename = exc.filename or str(path)
            raise

    def _iceberg_catalog(self) -> SqlCatalog:
        if self._catalog is None:
            from sqlalchemy.exc import SQLAlchemyError

            try:
                self._catalog = iceberg_tables.open_catalog(self.root)
            except SQLAlchemyError as exc:
                where = iceberg_tables.catalog_path(self.root)
                raise iceberg_tables.CommitError(errno.EIO, f"opening {where}: {exc}") from exc
        return self._catalog

    def _failed(self, exc: OSError, path: Path) -> None:
        self.storage_errors += 1
        self.outage.failed(exc, path, now_millis(), time.monotonic())

    async def _recover(self) -> None:
        """Write the journals of dead runs as objects; keep what the disk refuses for later."""
        left = []
        for orphan in self._orphans:
            try:
                rows = await asyncio.to_thread(self._recover_one, orphan)
            except OSError as exc:
                self._failed(exc, orphan.directory)
                left.append(orphan)
                continue
            orphan.remove()
            if rows:
                self.rows_recovered += rows
                log.warning("lake.recovered rows=%d from=%s (a killed run's journal)",
                            rows, orphan.directory)  # fmt: skip
        self._orphans = left

    def _recover_one(self, orphan: Orphan) -> int:
        rows = 0
        for path in orphan.journals():
            name = path.name.rsplit("-", 1)[0]
            lines, oldest, torn = read_journal(path)
            if torn:
                log.warning("lake.journal_torn path=%s unreadable_bytes=%d", path, torn)
            dataset = DATASETS.get(name) or (REJECTS if name == REJECTS.name else None)
            if lines and oldest is not None and dataset is not None:
                self._store(dataset, oldest, lines, orphan.directory)
                rows += len(lines)
            elif lines:  # a dataset this version does not have: counted, named, not stored
                self.rows_dropped += len(lines)
                log.error("lake.journal_unknown_dataset path=%s rows=%d dropped", path, len(lines))
            path.unlink()
        return rows
