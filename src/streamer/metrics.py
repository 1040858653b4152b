"""Delivery counters, and their rendering as CloudWatch embedded-metric-format (EMF) lines.

An EMF line is a JSON log event whose `_aws` member tells CloudWatch Logs which top-level keys
are metrics; CloudWatch turns them into metrics with no agent (on Fargate, the awslogs driver
ships stdout/stderr to the log group as is). Counters are cumulative in memory; each line
carries the increase since the previous line, so CloudWatch's Sum over a period is right.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

NAMESPACE = "Streamer"

# name -> CloudWatch unit. Counters are reported as deltas; gauges as current values.
_UNITS = {
    "RowsIn": "Count",
    "RowsDelivered": "Count",
    "RowsRetried": "Count",
    "RowsSpooled": "Count",
    "RowsReplayed": "Count",
    "RowsRejected": "Count",
    "RowsDropped": "Count",
    "RecordsDelivered": "Count",
    "PayloadBytes": "Bytes",
    "BilledBytes": "Bytes",
    "PutCalls": "Count",
    "ThrottledCalls": "Count",
    "FailedCalls": "Count",
    "SpoolBytes": "Bytes",
    "BufferedBytes": "Bytes",
    "ObjectsWritten": "Count",  # the local lake's objects
    "RowsRecovered": "Count",  # the local lake: rows of a killed run's journal, written now
    "StorageErrors": "Count",  # failed writes (or reads) of the spool's or the lake's disk
    "FailingSeconds": "Seconds",  # since rows could last be delivered or stored (0: they can)
    "SilentSubscriptions": "Count",  # acknowledged streams that delivered nothing (a bad route)
    "MissingTrades": "Count",  # `streamer audit`: trade ids missing from the day audited
    "UnrecoveredHoles": "Count",  # `streamer audit`: ranges of ids or candles not recovered
}
FEED_COUNTERS = {"SilentSubscriptions": "subscriptions_silent"}
"""Metric -> the feeds' counter (`FeedStats.extra`) it sums over every source."""
GAUGES = frozenset({"SpoolBytes", "BufferedBytes", "FailingSeconds"})


@dataclass(slots=True)
class DeliveryCounters:
    rows_in: int = 0
    rows_delivered: int = 0
    rows_retried: int = 0  # rows in records sent again after a failed attempt
    rows_spooled: int = 0
    rows_replayed: int = 0  # rows delivered from the spool
    rows_rejected: int = 0  # rows too large for a Firehose record
    rows_dropped: int = 0  # rows lost: the spool's budget was full, or its disk at shutdown
    records_delivered: int = 0
    payload_bytes: int = 0
    billed_bytes: int = 0
    put_calls: int = 0
    throttled_calls: int = 0
    failed_calls: int = 0
    storage_errors: int = 0  # failed spool writes, reads or removals
    spool_bytes: int = 0
    buffered_bytes: int = 0
    failing_seconds: int = 0

    def snapshot(self) -> dict[str, int]:
        return {_metric_name(f.name): getattr(self, f.name) for f in fields(self)}


def _metric_name(field_name: str) -> str:
    return "".join(part.capitalize() for part in field_name.split("_"))


class EmfReporter:
    """Turns successive snapshots into EMF events with per-interval deltas."""

    def __init__(
        self, dimensions: Mapping[str, str], detail: Mapping[str, str] | None = None
    ) -> None:
        """`dimensions` name every metric; `detail` (e.g. the shard) adds a second, finer
        dimension set, so alarms on the first keep summing over all shards."""
        self.dimensions = dict(dimensions)
        self.detail = dict(detail or {})
        self._last: dict[str, int] = {}

    def event(self, snapshot: Mapping[str, int], timestamp_ms: int) -> dict[str, Any]:
        values = {}
        for name, value in snapshot.items():
            if name in GAUGES:
                values[name] = value
            else:
                values[name] = value - self._last.get(name, 0)
        self._last = dict(snapshot)
        return {
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [sorted(self.dimensions)]
                        + ([sorted({**self.dimensions, **self.detail})] if self.detail else []),
                        "Metrics": [
                            {"Name": name, "Unit": _UNITS.get(name, "None")} for name in values
                        ],
                    }
                ],
            },
            **self.dimensions,
            **self.detail,
            **values,
        }
