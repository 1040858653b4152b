"""Where the audit's queries run: DuckDB over a local lake, or Athena through boto3.

Both return each query's rows as mappings by column name, with integers as `int` (Athena sends
every value as text; DuckDB's sums come as HUGEINT) and NULL as None. A failed query raises
`AuditFailed` with the engine's reason. Athena runs the queries at the same time: all are
started, then each is waited for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from streamer.athena_queries import AthenaQueries, AthenaQueryFailed
from streamer.audit.sql import Query
from streamer.errors import StreamerError

Rows = list[dict[str, Any]]


class AuditFailed(StreamerError):
    """A query of the audit failed; the message is the engine's reason."""


class Engine(Protocol):
    label: str
    """`duckdb <lake>` or `athena <workgroup>/<database>`."""
    dialect: str
    """The SQL it reads: `duckdb` or `trino` (`sql.Scope.dialect`)."""

    def run(self, queries: Sequence[Query]) -> dict[str, Rows]: ...


def typed(query: Query, row: Sequence[Any]) -> dict[str, Any]:
    """One result row by column name: text columns as they are, the others as int or None."""
    return {
        name: value if value is None or name in query.texts else int(value)
        for name, value in zip(query.columns, row, strict=True)
    }


class DuckDBEngine:
    """The views `streamer query` uses (`query.connect`), over a lake directory."""

    dialect = "duckdb"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = f"duckdb {root}"

    def run(self, queries: Sequence[Query]) -> dict[str, Rows]:
        import duckdb

        from streamer import query as lake

        out: dict[str, Rows] = {}
        try:
            with lake.connect(self.root) as con:
                for q in queries:
                    out[q.name] = [typed(q, row) for row in con.execute(q.text).fetchall()]
        except duckdb.Error as exc:
            raise AuditFailed(f"DuckDB over {self.root}: {exc}") from None
        return out


class AthenaEngine:
    """The Glue tables and views Terraform made, in the deployment's workgroup."""

    dialect = "trino"

    def __init__(self, queries: AthenaQueries) -> None:
        self.queries = queries
        self.label = f"athena {queries.workgroup}/{queries.database}"

    def run(self, queries: Sequence[Query]) -> dict[str, Rows]:
        from botocore.exceptions import BotoCoreError, ClientError

        out: dict[str, Rows] = {}
        try:
            started = [(q, self.queries.start(q.text)) for q in queries]
            for q, qid in started:
                self.queries.wait(qid, f"the audit's {q.name} query")
                out[q.name] = [typed(q, row) for row in self.queries.rows(qid)]
        except AthenaQueryFailed as exc:
            raise AuditFailed(str(exc)) from None
        except (BotoCoreError, ClientError) as exc:
            raise AuditFailed(f"AWS refused a call: {exc}") from None
        return out
