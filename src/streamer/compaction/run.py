"""Both engines behind one loop: every chosen dataset of one day, one line each.

A dataset that fails does not stop the others; the report lists it, with the reason, and the
command exits 1. The report is also one CloudWatch embedded-metric event, on which the
Terraform alarms watch (`CompactionFailures` above 0; no `CompactionRuns` for 26 hours).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from streamer.compaction.layout import new_run_id, parse_day
from streamer.compaction.local import LocalCompactor
from streamer.compaction.manifests import Outcome
from streamer.errors import CompactionError, ConfigError
from streamer.lake_files import check_lake, is_iceberg_lake, raw_root
from streamer.metrics import EmfReporter
from streamer.schema import DATASETS, Dataset
from streamer.settings import Settings

log = logging.getLogger(__name__)

METRIC_DIMENSIONS = {"Service": "streamer", "Job": "compact"}


class Compactor(Protocol):
    engine: str

    def compact(self, dataset: Dataset, day: date, run: str, now_iso: str) -> Outcome: ...


@dataclass(slots=True)
class Report:
    day: date
    run: str
    outcomes: list[Outcome] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # dataset -> why

    def lines(self) -> list[str]:
        out = [_describe(o) for o in self.outcomes]
        out += [f"{name} {self.day}: FAILED: {why}" for name, why in self.failures.items()]
        return out

    def metrics(self) -> dict[str, int]:
        compacted = [o.manifest for o in self.outcomes if o.status == "compacted" and o.manifest]
        return {
            "CompactionRuns": 0 if self.failures else 1,
            "CompactionFailures": len(self.failures),
            "DaysCompacted": len(compacted),
            "RowsCompacted": sum(m.rows for m in compacted),
            "RawObjectsCompacted": sum(m.raw_objects for m in compacted),
        }


def compact_day(
    compactor: Compactor,
    datasets: Sequence[Dataset],
    day: date,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    token: Callable[[], str] = lambda: secrets.token_hex(4),
) -> Report:
    started = now()
    report = Report(day, new_run_id(started, token()))
    for dataset in datasets:
        try:
            outcome = compactor.compact(dataset, day, report.run, now().isoformat())
        except CompactionError as exc:
            log.error("compact.failed dataset=%s day=%s reason=%s", dataset.name, day, exc)
            report.failures[dataset.name] = str(exc)
            continue
        log.info("compact.%s dataset=%s day=%s", outcome.status, dataset.name, day)
        report.outcomes.append(outcome)
    return report


def log_metrics(report: Report, timestamp_ms: int) -> dict[str, Any]:
    """The report as one EMF event, logged (JSON logs carry it to CloudWatch as metrics)."""
    event = EmfReporter(METRIC_DIMENSIONS).event(report.metrics(), timestamp_ms)
    log.info(
        "compact.stats %s",
        " ".join(f"{k}={v}" for k, v in report.metrics().items()),
        extra={"emf": event},
    )
    return event


def _describe(outcome: Outcome) -> str:
    head = f"{outcome.dataset} {outcome.day}"
    m = outcome.manifest
    if outcome.status == "empty":
        return f"{head}: no raw rows, nothing to compact"
    if m is None:
        return f"{head}: {outcome.status}"
    if outcome.status == "kept":
        return f"{head}: no raw rows left; run {m.run} ({m.rows:,} rows) stays"
    read = f", {m.raw_rows:,} rows read" if m.raw_rows >= 0 else ""
    left_out = f", {outcome.rejected:,} rows to rejects" if outcome.rejected else ""
    return (
        f"{head}: {m.raw_objects:,} raw objects ({_mb(m.raw_bytes)}){read} -> {m.rows:,} rows "
        f"in {len(m.files)} Parquet file(s) ({_mb(m.compacted_bytes)}){left_out}, run {m.run}"
    )


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def choose_datasets(names: Sequence[str] | None) -> list[Dataset]:
    """`--dataset` names (default: every compacted dataset), refusing unknown ones."""
    compacted = {d.name: d for d in DATASETS.values() if d.compacted}
    if not names:
        return list(compacted.values())
    unknown = [n for n in names if n not in compacted]
    if unknown:
        known = ", ".join(compacted)
        problem = f"no dataset {', '.join(map(repr, unknown))}"
        raise ConfigError("--dataset", problem, f"Use {known}.")
    return [compacted[n] for n in dict.fromkeys(names)]


def _compact_iceberg(root: Path, datasets: Sequence[Dataset], day: date) -> int:
    """`streamer compact` on an Iceberg lake: the day's small files of each table rewritten
    sorted, old snapshots expired, unreferenced files deleted (`compaction/iceberg.py`)."""
    from streamer.compaction.iceberg import maintain

    done = maintain(root, datasets=datasets, day=day)
    for r in done.rewrites:
        print(f"{r.table} {'-'.join(r.partition)}: {r.files_in} files -> 1 ({r.rows} rows)")
    print(f"iceberg: {len(done.rewrites)} partitions rewritten, {done.snapshots_expired} "
          f"snapshots expired, {done.files_deleted} files deleted", flush=True)  # fmt: skip
    return 0


def compact_command(
    config: Settings, day_text: str, names: Sequence[str] | None, engine: str, lake: Path | None
) -> int:
    """`streamer compact`: prints one line per dataset, exits 1 if any failed."""
    now = datetime.now(UTC)
    day = parse_day(day_text, now.date())
    datasets = choose_datasets(names)
    compactor: Compactor
    if engine == "athena":
        if lake is not None:
            raise ConfigError(
                "--lake", "is for the DuckDB engine", "Athena reads STREAMER_LAKE_BUCKET instead."
            )
        from streamer.compaction.athena import athena_compactor

        compactor = athena_compactor(config)
    else:
        root = lake if lake is not None else config.lake.root
        check_lake(root, "--lake" if lake is not None else "STREAMER_LAKE_DIR")
        if is_iceberg_lake(root):  # and the JSON objects of a lake switched to iceberg, if any
            failed = _compact_iceberg(root, datasets, day)
            if not raw_root(root).is_dir():
                return failed
        compactor = LocalCompactor(root)
    report = compact_day(compactor, datasets, day)
    for line in report.lines():
        print(line, flush=True)
    log_metrics(report, int(datetime.now(UTC).timestamp() * 1000))
    return 1 if report.failures else 0
