"""Disk faults, met where they happen: start-up checks, errno-naming messages, retry pacing.

The lake and the spool write to a local disk that may fill up (ENOSPC), be read-only (EROFS),
or be the wrong kind of path (ENOTDIR). At start, `check_writable` tells a path that can never
work (a configuration error: exit 2 with one line naming the setting) from a disk that is full
for now (the sink starts, holds its rows and reports, rather than crash-loop). While running,
every failed write is retried with `Outage`'s pacing, whatever its errno: a full disk may free
up and a remounted one come back, and meanwhile the rows stay held and `/health` says so.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from streamer.errors import ConfigError

log = logging.getLogger(__name__)

FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
"""Errnos of a disk that is full for now, not of a wrong path."""


def describe(exc: OSError) -> str:
    """`ENOSPC (No space left on device)`: the errno's name and text, for an ERROR line."""
    code = exc.errno
    name = errno.errorcode.get(code, f"errno {code}") if code is not None else type(exc).__name__
    return f"{name} ({exc.strerror or exc})"


def write_all(handle: BinaryIO, data: bytes) -> None:
    """Write every byte to an unbuffered file: a full disk may take part of a write, then
    refuse the rest, which raises here (the caller undoes or ignores the torn tail)."""
    view = memoryview(data)
    while view:
        written = handle.write(view)
        if not written:
            raise OSError(errno.ENOSPC, "short write")
        view = view[written:]


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new entry in `directory` survive a host crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(directory: Path) -> None:
    """`mkdir -p`, fsyncing the parent of every directory it creates."""
    missing = []
    path = directory
    while not path.is_dir():
        if path.exists():  # a file where a folder should be: say so, not EEXIST
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(path))
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        fsync_dir(path.parent)


def check_writable(directory: Path, setting: str) -> OSError | None:
    """Create `directory` and write a probe file in it.

    Raises `ConfigError` (naming `setting`) when the path cannot be written at all; returns the
    error when the disk is only full (the caller starts anyway and reports), None when fine.
    """
    probe = directory / f".probe-{os.getpid()}"
    try:
        make_dirs(directory)
        with open(probe, "wb") as handle:
            handle.write(b"streamer")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        if exc.errno in FULL:
            log.error("storage.full path=%s error=%s (starting; rows are held until it frees up)",
                      directory, describe(exc))  # fmt: skip
            return exc
        raise ConfigError(
            setting,
            f"cannot write to {directory}: {describe(exc)}",
            "Point it to a writable directory, or fix the permissions or the mount",
        ) from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)
    return None


@dataclass(slots=True)
class Outage:
    """One failing disk path: since when, how often, and when to try again.

    Retries back off from `first` to `cap` seconds (jittered); ERROR lines are thinned to the
    1st, 2nd, 4th, 8th... failure in a row so a long outage is visible without flooding.
    """

    what: str
    first: float = 0.25
    cap: float = 5.0
    since_ms: int | None = None
    failures: int = 0
    retry_at: float = 0.0  # event-loop time of the next attempt
    rng: random.Random = field(default_factory=random.Random)

    @property
    def failing(self) -> bool:
        return self.since_ms is not None

    def failed(self, exc: OSError, path: Path | str, now_ms: int, loop_time: float) -> float:
        """Record a failure; returns the seconds to wait before the next attempt."""
        if self.since_ms is None:
            self.since_ms = now_ms
        self.failures += 1
        delay: float = min(self.cap, self.first * 2.0 ** min(self.failures - 1, 16))
        delay *= 0.5 + self.rng.random() / 2
        self.retry_at = loop_time + delay
        if self.failures & (self.failures - 1) == 0:
            log.error("%s.write_failed path=%s error=%s failures_in_a_row=%d (rows held; retrying)",
                      self.what, path, describe(exc), self.failures)  # fmt: skip
        return delay

    def recovered(self, now_ms: int) -> None:
        if self.since_ms is None:
            return
        log.warning("%s.write_recovered after_failures=%d seconds=%.1f",
                    self.what, self.failures, (now_ms - self.since_ms) / 1000)  # fmt: skip
        self.since_ms, self.failures, self.retry_at = None, 0, 0.0

    def due(self, loop_time: float) -> bool:
        return loop_time >= self.retry_at
