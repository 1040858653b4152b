"""A stand-in for Amazon Athena at its HTTP boundary: it speaks Athena's JSON 1.1 and REST-JSON
protocols (whichever the installed botocore sends, `tests/athena_wire.py`) on 127.0.0.1 and
runs the statements on DuckDB over the objects of an S3 bucket (moto's server).

What cannot be real here is Athena itself; everything around it is: boto3 talks HTTP to this
server, and the data, the CTAS output and the copies live in moto's S3. Each statement is first
parsed as Trino by sqlglot (a statement Athena engine 3 would refuse as syntax fails here too),
then transpiled to DuckDB. The tables are those Terraform defines, from the same schema:
`crypto_<dataset>_raw` over every JSON object under its prefix (malformed lines skipped, as the
OpenX SerDe's `ignore.malformed.json` does), `crypto_<dataset>_compacted` over every file in
the projected day folders (Athena reads a partition's folder, not a manifest), and the views
created with `CREATE OR REPLACE VIEW`. A CTAS writes up to `bucket_count` files (rows hashed on
the bucket column) to `athena-results/tables/<id>/`, lists them in a data manifest and reports
`UpdateCount`, as Athena does in a workgroup that enforces its result location.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from streamer import query
from streamer.compaction import sql
from streamer.compaction.layout import compacted_location, compacted_table
from streamer.schema import DATASETS
from tests import athena_wire

RESULTS = "athena-results/"


@dataclass
class Execution:
    id: str
    query: str
    database: str
    workgroup: str
    state: str = "SUCCEEDED"
    reason: str = ""
    polls_left: int = 0
    update_count: int | None = None
    manifest: str | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)


class FakeAthena:
    def __init__(self, s3: Any, bucket: str, running_polls: int = 1) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.running_polls = running_polls  # RUNNING answers before the final state
        self.executions: dict[str, Execution] = {}
        self.views: dict[str, str] = {}  # name -> DuckDB SELECT
        self.tables: set[str] = set()  # CTAS tables not dropped yet
        self.fail: Callable[[str], str | None] = lambda text: None  # a reason to fail, or None
        self.lock = threading.Lock()
        self.mirror = tempfile.TemporaryDirectory()  # the bucket's objects, kept in step
        self.mirrored: dict[str, str] = {}  # key -> ETag

    @property
    def statements(self) -> list[str]:
        return [e.query for e in self.executions.values()]

    # --- the protocol -----------------------------------------------------------------------

    def handle(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if action == "StartQueryExecution":
                return {"QueryExecutionId": self.start(body)}
            execution = self.executions[body["QueryExecutionId"]]
            if action == "GetQueryExecution":
                return {"QueryExecution": self._describe(execution)}
            if action == "GetQueryResults":
                return self._results(execution)
            if action == "StopQueryExecution":
                execution.state = "CANCELLED"
                return {}
        raise KeyError(action)

    def start(self, body: dict[str, Any]) -> str:
        execution = Execution(
            id=str(uuid.uuid4()),
            query=body["QueryString"],
            database=body.get("QueryExecutionContext", {}).get("Database", ""),
            workgroup=body.get("WorkGroup", "primary"),
            polls_left=self.running_polls,
        )
        self.executions[execution.id] = execution
        reason = self.fail(execution.query)
        if reason is None:
            try:
                self._run(execution)
            except (sqlglot.errors.ParseError, duckdb.Error, ValueError) as exc:
                reason = str(exc)
        if reason is not None:
            execution.state, execution.reason = "FAILED", reason
        return execution.id

    def _describe(self, execution: Execution) -> dict[str, Any]:
        state = execution.state
        if execution.polls_left > 0:
            execution.polls_left -= 1
            state = "RUNNING"
        status: dict[str, Any] = {"State": state, "SubmissionDateTime": 0}
        if state == "FAILED":
            status["StateChangeReason"] = execution.reason
        described: dict[str, Any] = {
            "QueryExecutionId": execution.id,
            "Query": execution.query,
            "Status": status,
            "WorkGroup": execution.workgroup,
            "QueryExecutionContext": {"Database": execution.database},
            "Statistics": {"DataScannedInBytes": 0},
        }
        if execution.manifest:
            described["Statistics"]["DataManifestLocation"] = execution.manifest
        return described

    def _results(self, execution: Execution) -> dict[str, Any]:
        header = {"Data": [{"VarCharValue": c} for c in execution.columns]}
        rows = [
            {"Data": [{} if v is None else {"VarCharValue": str(v)} for v in r]}  # NULL: no value
            for r in execution.rows
        ]
        answer: dict[str, Any] = {
            "ResultSet": {
                "Rows": [header, *rows] if execution.columns else [],
                "ResultSetMetadata": {"ColumnInfo": []},
            }
        }
        if execution.update_count is not None:
            answer["UpdateCount"] = execution.update_count
        return answer

    # --- running a statement on DuckDB ----------------------------------------------------

    def _run(self, execution: Execution) -> None:
        statements = [s for s in sqlglot.parse(execution.query, read="trino") if s is not None]
        if len(statements) != 1:
            raise ValueError("one statement per query")
        (tree,) = statements
        if isinstance(tree, exp.Drop):
            for table in tree.args.get("tables") or [tree.this]:
                self.tables.discard(table.name)
        elif isinstance(tree, exp.Create) and tree.args["kind"] == "VIEW":
            select = tree.expression.sql(dialect="duckdb")
            with self._duckdb() as (con, _):
                con.execute(f"SELECT * FROM ({select}) LIMIT 0")  # names real tables only
            self.views[tree.this.name] = select
        elif isinstance(tree, exp.Create) and tree.args["kind"] == "TABLE":
            self._ctas(execution, tree)
        elif isinstance(tree, exp.Query):
            with self._duckdb() as (con, _):
                result = con.execute(_expand_rows(tree.sql(dialect="duckdb")))
                execution.columns = [d[0] for d in result.description or []]
                execution.rows = result.fetchall()
        else:
            raise ValueError(f"the fake does not run {type(tree).__name__}")

    def _ctas(self, execution: Execution, tree: exp.Create) -> None:
        name = tree.this.name
        if name in self.tables:
            raise ValueError(f"AlreadyExistsException: table {name} already exists")
        properties = {
            p.name: p.args["value"].sql(dialect="trino")
            for p in tree.args["properties"].expressions
            if isinstance(p, exp.Property) and not isinstance(p, exp.FileFormatProperty)
        }
        if "external_location" in properties:
            raise ValueError("a workgroup that enforces its result location refuses it")
        buckets = int(properties.get("bucket_count", "1"))
        column = properties.get("bucketed_by", "ARRAY['record_id']")[7:-2]
        select = tree.expression.sql(dialect="duckdb")
        location = f"{RESULTS}tables/{execution.id}/"
        written, total = [], 0
        with self._duckdb() as (con, scratch):
            con.execute(f"CREATE TABLE ctas AS {select}")
            for b in range(buckets):
                where = f"hash({sql.quote(column)}) % {buckets} = {b}"
                n = con.execute(f"SELECT count(*) FROM ctas WHERE {where}").fetchone()[0]  # type: ignore[index]
                if not n:
                    continue
                local = scratch / f"bucket-{b}"
                con.execute(
                    f"COPY (SELECT * FROM ctas WHERE {where}) TO '{local}' (FORMAT parquet)"
                )
                key = f"{location}{execution.id}_{b:05d}"
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=local.read_bytes())
                written.append(f"s3://{self.bucket}/{key}")
                total += n
        manifest = f"{RESULTS}tables/{execution.id}-manifest.csv"
        body = "".join(f"{uri}\n" for uri in written).encode()
        self.s3.put_object(Bucket=self.bucket, Key=manifest, Body=body)
        self.tables.add(name)
        execution.update_count = total
        execution.manifest = f"s3://{self.bucket}/{manifest}"

    @contextmanager
    def _duckdb(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
        """DuckDB with the bucket's tables and the views created so far."""
        root = self._sync(("crypto/tabular/", "crypto/compacted/"))
        with tempfile.TemporaryDirectory() as scratch, duckdb.connect() as con:
            con.execute("SET TimeZone = 'UTC'")
            for statement in self._tables(root):
                con.execute(statement)
            for name, select in self.views.items():
                con.execute(f"CREATE VIEW {sql.quote(name)} AS {select}")
            try:
                yield con, Path(scratch)
            except duckdb.Error as exc:  # Athena names objects by their s3:// address
                message = str(exc).replace(f"{root}/", f"s3://{self.bucket}/")
                raise duckdb.Error(message) from None

    def _sync(self, prefixes: tuple[str, ...]) -> Path:
        """A local copy of the bucket's objects under `prefixes`, as they are now."""
        root = Path(self.mirror.name)
        listed: dict[str, str] = {}
        for prefix in prefixes:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            listed.update((o["Key"], o["ETag"]) for p in pages for o in p.get("Contents", []))
        for key in set(self.mirrored) - set(listed):
            (root / key).unlink()
            del self.mirrored[key]
        for key, etag in listed.items():
            if self.mirrored.get(key) != etag:
                path = root / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
                self.mirrored[key] = etag
        return root

    def _tables(self, root: Path) -> list[str]:
        out = []
        for dataset in DATASETS.values():
            raw = query.raw_location(root, dataset)
            columns = [sql.quote(c.name) for c in dataset.columns]
            if any(raw.glob(query.RAW_GLOB)):
                source = query.raw_source(dataset, str(raw / query.RAW_GLOB))
                keys = ", ".join([*columns, '"year"', '"month"', '"day"', '"hour"'])
                out.append(
                    f"CREATE VIEW {sql.quote(dataset.glue_table)} AS SELECT {keys} FROM {source}"
                )
            else:
                out.append(_empty(dataset.glue_table, dataset, ("year", "month", "day", "hour")))
            folder = root / compacted_location(dataset)
            if any(folder.glob("year=*/month=*/day=*/*")):
                out.append(
                    f"CREATE VIEW {sql.quote(compacted_table(dataset))} AS SELECT * FROM "
                    f"read_parquet('{folder}/year=*/month=*/day=*/*', hive_partitioning=true, "
                    "hive_types={'year': 'VARCHAR', 'month': 'VARCHAR', 'day': 'VARCHAR'}, "
                    "union_by_name=true)"
                )
            else:
                out.append(
                    _empty(compacted_table(dataset), dataset, ("hour", "year", "month", "day"))
                )
        return out


