"""Athena mode without AWS: real PyAthena and boto3 over HTTP to moto's server. Each query runs
in the deployment's workgroup against its database, as the SQL file's text with `?` markers and
the values as execution parameters; the rows Athena returns come back as the same DataFrame
DuckDB gives. (moto does not run SQL: the test hands it DuckDB's answer as the result.)"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
import sqlglot
from moto.server import ThreadedMotoServer

from streamer.analytics import AthenaTarget, connect, sqltext
from streamer.analytics.window import Window
from streamer.cli import main
from tests.analytics.test_queries import same
from tests.athena_wire import moto_routes_athena_rest

WORKGROUP = "streamer"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_routes_athena_rest():  # botocore 1.44.18 on: REST-JSON
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def athena(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    env = {"AWS_ENDPOINT_URL": moto_url, "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    client = boto3.client("athena", endpoint_url=moto_url, region_name="us-east-1")
    client.create_work_group(
        Name=WORKGROUP,
        Configuration={"ResultConfiguration": {"OutputLocation": "s3://results/athena/"}},
    )
    return client


def _athena_type(series: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(series):
        return "timestamp"
    if pd.api.types.is_float_dtype(series):
        return "double"
    if pd.api.types.is_integer_dtype(series):
        return "bigint"
    return "varchar"


def _cell(value: Any, kind: str) -> dict[str, str]:
    if pd.isna(value):
        return {}
    if kind == "timestamp":
        return {"VarCharValue": pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]}
    return {"VarCharValue": repr(float(value)) if kind == "double" else str(value)}


def queue_result(url: str, frame: pd.DataFrame) -> None:
    """What Athena would answer: a header row, then the rows as text, typed by column."""
    kinds = [_athena_type(frame[c]) for c in frame.columns]
    header = {"Data": [{"VarCharValue": str(c)} for c in frame.columns]}
    rows = [
        {"Data": [_cell(v, k) for v, k in zip(row, kinds, strict=True)]}
        for row in frame.itertuples(index=False)
    ]
    info = [{"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": str(c),
             "Label": str(c), "Type": k, "Precision": 0, "Scale": 0, "Nullable": "NULLABLE",
             "CaseSensitive": k == "varchar"}
            for c, k in zip(frame.columns, kinds, strict=True)]  # fmt: skip
    body = json.dumps({"results": [{"rows": [header, *rows], "column_info": info}]}).encode()
    request = urllib.request.Request(
        f"{url}/moto-api/static/athena/query-results",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request)


def executions(client: Any) -> list[dict[str, Any]]:
    ids = client.list_query_executions(WorkGroup=WORKGROUP)["QueryExecutionIds"]
    return [client.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]


def test_a_query_runs_in_the_workgroup_with_its_parameters(
    athena: Any, moto_url: str, pipeline_lake: Path
) -> None:
    window = Window(symbols=("BTC-USDT", "ETH-USD"))
    local = connect(lake=pipeline_lake, window=window).candles("2m")
    queue_result(moto_url, local)
    with connect(athena=AthenaTarget(WORKGROUP, "crypto"), window=window) as db:
        remote = db.candles("2m")
    same(remote, local)
    (execution,) = executions(athena)
    text, values = sqltext.bind(
        sqltext.load("candles"),
        {**window.params(), "bar_seconds": 120, "source_interval": "1m", "exchange": ""},
    )
    assert execution["WorkGroup"] == WORKGROUP
    assert execution["QueryExecutionContext"]["Database"] == "crypto"
    assert execution["Query"] == text
    assert execution["ExecutionParameters"] == [sqltext.athena_literal(v) for v in values]
    assert "'BTC-USDT,ETH-USD'" in execution["ExecutionParameters"]
    sqlglot.parse_one(execution["Query"], read="trino")


def test_the_report_on_athena_runs_every_query_there(
    athena: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STREAMER_ATHENA_WORKGROUP", WORKGROUP)
    monkeypatch.setenv("STREAMER_ATHENA_DATABASE", "markets")
    out = tmp_path / "out"
    args = ["report", "--engine", "athena", "--out", str(out), "--until", "2025-11-25"]
    assert main(args) == 0  # moto answers no rows: every section says what is missing
    page = (out / "index.html").read_text()
    assert "athena streamer/markets" in page
    assert "2025-11-24 00:00 UTC to 2025-11-25 00:00 UTC" in page  # the default 24 hours
    assert "no rows for closed candles" in page and "the lake has no rows" in page
    runs = executions(athena)
    assert {r["QueryExecutionContext"]["Database"] for r in runs} == {"markets"}
    names = ["candle_intervals", "spans", "book_top", "basis", "volume_by_side", "top_market_caps",
             "rejects", "candle_origins", "candle_gaps", "derivative_spans", "funding_predicted",
             "funding_settled", "open_interest", "mark_basis", "liquidations",
             "trade_id_gaps", "book_resyncs", "connection_hours", "unrecoverable"]  # fmt: skip
    texts = {r["Query"] for r in runs}
    for name in names:
        assert sqltext.placeholders(sqltext.load(name)), name
        assert any(t.startswith(sqltext.load(name)[:60]) for t in texts), name
    assert len(runs) == len(names) + 1  # and rows_per_hour
    derivatives = (out / "derivatives.html").read_text()
    assert "no rows for liquidations (crypto_liquidations) in 2025-11-24 00:00 UTC" in derivatives
    assert "Traceback" not in capsys.readouterr().err


def test_an_athena_error_is_shown_on_the_page(
    athena: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMER_ATHENA_WORKGROUP", "no-such-workgroup")
    out = tmp_path / "out"
    assert main(["report", "--engine", "athena", "--out", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert page.count("Query failed") >= 5 and "WorkGroup does not exist" in page
