"""The Firehose sink against moto's server over real HTTP: streams with S3 destinations (and, in
Iceberg mode, the records an Iceberg destination would read).

moto writes one S3 object per PutRecordBatch call (uncompressed, under the stream's prefix
with `!{timestamp:...}` left literal, then `YYYY/MM/DD/HH/`), so objects can be read back and
counted as calls.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import httpx
import orjson
import pytest
from moto.server import ThreadedMotoServer

from streamer.iceberg_layout import ICEBERG_TABLES
from streamer.packing import MAX_BATCH_BYTES, MAX_RECORD_BYTES
from streamer.pipeline import run_pipeline
from streamer.provision import provision
from streamer.records import Millis
from streamer.schema import DATASETS, REJECTS, Dataset
from streamer.service import build_sources, encoders_for
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig
from streamer.sinks.firehose import FirehoseSink
from streamer.timefmt import now_millis

BUCKET = "lake"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    # each test makes a stream per dataset and moto allows 50 in all: start from none
    httpx.post(f"{moto_url}/moto-api/reset").raise_for_status()
    env = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return env


def clients(url: str) -> tuple[Any, Any]:
    kw = {"endpoint_url": url, "region_name": "us-east-1"}
    return boto3.client("s3", **kw), boto3.client("firehose", **kw)


def objects(s3: Any, prefix: str) -> list[tuple[str, bytes]]:
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            out.append((item["Key"], body))
    return out


class Recording:
    """Wraps a sink and keeps every line handed to it: the rows the pipeline produced."""

    def __init__(self, inner: FirehoseSink) -> None:
        self.inner = inner
        self.lines: dict[str, list[bytes]] = collections.defaultdict(list)

    async def start(self) -> None:
        await self.inner.start()

    def add(self, dataset: Dataset, line: bytes, arrival: Millis) -> None:
        self.lines[dataset.name].append(line)
        self.inner.add(dataset, line, arrival)

    def add_many(self, dataset: Dataset, lines: Sequence[bytes], arrival: Millis) -> None:
        self.lines[dataset.name] += lines
        self.inner.add_many(dataset, lines, arrival)

    def seconds_until_due(self, now: Millis) -> float | None:
        return self.inner.seconds_until_due(now)

    async def flush_due(self, now: Millis) -> None:
        await self.inner.flush_due(now)

    async def room(self) -> None:
        await self.inner.room()

    def failing_since(self) -> Millis | None:
        return self.inner.failing_since()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def counters_snapshot(self) -> Mapping[str, int]:
        return self.inner.counters_snapshot()


def service_env(sim: Simulator, tmp_path: Path, prefix: str, **extra: str) -> dict[str, str]:
    """The simulator's environment for a service delivering to Firehose streams `<prefix>-*`,
    quickly: a short linger, 1 s candles, books every 0.2 s, CoinGecko every 5 s."""
    env = sim.environment()
    env.update(
        STREAMER_SINK="firehose",
        STREAMER_FIREHOSE_PREFIX=prefix,
        STREAMER_FIREHOSE_LINGER_SECONDS="0.2",
        STREAMER_SPOOL_DIR=str(tmp_path / "spool"),
        STREAMER_BINANCE_KLINE_INTERVAL="1s",
        STREAMER_COINBASE_BOOK_INTERVAL="0.2",
        STREAMER_COINGECKO_POLL_SECONDS="5",
        **extra,
    )
    return env


def enough(lines: Mapping[str, list[bytes]]) -> bool:
    trades = [orjson.loads(x) for x in lines["trades"]]
    return (
        sum(t["exchange"] == "binance" for t in trades) >= 60
        and sum(t["exchange"] == "coinbase" for t in trades) >= 20
        and len(lines["ohlcv"]) >= 4
        and len(lines["order_books"]) >= 4
        and len(lines["tickers"]) >= 4
        and len(lines["spot_prices"]) >= 6
        and len(lines["markets"]) >= 100
    )


async def test_rows_read_back_from_s3_equal_the_rows_produced(
    aws: dict[str, str], tmp_path: Path
) -> None:
    s3, firehose = clients(aws["AWS_ENDPOINT_URL"])
    names = provision(s3, firehose, BUCKET, "e2e")
    assert "e2e-trades" in names and "e2e-rejects" in names

    config = SimulatorConfig(
        port=0,
        rate=300,
        seed=5,
        symbols={
            "binance": ("BTC-USDT", "ETH-USDT"),
            "coinbase": ("BTC-USD",),
            "coingecko": ("bitcoin",),
        },
    )
    async with Simulator(config) as sim:
        settings = load(service_env(sim, tmp_path, "e2e"))
        sink = Recording(FirehoseSink(settings.firehose))
        stop = asyncio.Event()
        pipeline = asyncio.create_task(
            run_pipeline(build_sources(settings), sink, stop, clock=now_millis)
        )
        try:
            async with asyncio.timeout(90):
                while not enough(sink.lines):
                    await asyncio.sleep(0.1)
        finally:
            stop.set()
            stats = await pipeline
    assert stats.failed_sources == {}

    counters = sink.counters_snapshot()
    produced = sum(len(v) for v in sink.lines.values())
    assert counters["RowsIn"] == counters["RowsDelivered"] == produced
    assert counters["RowsSpooled"] == counters["RowsRejected"] == 0
    calls = 0
    for dataset in (*DATASETS.values(), REJECTS):
        prefix = dataset.prefix_template
        stored = [(k, b) for k, b in objects(s3, prefix) if f"/e2e-{dataset.name}-" in k]
        calls += len(stored)
        got = [line for _, body in stored for line in body.splitlines(keepends=True)]
        assert sorted(got) == sorted(sink.lines[dataset.name]), dataset.name
    assert not sink.lines["rejects"]
    assert calls == counters["PutCalls"]
    assert counters["BilledBytes"] >= counters["PayloadBytes"]

    trades = [json.loads(x, parse_float=Decimal) for x in sink.lines["trades"]]
    for trade in trades:
        price, size, side, _ = sim.sent_trades[(trade["exchange"], trade["symbol"])][
            trade["trade_id"]
        ]
        assert (trade["price"], trade["size"]) == (Decimal(price), Decimal(size))
        assert trade["side"] == side


def sized(tag: str, size: int) -> bytes:
    head = orjson.dumps({"record_id": tag, "pad": ""})[:-2]
    return head + b"x" * (size - len(head) - 3) + b'"}\n'


async def put_rows(prefix: str, tmp_path: Path, lines: list[bytes]) -> FirehoseSink:
    """One flush of `lines` to the trades stream through a fresh sink, then close it."""
    settings = replace(load({}).firehose, stream_prefix=prefix, spool_dir=tmp_path / prefix)
    sink = FirehoseSink(settings)
    await sink.start()
    now = now_millis()
    for line in lines:
        sink.add(DATASETS["trades"], line, now)
    await sink.aclose()
    return sink


@pytest.mark.parametrize("extra", [0, 1], ids=["exactly-4MiB", "4MiB-plus-1"])
async def test_a_call_of_exactly_4_mib_is_one_object_and_one_byte_more_two(
    aws: dict[str, str], tmp_path: Path, extra: int
) -> None:
    s3, firehose = clients(aws["AWS_ENDPOINT_URL"])
    prefix = f"edge{extra}"
    provision(s3, firehose, BUCKET, prefix)
    # Four rows of the maximum record size and one that fills the call to the byte.
    lines = [sized(f"m{i}", MAX_RECORD_BYTES) for i in range(4)]
    lines.append(sized("rest", MAX_BATCH_BYTES - 4 * MAX_RECORD_BYTES + extra))
    sink = await put_rows(prefix, tmp_path, lines)
    stored = [
        body
        for key, body in objects(s3, DATASETS["trades"].prefix_template)
        if f"/{prefix}-trades-" in key
    ]
    assert len(stored) == 1 + extra
    assert sorted(b"".join(stored).splitlines(keepends=True)) == sorted(lines)
    assert sink.counters_snapshot()["PutCalls"] == 1 + extra


async def test_a_row_of_the_maximum_size_is_delivered_and_one_byte_more_is_rejected(
    aws: dict[str, str], tmp_path: Path
) -> None:
    s3, firehose = clients(aws["AWS_ENDPOINT_URL"])
    provision(s3, firehose, BUCKET, "big")
    exact, over = sized("exact", MAX_RECORD_BYTES), sized("over", MAX_RECORD_BYTES + 1)
    sink = await put_rows("big", tmp_path, [exact, over])
    trades = [b for k, b in objects(s3, DATASETS["trades"].prefix_template) if "/big-trades-" in k]
    assert trades == [exact]
    rejects = [b for k, b in objects(s3, REJECTS.prefix_template) if "/big-rejects-" in k]
    (reject,) = [orjson.loads(line) for body in rejects for line in body.splitlines()]
    assert reject["source"] == "firehose:trades"
    assert f"row of {MAX_RECORD_BYTES + 1} bytes" in reject["reason"]
    assert reject["raw"].startswith('{"record_id":"over"')
    stats = sink.counters_snapshot()
    assert stats["RowsRejected"] == 1 and stats["RowsDelivered"] == 2  # the row and its reject


def test_provision_command_creates_the_bucket_and_streams(aws: dict[str, str]) -> None:
    import os
    import subprocess
    import sys

    command = [sys.executable, "-m", "streamer.cli", "provision", "--bucket", "made-by-cli",
               "--prefix", "cli"]  # fmt: skip
    done = subprocess.run(command, env={**os.environ, **aws}, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    s3, firehose = clients(aws["AWS_ENDPOINT_URL"])
    assert "made-by-cli" in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    names = set(firehose.list_delivery_streams(Limit=100)["DeliveryStreamNames"])
    for dataset in (*DATASETS.values(), REJECTS):
        name = f"cli-{dataset.name}"
        assert name in names
        described = firehose.describe_delivery_stream(DeliveryStreamName=name)
        (destination,) = described["DeliveryStreamDescription"]["Destinations"]
        s3_destination = destination["ExtendedS3DestinationDescription"]
        assert s3_destination["Prefix"] == dataset.prefix_template
        assert s3_destination["BucketARN"] == "arn:aws:s3:::made-by-cli"
    # Running it again is harmless (the compose stack may restart it).
    again = subprocess.run(command, env={**os.environ, **aws}, capture_output=True, timeout=120)
    assert again.returncode == 0

    no_endpoint = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    refused = subprocess.run(command, env=no_endpoint, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "AWS_ENDPOINT_URL" in refused.stderr


class SpyClient:
    """The real boto3 client (to moto), keeping each record's bytes as sent, per stream."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sent: dict[str, list[bytes]] = collections.defaultdict(list)

    def put_record_batch(self, **call: Any) -> Any:
        self.sent[call["DeliveryStreamName"]] += [r["Data"] for r in call["Records"]]
        return self.inner.put_record_batch(**call)


