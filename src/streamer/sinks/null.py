"""A sink that counts and discards rows: the benchmark's baseline."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from streamer.records import Millis
from streamer.schema import Dataset


class NullSink:
    def __init__(self) -> None:
        self.rows: Counter[str] = Counter()
        self.bytes = 0

    def added(self, dataset: str) -> int:
        return self.rows[dataset]

    def accepted(self, dataset: str) -> int:
        return self.rows[dataset]  # discarded at once: nothing is held

    async def start(self) -> None:
        return None

    def counters_snapshot(self) -> dict[str, int]:
        rows = sum(self.rows.values())
        return {"RowsIn": rows, "RowsDelivered": rows, "PayloadBytes": self.bytes}

    def add(self, dataset: Dataset, line: bytes, arrival: Millis) -> None:
        self.rows[dataset.name] += 1
        self.bytes += len(line)

    def add_many(self, dataset: Dataset, lines: Sequence[bytes], arrival: Millis) -> None:
        self.rows[dataset.name] += len(lines)
        self.bytes += sum(map(len, lines))

    def seconds_until_due(self, now: Millis) -> float | None:
        return None

    async def flush_due(self, now: Millis) -> None:
        return None

    async def room(self) -> None:
        return None

    def failing_since(self) -> Millis | None:
        return None

    async def aclose(self) -> None:
        return None
