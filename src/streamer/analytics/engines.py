"""Where the SQL runs: DuckDB over a local lake, or Athena through PyAthena.

Both take the same text with `?` markers (see `sqltext.bind`) and return a pandas DataFrame.
Foreign errors (duckdb.Error, PyAthena's) become `QueryFailed`, so a caller handles one type.
PyAthena is imported only when Athena is used: it comes with the `analytics` extra.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from streamer.analytics.sqltext import Value, athena_literal
from streamer.errors import ConfigError, StreamerError

log = logging.getLogger(__name__)


class QueryFailed(StreamerError):
    """The engine refused or failed a query; the message is the engine's own."""


class Engine(Protocol):
    label: str
    """Shown in reports: `duckdb <lake>` or `athena <workgroup>/<database>`."""

    def frame(self, sql: str, values: Sequence[Value]) -> pd.DataFrame: ...

    def close(self) -> None: ...


class DuckDBEngine:
    """DuckDB views `crypto_<dataset>` over a lake directory (see `streamer.query`)."""

    def __init__(self, lake: Path) -> None:
        from streamer import query
        from streamer.lake_files import check_lake

        check_lake(lake)
        self.label = f"duckdb {lake}"
        self._con = query.connect(lake)

    def frame(self, sql: str, values: Sequence[Value]) -> pd.DataFrame:
        import duckdb

        try:
            result: pd.DataFrame = self._con.execute(sql, list(values)).df()
        except duckdb.Error as exc:
            raise QueryFailed(str(exc)) from None
        return result

    def close(self) -> None:
        self._con.close()


@dataclass(frozen=True, slots=True)
class AthenaTarget:
    """A deployment's Athena: its workgroup (`athena_workgroup` output) and Glue database."""

    workgroup: str
    database: str = "crypto"
    region: str | None = None


Connector = Callable[..., Any]
"""`pyathena.connect` or a stand-in with its signature (tests)."""


class AthenaEngine:
    """Athena through PyAthena: each query runs in the workgroup, against the database, with
    its values sent as `ExecutionParameters` (PyAthena's `qmark` style)."""

    def __init__(self, target: AthenaTarget, connector: Connector | None = None) -> None:
        self.label = f"athena {target.workgroup}/{target.database}"
        self.target = target
        if connector is None:
            connector = _pyathena_connect()
        from streamer import aws

        session = aws.session() if target.region is None else _session(target.region)
        self._con = connector(
            work_group=target.workgroup,
            schema_name=target.database,
            region_name=session.region_name,
            session=session,
        )

    def frame(self, sql: str, values: Sequence[Value]) -> pd.DataFrame:
        literals = [athena_literal(v) for v in values]
        try:
            cursor = self._con.cursor()
            cursor.execute(sql, literals or None, paramstyle="qmark")
            rows = cursor.fetchall()
            names = [d[0] for d in cursor.description or ()]
        except Exception as exc:  # PyAthena raises its DB-API errors and botocore's
            if isinstance(exc, StreamerError):
                raise
            raise QueryFailed(f"{type(exc).__name__}: {exc}") from None
        frame = pd.DataFrame.from_records(list(rows), columns=names)
        for column, kind in zip(names, _types(cursor), strict=False):
            if kind.startswith("timestamp"):
                frame[column] = pd.to_datetime(frame[column])
            elif kind in ("double", "float", "real"):
                frame[column] = frame[column].astype("float64")
        return frame

    def close(self) -> None:
        self._con.close()


def _types(cursor: Any) -> list[str]:
    return [str(d[1]).lower() for d in cursor.description or ()]


def _session(region: str) -> Any:
    import boto3

    return boto3.session.Session(region_name=region)


def _pyathena_connect() -> Connector:
    try:
        import pyathena
    except ImportError:
        raise ConfigError(
            "--engine athena",
            "PyAthena is not installed",
            "Install the analytics extra: pip install -e '.[analytics]'.",
        ) from None
    connect: Connector = pyathena.connect
    return connect
