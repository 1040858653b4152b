"""The same rows in a JSON lake and an Iceberg lake give the same answers, before and after the
Iceberg lake's compaction: every table row for row (decimals, timestamps, books, partitions),
and every named query of `sql/` and every query `streamer demo` prints with the same columns,
row count and keys (their leading text columns: a query that picks the newest of rows with equal
`event_time`, or sums doubles, may differ in the last digit or the pick between the two lakes,
as between two runs on one). The rows are those the real pipeline wrote from the simulator,
written again through the Iceberg lake sink with the arrival hours of their JSON objects."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections import defaultdict
from datetime import UTC, datetime
from itertools import takewhile
from pathlib import Path
from typing import Any

import pytest

from streamer import query
from streamer.compaction.iceberg import RETAIN_SECONDS, maintain
from streamer.demo import EXAMPLES
from streamer.lake_files import raw_location
from streamer.records import Millis
from streamer.sample_lake import write_sample_lake
from streamer.schema import DATASETS
from streamer.settings import LakeSettings
from streamer.sinks.lake import LakeSink
from tests.conftest import REPO

SQL = [(p.stem, p.read_text()) for p in sorted((REPO / "sql").glob("*.sql"))]
QUERIES = [
    *SQL,
    *EXAMPLES,
    *((d.table, f"SELECT * FROM {d.table}") for d in DATASETS.values()),
]


def _enough(lake: Path) -> bool:
    if not any(lake.rglob("*.gz")):
        return False
    counts = query.table_counts(lake)
    wanted = ("crypto_trades", "crypto_ohlcv", "crypto_order_books", "crypto_markets",
              "crypto_derivative_tickers")  # fmt: skip
    return all(counts[t] > 0 for t in wanted)


async def _replay(json_lake: Path, ice_lake: Path) -> int:
    """Every JSON object's rows into the Iceberg lake, each dataset-hour in two commits."""
    sink = LakeSink(LakeSettings(root=ice_lake, buffer_seconds=3600, format="iceberg"))
    await sink.start()
    written = 0
    for dataset in DATASETS.values():
        hours: dict[str, list[bytes]] = defaultdict(list)
        for path in sorted(raw_location(json_lake, dataset).rglob("*.gz")):
            key = "/".join(p.split("=")[1] for p in path.parent.relative_to(json_lake).parts[-4:])
            hours[key] += gzip.decompress(path.read_bytes()).splitlines(keepends=True)
        for key, lines in hours.items():
            start = datetime.strptime(key, "%Y/%m/%d/%H").replace(tzinfo=UTC)
            arrival = Millis(int(start.timestamp() * 1000))
            half = len(lines) // 2 or len(lines)
            for chunk in (lines[:half], lines[half:]):
                if chunk:
                    sink.add_many(dataset, chunk, arrival)
                    await sink.aclose()  # one commit now
                    written += len(chunk)
    return written


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    json_lake = tmp_path_factory.mktemp("same-json")
    ice_lake = tmp_path_factory.mktemp("same-iceberg")

    async def fill() -> None:
        await write_sample_lake(json_lake, 90, seed=7, until=lambda: _enough(json_lake))
        await _replay(json_lake, ice_lake)

    asyncio.run(fill())
    return json_lake, ice_lake


def canonical(rows: list[tuple[Any, ...]]) -> list[str]:
    return sorted(repr(r) for r in rows)


TABLES = {d.table for d in DATASETS.values()}


def keys(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A result row's leading text columns (exchange, symbol, coin...): what it is about."""
    return tuple(takewhile(lambda v: isinstance(v, str), row))


def answers(lake: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Each query's columns and rows: whole rows of the tables, keys and count of the others."""
    out = {}
    for title, sql in QUERIES:
        names, rows = query.run(lake, sql)
        kept = rows if title in TABLES else [keys(r) for r in rows]
        out[title] = (names, canonical(kept))
    return out


def test_the_iceberg_lake_answers_every_query_as_the_json_lake_does(
    lakes: tuple[Path, Path],
) -> None:
    json_lake, ice_lake = lakes
    assert not list(ice_lake.glob("crypto/tabular/**/*.gz"))
    expected = answers(json_lake)
    assert sum(1 for names, rows in expected.values() if rows) >= len(QUERIES) // 2
    got = answers(ice_lake)
    for title, _ in QUERIES:
        assert got[title] == expected[title], title
    # compaction rewrites each day's files and deletes the old ones: the answers stay
    done = maintain(ice_lake, now=time.time() + RETAIN_SECONDS + 1)
    assert done.rewrites and done.files_deleted
    after = answers(ice_lake)
    for title, _ in QUERIES:
        assert after[title] == expected[title], title
