"""Firehose delivery lanes: one per delivery stream, sharing one `Delivery`.

`Delivery` is what every lane shares: the boto3 client and the thread pool it runs in, the
in-flight limit (one semaphore for all streams), the bytes held in memory, the counters and
the shutdown deadline. `Lane` is one stream's packer, queue of sealed records, spool and
worker task; the worker sends one batch at a time, so a stream never has two calls in flight.

A batch is retried by `retry.retrying`: throttling, 5xx, network errors and per-record
failures (only the failed records are sent again) back off, for at most `retry_seconds` or
until the shutdown deadline; a permanent error ends at once. What is still undelivered then
goes to the lane's spool, with everything queued after it, so order is kept. A spooling lane
replays its spool oldest first, probing at a steady pace while Firehose stays down.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tenacity import stop_after_delay

from streamer.aws import classify
from streamer.metrics import DeliveryCounters
from streamer.packing import (
    MAX_RECORD_BYTES,
    Record,
    RecordPacker,
    RowPerRecordPacker,
    batches,
    billed_bytes,
    read_response,
    repack,
    take_batch,
)
from streamer.retry import GaveUp, Retryable, Sleep, StopWhen, retrying, steady_delay
from streamer.settings import FirehoseSettings
from streamer.sinks.safe_prefix import SafePrefix
from streamer.spool import SpoolBudget, StreamSpool
from streamer.storage import Outage
from streamer.timefmt import now_millis

log = logging.getLogger(__name__)


def size_of(records: Iterable[Record]) -> int:
    return sum(len(r.data) for r in records)


def _worth_retrying(exc: BaseException) -> bool:
    return classify(exc) != "permanent"


class Delivery:
    """The state all lanes share; `client` is set by the sink's `start`."""

    def __init__(
        self,
        settings: FirehoseSettings,
        counters: DeliveryCounters,
        budget: SpoolBudget,
        *,
        rng: random.Random,
        sleep: Sleep,
    ) -> None:
        self.settings = settings
        self.counters = counters
        self.budget = budget
        self.rng = rng
        self.sleep = sleep
        self.client: Any = None
        self.pool = ThreadPoolExecutor(settings.max_in_flight, thread_name_prefix="firehose")
        self.slots = asyncio.Semaphore(settings.max_in_flight)
        self.buffered = 0  # packed, undelivered bytes in memory, all lanes together
        self.storage = Outage("spool", rng=rng)  # the spool's disk, all lanes together
        self.over_budget_since: int | None = None  # the spool's budget refused rows
        self.space = asyncio.Event()  # set when held bytes shrink (`FirehoseSink.room`)
        self.closing = False
        self.stopped = False  # workers are gone; nothing may start new ones
        self.deadline = 0.0

    def release(self, size: int) -> None:
        self.buffered -= size
        self.space.set()

    def stored(self, disk: bool) -> None:
        """A delivery (`disk` False) or a write to the spool's disk went through."""
        self.over_budget_since = None
        if disk and self.storage.failing:
            self.storage.recovered(now_millis())

    def past_deadline(self) -> bool:
        return self.closing and asyncio.get_running_loop().time() >= self.deadline

    async def put(
        self, stream: str, records: list[Record], replay: bool, rounded: bool = True
    ) -> list[Record]:
        """One PutRecordBatch call; returns the records the answer says failed. `rounded`: the
        stream bills each record in 5 KiB steps (S3 destinations), not by its bytes (Iceberg)."""
        assert self.client is not None, "start() was not awaited"
        call = functools.partial(
            self.client.put_record_batch,
            DeliveryStreamName=stream,
            Records=[{"Data": r.data} for r in records],
        )
        counters = self.counters
        async with self.slots:
            counters.put_calls += 1
            try:
                response = await asyncio.get_running_loop().run_in_executor(self.pool, call)
            except Exception as exc:
                counters.failed_calls += 1
                if classify(exc) == "throttled":
                    counters.throttled_calls += 1
                raise
        outcome = read_response(records, response)
        for record in outcome.delivered:
            size = len(record.data)
            counters.rows_delivered += record.rows
            counters.records_delivered += 1
            counters.payload_bytes += size
            counters.billed_bytes += billed_bytes(size) if rounded else size
            if replay:
                counters.rows_replayed += record.rows
        if outcome.failed:
            log.debug("firehose.partial_failure stream=%s errors=%s", stream, outcome.errors)
        return outcome.failed


