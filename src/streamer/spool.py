"""The on-disk spool: Firehose records that could not be delivered yet, kept in order.

Layout: `<root>/<stream>/<sequence>.seg`, one directory per delivery stream. A segment is a run
of frames, each `length (4 bytes, big-endian) | crc32 (4 bytes) | record bytes`. Appends go to
the newest segment and are written through to the OS at once, so a killed process loses
nothing it appended; `sync` (fsync) makes them survive a host crash too, and runs at least once
a second while the spool is in use. Segments are replayed oldest first and deleted only once
every record in them was delivered, so a crash during replay resends (duplicates, never gaps).

A torn frame at the end of a segment (a crash mid-write) or a frame whose checksum fails is
counted and skipped; everything before it is kept.

All methods are synchronous file operations; the sink calls the slow ones (`read`, `sync`) in a
worker thread.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from streamer.storage import describe, fsync_dir, make_dirs, write_all

log = logging.getLogger(__name__)

HEADER = struct.Struct(">II")
"""A frame's `length | crc32` (the lake's journal frames its rows the same way)."""
SEGMENT_SUFFIX = ".seg"
SEGMENT_BYTES = 4 * 1024 * 1024  # replay holds one segment per stream in memory


def encode_frames(chunks: Iterable[bytes]) -> bytes:
    return b"".join(HEADER.pack(len(c), zlib.crc32(c)) + c for c in chunks)


def decode_frames(data: bytes) -> tuple[list[bytes], int]:
    """The intact frames in `data`, and how many bytes after them were unreadable."""
    chunks: list[bytes] = []
    offset, end = 0, len(data)
    while offset + HEADER.size <= end:
        length, crc = HEADER.unpack_from(data, offset)
        start = offset + HEADER.size
        if start + length > end:
            break
        chunk = data[start : start + length]
        if zlib.crc32(chunk) != crc:
            break
        chunks.append(chunk)
        offset = start + length
    return chunks, end - offset


@dataclass(slots=True)
class SpoolBudget:
    """Disk bytes shared by every stream's spool."""

    max_bytes: int
    used: int = 0


@dataclass(slots=True)
class StreamSpool:
    directory: Path
    budget: SpoolBudget
    segment_bytes: int = SEGMENT_BYTES
    closed: list[Path] = field(default_factory=list)  # oldest first
    _active: BinaryIO | None = None
    _active_path: Path | None = None
    _active_bytes: int = 0
    _next: int = 0
    _unsynced: bool = False
    size: int = 0  # bytes on disk, this stream

    @classmethod
    def open(cls, directory: Path, budget: SpoolBudget) -> StreamSpool:
        """Adopt the segments a previous run left behind (they are replayed first)."""
        spool = cls(directory, budget)
        if directory.is_dir():
            found = sorted(directory.glob(f"*{SEGMENT_SUFFIX}"))
            for path in found:
                size = path.stat().st_size
                if size == 0:
                    path.unlink()
                    continue
                spool.closed.append(path)
                spool.size += size
            budget.used += spool.size
            if found:
                spool._next = int(found[-1].stem) + 1
        return spool

    @property
    def empty(self) -> bool:
        return not self.closed and self._active_bytes == 0

    def append(self, chunks: list[bytes]) -> bool:
        """Write records at the end of the spool; False (nothing written) if over budget."""
        frames = encode_frames(chunks)
        if self.budget.used + len(frames) > self.budget.max_bytes:
            return False
        if self._active is None or self._active_bytes >= self.segment_bytes:
            self._rotate()
        assert self._active is not None
        try:
            write_all(self._active, frames)
        except OSError:
            self._undo_partial()
            raise
        self._active_bytes += len(frames)
        self.size += len(frames)
        self.budget.used += len(frames)
        self._unsynced = True
        return True

    def oldest(self) -> Path | None:
        """The segment to replay next; closes the active one if it is all there is."""
        if not self.closed and self._active_bytes:
            self._close_active()
        return self.closed[0] if self.closed else None

    def first_record(self) -> bytes | None:
        """The oldest record waiting (None: none, or unreadable; the replay reports that)."""
        if not self.closed:
            return None
        try:
            with self.closed[0].open("rb") as f:
                header = f.read(HEADER.size)
                if len(header) < HEADER.size:
                    return None
                length, crc = HEADER.unpack(header)
                chunk = f.read(length)
        except OSError:
            return None
        return chunk if len(chunk) == length and zlib.crc32(chunk) == crc else None

    @staticmethod
    def read(path: Path) -> tuple[list[bytes], int]:
        return decode_frames(path.read_bytes())

    def remove(self, path: Path) -> None:
        size = path.stat().st_size
        path.unlink()
        self.closed.remove(path)
        self.size -= size
        self.budget.used -= size

    def sync(self) -> None:
        if self._active is not None and self._unsynced:
            self._unsynced = False
            os.fsync(self._active.fileno())

    def sync_handle(self) -> int | None:
        """A duplicate descriptor of unsynced appends, for `fsync_and_close` in a thread.

        The duplicate stays valid even if the segment is closed meanwhile.
        """
        if self._active is None or not self._unsynced:
            return None
        self._unsynced = False
        return os.dup(self._active.fileno())

    def close(self) -> None:
        self._close_active()

    def _undo_partial(self) -> None:
        """After a failed append (a full disk takes part of a write, then refuses the rest):
        cut the segment back to its last whole frame, or, if even that fails, close it (its
        torn tail is skipped when read) so the next append starts a fresh segment."""
        assert self._active is not None
        try:
            os.ftruncate(self._active.fileno(), self._active_bytes)
        except OSError:
            self._close_active()

    def _rotate(self) -> None:
        self._close_active()
        make_dirs(self.directory)
        path = self.directory / f"{self._next:012d}{SEGMENT_SUFFIX}"
        self._next += 1
        self._active = open(path, "ab", buffering=0)  # noqa: SIM115 - held open across appends
        self._active_path = path
        self._active_bytes = 0
        fsync_dir(self.directory)

    def _close_active(self) -> None:
        if self._active is None:
            return
        try:
            self.sync()
        except OSError as exc:  # the appends reached the OS; only a host crash could lose them
            log.error("spool.fsync_failed path=%s error=%s", self._active_path, describe(exc))
        self._active.close()
        assert self._active_path is not None
        if self._active_bytes:
            self.closed.append(self._active_path)
        else:
            self._active_path.unlink(missing_ok=True)
        self._active, self._active_path, self._active_bytes = None, None, 0


def fsync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_spools(root: Path, budget: SpoolBudget) -> dict[str, StreamSpool]:
    """Every stream spool under `root` that holds segments from an earlier run."""
    if not root.is_dir():
        return {}
    spools = {}
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        spool = StreamSpool.open(directory, budget)
        if not spool.empty:
            spools[directory.name] = spool
    return spools
