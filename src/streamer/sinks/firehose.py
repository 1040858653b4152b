"""The production sink: Amazon Data Firehose Direct PUT, one delivery stream per dataset.

Rows of a dataset are packed into records (`packing.py`) and sent to `<prefix>-<dataset>`
with PutRecordBatch, one call in flight per stream and at most `max_in_flight` in all; boto3
runs in a thread pool so the event loop never blocks on it. A partly filled record is sent
once its oldest row is `linger` seconds old; full records go at once.

Failures, in order of escalation:
- a 200 answer with `FailedPutCount > 0`: only the failed records are sent again;
- throttling, 5xx and network errors: the call is retried with capped, jittered exponential
  backoff (`retry.py`), for at most `retry_seconds` per batch;
- past that budget, or when undelivered bytes pass `buffer_bytes`, or on an error retrying
  cannot fix (missing stream, denied access): the stream's data goes to the on-disk spool
  (`spool.py`), and so does everything after it, to keep the order. A worker replays the spool
  while probing Firehose, and returns to direct sends once the spool is empty. Segments left
  by a crashed run are replayed at start.
Nothing is dropped unless the spool's disk budget is full too, which is logged as an error
and counted in `RowsDropped`.

This module is the sink shell (the `Sink` protocol, buffering, shutdown); the per-stream
delivery lanes, retries and spool replay are in `firehose_lanes.py`, AWS set-up and error
classification in `aws.py`.

With `STREAMER_LAKE_FORMAT=iceberg` each dataset's stream delivers into its Iceberg table and
takes the rows `iceberg_records.py` encodes, one JSON object per record (Firehose reads one per
record and bills Iceberg destinations per byte, not in 5 KiB steps); the rejects keep their JSON
lines stream, packed as before.

Delivery is at least once: a call that timed out may have succeeded, and a spool segment is
deleted only after all of it was delivered. Every row carries its `record_id` for
de-duplication.

`accepted(dataset)`, which checkpoints wait for, counts the rows added first that are all
delivered, spooled or dropped (`safe_prefix.py`): never a row in the packer or in an unanswered
call, nor one behind such a row, however many later rows went through.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from streamer.aws import firehose_client as make_client
from streamer.errors import ConfigError
from streamer.iceberg_layout import ICEBERG_TABLES
from streamer.iceberg_records import is_iceberg_record
from streamer.jsonline import ENCODERS
from streamer.metrics import DeliveryCounters
from streamer.packing import MAX_RECORD_BYTES
from streamer.records import RAW_LIMIT, Millis, Reject
from streamer.retry import Sleep
from streamer.schema import REJECTS, Dataset, stream_name
from streamer.settings import FirehoseSettings
from streamer.sinks.firehose_lanes import Delivery, Lane, size_of
from streamer.spool import SpoolBudget, StreamSpool, fsync_and_close, open_spools
from streamer.storage import describe
from streamer.timefmt import now_millis

__all__ = ["FirehoseSink", "make_client"]

log = logging.getLogger(__name__)


class FirehoseSink:
    """Implements `streamer.sinks.base.Sink` over Firehose PutRecordBatch."""

    def __init__(
        self,
        settings: FirehoseSettings,
        client: Any = None,
        client_factory: Callable[[FirehoseSettings], Any] = make_client,
        *,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.counters = DeliveryCounters()
        self._client = client
        self._client_factory = client_factory
        self._budget = SpoolBudget(settings.spool_max_bytes)
        self._delivery = Delivery(
            settings, self.counters, self._budget, rng=rng or random.Random(), sleep=sleep
        )
        self._lanes: dict[str, Lane] = {}  # by stream name
        tables = frozenset(stream_name(settings.stream_prefix, name) for name in ICEBERG_TABLES)
        # the streams into Iceberg tables, one row per record (none on the JSON path)
        self._row_per_record = tables if settings.format == "iceberg" else frozenset()
        self._table_streams = tables
        self._by_dataset: dict[str, Lane] = {}
        self._linger_ms = int(settings.linger * 1000)
        self._syncer: asyncio.Task[None] | None = None

    def stream_name(self, dataset: Dataset) -> str:
        return stream_name(self.settings.stream_prefix, dataset.name)

    # --- Sink protocol -------------------------------------------------------------------

    async def start(self) -> None:
        if self._client is None:
            self._client = self._client_factory(self.settings)
        self._delivery.client = self._client
        left = open_spools(self.settings.spool_dir, self._budget)
        self._check_spooled_format(left)
        for stream, spool in left.items():
            lane = self._lanes[stream] = self._new_lane(stream, spool)
            lane.start_worker()
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
        if lane.packer.add(line, arrival):
            lane.rows_added += 1
        else:
            self._oversized(dataset, line, arrival)

    def add_many(self, dataset: Dataset, lines: Sequence[bytes], arrival: Millis) -> None:
        for line in lines:
            self.add(dataset, line, arrival)

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
                lane.enqueue(packer.take_all())  # to disk at once
            else:
                lane.enqueue(packer.take_due(now - self._linger_ms))

    async def room(self) -> None:
        """While the spool's disk refuses and more than `buffer_bytes` is held, wait."""
        d = self._delivery
        while d.buffered > self.settings.buffer_bytes and any(
            lane.held for lane in self._lanes.values()
        ):
            d.space.clear()
            await d.space.wait()

    def added(self, dataset: str) -> int:
        lane = self._by_dataset.get(dataset)
        return 0 if lane is None else lane.rows_added

    def accepted(self, dataset: str) -> int:
        lane = self._by_dataset.get(dataset)
        return 0 if lane is None else lane.rows_out

    def failing_since(self) -> Millis | None:
        d = self._delivery
        if d.storage.since_ms is not None and any(lane.held for lane in self._lanes.values()):
            return Millis(d.storage.since_ms)
        return None if d.over_budget_since is None else Millis(d.over_budget_since)

    async def aclose(self) -> None:
        """Deliver what is held within `shutdown_seconds`; spool whatever is left."""
        delivery = self._delivery
        delivery.closing = True
        delivery.deadline = asyncio.get_running_loop().time() + self.settings.shutdown_seconds
        for lane in self._by_dataset.values():
            if lane.packer.rows:
                lane.enqueue(lane.packer.take_all())
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
        delivery.stopped = True
        for lane in self._lanes.values():
            if lane.queue:
                lane.spool_queue([])
            if lane.held:
                delivery.storage.retry_at = 0.0  # a last try, whatever the backoff
                lane.spool_held()
            if lane.held:
                self._lost(lane)
            lane.spool.close()
        if self._syncer is not None:
            self._syncer.cancel()
            await asyncio.gather(self._syncer, return_exceptions=True)
        delivery.pool.shutdown(wait=False, cancel_futures=True)
        self.counters_snapshot()
        if self._budget.used:
            log.warning(
                "firehose.closed_with_spool bytes=%d dir=%s (delivered at next start)",
                self._budget.used,
                self.settings.spool_dir,
            )

    def counters_snapshot(self) -> Mapping[str, int]:
        self.counters.buffered_bytes = self._delivery.buffered
        self.counters.spool_bytes = self._budget.used
        since = self.failing_since()
        failing = 0 if since is None else (now_millis() - since) // 1000
        self.counters.failing_seconds = max(0, failing)
        return self.counters.snapshot()

    def _lost(self, lane: Lane) -> None:
        """Shutdown with records Firehose and the spool's disk both refused: counted, logged."""
        rows = sum(r.rows for r in lane.held)
        self.counters.rows_dropped += rows
        lane.mark(lane.held)
        self._delivery.release(size_of(lane.held))
        lane.held.clear()
        log.error(
            "firehose.rows_lost stream=%s rows=%d reason=Firehose unavailable and the spool "
            "unwritable at shutdown (dir %s)",
            lane.stream,
            rows,
            self.settings.spool_dir,
        )

    # --- lanes and oversized rows ----------------------------------------------------

    def _lane(self, dataset: Dataset) -> Lane:
        stream = self.stream_name(dataset)
        lane = self._lanes.get(stream)
        if lane is None:
            spool = StreamSpool.open(self.settings.spool_dir / stream, self._budget)
            lane = self._lanes[stream] = self._new_lane(stream, spool)
        self._by_dataset[dataset.name] = lane
        return lane

    def _check_spooled_format(self, left: Mapping[str, StreamSpool]) -> None:
        """Refuse to start on a spool an earlier run left in the other format: replayed, its
        records would reach the error prefix (JSON lines into an Iceberg table) or the JSON
        lake with Iceberg values. Nothing is lost: the rows stay on disk."""
        for stream, spool in left.items():
            first = spool.first_record() if stream in self._table_streams else None
            if first is None:
                continue
            found = "iceberg" if is_iceberg_record(first) else "json"
            if found != self.settings.format:
                raise ConfigError(
                    "STREAMER_LAKE_FORMAT",
                    f"it is {self.settings.format!r}, but the spool {spool.directory} holds "
                    f"{found} records of {stream} left by an earlier run",
                    f"Run once with STREAMER_LAKE_FORMAT={found} until the spool is empty "
                    f"(SpoolBytes 0), or move that directory aside",
                )

    def _new_lane(self, stream: str, spool: StreamSpool) -> Lane:
        single = stream in self._row_per_record
        return Lane(stream, spool, self._delivery, row_per_record=single)

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

    async def _sync_spools(self) -> None:
        """fsync spool appends at least once a second, off the event loop."""
        while True:
            await asyncio.sleep(1.0)
            for lane in list(self._lanes.values()):
                fd = lane.spool.sync_handle()
                if fd is None:
                    continue
                try:
                    await asyncio.to_thread(fsync_and_close, fd)
                except OSError as exc:  # the appends reached the OS; a host crash may lose them
                    self.counters.storage_errors += 1
                    log.error("firehose.spool_fsync_failed stream=%s error=%s",
                              lane.stream, describe(exc))  # fmt: skip
