"""`streamer audit`: the thin shell around the pure audit (engine in, report and exit code out).

Exit codes: 0 when the day is complete, 1 when any hole is unrecovered (`findings.DayAudit`),
2 when the audit could not run (a flag or setting is wrong, or a query failed). `--metrics`
also logs the verdict as one CloudWatch embedded-metric event (`MissingTrades`,
`UnrecoveredHoles`, dimension `Service=streamer-audit`), which the JSON log format
(`STREAMER_LOG_FORMAT=json`, as in the container) hands to CloudWatch as metrics.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from streamer.audit import build, sql
from streamer.audit.engines import AthenaEngine, DuckDBEngine, Engine
from streamer.audit.findings import DayAudit
from streamer.audit.render import document, table
from streamer.compaction.layout import parse_day
from streamer.errors import ConfigError, StreamerError
from streamer.lake_files import check_lake
from streamer.metrics import EmfReporter
from streamer.settings import Settings

log = logging.getLogger(__name__)

METRIC_DIMENSIONS = {"Service": "streamer-audit"}
EXIT_FAILED = 2


def audit_day(engine: Engine, day: date, exchanges: Sequence[str] = ()) -> DayAudit:
    """Runs every query of one day's audit on `engine` and draws the findings."""
    scope = sql.Scope(day, tuple(exchanges), engine.dialect)
    return build.audit(day, engine.label, exchanges, engine.run(sql.queries(scope)))


def log_metrics(audit: DayAudit, timestamp_ms: int) -> dict[str, Any]:
    """The verdict as one EMF event, logged (JSON logs carry it to CloudWatch as metrics)."""
    values = audit.metrics()
    event = EmfReporter(METRIC_DIMENSIONS).event(values, timestamp_ms)
    log.info(
        "audit.stats day=%s %s",
        audit.day,
        " ".join(f"{k}={v}" for k, v in values.items()),
        extra={"emf": event},
    )
    return event


def choose_exchanges(names: Sequence[str] | None, known: Sequence[str]) -> tuple[str, ...]:
    """`--exchange` names (none: every exchange), refusing unknown ones."""
    unknown = [n for n in names or () if n not in known]
    if unknown:
        raise ConfigError(
            "--exchange", f"no exchange {', '.join(map(repr, unknown))}", f"Use {', '.join(known)}."
        )
    return tuple(dict.fromkeys(names or ()))


def engine_for(config: Settings, name: str, lake: Path | None) -> Engine:
    """The engine `--engine` names: DuckDB over `--lake` (else `STREAMER_LAKE_DIR`), or
    Athena in `STREAMER_ATHENA_WORKGROUP` against `STREAMER_ATHENA_DATABASE`."""
    if name != "athena":
        root = lake if lake is not None else config.lake.root
        check_lake(root, "--lake" if lake is not None else "STREAMER_LAKE_DIR")
        return DuckDBEngine(root)
    if lake is not None:
        raise ConfigError(
            "--lake",
            "is for the DuckDB engine",
            "Athena reads the Glue tables; drop --lake or use --engine duckdb.",
        )
    if not config.athena.workgroup:
        raise ConfigError(
            "STREAMER_ATHENA_WORKGROUP",
            "no Athena workgroup is set",
            "Set it to the workgroup Terraform made (`terraform output athena_workgroup`).",
        )
    from botocore.config import Config

    from streamer.athena_queries import AthenaQueries
    from streamer.aws import session

    retries = Config(retries={"mode": "standard", "max_attempts": 10})
    client = session().client("athena", config=retries)
    return AthenaEngine(AthenaQueries(client, config.athena.workgroup, config.athena.database))


def audit_command(
    config: Settings,
    day_text: str,
    engine: str,
    lake: Path | None,
    fmt: str,
    exchanges: Sequence[str] | None,
    metrics: bool,
    known: Sequence[str],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    out: Callable[[str], None] = print,
) -> int:
    """`streamer audit`: prints the report, returns the exit code."""
    day = parse_day(day_text, now().date())
    chosen = choose_exchanges(exchanges, known)
    runner = engine_for(config, engine, lake)
    try:
        audit = audit_day(runner, day, chosen)
    except ConfigError:
        raise
    except StreamerError as exc:  # a failed query, an unreadable manifest
        print(f"streamer: audit failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    out(json.dumps(document(audit), indent=2) if fmt == "json" else table(audit))
    if metrics:
        log_metrics(audit, int(now().timestamp() * 1000))
    log.info("audit.done day=%s exit=%d", day, audit.exit_code)
    return audit.exit_code