_ROWS_UNNEST = re.compile(r"CROSS JOIN UNNEST\(([^()]+)\) AS (\"?\w+\"?)\(([^()]*,[^()]*)\)")


def _expand_rows(duck: str) -> str:
    """Trino's `CROSS JOIN UNNEST(a) AS u(x, y)` over an array of rows makes a column of each
    field; sqlglot writes it for DuckDB as it is, where it names the row itself. DuckDB expands
    the fields with `unnest(a, recursive := true)` in a lateral subquery, so the fake writes
    that (only for an alias of two or more columns: one is a plain array's element)."""
    return _ROWS_UNNEST.sub(
        r"CROSS JOIN LATERAL (SELECT UNNEST(\1, recursive := TRUE)) AS \2(\3)", duck
    )


def _empty(name: str, dataset: sql.Dataset, keys: tuple[str, ...]) -> str:
    typed = [f"CAST(NULL AS {c.duckdb_type}) AS {sql.quote(c.name)}" for c in dataset.columns]
    typed += [f"CAST(NULL AS VARCHAR) AS {sql.quote(k)}" for k in keys]
    return f"CREATE VIEW {sql.quote(name)} AS SELECT {', '.join(typed)} WHERE false"


@contextmanager
def serve(fake: FakeAthena) -> Iterator[str]:
    """Serves `fake` on 127.0.0.1 (a free port) in both of Athena's wire protocols (JSON 1.1 and
    REST-JSON, see `tests/athena_wire.py`); yields its endpoint URL."""

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                call = athena_wire.read(self.command, self.path, self.headers, body)
            except athena_wire.UnknownOperation as exc:
                error = athena_wire.error_body("UnknownOperationException", str(exc))
                self._answer(404 if "X-Amz-Target" not in self.headers else 400, error, "")
                return
            try:
                status, answer = 200, fake.handle(call.operation, call.params)
            except KeyError as exc:
                status = 400
                answer = athena_wire.error_body("InvalidRequestException", str(exc))
            self._answer(status, answer, call.content_type)

        def _answer(self, status: int, answer: dict[str, Any], content_type: str) -> None:
            payload = json.dumps(answer, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type or athena_wire.REST_CONTENT_TYPE)
            if status >= 400:
                self.send_header("x-amzn-ErrorType", answer["__type"])
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        fake.mirror.cleanup()
