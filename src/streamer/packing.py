"""Packing rows into Firehose records and records into PutRecordBatch calls (pure).

Firehose bills every record rounded up to 5 KiB, so one row per record would cost 5 KiB for a
200-byte trade. Rows of one dataset are therefore concatenated, newline-terminated, into records
of up to `MAX_RECORD_BYTES`; Firehose writes record bytes to S3 back to back, so the objects
stay valid JSON Lines. Records go out in batches of at most `MAX_BATCH_RECORDS` records and
`MAX_BATCH_BYTES` bytes. These are the service's hard limits, which boto3 does not check.

A stream that delivers into an Apache Iceberg table reads one JSON object per record and is
billed per GB without the 5 KiB rounding, so its rows go one per record (`RowPerRecordPacker`),
and neither `take_batch` nor `repack` joins them (`record_bytes=0`, `max_bytes=0`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

MAX_RECORD_BYTES = 1_000 * 1024  # PutRecordBatch: 1,000 KiB per record, before base64
MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
BILLING_UNIT = 5 * 1024


class Record(NamedTuple):
    """One Firehose record: `rows` newline-terminated rows, `len(data)` bytes.

    `first` numbers its first row among its stream's rows (the sink's lane sets it, to count
    which rows are safe: `sinks/safe_prefix.py`); -1 where nobody counts (rows read back from
    the spool).
    """

    data: bytes
    rows: int
    first: int = -1


def billed_bytes(size: int) -> int:
    """What Firehose bills for one record of `size` bytes (rounded up to 5 KiB)."""
    return -(-size // BILLING_UNIT) * BILLING_UNIT


class RecordPacker:
    """Accumulates rows of one dataset; seals a record whenever the next row would not fit.

    `add` rejects (returns False for) a row longer than a record: the caller decides where it
    goes. Sealed records wait in `sealed` until taken; the open record keeps filling until
    `take_due` or `take_all` takes it.
    """

    __slots__ = ("_arrivals", "_parts", "_sealed_rows", "_size", "max_bytes", "sealed")

    def __init__(self, max_bytes: int = MAX_RECORD_BYTES) -> None:
        self.max_bytes = max_bytes
        self.sealed: list[Record] = []
        self._parts: list[bytes] = []
        self._arrivals: list[int] = []
        self._size = 0
        self._sealed_rows = 0

    @property
    def rows(self) -> int:
        """Rows held, sealed or not."""
        return len(self._parts) + self._sealed_rows

    @property
    def open_bytes(self) -> int:
        return self._size

    @property
    def open_since(self) -> int | None:
        """Arrival of the oldest row of the open record (None when it is empty)."""
        return self._arrivals[0] if self._arrivals else None

    def add(self, line: bytes, arrival: int = 0) -> bool:
        size = len(line)
        if size > self.max_bytes:
            return False
        if self._size + size > self.max_bytes:
            self._seal()
        self._parts.append(line)
        self._arrivals.append(arrival)
        self._size += size
        return True

    def take_sealed(self) -> list[Record]:
        """Full records only; the open one keeps filling."""
        taken, self.sealed, self._sealed_rows = self.sealed, [], 0
        return taken

    def take_all(self) -> list[Record]:
        self._seal()
        return self.take_sealed()

    def take_due(self, cutoff: int) -> list[Record]:
        """Sealed records, and the rows that arrived at or before `cutoff` (their linger is
        over) with the younger rows that fit in whole billing units.

        Firehose bills a record in 5 KiB steps, so a record cut at linger time wastes half a
        step on average. Instead the record is cut at the last row that fits in the whole
        units of what is held (or in the units the due rows need, if that is more); the few
        younger rows past the cut wait for their own linger: no row waits longer.
        """
        taken = self.take_sealed()
        parts, arrivals = self._parts, self._arrivals
        must = 0
        while must < len(arrivals) and arrivals[must] <= cutoff:
            must += 1
        if must == 0:
            return taken
        if must == len(parts):
            return [*taken, *self.take_all()]
        size = sum(len(p) for p in parts[:must])
        # Whole units of everything held, or the units the due rows need if that is more.
        room = max(billed_bytes(size), self._size - self._size % BILLING_UNIT)
        cut = must
        while cut < len(parts) and size + len(parts[cut]) <= room:
            size += len(parts[cut])
            cut += 1
        taken.append(Record(b"".join(parts[:cut]), cut))
        del parts[:cut], arrivals[:cut]
        self._size -= size
        return taken

    def _seal(self) -> None:
        if self._parts:
            record = Record(b"".join(self._parts), len(self._parts))
            self.sealed.append(record)
            self._sealed_rows += record.rows
            self._parts, self._arrivals, self._size = [], [], 0


class RowPerRecordPacker(RecordPacker):
    """Rows go one per record, for destinations that take one JSON object per record (Firehose's
    Apache Iceberg tables). They wait for `linger` as a JSON stream's rows do, so a quiet stream
    makes one call per linger, not one per row; once the oldest is due, every row held goes.
    A full call's worth (`MAX_BATCH_RECORDS` rows or `MAX_BATCH_BYTES`) is sealed at once.
    `add` still refuses a row over a record."""

    __slots__ = ()

    def add(self, line: bytes, arrival: int = 0) -> bool:
        size = len(line)
        if size > self.max_bytes:
            return False
        if len(self._parts) == MAX_BATCH_RECORDS or self._size + size > MAX_BATCH_BYTES:
            self._seal()
        self._parts.append(line)
        self._arrivals.append(arrival)
        self._size += size
        return True

    def take_due(self, cutoff: int) -> list[Record]:
        """Sealed records, and every row held once the oldest arrived at or before `cutoff`
        (no billing unit to fill: Iceberg destinations bill by the byte)."""
        if self._arrivals and self._arrivals[0] <= cutoff:
            self._seal()
        return self.take_sealed()

    def _seal(self) -> None:
        if self._parts:
            self.sealed.extend(Record(part, 1) for part in self._parts)
            self._sealed_rows += len(self._parts)
            self._parts, self._arrivals, self._size = [], [], 0


def batches(
    records: Iterable[Record],
    max_records: int = MAX_BATCH_RECORDS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[list[Record]]:
    """Greedy, order-keeping split into PutRecordBatch-sized lists."""
    batch: list[Record] = []
    size = 0
    for record in records:
        length = len(record.data)
        if batch and (len(batch) == max_records or size + length > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += length
    if batch:
        yield batch


def take_batch(
    queue: deque[Record],
    max_records: int = MAX_BATCH_RECORDS,
    max_bytes: int = MAX_BATCH_BYTES,
    record_bytes: int = MAX_RECORD_BYTES,
) -> list[Record]:
    """Pop the next PutRecordBatch from the front of `queue`, order kept.

    Neighbouring records that fit in one record together are joined on the way: records sealed
    by `linger` are small, and when a backlog builds up (retries, a slow endpoint), joining
    them cuts both the calls and the 5 KiB rounding that Firehose bills per record. With
    `record_bytes=0` nothing is joined (one row per record, for Iceberg destinations).
    """
    batch: list[Record] = []
    parts: list[bytes] = []
    part_size = part_rows = size = 0
    part_first = -1  # a joined record starts where its first part does (neighbours in order)
    while queue:
        record = queue[0]
        length = len(record.data)
        if size + length > max_bytes:
            break
        if parts and part_size + length <= record_bytes:
            parts.append(record.data)
            part_size += length
            part_rows += record.rows
        else:
            if parts:
                if len(batch) + 2 > max_records:
                    break
                batch.append(Record(b"".join(parts), part_rows, part_first))
            parts, part_size, part_rows = [record.data], length, record.rows
            part_first = record.first
        size += length
        queue.popleft()
    if parts:
        batch.append(Record(b"".join(parts), part_rows, part_first))
    return batch


def repack(chunks: Iterable[bytes], max_bytes: int = MAX_RECORD_BYTES) -> list[Record]:
    """Join consecutive chunks of whole rows (as read back from the spool) into records.

    Each chunk was once a record, so it fits alone; neighbours are joined while they fit
    (never with `max_bytes=0`: a record per chunk, for Iceberg destinations).
    """
    out: list[Record] = []
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        if parts and size + len(chunk) > max_bytes:
            data = b"".join(parts)
            out.append(Record(data, data.count(b"\n")))
            parts, size = [], 0
        parts.append(chunk)
        size += len(chunk)
    if parts:
        data = b"".join(parts)
        out.append(Record(data, data.count(b"\n")))
    return out


class Outcome(NamedTuple):
    """What one PutRecordBatch answer means for the records sent."""

    delivered: list[Record]
    failed: list[Record]
    errors: Mapping[str, int]  # per-record ErrorCode -> count


def read_response(sent: Sequence[Record], response: Mapping[str, Any]) -> Outcome:
    """Split sent records by the answer's `RequestResponses` (same order as the request).

    An answer whose entries do not line up with the request cannot be trusted; every record is
    then treated as failed (resent), which can only duplicate, never lose.
    """
    entries = response.get("RequestResponses")
    if not isinstance(entries, list) or len(entries) != len(sent):
        return Outcome([], list(sent), {"MalformedResponse": len(sent)})
    if not response.get("FailedPutCount") and all(
        isinstance(e, dict) and "ErrorCode" not in e for e in entries
    ):
        return Outcome(list(sent), [], {})
    delivered: list[Record] = []
    failed: list[Record] = []
    errors: dict[str, int] = {}
    for record, entry in zip(sent, entries, strict=True):
        code = entry.get("ErrorCode") if isinstance(entry, dict) else "MalformedResponse"
        if code:
            failed.append(record)
            errors[str(code)] = errors.get(str(code), 0) + 1
        else:
            delivered.append(record)
    return Outcome(delivered, failed, errors)
