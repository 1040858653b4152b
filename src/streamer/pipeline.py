"""Sources -> one bounded queue -> encoder -> sink, under one TaskGroup.

Each source awaits `emit(items)` once per socket read (or REST answer); the queue is bounded in
rows, not in calls, so a slow sink slows the sources (TCP backpressure) instead of growing
memory, however many rows one read carries. The consumer encodes each run of rows of one
dataset with that dataset's compiled encoder and hands the lines to the sink at once, with
their arrival time, then lets the sink write whatever is due. On stop: sources are cancelled,
the queue is drained, and the sink writes everything it holds. A source that fails for good
(`SourceError`) is logged and stops alone; the others keep running.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby

from streamer.errors import SourceError
from streamer.jsonline import MANY_ENCODERS
from streamer.logsafe import shown
from streamer.records import Item
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


async def _consume(
    queue: RowQueue, sink: Sink, clock: Clock, stats: PipelineStats, stopping: asyncio.Event
) -> None:
    encoders = MANY_ENCODERS
    datasets = DATASET_OF_TYPE
    rows = stats.rows
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
                return
            add = sink.add_many
            for kind, run in groupby(batch, type):  # runs of one dataset, each encoded at once
                dataset = datasets[kind]
                lines = encoders[kind](run)
                add(dataset, lines, arrival)
                rows[dataset.name] += len(lines)
            if queue.empty():
                break
            batch = queue.get_nowait()
        await sink.flush_due(clock())
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
) -> PipelineStats:
    """Run until `stop` is set (or every source has failed; with no source at all, until
    `stop`); then drain and close the sink."""
    stats = PipelineStats() if stats is None else stats
    queue = RowQueue(queue_size)
    await sink.start()
    async with asyncio.TaskGroup() as group:
        closing = asyncio.Event()  # set once the sources stop (told to, or all failed)
        consumer = group.create_task(_consume(queue, sink, clock, stats, closing))
        feeds = {group.create_task(_run_source(s, queue, stats)) for s in sources}
        stopped = group.create_task(stop.wait())
        pending: set[asyncio.Task[object]] = {stopped, *feeds}
        if not feeds:  # nothing to collect here (a shard that drew no symbol): idle until told
            log.warning("pipeline.idle no sources to run; waiting for stop")
            await stopped
        while stopped in pending and len(pending) > 1:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        closing.set()
        stopped.cancel()
        for feed in feeds:
            feed.cancel()
        await asyncio.gather(*feeds, return_exceptions=True)
        queue.put_end()
        await consumer
    return stats
