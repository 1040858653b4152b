"""A compacted day's manifest: the JSON object that makes the day compacted, written last.

One small object per dataset and day (`layout.manifest_key`). Readers take the set of days
from the manifests: the local views (`query.py`) read exactly the files a manifest lists, and
the Athena views are rewritten from the manifests after each run. A manifest that cannot be
read is an error naming it, never a silently raw day.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from streamer.compaction.layout import day_of_manifest_key, manifest_key, manifest_prefix
from streamer.errors import CompactionError
from streamer.schema import Dataset


@dataclass(frozen=True, slots=True)
class Manifest:
    """What one run made of one day."""

    dataset: str
    day: date
    run: str
    engine: str  # "duckdb" or "athena"
    files: tuple[str, ...]  # keys of the Parquet files, relative to the lake root
    rows: int  # distinct rows written
    raw_rows: int  # rows read, duplicates included (-1 when the engine does not count them)
    raw_objects: int
    raw_bytes: int
    compacted_bytes: int
    compacted_at: str  # ISO 8601, UTC

    def to_json(self) -> bytes:
        body: dict[str, Any] = asdict(self)
        body["day"] = self.day.isoformat()
        body["files"] = list(self.files)
        return (json.dumps(body, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Manifest:
        try:
            body = json.loads(data)
            body["day"] = date.fromisoformat(body["day"])
            body["files"] = tuple(body["files"])
            return cls(**body)
        except (ValueError, KeyError, TypeError) as exc:
            raise CompactionError(
                f"the compaction manifest {where} is not readable ({exc}); delete it to read "
                "that day from the raw objects again"
            ) from None


@dataclass(frozen=True, slots=True)
class Outcome:
    """One dataset-day of a run: `compacted`, `empty` (no raw rows: not an error) or `kept`
    (no raw rows left, the earlier compaction stays)."""

    dataset: str
    day: date
    status: str
    manifest: Manifest | None = None
    rejected: int = 0
    """Rows left out because a decimal did not read; written to the rejects dataset."""


def nothing_to_compact(dataset: Dataset, day: date, previous: Manifest | None) -> Outcome:
    """No raw rows: an earlier compaction stays (`kept`), else there is nothing (`empty`)."""
    return Outcome(dataset.name, day, "kept" if previous else "empty", previous)


def refuse_fewer_rows(dataset: Dataset, day: date, rows: int, previous: Manifest | None) -> None:
    """A run may not replace one that kept more rows: raw objects were deleted since."""
    if previous is not None and rows < previous.rows:
        raise CompactionError(
            f"{dataset.name} {day}: the raw objects now give {rows} rows but run "
            f"{previous.run} compacted {previous.rows}; raw objects were removed since, so the "
            "earlier output is kept"
        )


def read_local(root: Path, dataset: Dataset, day: date) -> Manifest | None:
    path = root / manifest_key(dataset, day)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return Manifest.from_json(data, str(path))


def read_all_local(root: Path, dataset: Dataset) -> list[Manifest]:
    """Every compacted day of `dataset` in the local lake, oldest first."""
    folder = root / manifest_prefix(dataset)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir()):
        day = day_of_manifest_key(path.name)
        if day is not None:
            out.append(Manifest.from_json(path.read_bytes(), str(path)))
    return out


def write_local(root: Path, dataset: Dataset, manifest: Manifest) -> None:
    """Atomically (a hidden temporary file, fsynced, renamed over the old manifest)."""
    path = root / manifest_key(dataset, manifest.day)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(manifest.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make renames in `folder` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
