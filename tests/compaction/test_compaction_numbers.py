"""A raw day that an older version wrote with numbers `decimal(38,18)` cannot hold still compacts,
on both engines: those rows go to the rejects dataset with their reason, every other row is
compacted, and running the day again adds no second copy of the rejects."""

from __future__ import annotations

import gzip
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from streamer import query
from streamer.compaction.run import compact_day
from streamer.records import Dec, Item, Millis, Trade, book_snapshot
from streamer.schema import DATASETS
from tests import lakes
from tests.athena_fake import FakeAthena
from tests.compaction.test_compaction_athena import (  # noqa: F401  (fixtures)
    compactor,
    fake,
    keys,
    moto_url,
    parquet_rows,
    s3,
)
from tests.compaction.test_compaction_local import compact, compacted_rows, trades

DAY = date(2025, 11, 24)
TRADES, BOOKS = DATASETS["trades"], DATASETS["order_books"]
T0 = lakes.T0
# What an older version let through, written out as it wrote them: the text as sent.
UNFIT = {
    "bad-40-digits": ("1" * 40, "1"),
    "bad-1e300": ("1", "1" + "0" * 300),
    "bad-huge": ("9" * 1_000_000, "1"),
}
ROUNDED = ("bad-40-decimals", "0." + "1" * 40)  # casts (rounded to 18 places): kept


def old_day() -> list[tuple[Item, int]]:
    rows = trades(200)
    for i, (record_id, (price, size)) in enumerate(UNFIT.items()):
        trade = Trade("binance", "BTC-USDT", Millis(T0), Millis(T0 + i), str(10_000 + i),
                      Dec(price), Dec(size), "buy", record_id)  # fmt: skip
        rows.append((trade, T0 + i))
    rounded = Trade("binance", "BTC-USDT", Millis(T0), Millis(T0), "20000", Dec(ROUNDED[1]),
                    Dec("1"), "buy", ROUNDED[0])  # fmt: skip
    good = ((Dec("100.5"), Dec("1")),)
    bad = ((Dec("100.5"), Dec("1")), (Dec("1" * 30), Dec("2")))
    books = [
        book_snapshot("binance", "BTC-USDT", Millis(T0), Millis(T0), 2, good, bad, 1, "book-bad"),
        book_snapshot("binance", "BTC-USDT", Millis(T0), Millis(T0), 2, good, good, 2, "book-ok"),
    ]
    return [*rows, (rounded, T0), *((b, T0) for b in books)]


def reject_lines(objects: dict[str, bytes]) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for key, body in sorted(objects.items())
        if key.startswith("crypto/rejects/")
        for line in gzip.decompress(body).splitlines()
    ]


def check_rejects(lines: list[dict[str, Any]]) -> None:
    by_raw = {line["raw"]: line for line in lines}
    assert sorted(by_raw) == sorted(f"record_id {r}" for r in [*UNFIT, "book-bad"])
    assert len(lines) == len(by_raw)  # one per row, however often it was delivered
    assert by_raw["record_id bad-40-digits"]["source"] == "compaction:trades"
    assert (
        "compaction of trades: price did not read as decimal(38,18)"
        in (by_raw["record_id bad-40-digits"]["reason"])
    )
    assert "size did not read" in by_raw["record_id bad-1e300"]["reason"]
    assert by_raw["record_id book-bad"]["source"] == "compaction:order_books"
    assert "compaction of order_books: asks did not read" in by_raw["record_id book-bad"]["reason"]


def local_objects(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("crypto/rejects/**/*.gz")}


async def test_the_duckdb_engine_compacts_the_day_and_rejects_the_rows_it_cannot_cast(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await lakes.write(tmp_path, old_day())
    lakes.deliver_twice(tmp_path)
    for _ in range(2):  # a second run replaces the rejects, it adds none
        assert compact(tmp_path, "--day", DAY.isoformat()) == 0
        out = capsys.readouterr().out
        assert "trades 2025-11-24:" in out and "-> 201 rows" in out and "3 rows to rejects" in out
        assert "order_books 2025-11-24:" in out and "1 rows to rejects" in out
        check_rejects(reject_lines(local_objects(tmp_path)))
        got = {r["record_id"]: r for r in compacted_rows(tmp_path, TRADES, DAY.isoformat())}
        assert len(got) == 201 and not set(UNFIT) & set(got)
        assert got[ROUNDED[0]]["price"] == Decimal("0." + "1" * 18)
        books = compacted_rows(tmp_path, BOOKS, DAY.isoformat())
        assert [b["record_id"] for b in books] == ["book-ok"]
    _, rows = query.run(tmp_path, "SELECT count(*) FROM crypto_rejects")
    assert rows == [(4,)]


async def test_the_athena_engine_compacts_the_day_and_rejects_the_rows_it_cannot_cast(
    tmp_path: Path,
    s3: Any,  # noqa: F811
    fake: tuple[FakeAthena, str],  # noqa: F811
) -> None:
    _, url = fake
    await lakes.write(tmp_path, old_day(), seconds=600)
    lakes.deliver_twice(tmp_path)
    for path in sorted((tmp_path / "crypto").rglob("*.gz")):
        s3.put_object(Bucket=s3.bucket, Key=str(path.relative_to(tmp_path)), Body=path.read_bytes())
    for _ in range(2):
        report = compact_day(compactor(s3, url, []), [TRADES, BOOKS], DAY)
        assert not report.failures, report.failures
        trades_outcome, books_outcome = report.outcomes
        assert trades_outcome.manifest is not None and trades_outcome.manifest.rows == 201
        assert (trades_outcome.rejected, books_outcome.rejected) == (3, 1)
        objects = {k: s3.get_object(Bucket=s3.bucket, Key=k)["Body"].read()
                   for k in keys(s3, "crypto/rejects/")}  # fmt: skip
        check_rejects(reject_lines(objects))
        got = {r["record_id"] for r in parquet_rows(s3, "crypto/compacted/trades/")}
        assert len(got) == 201 and not set(UNFIT) & got
        books = parquet_rows(s3, "crypto/compacted/order_books/")
        assert [b["record_id"] for b in books] == ["book-ok"]
