"""`streamer audit --engine athena`: boto3 over HTTP to a stand-in for Athena
(`tests/athena_fake.py`: each statement parsed as Trino, then run on DuckDB over the objects of
moto's S3 server). The lake is uploaded as Firehose would have written it; the audit's findings
must equal those of the DuckDB engine over the same objects, raw and after compaction in Athena."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlglot
from moto.server import ThreadedMotoServer

from streamer.athena_queries import AthenaQueries
from streamer.audit.engines import AthenaEngine, AuditFailed
from streamer.audit.run import audit_day
from streamer.cli import main
from streamer.compaction import sql as compaction_sql
from streamer.compaction.athena import AthenaCompactor
from streamer.compaction.run import compact_day
from streamer.schema import DATASETS
from tests.athena_fake import FakeAthena, serve
from tests.audit import lake as L
from tests.audit.lake import DAY, MINUTE

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
AUDITED = ("trades", "ohlcv", "quality")


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_url: str, request: pytest.FixtureRequest) -> Any:
    client = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1", **CREDENTIALS)
    bucket = "audit-" + request.node.name.lower().replace("_", "-")[:40]
    client.create_bucket(Bucket=bucket)
    client.bucket = bucket  # type: ignore[attr-defined]
    return client


def run(athena: FakeAthena, text: str) -> None:
    body = {"QueryString": text, "WorkGroup": "streamer",
            "QueryExecutionContext": {"Database": "crypto"}}  # fmt: skip
    execution = athena.executions[athena.start(body)]
    assert execution.state == "SUCCEEDED", execution.reason


async def deployed_lake(root: Path, s3: Any, athena: FakeAthena) -> Path:
    """A lake with holes, uploaded; the views Terraform creates, created."""
    why = "history limit: 1000 trades back"
    at = L.D0 + 11 * L.HOUR + 5 * MINUTE
    holes = [(1630, 1659, why)]
    extra = [
        L.quality("binance", "BTC-USDT", "trades", at, gaps=[(1600, 1659)], holes=holes),
        L.quality("binance", "BTC-USDT", "order_books", at, resyncs=(1, 2, 0)),
        L.quality("binance", "ETH-USDT", "book_updates", at, holes=[(1, 5, "venue reset")]),
    ]
    rows = L.Symbol("binance", "BTC-USDT", 1000).rows()
    rows += L.Symbol("binance", "ETH-USDT", 9000, skip_candles={30, 31}).rows()
    rows += L.connection("binance", down={2: 30_000}, silent=1) + extra
    await L.write(root, rows)
    for path in L.objects(root, "trades", DAY, 10):
        path.unlink()
    for path in sorted((root / "crypto").rglob("*.gz")):
        s3.put_object(Bucket=s3.bucket, Key=str(path.relative_to(root)), Body=path.read_bytes())
    for name in AUDITED:
        run(athena, compaction_sql.create_view(DATASETS[name], ()))
    return root


def local(root: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    assert main(["audit", "--day", DAY.isoformat(), "--lake", str(root), "--format", "json"]) == 1
    return json.loads(capsys.readouterr().out)


async def test_the_audit_on_athena_finds_what_duckdb_finds_raw_and_compacted(
    tmp_path: Path, s3: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    athena = FakeAthena(s3, s3.bucket, running_polls=0)
    with serve(athena) as url:
        root = await deployed_lake(tmp_path, s3, athena)
        env = {"AWS_ENDPOINT_URL": url, "AWS_REGION": "us-east-1",
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "STREAMER_ATHENA_WORKGROUP": "streamer"}  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        expected = local(root, capsys)
        assert expected["totals"]["missing_trades"] == 120  # the two symbols' hour 10
        args = ["audit", "--day", "2025-11-24", "--engine", "athena", "--format", "json"]
        assert main(args) == 1
        doc = json.loads(capsys.readouterr().out)
        assert doc["source"] == "athena streamer/crypto"
        assert {**doc, "source": expected["source"]} == expected
        audits = [e for e in athena.executions.values() if "crypto_quality" in e.query
                  or "crypto_trades" in e.query or "crypto_ohlcv" in e.query]  # fmt: skip
        assert len(audits) == 5 + len(AUDITED)  # the five queries (and the views)
        for execution in audits[-5:]:
            assert execution.workgroup == "streamer" and execution.database == "crypto"
            sqlglot.parse_one(execution.query, read="trino")  # Athena's dialect
            assert "\"day\" BETWEEN '23' AND '25'" in execution.query  # the days it reads

        client = boto3.client("athena", endpoint_url=url, region_name="us-east-1", **CREDENTIALS)
        compactor = AthenaCompactor(s3.bucket, "streamer", client, s3, sleep=lambda _: None)
        report = compact_day(compactor, [DATASETS[n] for n in AUDITED], DAY)
        assert not report.failures and len(report.outcomes) == len(AUDITED)
        assert main(args) == 1
        assert {**json.loads(capsys.readouterr().out), "source": expected["source"]} == expected


class Recorded:
    """A boto3 client that notes which of its methods were called, in order."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.client, name)


async def test_athena_queries_start_together_and_a_failure_names_the_query(
    tmp_path: Path, s3: Any
) -> None:
    athena = FakeAthena(s3, s3.bucket, running_polls=2)
    with serve(athena) as url:
        await deployed_lake(tmp_path, s3, athena)
        client = Recorded(
            boto3.client("athena", endpoint_url=url, region_name="us-east-1", **CREDENTIALS)
        )
        sleeps: list[float] = []
        queries = AthenaQueries(client, "streamer", "crypto", sleep=sleeps.append)
        found = audit_day(AthenaEngine(queries), DAY, ("binance",))
        assert found.missing_trades == 120 and found.missing_candles == 2
        assert client.calls[:6] == ["start_query_execution"] * 5 + ["get_query_execution"]
        assert sleeps == [1.0, 1.5] * 5  # each answered RUNNING twice, polled with backoff
        athena.fail = lambda text: "HIVE_BAD_DATA: s3://lake/x.gz" if "UNNEST" in text else None
        with pytest.raises(AuditFailed, match=r"the audit's quality_gaps query: .* HIVE_BAD_DATA"):
            audit_day(AthenaEngine(queries), DAY)
