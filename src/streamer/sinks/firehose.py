"""The production sink: Amazon Data Firehose Direct PUT, one delivery stream per dataset.

Rows of a dataset are packed into records (`packing.py`) and sent to `<prefix>-<dataset>`
with PutRecordBatch, one call in flight per stream and at most `max_in_flight` in all; boto3
runs in a thread pool so the event loop never blocks on it. A partly filled record is sent
once its oldest row is `linger` seconds old; full records go at once.

Failures, in order of escalation:
- a 200 answer with `FailedPutCount > 0`: only the failed records are sent again;
- throttling, 5xx and network errors: the call is retried with capped, jittered exponential
  backoff (tenacity), for at most `retry_seconds` per batch;
- past that budget, or when undelivered bytes pass `buffer_bytes`, or on an error retrying
  cannot fix (missing stream, denied access): the stream's data goes to the on-disk spool
  (`spool.py`), and so does everything after it, to keep the order. A worker replays the spool
  while probing Firehose, and returns to direct sends once the spool is empty. Segments left
  by a crashed run are replayed at start.
Nothing is dropped unless the spool's disk budget is full too, which is logged as an error
and counted in `RowsDropped`.

Delivery is at least once: a call that timed out may have succeeded, and a spool segment is
deleted only after all of it was delivered. Every row carries its `record_id` for
de-duplication.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    stop_any,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from streamer.jsonline import ENCODERS
from streamer.metrics import DeliveryCounters
from streamer.packing import (
    MAX_RECORD_BYTES,
    Record,
    RecordPacker,
    batches,
    billed_bytes,
    read_response,
    repack,
    take_batch,
)
from streamer.records import Millis, Reject
from streamer.schema import REJECTS, Dataset, stream_name
from streamer.settings import FirehoseSettings
from streamer.sources.base import RAW_LIMIT
from streamer.spool import SpoolBudget, StreamSpool, fsync_and_close, open_spools

log = logging.getLogger(__name__)

THROTTLING = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "LimitExceededException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
    }
)
TRANSIENT = frozenset(
    {
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def classify(exc: BaseException) -> str:
    """'throttled', 'transient' (retry) or 'permanent' (retrying will not help)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        HTTPClientError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in THROTTLING or status == 429:
            return "throttled"
        if code in TRANSIENT or status >= 500:
            return "transient"
        return "permanent"
    if isinstance(exc, HTTPClientError | BotoConnectionError | OSError | _Unfinished):
        return "transient"  # connection refused or reset, timeouts, per-record failures
    if isinstance(exc, NoCredentialsError | NoRegionError | ParamValidationError):
        return "permanent"
    if isinstance(exc, BotoCoreError):
        return "transient"
    return "permanent"  # a bug (TypeError, ...) is not cured by waiting


class _Unfinished(Exception):
    """Some records of a batch were not accepted yet (per-record failures)."""


def make_client(settings: FirehoseSettings) -> Any:
    """A boto3 Firehose client: standard credential chain, `AWS_ENDPOINT_URL` honoured."""
    from botocore.config import Config

    from streamer.aws import session

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},  # our own policy retries
        connect_timeout=settings.request_timeout,
        read_timeout=settings.request_timeout,
        max_pool_connections=settings.max_in_flight,
        tcp_keepalive=True,
    )
    return session().client("firehose", config=config)


class _AtDeadline(stop_base):
    """Stop retrying once a shutdown's delivery budget is spent."""

    def __init__(self, sink: FirehoseSink) -> None:
        self.sink = sink

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.sink.past_deadline()


class _Lane:
    """One delivery stream: its packer, its in-memory batches, its spool and its worker."""

    __slots__ = (
        "failures",
        "packer",
        "queue",
        "replay",
        "replay_sent",
        "spool",
        "spooling",
        "stream",
        "wake",
        "worker",
    )

    def __init__(self, stream: str, spool: StreamSpool) -> None:
        self.stream = stream
        self.packer = RecordPacker()
        self.queue: deque[Record] = deque()  # sealed, waiting to be sent
        self.spool = spool
        self.spooling = not spool.empty
        self.replay: tuple[Path, deque[list[Record]]] | None = None
        self.replay_sent = 0  # batches of the replayed segment already delivered
        self.failures = 0  # consecutive undelivered batches (logging is thinned out)
        self.wake = asyncio.Event()
        self.worker: asyncio.Task[None] | None = None


