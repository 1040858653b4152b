"""Sources -> one bounded queue -> encoder -> sink, under one TaskGroup.

Each source awaits `emit(items)` once per socket read (or REST answer); the queue is bounded in
rows, not in calls, so a slow sink slows the sources (TCP backpressure) instead of growing
memory, however many rows one read carries. The consumer encodes each run of rows of one
dataset with that dataset's compiled encoder and hands the lines to the sink at once, with
their arrival time, then lets the sink write whatever is due. On stop: sources are cancelled,
the queue is drained, and the sink writes everything it holds. A source that fails for good
(`SourceError`) is logged and stops alone; the others keep running.

With `Completeness` (the service's): each row's count goes to the `quality` accumulator, whose
closed minutes go into the queue as rows; feeds' `Progress` markers wait in a `Committer` until
the sink has accepted the rows before them, then their checkpoints are saved; and on stop the
feeds first get `drain_seconds` to serve their open holes (`Feed.drain`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby

from streamer.checkpoint_writer import CheckpointWriter
from streamer.errors import SourceError
from streamer.jsonline import MANY_ENCODERS, ManyEncoder
from streamer.logsafe import shown
from streamer.progress import WATCHED, Committer, Progress
from streamer.quality import QualityCounter
from streamer.records import Item, Quality
from streamer.schema import DATASET_OF_TYPE
from streamer.sinks.base import Sink
from streamer.sources.base import Clock, Source

log = logging.getLogger(__name__)


class _End:
    """Queue marker: every source has stopped."""


_END = _End()


class RowQueue:
    """A FIFO of item batches bounded by the rows it holds (a batch may carry thousands).

    `put` waits while `limit` rows or more are queued, so one batch can take the queue past the
    limit once but a producer never runs further ahead; `get` waits for a batch.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.rows = 0
        self._batches: deque[Sequence[Item] | _End] = deque()
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()

    def empty(self) -> bool:
        return not self._batches

    async def put(self, batch: Sequence[Item] | _End) -> None:
        while self.rows >= self.limit:
            self._space.clear()
            await self._space.wait()
        self._batches.append(batch)
        if not isinstance(batch, _End):
            self.rows += len(batch)
        self._ready.set()

    def put_last(self, batch: Sequence[Item]) -> None:
        """A last batch on the way out, past the limit (like the end marker)."""
        self._batches.append(batch)
        self.rows += len(batch)
        self._ready.set()

    def put_end(self) -> None:
        """The end marker, past the limit: the consumer may be waiting on a failing sink."""
        self._batches.append(_END)
        self._ready.set()

    def get_nowait(self) -> Sequence[Item] | _End:
        batch = self._batches.popleft()
        if not isinstance(batch, _End):
            self.rows -= len(batch)
            if self.rows < self.limit:
                self._space.set()
        if not self._batches:
            self._ready.clear()
        return batch

    async def get(self) -> Sequence[Item] | _End:
        while not self._batches:
            await self._ready.wait()
        return self.get_nowait()


@dataclass(slots=True)
class Completeness:
    """What the service adds to a run: the process's `quality` counter, the checkpoint writer
    (None: no checkpoints, e.g. the null sink) and the drain on stop."""

    quality: QualityCounter
    writer: CheckpointWriter | None = None
    drain_seconds: float = 0.0
    every: float = 1.0  # seconds between passes that hand over closed `quality` minutes
    committer: Committer = field(default_factory=Committer)
    seen: dict[str, tuple[int, int]] = field(default_factory=dict)  # frames, rejects per feed


@dataclass(slots=True)
class PipelineStats:
    rows: Counter[str] = field(default_factory=Counter)
    failed_sources: dict[str, str] = field(default_factory=dict)

    def total(self) -> int:
        return sum(self.rows.values())


async def _run_source(source: Source, queue: RowQueue, stats: PipelineStats) -> None:
    async def emit(items: Sequence[Item]) -> None:
        await queue.put(items)

    try:
        await source.run(emit)
    except SourceError as exc:
        stats.failed_sources[source.name] = str(exc)
        log.error("source.failed source=%s error=%s", source.name, shown(exc))
    except Exception as exc:  # a bug in one feed must not take the others down
        stats.failed_sources[source.name] = repr(exc)
        log.exception("source.crashed source=%s", source.name)


