"""A small real filesystem for disk-fault tests: a tmpfs of a few MiB that can be filled.

Mounting needs root (or CAP_SYS_ADMIN); where the machine does not allow it the tests that
need a full disk are skipped, and the ones that need an unwritable path use a file where a
directory should be (ENOTDIR), which works everywhere.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


class SmallDisk:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        """Write zeros until the disk refuses: ENOSPC for every later write."""
        block = b"\0" * 4096
        for chunk in (block, b"\0"):  # whole blocks, then the last bytes
            with open(self.filler, "ab", buffering=0) as handle:
                try:
                    while handle.write(chunk):
                        pass
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


def mounted(path: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    path = tmp_path / "disk"
    path.mkdir()
    if not mounted(path, "4m"):
        pytest.skip("needs a mountable tmpfs (root) to fill a disk")
    try:
        yield SmallDisk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