async def test_iceberg_mode_sends_each_row_as_one_record_of_its_table(
    aws: dict[str, str], tmp_path: Path
) -> None:
    s3, firehose = clients(aws["AWS_ENDPOINT_URL"])
    provision(s3, firehose, BUCKET, "ice")
    config = SimulatorConfig(
        port=0, rate=300, seed=7,
        symbols={"binance": ("BTC-USDT",), "coinbase": ("BTC-USD",), "coingecko": ("bitcoin",)},
    )  # fmt: skip
    async with Simulator(config) as sim:
        settings = load(service_env(sim, tmp_path, "ice", STREAMER_LAKE_FORMAT="iceberg"))
        spy = SpyClient(firehose)
        sink = Recording(FirehoseSink(settings.firehose, client=spy))
        stop = asyncio.Event()
        pipeline = asyncio.create_task(
            run_pipeline(build_sources(settings), sink, stop, clock=now_millis,
                         encoders=encoders_for(settings))
        )  # fmt: skip
        try:
            async with asyncio.timeout(90):
                while not (
                    len(sink.lines["trades"]) >= 40
                    and len(sink.lines["order_books"]) >= 4
                    and len(sink.lines["spot_prices"]) >= 2
                ):
                    await asyncio.sleep(0.1)
        finally:
            stop.set()
            stats = await pipeline
    finished = datetime.now(UTC)
    assert stats.failed_sources == {}

    counters = sink.counters_snapshot()
    produced = sum(len(v) for v in sink.lines.values())
    assert counters["RowsIn"] == counters["RowsDelivered"] == counters["RecordsDelivered"]
    assert counters["RowsDelivered"] == produced and counters["RowsSpooled"] == 0
    assert counters["BilledBytes"] == counters["PayloadBytes"]  # no 5 KiB rounding
    assert not sink.lines["rejects"]
    for name, table in ICEBERG_TABLES.items():
        sent = spy.sent[f"ice-{name}"]
        assert sorted(sent) == sorted(sink.lines[name]), name  # each record one row, as encoded
        for data in sent:
            assert data.endswith(b"}\n") and data.count(b"\n") == 1
            assert list(orjson.loads(data)) == list(table.names), name
        prefix = DATASETS[name].prefix_template
        stored = [b for k, b in objects(s3, prefix) if f"/ice-{name}-" in k]
        assert sorted(x for b in stored for x in b.splitlines(keepends=True)) == sorted(sent)

    trades = [json.loads(x, parse_float=Decimal) for x in spy.sent["ice-trades"]]
    assert len(trades) >= 40
    for trade in trades:
        price, size, side, _ = sim.sent_trades[(trade["exchange"], trade["symbol"])][
            trade["trade_id"]
        ]
        assert (trade["price"], trade["size"], trade["side"]) == (Decimal(price), Decimal(size),
                                                                  side)  # fmt: skip
        assert type(trade["event_time"]) is int and trade["event_time"] % 1000 == 0
        # the hour columns are the arrival's: at or after the receipt, before the test's end
        hour = "".join(trade[k] for k in ("year", "month", "day", "hour"))
        received = datetime.fromtimestamp(trade["received_at"] / 1e6, UTC)
        assert received.strftime("%Y%m%d%H") <= hour <= finished.strftime("%Y%m%d%H")
    books = [json.loads(x, parse_float=Decimal) for x in spy.sent["ice-order_books"]]
    assert all(set(level) == {"price", "size"} for b in books for level in b["bids"] + b["asks"])