class Lane:
    """One delivery stream: its packer, its in-memory batches, its spool and its worker."""

    __slots__ = (
        "delivery",
        "failures",
        "held",
        "join_bytes",
        "numbered",
        "packer",
        "prefix",
        "queue",
        "replay_sent",
        "replay_state",
        "rows_added",
        "spool",
        "spooling",
        "stream",
        "wake",
        "worker",
    )

    def __init__(
        self, stream: str, spool: StreamSpool, delivery: Delivery, *, row_per_record: bool = False
    ) -> None:
        self.stream = stream
        self.delivery = delivery
        # An Iceberg destination takes one JSON object per record: rows are never joined.
        self.packer = RowPerRecordPacker() if row_per_record else RecordPacker()
        self.join_bytes = 0 if row_per_record else MAX_RECORD_BYTES
        self.queue: deque[Record] = deque()  # sealed, waiting to be sent
        self.held: deque[Record] = deque()  # for the spool, which the disk refused for now
        self.spool = spool
        self.spooling = not spool.empty
        self.replay_state: tuple[Path, deque[list[Record]]] | None = None
        self.replay_sent = 0  # batches of the replayed segment already delivered
        self.failures = 0  # consecutive undelivered batches (logging is thinned out)
        self.rows_added = 0  # rows packed since start
        self.numbered = 0  # of those, rows taken out of the packer (each record numbered)
        self.prefix = SafePrefix()  # of those, the first ones delivered, spooled or dropped
        self.wake = asyncio.Event()
        self.worker: asyncio.Task[None] | None = None

    @property
    def rows_out(self) -> int:
        """The first rows packed that are delivered, spooled or dropped (`Sink.accepted`)."""
        return self.prefix.accepted

    def mark(self, records: Iterable[Record]) -> None:
        """`records` are out of memory: delivered, spooled or counted as dropped."""
        safe = self.prefix.safe
        for record in records:
            safe(record.first, record.rows)

    def mark_delivered(self, sent: list[Record], left: list[Record]) -> None:
        failed = {id(record) for record in left}
        self.mark(record for record in sent if id(record) not in failed)

    # --- buffering and spooling (event-loop side, synchronous) -------------------------

    def enqueue(self, records: list[Record]) -> None:
        """Take records fresh from the packer (numbered here, in order); send or spool them."""
        if not records:
            return
        first, numbered = self.numbered, []
        for record in records:
            numbered.append(record._replace(first=first))
            first += record.rows
        self.numbered, records = first, numbered
        d = self.delivery
        size = size_of(records)
        if self.held or self.spooling or d.buffered + size > d.settings.buffer_bytes:
            if not self.spooling and not self.held:
                log.warning(
                    "firehose.memory_full stream=%s buffered=%d limit=%d (spooling)",
                    self.stream,
                    d.buffered,
                    d.settings.buffer_bytes,
                )
                # What waits in memory is older: it goes to the spool first, so the replay
                # keeps the order rows were added in.
                queued = list(self.queue)
                self.queue.clear()
                d.release(size_of(queued))
                records = [*queued, *records]
            self.to_spool(records)
            return
        self.queue.extend(records)
        d.buffered += size
        self.start_worker()
        self.wake.set()

    def to_spool(self, records: list[Record]) -> None:
        """Append `records` to the spool; while the disk refuses, hold them in memory (in
        order, behind what is held already) for the worker to retry."""
        d = self.delivery
        if self.held:
            self.hold(records)
            return
        rows = sum(r.rows for r in records)
        try:
            appended = self.spool.append([r.data for r in records])
        except OSError as exc:
            d.counters.storage_errors += 1
            d.storage.failed(exc, self.spool.directory, now_millis(), time.monotonic())
            self.hold(records)
            return
        self.mark(records)  # spooled or dropped (counted below): out of memory either way
        if appended:
            d.stored(disk=True)
            d.counters.rows_spooled += rows
            if not self.spooling:
                log.warning("firehose.spooling stream=%s", self.stream)
            self.spooling = True
        else:
            if d.over_budget_since is None:
                d.over_budget_since = now_millis()
            d.counters.rows_dropped += rows
            log.error(
                "firehose.spool_full stream=%s rows_dropped=%d spool_bytes=%d limit=%d "
                "(raise STREAMER_SPOOL_MAX_MB or restore delivery)",
                self.stream,
                rows,
                d.budget.used,
                d.budget.max_bytes,
            )
        self.start_worker()
        self.wake.set()

    def hold(self, records: list[Record]) -> None:
        self.held.extend(records)
        self.delivery.buffered += size_of(records)
        self.start_worker()
        self.wake.set()

    def spool_held(self) -> bool:
        """Retry the spool with what is held (when the backoff allows); True once done."""
        d = self.delivery
        if not d.storage.due(time.monotonic()):
            return False
        records = list(self.held)
        self.held.clear()
        d.release(size_of(records))
        self.to_spool(records)  # held again if the disk still refuses
        return not self.held

    def spool_queue(self, first: list[Record]) -> None:
        """`first`, then every record still queued in memory, to disk in order."""
        self.delivery.release(size_of(self.queue))
        records = [*first, *self.queue]
        self.queue.clear()
        self.to_spool(records)

    def start_worker(self) -> None:
        if self.delivery.stopped:
            return
        if self.worker is None or self.worker.done():
            self.worker = asyncio.create_task(self.work(), name=f"firehose-{self.stream}")

    # --- delivery (the worker task) ----------------------------------------------------

    async def work(self) -> None:
        """The lane's worker; an I/O error on the spool is retried, never ends it."""
        d = self.delivery
        while True:
            try:
                if await self.step():
                    return
            except OSError as exc:  # reading or removing a spool segment
                d.counters.storage_errors += 1
                delay = d.storage.failed(exc, self.spool.directory, now_millis(), time.monotonic())
                if d.closing:
                    return  # what is on disk stays there for the next start
                await d.sleep(delay)

    async def step(self) -> bool:
        """One turn of the worker: spool or send what is held, replay, or send; True when
        the worker should end (shutting down, and nothing it could still do)."""
        d = self.delivery
        if self.held:
            if self.spool_held():
                return False
            if not self.spooling:  # nothing older on disk: what is held may go straight out
                return await self.send_held()
        if self.spooling:
            if await self.replay():
                return False
            if d.closing:
                return True  # safe on disk; delivered at the next start
            await d.sleep(steady_delay(d.settings.backoff_cap, d.rng))
            return False
        if not self.queue:
            if d.closing:
                return True
            self.wake.clear()
            await self.wake.wait()
            return False
        batch = take_batch(self.queue, record_bytes=self.join_bytes)
        size = size_of(batch)
        try:
            left = await self.deliver(batch, replay=False)
        except asyncio.CancelledError:
            self.queue.extendleft(reversed(batch))  # shutdown: aclose spools it
            raise
        d.release(size)
        self.mark_delivered(batch, left)
        if left:
            # Firehose stays unavailable: this batch and all after it go to disk, in order.
            self.spool_queue(left)
        return False

    async def send_held(self) -> bool:
        """Deliver a batch of what the disk refused; on failure wait for the disk's retry."""
        d = self.delivery
        batch = take_batch(self.held, record_bytes=self.join_bytes)
        self.held.extendleft(reversed(batch))  # still held while in flight (shutdown, `room`)
        left = await self.deliver(batch, replay=False)
        for _ in batch:
            self.held.popleft()
        self.held.extendleft(reversed(left))
        self.mark_delivered(batch, left)
        d.release(size_of(batch) - size_of(left))
        if not left:
            return False
        if d.closing:
            return d.past_deadline()
        await d.sleep(max(0.0, d.storage.retry_at - time.monotonic()))
        return False

    async def replay(self) -> bool:
        """Send the spool oldest first; True once it is empty, False if delivery failed."""
        while True:
            if self.replay_state is None:
                segment = self.spool.oldest()
                if segment is None:
                    self.spooling = False
                    log.info("firehose.spool_drained stream=%s", self.stream)
                    return True
                chunks, torn = await asyncio.to_thread(self.spool.read, segment)
                if torn:
                    log.error("firehose.spool_torn segment=%s unreadable_bytes=%d", segment, torn)
                self.replay_state = (segment, deque(batches(repack(chunks, self.join_bytes))))
                self.replay_sent = 0
            segment, pending = self.replay_state
            while pending:
                left = await self.deliver(pending[0], replay=True)
                if left:
                    if self.replay_sent or len(left) < len(pending[0]):
                        pending[0] = left  # partly delivered: keep the progress
                    else:
                        self.replay_state = None  # re-read later rather than hold it while down
                    return False
                pending.popleft()
                self.replay_sent += 1
            self.spool.remove(segment)
            self.delivery.stored(disk=True)
            self.replay_state = None
            self.delivery.counters.spool_bytes = self.delivery.budget.used

    async def deliver(self, records: list[Record], replay: bool) -> list[Record]:
        """Send `records` until all are accepted or the retry budget is spent.

        Returns the records still undelivered (empty on success).
        """
        d = self.delivery
        left = records
        policy = retrying(
            stop_after_delay(d.settings.retry_seconds) | StopWhen(d.past_deadline),
            rng=d.rng,
            sleep=d.sleep,
            first=d.settings.backoff_base,
            cap=d.settings.backoff_cap,
            retry_on=_worth_retrying,
        )
        try:
            async for attempt in policy:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        d.counters.rows_retried += sum(r.rows for r in left)
                    left = await d.put(self.stream, left, replay, self.join_bytes > 0)
                    if left:
                        raise Retryable(f"{len(left)} records failed")
        except Exception as exc:
            self._undelivered(len(left), exc)
            return left
        d.stored(disk=False)
        if self.failures:
            log.info("firehose.recovered stream=%s after_failures=%d", self.stream, self.failures)
            self.failures = 0
        return []

    def _undelivered(self, records: int, exc: Exception) -> None:
        self.failures += 1
        # 1st, 2nd, 4th, 8th... failure in a row: an outage is visible without flooding.
        if self.failures & (self.failures - 1) == 0:
            cause = exc.last if isinstance(exc, GaveUp) else exc
            log.log(
                logging.ERROR if classify(cause) == "permanent" else logging.WARNING,
                "firehose.undelivered stream=%s records=%d failures_in_a_row=%d error=%s: %s",
                self.stream,
                records,
                self.failures,
                type(cause).__name__,
                exc,
            )