def _size(records: Iterable[Record]) -> int:
    return sum(len(r.data) for r in records)


class FirehoseSink:
    """Implements `streamer.sinks.base.Sink` over Firehose PutRecordBatch."""

    def __init__(
        self,
        settings: FirehoseSettings,
        client: Any = None,
        client_factory: Callable[[FirehoseSettings], Any] = make_client,
    ) -> None:
        self.settings = settings
        self.counters = DeliveryCounters()
        self._client = client
        self._client_factory = client_factory
        self._budget = SpoolBudget(settings.spool_max_bytes)
        self._lanes: dict[str, _Lane] = {}  # by stream name
        self._by_dataset: dict[str, _Lane] = {}
        self._buffered = 0
        self._linger_ms = int(settings.linger * 1000)
        self._pool = ThreadPoolExecutor(settings.max_in_flight, thread_name_prefix="firehose")
        self._slots: asyncio.Semaphore | None = None
        self._closing = False
        self._stopped = False  # workers are gone; nothing may start new ones
        self._deadline = 0.0
        self._syncer: asyncio.Task[None] | None = None

    def stream_name(self, dataset: Dataset) -> str:
        return stream_name(self.settings.stream_prefix, dataset.name)

    # --- Sink protocol -------------------------------------------------------------------

    async def start(self) -> None:
        if self._client is None:
            self._client = self._client_factory(self.settings)
        self._slots = asyncio.Semaphore(self.settings.max_in_flight)
        left = open_spools(self.settings.spool_dir, self._budget)
        for stream, spool in left.items():
            lane = self._lanes[stream] = _Lane(stream, spool)
            self._start_worker(lane)
        if left:
            log.warning(
                "firehose.spool_found streams=%s bytes=%d (replaying first)",
                ",".join(left),
                self._budget.used,
            )
        self.counters.spool_bytes = self._budget.used
        self._syncer = asyncio.create_task(self._sync_spools(), name="firehose-spool-sync")

    def add(self, dataset: Dataset, line: bytes, arrival: Millis) -> None:
        lane = self._by_dataset.get(dataset.name)
        if lane is None:
            lane = self._lane(dataset)
        self.counters.rows_in += 1
        if not lane.packer.add(line, arrival):
            self._oversized(dataset, line, arrival)

    def seconds_until_due(self, now: Millis) -> float | None:
        due: float | None = None
        for lane in self._by_dataset.values():
            packer = lane.packer
            if not packer.rows:
                continue
            since = packer.open_since
            if lane.spooling or packer.sealed or since is None:
                return 0.0
            wait = (since + self._linger_ms - now) / 1000
            due = wait if due is None else min(due, wait)
        return None if due is None else max(0.0, due)

    async def flush_due(self, now: Millis) -> None:
        for lane in self._by_dataset.values():
            packer = lane.packer
            if not packer.rows:
                continue
            if lane.spooling:
                self._enqueue(lane, packer.take_all())  # to disk at once
            else:
                self._enqueue(lane, packer.take_due(now - self._linger_ms))

    async def aclose(self) -> None:
        """Deliver what is held within `shutdown_seconds`; spool whatever is left."""
        loop = asyncio.get_running_loop()
        self._closing = True
        self._deadline = loop.time() + self.settings.shutdown_seconds
        for lane in self._by_dataset.values():
            if lane.packer.rows:
                self._enqueue(lane, lane.packer.take_all())
        workers = []
        for lane in self._lanes.values():
            lane.wake.set()
            if lane.worker is not None:
                workers.append(lane.worker)
        if workers:
            _, late = await asyncio.wait(workers, timeout=self.settings.shutdown_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._stopped = True
        for lane in self._lanes.values():
            if lane.queue:
                self._spool_queue(lane, [])
            lane.spool.close()
        if self._syncer is not None:
            self._syncer.cancel()
            await asyncio.gather(self._syncer, return_exceptions=True)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.counters.buffered_bytes = self._buffered
        self.counters.spool_bytes = self._budget.used
        if self._budget.used:
            log.warning(
                "firehose.closed_with_spool bytes=%d dir=%s (delivered at next start)",
                self._budget.used,
                self.settings.spool_dir,
            )

    def counters_snapshot(self) -> Mapping[str, int]:
        self.counters.buffered_bytes = self._buffered
        self.counters.spool_bytes = self._budget.used
        return self.counters.snapshot()

    # --- buffering and spooling (event-loop side, synchronous) -------------------------

    def _lane(self, dataset: Dataset) -> _Lane:
        stream = self.stream_name(dataset)
        lane = self._lanes.get(stream)
        if lane is None:
            spool = StreamSpool.open(self.settings.spool_dir / stream, self._budget)
            lane = self._lanes[stream] = _Lane(stream, spool)
        self._by_dataset[dataset.name] = lane
        return lane

    def _oversized(self, dataset: Dataset, line: bytes, arrival: Millis) -> None:
        self.counters.rows_rejected += 1
        reason = (
            f"row of {len(line)} bytes is over the Firehose record limit of "
            f"{MAX_RECORD_BYTES} bytes (dataset {dataset.name})"
        )
        log.warning("firehose.row_too_large dataset=%s bytes=%d", dataset.name, len(line))
        raw = line[:RAW_LIMIT].decode("utf-8", "replace")
        reject = Reject(f"firehose:{dataset.name}", reason, raw, arrival)
        if dataset is not REJECTS:
            self.add(REJECTS, ENCODERS[Reject](reject), arrival)
            self.counters.rows_in -= 1  # the reject stands in for the row, not beside it

    def _enqueue(self, lane: _Lane, records: list[Record]) -> None:
        if not records:
            return
        size = _size(records)
        if lane.spooling or self._buffered + size > self.settings.buffer_bytes:
            if not lane.spooling:
                log.warning(
                    "firehose.memory_full stream=%s buffered=%d limit=%d (spooling)",
                    lane.stream,
                    self._buffered,
                    self.settings.buffer_bytes,
                )
            self._to_spool(lane, records)
            return
        lane.queue.extend(records)
        self._buffered += size
        self._start_worker(lane)
        lane.wake.set()

    def _to_spool(self, lane: _Lane, records: list[Record]) -> None:
        rows = sum(r.rows for r in records)
        if lane.spool.append([r.data for r in records]):
            self.counters.rows_spooled += rows
            if not lane.spooling:
                log.warning("firehose.spooling stream=%s", lane.stream)
            lane.spooling = True
        else:
            self.counters.rows_dropped += rows
            log.error(
                "firehose.spool_full stream=%s rows_dropped=%d spool_bytes=%d limit=%d "
                "(raise STREAMER_SPOOL_MAX_MB or restore delivery)",
                lane.stream,
                rows,
                self._budget.used,
                self._budget.max_bytes,
            )
        self._start_worker(lane)
        lane.wake.set()

    def _spool_queue(self, lane: _Lane, first: list[Record]) -> None:
        """`first`, then every record still queued in memory, to disk in order."""
        self._buffered -= _size(lane.queue)
        records = [*first, *lane.queue]
        lane.queue.clear()
        self._to_spool(lane, records)

    def _start_worker(self, lane: _Lane) -> None:
        if self._stopped:
            return
        if lane.worker is None or lane.worker.done():
            lane.worker = asyncio.create_task(self._work(lane), name=f"firehose-{lane.stream}")

    # --- delivery (tasks) --------------------------------------------------------------

    async def _work(self, lane: _Lane) -> None:
        while True:
            if lane.spooling:
                if await self._replay(lane):
                    continue
                if self._closing:
                    return  # safe on disk; delivered at the next start
                await asyncio.sleep(random.uniform(0.5, 1.0) * self.settings.backoff_cap)
                continue
            if not lane.queue:
                if self._closing:
                    return
                lane.wake.clear()
                await lane.wake.wait()
                continue
            batch = take_batch(lane.queue)
            size = _size(batch)
            try:
                left = await self._deliver(lane, batch, replay=False)
            except asyncio.CancelledError:
                lane.queue.extendleft(reversed(batch))  # shutdown: aclose spools it
                raise
            self._buffered -= size
            if left:
                # Firehose stays unavailable: this batch and all after it go to disk, in order.
                self._spool_queue(lane, left)

    async def _replay(self, lane: _Lane) -> bool:
        """Send the spool oldest first; True once it is empty, False if delivery failed."""
        while True:
            if lane.replay is None:
                segment = lane.spool.oldest()
                if segment is None:
                    lane.spooling = False
                    log.info("firehose.spool_drained stream=%s", lane.stream)
                    return True
                chunks, torn = await asyncio.to_thread(lane.spool.read, segment)
                if torn:
                    log.error("firehose.spool_torn segment=%s unreadable_bytes=%d", segment, torn)
                lane.replay = (segment, deque(batches(repack(chunks))))
                lane.replay_sent = 0
            segment, pending = lane.replay
            while pending:
                left = await self._deliver(lane, pending[0], replay=True)
                if left:
                    if lane.replay_sent or len(left) < len(pending[0]):
                        pending[0] = left  # partly delivered: keep the progress
                    else:
                        lane.replay = None  # re-read later rather than hold it while down
                    return False
                pending.popleft()
                lane.replay_sent += 1
            lane.spool.remove(segment)
            lane.replay = None
            self.counters.spool_bytes = self._budget.used

    async def _deliver(self, lane: _Lane, records: list[Record], replay: bool) -> list[Record]:
        """Send `records` until all are accepted or the retry budget is spent.

        Returns the records still undelivered (empty on success).
        """
        left = records
        retrying = AsyncRetrying(
            stop=stop_any(stop_after_delay(self.settings.retry_seconds), _AtDeadline(self)),
            wait=wait_random_exponential(
                multiplier=self.settings.backoff_base, max=self.settings.backoff_cap
            ),
            retry=retry_if_exception(lambda exc: classify(exc) != "permanent"),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.counters.rows_retried += sum(r.rows for r in left)
                    left = await self._put(lane.stream, left, replay)
                    if left:
                        raise _Unfinished(f"{len(left)} records failed")
        except Exception as exc:
            lane.failures += 1
            # 1st, 2nd, 4th, 8th... failure in a row: an outage is visible without flooding.
            if lane.failures & (lane.failures - 1) == 0:
                kind = classify(exc)
                log.log(
                    logging.ERROR if kind == "permanent" else logging.WARNING,
                    "firehose.undelivered stream=%s records=%d failures_in_a_row=%d error=%s: %s",
                    lane.stream,
                    len(left),
                    lane.failures,
                    type(exc).__name__,
                    exc,
                )
            return left
        if lane.failures:
            log.info("firehose.recovered stream=%s after_failures=%d", lane.stream, lane.failures)
            lane.failures = 0
        return []

    def past_deadline(self) -> bool:
        return self._closing and asyncio.get_running_loop().time() >= self._deadline

    async def _put(self, stream: str, records: list[Record], replay: bool) -> list[Record]:
        """One PutRecordBatch call; returns the records the answer says failed."""
        assert self._slots is not None, "start() was not awaited"
        call = functools.partial(
            self._client.put_record_batch,
            DeliveryStreamName=stream,
            Records=[{"Data": r.data} for r in records],
        )
        counters = self.counters
        async with self._slots:
            counters.put_calls += 1
            try:
                response = await asyncio.get_running_loop().run_in_executor(self._pool, call)
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
            counters.billed_bytes += billed_bytes(size)
            if replay:
                counters.rows_replayed += record.rows
        if outcome.failed:
            log.debug("firehose.partial_failure stream=%s errors=%s", stream, outcome.errors)
        return outcome.failed

    async def _sync_spools(self) -> None:
        """fsync spool appends at least once a second, off the event loop."""
        while True:
            await asyncio.sleep(1.0)
            for lane in list(self._lanes.values()):
                fd = lane.spool.sync_handle()
                if fd is not None:
                    await asyncio.to_thread(fsync_and_close, fd)
