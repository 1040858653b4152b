"""The lake's private working folder: temporary objects and the journal of buffered rows.

Each running lake sink owns `<root>/.staging/<run id>/`, marked live by an exclusive `flock`
on its `lock` file (the kernel drops it when the process dies, kill -9 included). In it:
- `*.gz.tmp`: an object being written; renamed into its partition once complete and fsynced,
  so readers never see a partial object;
- `<dataset>-<n>.journal`: the rows of a dataset's buffer, appended as they arrive (frames of
  `arrival (8 bytes) | lines`, checksummed as in `spool.py`). Written through to the OS at
  once, it survives a killed process; fsynced every second, a host crash too. It is deleted
  once its rows are in a lake object.

At start, every other run folder whose lock is free belongs to a dead process: its journals
are written as lake objects, its temporary files deleted, the folder removed. Two processes
sharing a lake never touch each other's folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from streamer.spool import HEADER as _HEADER
from streamer.spool import decode_frames
from streamer.storage import fsync_dir, make_dirs, write_all

log = logging.getLogger(__name__)

STAGING = ".staging"
JOURNAL_SUFFIX = ".journal"
_ARRIVAL = struct.Struct(">q")


def read_journal(path: Path) -> tuple[list[bytes], int | None, int]:
    """The rows a journal holds, the arrival of the first, and its unreadable tail bytes."""
    frames, torn = decode_frames(path.read_bytes())
    lines: list[bytes] = []
    oldest = None
    for frame in frames:
        (arrival,) = _ARRIVAL.unpack_from(frame)
        oldest = arrival if oldest is None else oldest
        lines.extend(frame[_ARRIVAL.size :].splitlines(keepends=True))
    return lines, oldest, torn


@dataclass(slots=True)
class Journal:
    """The journal of one buffer's rows, opened on the first append.

    `broken` once an append failed or there was no staging folder to write it in: the buffer
    then holds rows this journal lacks, and nothing more is appended (a torn tail is ignored
    when read, but frames after it would be too).
    """

    path: Path | None
    handle: BinaryIO | None = None
    broken: bool = False
    unsynced: bool = False
    pending: list[bytes] = field(default_factory=list)  # rows not yet written (the sink adds)
    pending_arrival: int = 0  # arrival of the first of them

    def write(self) -> None:
        """Write the pending rows as one frame (OSError, and `broken` from then on, if the disk
        refuses). The frame carries its first row's arrival: the partition of the object."""
        if not self.pending:
            return
        lines, self.pending = self.pending, []
        if self.broken or self.path is None:
            return
        stamp = _ARRIVAL.pack(self.pending_arrival)
        body = b"".join(lines)
        header = _HEADER.pack(len(stamp) + len(body), zlib.crc32(body, zlib.crc32(stamp)))
        try:
            if self.handle is None:
                self.handle = open(self.path, "ab", buffering=0)  # noqa: SIM115 - kept open
            self.unsynced = True
            write_all(self.handle, header + stamp + body)
        except OSError:
            self.broken = True
            raise

    def sync_handle(self) -> int | None:
        """A duplicate descriptor to fsync in a thread (valid even if the journal is closed
        meanwhile), or None when nothing was appended since the last one."""
        if self.handle is None or not self.unsynced:
            return None
        self.unsynced = False
        return os.dup(self.handle.fileno())

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def remove(self) -> None:
        self.pending = []
        self.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


@dataclass(slots=True)
class Orphan:
    """A dead run's folder, locked by us until its journals are in the lake."""

    directory: Path
    lock: int  # the descriptor holding its flock

    def journals(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{JOURNAL_SUFFIX}"))

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        os.close(self.lock)


@dataclass(slots=True)
class Staging:
    root: Path
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    lock: int | None = None
    _journals: int = 0

    @property
    def directory(self) -> Path:
        return self.root / STAGING / self.run

    @property
    def ready(self) -> bool:
        return self.lock is not None

    def open(self) -> None:
        """Create and lock this run's folder (OSError on a full or unwritable disk)."""
        if self.lock is not None:
            return
        make_dirs(self.directory)
        fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.lock = fd

    def tmp_path(self, name: str) -> Path:
        return self.directory / f"{name}.tmp"

    def new_journal(self, dataset: str) -> Journal:
        self._journals += 1
        return Journal(self.directory / f"{dataset}-{self._journals:06d}{JOURNAL_SUFFIX}")

    def close(self, keep: bool) -> None:
        """Release the folder; remove it unless it still holds journals (`keep`)."""
        if self.lock is None:
            return
        if not keep:
            shutil.rmtree(self.directory, ignore_errors=True)
            with contextlib.suppress(OSError):  # the last run out leaves no empty folder
                self.directory.parent.rmdir()
        os.close(self.lock)
        self.lock = None

    def orphans(self) -> Iterator[Orphan]:
        """The run folders of dead processes, each locked as it is yielded."""
        parent = self.root / STAGING
        if not parent.is_dir():
            return
        for directory in sorted(p for p in parent.iterdir() if p.is_dir() and p.name != self.run):
            try:
                fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # a live process owns it
                os.close(fd)
                continue
            yield Orphan(directory, fd)


def sweep_legacy_tmp(root: Path) -> int:
    """Delete `.<object>.gz.tmp` files that versions before the staging folder left in the
    partitions when killed mid-write; returns how many."""
    removed = 0
    for path in root.glob("**/year=*/month=*/day=*/hour=*/.*.gz.tmp"):
        try:
            path.unlink()
            removed += 1
        except OSError:
            continue
    return removed


def place(tmp: Path, final: Path) -> None:
    """Rename a complete object into its partition, durably."""
    make_dirs(final.parent)
    os.replace(tmp, final)
    fsync_dir(final.parent)
