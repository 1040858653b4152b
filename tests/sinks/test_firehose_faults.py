"""The Firehose sink against a loopback endpoint that fails the way Firehose does.

The endpoint (`streamer.simulator.firehose`) speaks the real JSON 1.1 protocol to a stock boto3
client, enforces the service's hard limits, and injects partial failures, throttling, 503s,
500s, dropped connections, slow answers and outages. Every test checks what arrived there.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import replace
from pathlib import Path

import boto3
import orjson
import pytest
from botocore.config import Config

from streamer.errors import ConfigError
from streamer.iceberg_records import encode_iceberg
from streamer.packing import BILLING_UNIT, MAX_BATCH_BYTES, MAX_RECORD_BYTES, Record, batches
from streamer.schema import DATASETS, REJECTS, Dataset
from streamer.settings import FirehoseSettings
from streamer.simulator.firehose import Faults, FirehoseDouble, serve_firehose
from streamer.sinks.firehose import FirehoseSink, make_client
from tests.lakes import row as lake_row

TRADES = DATASETS["trades"]
TICKERS = DATASETS["tickers"]


def quick(tmp_path: Path, **overrides: object) -> FirehoseSettings:
    """Settings scaled down for tests: short linger, backoff and timeouts."""
    base = FirehoseSettings(
        linger=0.05,
        retry_seconds=2.0,
        backoff_base=0.01,
        backoff_cap=0.1,
        request_timeout=1.0,
        spool_dir=tmp_path / "spool",
        shutdown_seconds=5.0,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def row(dataset: Dataset, n: int, pad: int = 60) -> bytes:
    rid = f"{dataset.name}-{n:08d}"
    return orjson.dumps({"record_id": rid, "n": n, "pad": "x" * pad}) + b"\n"


def clock_ms() -> int:
    return int(asyncio.get_running_loop().time() * 1000)


async def feed(sink: FirehoseSink, rows: list[tuple[Dataset, bytes]], per_tick: int = 200) -> None:
    """Hand rows to the sink the way the pipeline does: in bursts, flushing what is due."""
    for i in range(0, max(1, len(rows)), per_tick):
        now = clock_ms()
        for dataset, line in rows[i : i + per_tick]:
            sink.add(dataset, line, now)
        await sink.flush_due(clock_ms())
        await asyncio.sleep(0.005)


async def delivered(sink: FirehoseSink, rows: int, seconds: float = 60) -> None:
    """Wait until the sink reports `rows` delivered (with linger flushes ticking)."""
    async with asyncio.timeout(seconds):
        while sink.counters_snapshot()["RowsDelivered"] < rows:
            await feed(sink, [], per_tick=1)


def make_rows(count: int, pad: int = 60) -> list[tuple[Dataset, bytes]]:
    out: list[tuple[Dataset, bytes]] = []
    for n in range(count):
        dataset = TRADES if n % 3 else TICKERS
        out.append((dataset, row(dataset, n, pad)))
    return out


def lines_of(double: FirehoseDouble, stream: str) -> list[bytes]:
    data = double.data(stream)
    assert not data or data.endswith(b"\n"), "a record must end on a row boundary"
    return data.splitlines(keepends=True)


def assert_all_delivered(
    double: FirehoseDouble, rows: list[tuple[Dataset, bytes]], ordered: bool = False
) -> None:
    """Every row arrived at least once and every duplicate is byte-identical to the row with
    the same record_id. `ordered`: rows also first arrived in the order sent (true when no
    call failed in part, since only the failed records of a call are resent)."""
    for dataset in (TRADES, TICKERS):
        sent = [line for d, line in rows if d is dataset]
        got = lines_of(double, f"crypto-{dataset.name}")
        by_id: dict[str, bytes] = {}
        for line in got:
            rid = orjson.loads(line)["record_id"]
            assert by_id.setdefault(rid, line) == line, f"{rid} arrived with other content"
        first_seen = list(dict.fromkeys(got))
        if ordered:
            assert first_seen == sent, f"{dataset.name}: rows missing or out of order"
        else:
            assert sorted(first_seen) == sorted(sent), f"{dataset.name}: rows missing"


async def test_clean_delivery_packs_rows_into_few_calls(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    sink = FirehoseSink(quick(tmp_path))
    await sink.start()
    rows = make_rows(3000)
    await feed(sink, rows, per_tick=1000)
    await sink.aclose()
    assert_all_delivered(double, rows, ordered=True)
    stats = sink.counters_snapshot()
    assert stats["RowsIn"] == stats["RowsDelivered"] == 3000
    assert stats["RowsSpooled"] == stats["RowsRetried"] == stats["RowsDropped"] == 0
    # 3000 rows in bursts of 1000 across two streams: a handful of calls, not thousands.
    assert double.tally.calls <= 12
    assert stats["BilledBytes"] >= stats["PayloadBytes"] > 3000 * 60
    assert not list((tmp_path / "spool").rglob("*.seg"))


async def test_every_row_arrives_through_every_kind_of_fault(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    double.set_faults(
        Faults(
            partial=0.2,
            throttle=0.1,
            unavailable=0.1,
            server_error=0.1,
            reset=0.05,
            slow=0.03,
            slow_seconds=0.8,  # past the read timeout: accepted, but the client resends
            seed=11,
        )
    )
    # No linger: every burst is its own call, so a few hundred calls meet the faults.
    settings = quick(tmp_path, linger=0.0, retry_seconds=30.0, request_timeout=0.5)
    sink = FirehoseSink(settings)
    await sink.start()
    rows = make_rows(4000)
    await feed(sink, rows, per_tick=20)
    await delivered(sink, len(rows))
    await sink.aclose()

    tally = double.tally
    assert tally.throttled and tally.unavailable and tally.server_errors and tally.resets
    assert tally.records_failed and tally.slow
    assert tally.invalid == 0, tally.invalid_reasons
    assert_all_delivered(double, rows)
    stats = sink.counters_snapshot()
    assert stats["RowsDelivered"] >= 4000
    assert stats["RowsRetried"] > 0 and stats["ThrottledCalls"] > 0
    assert stats["RowsSpooled"] == stats["RowsDropped"] == 0


async def test_only_failed_records_are_resent_after_a_partial_failure(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    double.set_faults(Faults(partial=0.5, seed=3))
    sink = FirehoseSink(quick(tmp_path))
    await sink.start()
    # Rows of 600 KB: one per record, so a call carries several and some of them fail.
    rows = [(TRADES, row(TRADES, n, pad=600_000)) for n in range(12)]
    await feed(sink, rows, per_tick=12)
    await sink.aclose()
    got = lines_of(double, "crypto-trades")
    # Partial failures resend only failed records, so each row arrives exactly once.
    assert sorted(got) == sorted(line for _, line in rows)
    assert double.tally.records_failed > 0
    assert double.tally.records_accepted == 12


async def test_an_outage_spools_then_replays_in_order(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    sink = FirehoseSink(quick(tmp_path, retry_seconds=0.3))
    await sink.start()
    double.outage(seconds=3600)
    rows = make_rows(3000)
    await feed(sink, rows[:2000], per_tick=100)
    spool = tmp_path / "spool"
    async with asyncio.timeout(20):
        while sink.counters_snapshot()["RowsSpooled"] < 1000:
            await feed(sink, [], per_tick=1)
    assert sum(p.stat().st_size for p in spool.rglob("*.seg")) > 0
    assert double.tally.records_accepted == 0
    double.end_outage()
    await feed(sink, rows[2000:], per_tick=100)
    await delivered(sink, len(rows))
    await sink.aclose()
    assert_all_delivered(double, rows, ordered=True)
    stats = sink.counters_snapshot()
    assert stats["RowsReplayed"] >= 1000
    assert stats["RowsDropped"] == 0
    assert not list(spool.rglob("*.seg"))


async def test_connection_refused_counts_as_an_outage(
    double: FirehoseDouble, tmp_path: Path
) -> None:
    with serve_firehose(double) as url:
        pass  # the port is now closed: connections are refused
    client = boto3.client(
        "firehose",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
    sink = FirehoseSink(quick(tmp_path, retry_seconds=0.3, shutdown_seconds=1.0), client=client)
    await sink.start()
    rows = make_rows(500)
    await feed(sink, rows)
    await sink.aclose()
    stats = sink.counters_snapshot()
    assert stats["RowsSpooled"] == 500 and stats["RowsDropped"] == 0
    assert stats["FailedCalls"] > 0


async def test_memory_bound_sends_batches_to_the_spool(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    double.set_faults(Faults(slow=1.0, slow_seconds=0.3))  # a slow Firehose backs data up
    settings = quick(tmp_path, buffer_bytes=20_000, request_timeout=5.0, retry_seconds=30.0)
    sink = FirehoseSink(settings)
    await sink.start()
    rows = make_rows(3000)
    await feed(sink, rows, per_tick=100)
    peak = sink.counters_snapshot()["BufferedBytes"]
    await sink.aclose()
    stats = sink.counters_snapshot()
    assert peak <= 20_000
    assert stats["RowsSpooled"] > 0 and stats["RowsDropped"] == 0
    # What was spooled at shutdown is delivered by the next start.
    double.set_faults(Faults())
    again = FirehoseSink(settings)
    await again.start()
    await again.aclose()
    assert_all_delivered(double, rows, ordered=True)


async def test_shutdown_during_an_outage_spools_and_the_next_start_delivers(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    double.outage(seconds=3600)
    settings = quick(tmp_path, retry_seconds=60.0, shutdown_seconds=1.0)
    sink = FirehoseSink(settings)
    await sink.start()
    rows = make_rows(2000)
    await feed(sink, rows)
    started = asyncio.get_running_loop().time()
    await sink.aclose()
    took = asyncio.get_running_loop().time() - started
    assert took < 1.0 + 2.0, f"shutdown took {took:.1f}s against a 1 s budget"
    stats = sink.counters_snapshot()
    assert stats["RowsSpooled"] == 2000 and stats["RowsDelivered"] == 0
    assert stats["RowsDropped"] == 0

    double.end_outage()
    again = FirehoseSink(settings)
    await again.start()
    await again.aclose()
    assert_all_delivered(double, rows, ordered=True)
    assert again.counters_snapshot()["RowsReplayed"] == 2000


async def test_a_full_disk_budget_drops_loudly(
    endpoint: str, double: FirehoseDouble, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    double.outage(seconds=3600)
    sink = FirehoseSink(quick(tmp_path, retry_seconds=0.1, shutdown_seconds=0.5,
                              spool_max_bytes=50_000))  # fmt: skip
    await sink.start()
    with caplog.at_level(logging.ERROR, logger="streamer.sinks.firehose"):
        await feed(sink, make_rows(3000))
        await sink.aclose()
    stats = sink.counters_snapshot()
    assert stats["RowsDropped"] > 0
    assert stats["RowsSpooled"] + stats["RowsDropped"] == 3000
    assert stats["SpoolBytes"] <= 50_000
    assert any("STREAMER_SPOOL_MAX_MB" in r.getMessage() for r in caplog.records)


async def test_a_missing_stream_is_spooled_not_lost(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    double.streams = {"crypto-tickers"}  # crypto-trades was never created
    sink = FirehoseSink(quick(tmp_path, shutdown_seconds=1.0))
    await sink.start()
    rows = make_rows(300)
    await feed(sink, rows)
    await sink.aclose()
    stats = sink.counters_snapshot()
    trades = sum(1 for d, _ in rows if d is TRADES)
    assert stats["RowsSpooled"] == trades
    assert stats["RowsDelivered"] == len(rows) - trades
    assert (tmp_path / "spool" / "crypto-trades").is_dir()


async def test_a_row_of_the_maximum_record_size_goes_alone_and_one_byte_more_is_rejected(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    def sized(n: int, size: int) -> bytes:
        head = orjson.dumps({"record_id": f"big-{n}", "pad": ""})[:-2]
        return head + b"x" * (size - len(head) - 3) + b'"}\n'

    exact, over = sized(1, MAX_RECORD_BYTES), sized(2, MAX_RECORD_BYTES + 1)
    assert (len(exact), len(over)) == (MAX_RECORD_BYTES, MAX_RECORD_BYTES + 1)
    sink = FirehoseSink(quick(tmp_path))
    await sink.start()
    small = row(TRADES, 3)
    await feed(sink, [(TRADES, exact), (TRADES, over), (TRADES, small)])
    await sink.aclose()
    assert double.tally.invalid == 0, double.tally.invalid_reasons
    assert lines_of(double, "crypto-trades") == [exact, small]
    (reject,) = lines_of(double, "crypto-rejects")
    parsed = orjson.loads(reject)
    assert parsed["source"] == "firehose:trades"
    assert f"row of {MAX_RECORD_BYTES + 1} bytes" in parsed["reason"]
    assert sink.counters_snapshot()["RowsRejected"] == 1


async def test_call_limits_exactly_500_records_and_exactly_4_mib(
    endpoint: str, double: FirehoseDouble
) -> None:
    """`batches()` output is accepted by an endpoint that enforces Firehose's limits, and the
    endpoint refuses one more (so the acceptance means something)."""
    client = make_client(FirehoseSettings())
    tiny = [Record(b"%d\n" % i, 1) for i in range(1000)]
    calls = list(batches(tiny))
    assert [len(c) for c in calls] == [500, 500]
    # Exactly 4 MiB: four records of the maximum size and one that fills the call to the byte.
    rest = MAX_BATCH_BYTES - 4 * MAX_RECORD_BYTES
    full = [Record(b"y" * (MAX_RECORD_BYTES - 1) + b"\n", 1) for _ in range(4)]
    full.append(Record(b"y" * (rest - 1) + b"\n", 1))
    assert sum(len(r.data) for r in full) == MAX_BATCH_BYTES
    assert [len(c) for c in batches(full)] == [5]
    assert [len(c) for c in batches([*full, Record(b"\n", 1)])] == [5, 1]
    for records in [*calls, full]:
        answer = client.put_record_batch(
            DeliveryStreamName="crypto-trades", Records=[{"Data": r.data} for r in records]
        )
        assert answer["FailedPutCount"] == 0
    assert double.tally.invalid == 0
    refused = [
        [{"Data": b"z\n"}] * 501,
        [{"Data": r.data} for r in full] + [{"Data": b"\n"}],
    ]
    for entries in refused:
        with pytest.raises(client.exceptions.InvalidArgumentException):
            client.put_record_batch(DeliveryStreamName="crypto-trades", Records=entries)
    assert double.tally.invalid == 2
    counts = collections.Counter(len(d) for _, d in double.records)
    assert counts[MAX_RECORD_BYTES] == 4 and counts[rest] == 1
    assert sum(counts.values()) == 1005


async def test_iceberg_mode_sends_one_row_per_record_through_faults_spool_and_replay(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    sink = FirehoseSink(quick(tmp_path, format="iceberg", retry_seconds=0.3))
    await sink.start()
    double.set_faults(Faults(partial=0.2, throttle=0.1, seed=5))
    double.outage(seconds=3600)
    rows = make_rows(1200)
    await feed(sink, rows[:600], per_tick=100)
    async with asyncio.timeout(20):
        while sink.counters_snapshot()["RowsSpooled"] < 300:
            await feed(sink, [], per_tick=1)
    double.end_outage()
    await feed(sink, rows[600:], per_tick=100)
    await delivered(sink, len(rows))
    rejects = [row(REJECTS, n) for n in range(2)]
    sink.add_many(REJECTS, rejects, clock_ms())
    await sink.aclose()

    for stream in ("crypto-trades", "crypto-tickers"):
        blobs = [data for s, data in double.records if s == stream]
        assert blobs and all(data.count(b"\n") == 1 for data in blobs), stream  # never joined
    assert_all_delivered(double, rows)
    # the rejects keep their JSON lines stream: rows packed into one record as before
    assert [data for s, data in double.records if s == "crypto-rejects"] == [b"".join(rejects)]
    stats = sink.counters_snapshot()
    assert stats["RowsReplayed"] >= 300 and stats["RowsDropped"] == 0
    table_bytes = sum(len(d) for s, d in double.records if s != "crypto-rejects")
    assert stats["BilledBytes"] == table_bytes + BILLING_UNIT  # Iceberg: bytes; rejects: 5 KiB


async def test_an_iceberg_spool_is_replayed_one_row_per_record_and_never_as_json(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    double.outage(seconds=3600)
    iceberg = quick(tmp_path, format="iceberg", retry_seconds=60.0, shutdown_seconds=1.0)
    sink = FirehoseSink(iceberg)
    await sink.start()
    now = clock_ms()
    rows = [(TRADES, encode_iceberg(lake_row(TRADES, n), now)) for n in range(300)]
    await feed(sink, rows)
    await sink.aclose()
    assert sink.counters_snapshot()["RowsSpooled"] == 300
    double.end_outage()

    # The JSON path must not replay Iceberg records into the JSON lake: it refuses to start.
    with pytest.raises(ConfigError, match="STREAMER_LAKE_FORMAT=iceberg") as refused:
        await FirehoseSink(replace(iceberg, format="json")).start()
    assert "crypto-trades" in str(refused.value)
    assert double.tally.records_accepted == 0

    again = FirehoseSink(iceberg)
    await again.start()
    await again.aclose()
    blobs = [data for s, data in double.records if s == "crypto-trades"]
    assert blobs == [line for _, line in rows]  # in order, one row per record
    assert again.counters_snapshot()["RowsReplayed"] == 300


async def test_the_iceberg_path_refuses_a_spool_of_json_lines(
    endpoint: str, double: FirehoseDouble, tmp_path: Path
) -> None:
    double.outage(seconds=3600)
    settings = quick(tmp_path, retry_seconds=60.0, shutdown_seconds=1.0)
    sink = FirehoseSink(settings)
    await sink.start()
    await feed(sink, make_rows(30))
    await sink.aclose()
    with pytest.raises(ConfigError, match="STREAMER_LAKE_FORMAT=json"):
        await FirehoseSink(replace(settings, format="iceberg")).start()
    double.end_outage()
    again = FirehoseSink(settings)  # the format that wrote it delivers it
    await again.start()
    await again.aclose()
    assert again.counters_snapshot()["RowsReplayed"] == 30
