"""The rows a compaction leaves out, written to the `rejects` dataset (pure but for the bytes).

`sql.rejects_select` finds them (a decimal that did not read); this turns its answer into
gzipped JSON lines, one object per raw arrival hour of the day, under a name fixed by the
dataset and day (`compaction-<dataset>-<day>.gz`), so running a day again replaces its rejects
instead of adding copies. Each row's `source` is `compaction:<dataset>`.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from datetime import UTC, date, datetime

from streamer.compaction.layout import raw_day_prefix
from streamer.jsonline import encode
from streamer.records import RAW_LIMIT, Millis, Reject
from streamer.schema import REJECTS, Dataset


def source(dataset: Dataset) -> str:
    return f"compaction:{dataset.name}"


def _millis(text: str | None, day: date, hour: str) -> Millis:
    """A row's `received_at` as either engine writes it as text (`2025-11-24 10:00:00.123`)."""
    try:
        when = datetime.fromisoformat(str(text)).replace(tzinfo=UTC)
    except ValueError:  # none: the start of its raw hour
        when = datetime(day.year, day.month, day.day, int(hour), tzinfo=UTC)
    return Millis(int(when.timestamp() * 1000))


def objects(
    dataset: Dataset, day: date, rows: Iterable[tuple[str, str, str | None, str]]
) -> dict[str, bytes]:
    """(key, gzipped JSON lines) of the rejects from `rows` (reason, raw, received_at, hour)."""
    lines: dict[str, list[bytes]] = {}
    for reason, raw, received_at, hour in rows:
        item = Reject(source(dataset), reason, raw[:RAW_LIMIT], _millis(received_at, day, hour))
        lines.setdefault(f"{int(hour):02d}", []).append(encode(item))
    prefix = raw_day_prefix(REJECTS, day)
    name = f"compaction-{dataset.name}-{day.isoformat()}.gz"
    return {
        f"{prefix}hour={hour}/{name}": gzip.compress(b"".join(body), mtime=0)
        for hour, body in lines.items()
    }