async def _room(sink: Sink, stopping: asyncio.Event) -> None:
    """Wait for the sink to take rows again (it holds all it may and cannot write): the queue
    fills and the sources wait. Once stopping, stop waiting: `aclose` gets the last word."""
    if stopping.is_set():
        return
    room = asyncio.ensure_future(sink.room())
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait((room, stop), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (room, stop):
            task.cancel()
        await asyncio.gather(room, stop, return_exceptions=True)


def _count_rows(quality: QualityCounter, dataset: str, items: list[Item]) -> None:
    """Rows handed to the sink, per (exchange, symbol) of `dataset` (rows without both, and
    `quality`'s own, are not counted)."""
    first = items[0]
    if type(first) is Quality or not hasattr(first, "symbol") or not hasattr(first, "exchange"):
        return
    counts: Counter[tuple[str, str]] = Counter()
    for item in items:
        counts[(item.exchange, item.symbol)] += 1  # type: ignore[union-attr]
    for (exchange, symbol), n in counts.items():
        quality.written((exchange, symbol, dataset), n)


def _commit(sink: Sink, extra: Completeness | None) -> None:
    if extra is not None and extra.writer is not None and len(extra.committer):
        extra.writer.add(extra.committer.ready(sink.accepted))


async def _consume(
    queue: RowQueue,
    sink: Sink,
    clock: Clock,
    stats: PipelineStats,
    stopping: asyncio.Event,
    extra: Completeness | None = None,
    encoders: Mapping[type, ManyEncoder] = MANY_ENCODERS,
) -> None:
    datasets = DATASET_OF_TYPE
    rows = stats.rows
    quality = extra.quality if extra is not None else None
    while True:
        if queue.empty():
            wait = sink.seconds_until_due(clock())
            if wait is None:  # nothing buffered: nothing can fall due before the next rows
                batch = await queue.get()
            else:
                try:
                    async with asyncio.timeout(wait):
                        batch = await queue.get()
                except TimeoutError:
                    await sink.flush_due(clock())
                    continue
        else:
            batch = queue.get_nowait()
        arrival = clock()
        while True:
            if isinstance(batch, _End):
                await sink.aclose()
                _commit(sink, extra)
                return
            add = sink.add_many
            first: object = batch[0]
            if type(first) is Progress:  # a feed's marker, alone in its batch
                if extra is not None and extra.writer is not None:
                    extra.committer.mark(first, {n: sink.added(n) for n in WATCHED})
            elif quality is None:
                for kind, run in groupby(batch, type):  # runs of one dataset, encoded at once
                    dataset = datasets[kind]
                    lines = encoders[kind](run, arrival)
                    add(dataset, lines, arrival)
                    rows[dataset.name] += len(lines)
            else:
                for kind, run in groupby(batch, type):
                    dataset = datasets[kind]
                    items = list(run)
                    lines = encoders[kind](items, arrival)
                    add(dataset, lines, arrival)
                    rows[dataset.name] += len(lines)
                    _count_rows(quality, dataset.name, items)
            if queue.empty():
                break
            batch = queue.get_nowait()
        await sink.flush_due(clock())
        _commit(sink, extra)
        if sink.failing_since() is not None:
            await _room(sink, stopping)


async def run_pipeline(
    sources: Sequence[Source],
    sink: Sink,
    stop: asyncio.Event,
    *,
    clock: Clock,
    queue_size: int = 10_000,
    stats: PipelineStats | None = None,
    completeness: Completeness | None = None,
    encoders: Mapping[type, ManyEncoder] = MANY_ENCODERS,
) -> PipelineStats:
    """Run until `stop` is set (or every source has failed; with no source at all, until
    `stop`); then drain and close the sink. `encoders` turn each dataset's rows into what the
    sink takes: JSON lines (`jsonline.py`), or Iceberg records for a Firehose sink delivering
    into Iceberg tables (`iceberg_records.py`)."""
    stats = PipelineStats() if stats is None else stats
    queue = RowQueue(queue_size)
    extra = completeness
    await sink.start()
    async with asyncio.TaskGroup() as group:
        closing = asyncio.Event()  # set once the sources stop (told to, or all failed)
        consumer = group.create_task(_consume(queue, sink, clock, stats, closing, extra, encoders))
        minutes = group.create_task(_quality(sources, queue, extra)) if extra else None
        feeds = {group.create_task(_run_source(s, queue, stats)) for s in sources}
        stopped = group.create_task(stop.wait())
        pending: set[asyncio.Task[object]] = {stopped, *feeds}
        if not feeds:  # nothing to collect here (a shard that drew no symbol): idle until told
            log.warning("pipeline.idle no sources to run; waiting for stop")
            await stopped
        while stopped in pending and len(pending) > 1:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if extra is not None and stopped not in pending:
            await _drain(sources, extra.drain_seconds)
        closing.set()
        stopped.cancel()
        for feed in feeds:
            feed.cancel()
        await asyncio.gather(*feeds, return_exceptions=True)
        if minutes is not None and extra is not None:
            minutes.cancel()
            await asyncio.gather(minutes, return_exceptions=True)
            _received(sources, extra)
            last = extra.quality.flush()
            if last:
                queue.put_last(last)
        queue.put_end()
        await consumer
    if extra is not None and extra.writer is not None:
        await extra.writer.aclose()
    return stats


async def _drain(sources: Sequence[Source], seconds: float) -> None:
    """Every feed serves its open holes for up to `seconds`, then puts its last marker."""
    feeds = [drain(seconds) for s in sources if (drain := getattr(s, "drain", None))]
    if not feeds:
        return
    try:
        async with asyncio.timeout(seconds + 5.0):  # the marker waits on a queue that drains
            await asyncio.gather(*feeds)
    except TimeoutError:
        log.warning("pipeline.drain_timeout seconds=%.0f (checkpoints stay at the last marker)",
                    seconds)  # fmt: skip


def _received(sources: Sequence[Source], extra: Completeness) -> None:
    """Each feed's frames and rejects since the last call, to its `connection` row."""
    for source in sources:
        s = source.stats
        frames, rejects = extra.seen.get(source.name, (0, 0))
        extra.seen[source.name] = (s.frames, s.rejects)
        s.quality.received(s.frames - frames, s.rejects - rejects)


async def _quality(sources: Sequence[Source], queue: RowQueue, extra: Completeness) -> None:
    """Hand the closed minutes of `quality` to the queue, as rows like any other."""
    while True:
        await asyncio.sleep(extra.every)
        _received(sources, extra)
        rows = extra.quality.due()
        if rows:
            await queue.put(rows)
