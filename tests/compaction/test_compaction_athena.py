"""`streamer compact --engine athena`: the command only orchestrates. Against moto's S3 server
and a stand-in for Athena at its HTTP boundary (`tests/athena_fake.py`, which parses every
statement as Trino and runs it on DuckDB): idempotent, failure-safe, each trade read once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
from moto.server import ThreadedMotoServer

from streamer.cli import main
from streamer.compaction.athena import AthenaCompactor
from streamer.compaction.layout import RAW_TAG, compacted_day_prefix, manifest_key
from streamer.compaction.run import compact_day
from streamer.schema import DATASETS
from tests import lakes
from tests.athena_fake import FakeAthena, serve
from tests.compaction.test_compaction_local import trades

DAY = date(2025, 11, 24)
TRADES = DATASETS["trades"]
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


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
    bucket = "lake-" + request.node.name.lower().replace("_", "-")[:40]
    client.create_bucket(Bucket=bucket)
    client.bucket = bucket  # type: ignore[attr-defined]
    return client


@pytest.fixture
def fake(s3: Any) -> Iterator[tuple[FakeAthena, str]]:
    athena = FakeAthena(s3, s3.bucket)
    with serve(athena) as url:
        yield athena, url


def compactor(s3: Any, url: str, sleeps: list[float]) -> AthenaCompactor:
    client = boto3.client("athena", endpoint_url=url, region_name="us-east-1", **CREDENTIALS)
    return AthenaCompactor(s3.bucket, "streamer", client, s3, sleep=sleeps.append)


async def upload_lake(tmp_path: Path, s3: Any, n: int = 800) -> dict[str, dict[str, Any]]:
    """A lake delivered twice, uploaded as Firehose would have written it; the distinct rows."""
    await lakes.write(tmp_path, trades(n), seconds=600)  # 10-minute objects: fewer uploads
    lakes.deliver_twice(tmp_path)
    for path in sorted((tmp_path / "crypto").rglob("*.gz")):
        s3.put_object(Bucket=s3.bucket, Key=str(path.relative_to(tmp_path)), Body=path.read_bytes())
    return lakes.distinct(lakes.raw_lines(tmp_path, TRADES, DAY.isoformat()))


def keys(s3: Any, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def snapshot(s3: Any, *prefixes: str) -> dict[str, bytes]:
    return {
        k: s3.get_object(Bucket=s3.bucket, Key=k)["Body"].read()
        for p in prefixes
        for k in keys(s3, p)
    }


def select(athena: FakeAthena, text: str) -> list[tuple[Any, ...]]:
    context = {"Database": "crypto"}
    started = athena.start(
        {"QueryString": text, "WorkGroup": "streamer", "QueryExecutionContext": context}
    )
    execution = athena.executions[started]
    assert execution.state == "SUCCEEDED", execution.reason
    return execution.rows


def parquet_rows(s3: Any, prefix: str) -> list[dict[str, Any]]:
    out = []
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        for key in keys(s3, prefix):
            data = s3.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
            path = f"/tmp/{s3.bucket}-{key.replace('/', '_')}"
            Path(path).write_bytes(data)
            result = con.execute(f"SELECT * FROM read_parquet('{path}')")
            names = [d[0] for d in result.description]
            out += [dict(zip(names, r, strict=True)) for r in result.fetchall()]
            Path(path).unlink()
    return out


async def test_compaction_on_athena_replaces_the_day_and_reads_each_trade_once(
    tmp_path: Path, s3: Any, fake: tuple[FakeAthena, str]
) -> None:
    athena, url = fake
    truth = await upload_lake(tmp_path, s3)
    raw_keys = keys(s3, "crypto/tabular/")
    assert select(athena, "SELECT count(*) FROM crypto_trades_raw") == [(2 * len(truth),)]
    sleeps: list[float] = []
    day_prefix = compacted_day_prefix(TRADES, DAY)
    runs = []
    for _ in range(2):
        report = compact_day(compactor(s3, url, sleeps), [TRADES], DAY)
        assert not report.failures, report.failures
        (outcome,) = report.outcomes
        assert outcome.status == "compacted" and outcome.manifest is not None
        assert outcome.manifest.rows == len(truth) and outcome.manifest.raw_objects == len(raw_keys)
        runs.append(report.run)

        files = keys(s3, day_prefix)
        assert files == list(outcome.manifest.files)
        assert 1 < len(files) <= 8 and all(
            f.startswith(f"{day_prefix}{report.run}-") for f in files
        )
        got = {r["record_id"]: r for r in parquet_rows(s3, day_prefix)}
        assert set(got) == set(truth)
        for record_id, expected in truth.items():
            actual = {k: lakes.normalized(v) for k, v in got[record_id].items()}
            assert actual == {k: lakes.json_normalized(v) for k, v in expected.items()}
        assert select(athena, "SELECT count(*) FROM crypto_trades") == [(len(truth),)]
        assert keys(s3, f"crypto/compaction/{TRADES.name}/") == [manifest_key(TRADES, DAY)]
        assert not athena.tables  # the CTAS table is dropped ...
        assert all(
            k.endswith("-manifest.csv") for k in keys(s3, "athena-results/")
        )  # ... its files
        assert {(e.workgroup, e.database) for e in athena.executions.values()} == {
            ("streamer", "crypto")
        }
    assert runs[0] != runs[1] and sleeps  # it polled while Athena was running
    tags = s3.get_object_tagging(Bucket=s3.bucket, Key=raw_keys[0])["TagSet"]
    assert tags == [{"Key": RAW_TAG[0], "Value": RAW_TAG[1]}]
    assert keys(s3, "crypto/tabular/") == raw_keys  # raw objects are never deleted
    # The second run took the day out of the view before swapping its files, then put it back.
    views = [s for s in athena.statements if s.startswith("CREATE OR REPLACE VIEW")]
    assert [("UNION ALL" in v) for v in views] == [True, False, True]


async def test_a_failed_athena_query_keeps_the_previous_output_and_view(
    tmp_path: Path, s3: Any, fake: tuple[FakeAthena, str]
) -> None:
    athena, url = fake
    truth = await upload_lake(tmp_path, s3, n=300)
    assert not compact_day(compactor(s3, url, []), [TRADES], DAY).failures
    before, view = snapshot(s3, "crypto/compacted/", "crypto/compaction/"), dict(athena.views)

    reason = "HIVE_CURSOR_ERROR: Unexpected end of input stream (s3://lake/x.gz)"
    athena.fail = lambda text: reason if text.startswith("CREATE TABLE") else None
    report = compact_day(compactor(s3, url, []), [TRADES], DAY)
    assert (
        reason in report.failures["trades"]
        and "previous output is kept" in report.failures["trades"]
    )
    assert snapshot(s3, "crypto/compacted/", "crypto/compaction/") == before
    assert athena.views == view
    assert select(athena, "SELECT count(*) FROM crypto_trades") == [(len(truth),)]


async def test_a_failure_after_the_swap_began_leaves_the_day_on_its_raw_objects(
    tmp_path: Path, s3: Any, fake: tuple[FakeAthena, str]
) -> None:
    athena, url = fake
    truth = await upload_lake(tmp_path, s3, n=300)
    assert not compact_day(compactor(s3, url, []), [TRADES], DAY).failures
    views: list[str] = []

    def fail_second_view(text: str) -> str | None:
        if text.startswith("CREATE OR REPLACE VIEW"):
            views.append(text)
            if len(views) == 2:
                return "the view could not be replaced"
        return None

    athena.fail = fail_second_view
    assert (
        "the view could not be replaced"
        in compact_day(compactor(s3, url, []), [TRADES], DAY).failures["trades"]
    )
    # Never a mix: the day is read from its raw objects (both deliveries), as before compaction.
    assert select(athena, "SELECT count(*) FROM crypto_trades") == [(2 * len(truth),)]
    athena.fail = lambda text: None
    assert not compact_day(compactor(s3, url, []), [TRADES], DAY).failures
    assert select(athena, "SELECT count(*) FROM crypto_trades") == [(len(truth),)]
    assert len({k.rsplit("/", 1)[1].split("-")[0] for k in keys(s3, "crypto/compacted/")}) == 1


async def test_an_unreadable_raw_object_is_named_and_nothing_changes(
    tmp_path: Path, s3: Any, fake: tuple[FakeAthena, str]
) -> None:
    athena, url = fake
    await upload_lake(tmp_path, s3, n=200)
    bad = "crypto/tabular/trades/year=2025/month=11/day=24/hour=17/crypto-trades-1-bad.gz"
    s3.put_object(Bucket=s3.bucket, Key=bad, Body=b"\x1f\x8b\x08 truncated")
    report = compact_day(compactor(s3, url, []), [TRADES], DAY)
    assert bad in report.failures["trades"]
    assert keys(s3, "crypto/compacted/") == keys(s3, "crypto/compaction/") == []
    assert not athena.views


async def test_raw_rows_that_shrank_do_not_replace_a_compacted_day(
    tmp_path: Path, s3: Any, fake: tuple[FakeAthena, str]
) -> None:
    _, url = fake
    await upload_lake(tmp_path, s3, n=300)
    assert not compact_day(compactor(s3, url, []), [TRADES], DAY).failures
    before = snapshot(s3, "crypto/compacted/", "crypto/compaction/")
    raw = keys(s3, "crypto/tabular/trades/")
    s3.delete_objects(
        Bucket=s3.bucket, Delete={"Objects": [{"Key": k} for k in raw[: len(raw) // 2]]}
    )
    report = compact_day(compactor(s3, url, []), [TRADES], DAY)
    assert "raw objects were removed since" in report.failures["trades"]
    assert snapshot(s3, "crypto/compacted/", "crypto/compaction/") == before


def test_a_day_without_raw_objects_asks_nothing_of_athena(
    s3: Any, fake: tuple[FakeAthena, str]
) -> None:
    athena, url = fake
    report = compact_day(compactor(s3, url, []), list(DATASETS.values()), DAY)
    assert not report.failures and {o.status for o in report.outcomes} == {"empty"}
    assert athena.statements == []


async def test_the_command_runs_on_athena_from_the_environment(
    tmp_path: Path,
    s3: Any,
    fake: tuple[FakeAthena, str],
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    athena, url = fake
    athena.running_polls = 0
    truth = await upload_lake(tmp_path, s3, n=200)
    for name, value in {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ENDPOINT_URL_ATHENA": url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "STREAMER_LAKE_BUCKET": s3.bucket,
        "STREAMER_ATHENA_WORKGROUP": "lake-queries",
        "STREAMER_LOG_FORMAT": "json",
    }.items():
        monkeypatch.setenv(name, value)
    args = ["compact", "--engine", "athena", "--day", DAY.isoformat(), "--dataset", "trades"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert f"trades {DAY}: " in out and f"-> {len(truth):,} rows" in out
    assert '"CompactionRuns":1' in err and '"CompactionFailures":0' in err  # the EMF event
    assert {e.workgroup for e in athena.executions.values()} == {"lake-queries"}
    assert select(athena, "SELECT count(*) FROM crypto_trades") == [(len(truth),)]
    assert main([*args, "--lake", str(tmp_path)]) == 2
    assert "--lake: is for the DuckDB engine" in capsys.readouterr().err
    monkeypatch.delenv("STREAMER_LAKE_BUCKET")
    assert main(args) == 2
    assert "STREAMER_LAKE_BUCKET: no lake bucket is set" in capsys.readouterr().err
