"""The `Sink` protocol: buffered, per-dataset delivery of newline-terminated JSON rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from streamer.records import Millis
from streamer.schema import Dataset


class Sink(Protocol):
    """Receives encoded rows from the pipeline.

    `add` only buffers (it never blocks); `flush_due` writes buffers whose size or age passed
    the sink's limits; `aclose` writes everything still buffered. Rows of one dataset are
    delivered in the order they were added. Delivery is at-least-once: a row may be written
    twice after a crash, never silently dropped (every row is delivered, stored, counted
    as dropped with a reason, or still held); `record_id` lets readers de-duplicate.
    """

    async def start(self) -> None:
        """Called once in the running event loop, before the first row."""
        ...

    def add(self, dataset: Dataset, line: bytes, arrival: Millis) -> None: ...

    def add_many(self, dataset: Dataset, lines: Sequence[bytes], arrival: Millis) -> None:
        """`add` for each of `lines`, in order (the pipeline hands over a run at a time)."""
        ...

    def seconds_until_due(self, now: Millis) -> float | None:
        """Seconds until the oldest buffer is due by age (None when nothing is buffered)."""
        ...

    async def flush_due(self, now: Millis) -> None: ...

    async def room(self) -> None:
        """Return once the sink may take more rows: at once, unless it holds all it may in
        memory because it can neither deliver nor store (a failing disk). The pipeline waits
        here, its queue fills, and the sources wait (back-pressure) instead of rows being lost.
        """
        ...

    def failing_since(self) -> Millis | None:
        """Since when rows could be neither delivered nor stored (None: they can)."""
        ...

    async def aclose(self) -> None: ...

    def added(self, dataset: str) -> int:
        """Rows of `dataset` added since start (what `accepted` counts toward)."""
        ...

    def accepted(self, dataset: str) -> int:
        """Rows of `dataset`, the first ones added, that a kill can no longer lose: delivered,
        or stored (the lake's journal, the Firehose spool), or counted as dropped. Checkpoints
        are written only up to these (`progress.Committer`)."""
        ...

    def counters_snapshot(self) -> Mapping[str, int]:
        """Cumulative delivery counters by CloudWatch metric name (see `metrics.py`)."""
        ...
