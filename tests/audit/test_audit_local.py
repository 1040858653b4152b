"""`streamer audit` over a local lake (DuckDB): lakes written by the real lake sink, holes made
by deleting objects, `quality` rows written as the feeds write them; exact ranges, counts,
order, JSON and exit codes, on raw and on compacted days."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from streamer.cli import main
from tests import lakes
from tests.audit import lake as L
from tests.audit.lake import DAY, MINUTE

BTC = L.Symbol("binance", "BTC-USDT", 1000)
ETH = L.Symbol("coinbase", "ETH-USD", 50_000)


def audit(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["audit", "--day", DAY.isoformat(), "--lake", str(root), *args])
    return code, capsys.readouterr().out


def audit_json(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code, out = audit(root, capsys, "--format", "json", *args)
    return code, json.loads(out)


def symbol(doc: dict[str, Any], exchange: str, name: str) -> dict[str, Any]:
    (found,) = [s for s in doc["symbols"] if (s["exchange"], s["symbol"]) == (exchange, name)]
    return found


async def complete_lake(root: Path, *extra: L.Rows) -> Path:
    rows = BTC.rows() + ETH.rows() + L.connection("binance") + L.connection("coinbase")
    return await L.write(root, rows + [r for more in extra for r in more])


async def test_a_complete_lake_exits_0_and_lists_0_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = await complete_lake(tmp_path)
    lakes.deliver_twice(root)  # Firehose delivers an object twice now and then: no effect
    code, out = audit(root, capsys)
    assert code == 0
    assert "complete: 0 missing trade ids (0 unexplained), 0 missing candles, 0 unrecovered" in out
    code, doc = audit_json(root, capsys)
    assert code == 0 and doc["complete"] and doc["exit_code"] == 0
    assert doc["totals"] == {"missing_trades": 0, "unexplained_trades": 0, "missing_candles": 0,
                             "resyncs": 0, "unrecovered_holes": 0, "symbols": 2}  # fmt: skip
    trades = symbol(doc, "binance", "BTC-USDT")["trades"]
    assert trades == {"first_id": 1000, "last_id": 2439, "ids": 1440, "missing": 0,
                      "explained": 0, "unexplained": 0, "ranges": 0, "ranges_listed": 0,
                      "last_id_before": 999, "not_integer": 0, "missing_ranges": []}  # fmt: skip
    candles = symbol(doc, "coinbase", "ETH-USD")["candles"]
    assert candles["candles"] == candles["expected_day"] == 1440 and candles["interval"] == "1m"
    assert (candles["first_open"], candles["last_open"]) == (
        "2025-11-24T00:00:00Z",
        "2025-11-24T23:59:00Z",
    )
    quality = symbol(doc, "binance", "BTC-USDT")["quality"]["trades"]
    assert quality["rows"] == 24 * 60  # the hourly rows summed, each once despite the copies


async def test_a_deleted_trades_object_exits_1_naming_the_symbol_and_the_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = await complete_lake(tmp_path)
    (deleted,) = L.objects(root, "trades", DAY, 10)
    lost = L.ids_in([deleted], "binance", "BTC-USDT")
    assert lost == list(range(1600, 1660))  # the object held the hour 10:00-10:59
    deleted.unlink()
    code, out = audit(root, capsys)
    assert code == 1
    assert "UNRECOVERED: 120 missing trade ids (120 unexplained)" in out
    assert "binance BTC-USDT trade ids 1600-1659 (60): unexplained" in out
    assert "coinbase ETH-USD trade ids 50600-50659 (60): unexplained" in out
    code, doc = audit_json(root, capsys)
    assert code == 1 and doc["totals"]["unrecovered_holes"] == 2
    trades = symbol(doc, "binance", "BTC-USDT")["trades"]
    assert (trades["ids"], trades["missing"], trades["ranges"]) == (1380, 60, 1)
    assert trades["missing_ranges"] == [
        {"first": 1600, "last": 1659, "count": 60, "explained": False, "reason": None}
    ]


async def test_an_unrecoverable_range_in_quality_explains_the_ids_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    why = "history limit: the venue serves 1000 trades back"
    restart = L.quality("binance", "BTC-USDT", "trades", L.D0 + 11 * L.HOUR + 5 * MINUTE,
                        gaps=[(1600, 1659)], backfilled=30, holes=[(1630, 1659, why)])  # fmt: skip
    root = await complete_lake(tmp_path, [restart])
    for path in L.objects(root, "trades", DAY, 10):
        path.unlink()
    code, out = audit(root, capsys, "--exchange", "binance")
    assert code == 1
    assert "binance BTC-USDT trade ids 1600-1629 (30): unexplained" in out
    assert f"binance BTC-USDT trade ids 1630-1659 (30): unrecoverable: {why}" in out
    assert f"binance BTC-USDT trades 1630-1659 ({why}), reported 2025-11-24 11:05" in out
    assert "ETH-USD" not in out  # --exchange binance
    code, doc = audit_json(root, capsys, "--exchange", "binance")
    trades = symbol(doc, "binance", "BTC-USDT")["trades"]
    assert (trades["missing"], trades["explained"], trades["unexplained"]) == (60, 30, 30)
    quality = symbol(doc, "binance", "BTC-USDT")["quality"]["trades"]
    assert (quality["gaps_detected"], quality["gap_span"], quality["backfilled"]) == (1, 60, 30)
    (hole,) = doc["holes"]
    assert hole["status"] == "explains" and not hole["unrecovered"]
    assert doc["totals"]["unrecovered_holes"] == 1  # the one range; the hole explains it


async def test_ids_lost_across_midnight_count_on_the_day_after_the_last_one_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = await complete_lake(tmp_path)
    for path in L.objects(root, "trades", DAY, 0):
        path.unlink()
    code, doc = audit_json(root, capsys)
    trades = symbol(doc, "binance", "BTC-USDT")["trades"]
    assert code == 1 and (trades["first_id"], trades["last_id_before"]) == (1060, 999)
    assert [(r["first"], r["last"]) for r in trades["missing_ranges"]] == [(1000, 1059)]


async def test_a_symbol_without_a_trade_all_day_misses_the_ids_between_the_days_around(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [r for r in BTC.rows() if r[1] < L.D0 or r[1] >= L.D0 + L.DAY_MS]  # trades only
    root = await L.write(tmp_path, [r for r in rows if type(r[0]).__name__ == "Trade"])
    code, doc = audit_json(root, capsys)
    trades = symbol(doc, "binance", "BTC-USDT")["trades"]
    assert code == 1 and trades["first_id"] is None and trades["missing"] == 1440
    assert [(r["first"], r["last"]) for r in trades["missing_ranges"]] == [(1000, 2439)]


async def test_a_missing_candle_fails_and_a_quality_hole_for_it_gives_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gappy = L.Symbol("binance", "SOL-USDT", 7000, skip_candles={605, 606, 900})
    ten_five = L.D0 + 605 * MINUTE
    hole = L.quality("binance", "SOL-USDT", "ohlcv", ten_five, holes=[(ten_five, ten_five, "gone")])
    root = await L.write(tmp_path, [*gappy.rows(), hole])
    code, out = audit(root, capsys)
    assert code == 1 and "2 missing candles" not in out and "3 missing candles" in out
    assert (
        "SOL-USDT 1m candles 2025-11-24 10:05 to 2025-11-24 10:05 (1): unrecoverable: gone" in out
    )
    assert "SOL-USDT 1m candles 2025-11-24 10:06 to 2025-11-24 10:06 (1): unexplained" in out
    assert "SOL-USDT 1m candles 2025-11-24 15:00 to 2025-11-24 15:00 (1): unexplained" in out
    code, doc = audit_json(root, capsys)
    candles = symbol(doc, "binance", "SOL-USDT")["candles"]
    assert (candles["candles"], candles["missing"], candles["ranges"]) == (1437, 3, 2)
    assert (candles["explained"], candles["unexplained"]) == (1, 2)
    assert doc["totals"]["unrecovered_holes"] == 2


async def test_candles_only_part_of_the_day_count_the_span_and_the_coverage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [L.candle("okx", "BTC-USDT", L.D0 + m * 5 * MINUTE, 5 * MINUTE) for m in range(12, 48)]
    rows += [L.candle("okx", "BTC-USDT", L.D0 + m * MINUTE) for m in range(600, 660)]
    root = await L.write(tmp_path, rows)
    code, doc = audit_json(root, capsys)
    candles = symbol(doc, "okx", "BTC-USDT")["candles"]
    assert code == 0  # what was collected is whole: the hours before and after are coverage
    assert (candles["interval"], candles["candles"], candles["expected_day"]) == ("1m", 60, 1440)
    assert (candles["first_open"], candles["missing"]) == ("2025-11-24T10:00:00Z", 0)


async def test_symbols_come_worst_first_and_venues_show_their_disconnected_hours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = L.Symbol("binance", "AAA-USDT", 100)
    b = L.Symbol("binance", "BBB-USDT", 10_000)
    c = L.Symbol("binance", "CCC-USDT", 20_000)
    d = L.Symbol("binance", "DDD-USDT", 30_000)
    rows = a.rows() + b.rows() + d.rows()
    rows += [
        r for r in c.rows() if not (type(r[0]).__name__ == "Trade" and r[0].trade_id == "20500")
    ]
    why = "delisted"
    rows += [
        L.quality("binance", "BBB-USDT", "trades", L.D0 + MINUTE, holes=[(10_600, 10_609, why)]),
        L.quality("binance", "DDD-USDT", "order_books", L.D0 + 5 * MINUTE, resyncs=(2, 1, 1)),
        L.quality("binance", "CCC-USDT", "order_books", L.D0 + 5 * MINUTE, resyncs=(0, 1, 0)),
    ]
    rows += L.connection("binance", down={3: 20_000, 4: 45_500}, silent=2)
    root = await L.write(tmp_path, rows)
    drop = {(10_600, 10_609), (100 + 300, 100 + 349)}  # B: 10 explained; A: 50 unexplained
    for path in L.objects(root, "trades", DAY, 5) + L.objects(root, "trades", DAY, 10):
        keep = [
            line
            for line in gzip.decompress(path.read_bytes()).splitlines()
            if not any(a <= int(json.loads(line)["trade_id"]) <= b for a, b in drop)
        ]
        path.write_bytes(gzip.compress(b"\n".join(keep) + b"\n"))
    code, doc = audit_json(root, capsys)
    assert code == 1
    order = [(s["symbol"], s["trades"]["missing"], s["trades"]["unexplained"], s["resyncs"])
             for s in doc["symbols"]]  # fmt: skip
    assert order == [("AAA-USDT", 50, 50, 0), ("BBB-USDT", 10, 0, 0), ("CCC-USDT", 1, 1, 1),
                     ("DDD-USDT", 0, 0, 4)]  # fmt: skip
    assert symbol(doc, "binance", "CCC-USDT")["checksum_failures"] == 1
    (venue,) = doc["venues"]
    assert venue["disconnected_by_hour"] == [{"hour": 3, "ms": 20_000}, {"hour": 4, "ms": 45_500}]
    assert (venue["disconnected_ms"], venue["silent_subscriptions"]) == (65_500, 2)
    _, out = audit(root, capsys)
    assert "03h 20 s, 04h 46 s" in out
    lines = out.splitlines()
    rows_at = [i for s in ("AAA-USDT", "BBB-USDT", "CCC-USDT", "DDD-USDT")
               for i, line in enumerate(lines) if line.startswith(f"binance   {s}")]  # fmt: skip
    assert rows_at == sorted(rows_at) and len(rows_at) == 4


async def test_venues_whose_ids_are_not_integers_are_not_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        L.trade("kraken", "BTC-USD", f"T{i:04d}-X", L.D0 + i * MINUTE) for i in range(0, 600, 7)
    ]
    root = await L.write(tmp_path, rows)
    code, doc = audit_json(root, capsys)
    trades = symbol(doc, "kraken", "BTC-USD")["trades"]
    assert code == 0 and trades["not_integer"] == 86 and trades["first_id"] is None
    _, out = audit(root, capsys)
    assert "ids not integers" in out


async def test_a_hole_the_lake_holds_is_recovered_and_one_it_cannot_check_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at = L.D0 + L.HOUR + 5 * MINUTE  # not a minute of the hourly rows (one row per minute)
    held = L.quality("binance", "BTC-USDT", "trades", at, holes=[(1100, 1110, "limit")])
    other = L.quality("binance", "BTC-USDT", "book_updates", at, holes=[(5, 9, "reset")])
    root = await complete_lake(tmp_path, [held])
    code, doc = audit_json(root, capsys)
    assert code == 0 and [h["status"] for h in doc["holes"]] == ["recovered"]
    root2 = await complete_lake(tmp_path / "second", [held, other])
    code, doc = audit_json(root2, capsys)
    assert code == 1 and doc["totals"]["unrecovered_holes"] == 1
    assert {(h["stream"], h["status"]) for h in doc["holes"]} == {
        ("trades", "recovered"), ("book_updates", "unchecked")}  # fmt: skip


async def test_a_day_without_rows_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = await complete_lake(tmp_path)
    code = main(["audit", "--day", "2025-12-24", "--lake", str(root)])
    assert code == 1 and "UNRECOVERED: no rows on 2025-12-24" in capsys.readouterr().out


async def test_only_the_partitions_of_the_day_and_the_days_either_side_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    early = L.trade("binance", "BTC-USDT", "1600", L.D0 + 600 * MINUTE + 1000)
    root = await complete_lake(tmp_path, [(early[0], L.D0 - 3 * L.DAY_MS)])  # arrived 3 days early
    for path in L.objects(root, "trades", DAY, 10):
        path.unlink()
    code, doc = audit_json(root, capsys)
    trades = symbol(doc, "binance", "BTC-USDT")["trades"]
    assert code == 1 and [(r["first"], r["last"]) for r in trades["missing_ranges"]] == [
        (1600, 1659)
    ]


async def test_a_compacted_day_audits_as_its_raw_objects_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    why = "history limit"
    at = L.D0 + 11 * L.HOUR + 5 * MINUTE
    hole = L.quality("binance", "BTC-USDT", "trades", at, holes=[(1650, 1659, why)])
    gappy = L.Symbol("okx", "ETH-USDT", 3000, skip_candles={100})
    root = await complete_lake(
        tmp_path, [hole, hole], gappy.rows(), L.connection("okx", down={7: 9})
    )
    for path in L.objects(root, "trades", DAY, 10):
        path.unlink()
    lakes.deliver_twice(root)
    raw_code, raw = audit_json(root, capsys)
    for day in ("2025-11-23", "2025-11-24"):
        assert main(["compact", "--lake", str(root), "--day", day]) == 0
    capsys.readouterr()
    assert (root / "crypto/compacted/quality/year=2025/month=11/day=24").is_dir()
    code, compacted = audit_json(root, capsys)
    assert (code, compacted) == (raw_code, raw) == (1, raw)
    assert (
        raw["totals"]["missing_trades"] == 180 and raw["totals"]["missing_candles"] == 1
    )  # 3 symbols


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lake", "/nonexistent"], "--lake: /nonexistent is not a directory"),
        (["--engine", "athena", "--lake", "x"], "--lake: is for the DuckDB engine"),
        (["--engine", "athena"], "STREAMER_ATHENA_WORKGROUP: no Athena workgroup is set"),
        (["--exchange", "nasdaq"], "--exchange: no exchange 'nasdaq'. Use binance"),
        (["--day", "2025-13-01"], "--day: '2025-13-01' is not a day"),
    ],
)
def test_usage_and_configuration_errors_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("STREAMER_ATHENA_WORKGROUP", raising=False)
    assert main(["audit", "--day", "2025-11-24", *args]) == 2
    assert message in capsys.readouterr().err


async def test_metrics_are_one_emf_event_with_missing_trades_and_unrecovered_holes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMER_LOG_FORMAT", "json")
    root = await complete_lake(tmp_path)
    for path in L.objects(root, "trades", DAY, 10) + L.objects(root, "ohlcv", DAY, 10):
        path.unlink()
    assert main(["audit", "--day", "yesterday", "--lake", str(root), "--metrics"]) == 1  # no rows
    assert main(["audit", "--day", DAY.isoformat(), "--lake", str(root), "--metrics"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    events = [e for e in lines if "_aws" in e]
    assert len(events) == 2  # one per run
    event = events[-1]
    assert (event["Service"], event["MissingTrades"], event["UnrecoveredHoles"]) == (
        "streamer-audit", 120, 4)  # fmt: skip
    (directive,) = event["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["Service"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "MissingTrades": "Count", "UnrecoveredHoles": "Count"}  # fmt: skip
