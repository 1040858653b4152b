"""Local compaction of an Iceberg lake: a day's small files become one sorted file with the same
rows and answers, appends committed while it runs are kept, old snapshots and the files only
they referenced are deleted, and `streamer compact` does it on an Iceberg lake."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from streamer import iceberg_tables, query
from streamer.cli import main
from streamer.compaction import iceberg as compaction
from streamer.compaction.local import row_group_rows
from streamer.jsonline import encode
from streamer.schema import DATASETS
from tests.lakes import HOUR, T0, row

TRADES = DATASETS["trades"]
QUESTIONS = (
    "SELECT count(*), count(DISTINCT record_id) FROM crypto_trades",
    "SELECT exchange, symbol, hour, count(*), sum(price), max(event_time) FROM crypto_trades "
    "GROUP BY ALL ORDER BY ALL",
    "SELECT * FROM crypto_trades ORDER BY record_id",
)


class Lake:
    """An Iceberg lake written one small commit at a time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.catalog = iceberg_tables.open_catalog(root)
        self.next = 0
        self.lock = threading.Lock()

    def append(self, rows: int = 20, arrival: int = T0) -> None:
        with self.lock:
            first, self.next = self.next, self.next + rows
        lines = [encode(row(TRADES, i, T0)) for i in range(first, first + rows)]
        scratch = self.root / f"rows-{first}.ndjson"
        iceberg_tables.write_lines(self.catalog, TRADES, lines, arrival, scratch)

    def table(self) -> Any:
        found = iceberg_tables.load_table(self.catalog, TRADES)
        assert found is not None
        return found


def answers(root: Path) -> list[list[tuple[Any, ...]]]:
    return [query.run(root, sql)[1] for sql in QUESTIONS]


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lake = Lake(tmp_path)
    for i in range(6):  # two days' partitions, several hours each
        lake.append(arrival=T0 + i * 5 * HOUR)
    return lake


def test_a_days_small_files_become_one_sorted_file_with_the_same_answers(lake: Lake) -> None:
    before = answers(lake.root)
    assert len(iceberg_tables.current_files(lake.root)["trades"]) == 6
    done = compaction.compact_table(lake.table(), TRADES)
    assert sorted((r.partition, r.files_in) for r in done) == [
        (("2025", "11", "24"), 2),
        (("2025", "11", "25"), 4),
    ]
    files = iceberg_tables.current_files(lake.root)["trades"]
    assert len(files) == 2
    assert answers(lake.root) == before
    for path in files:
        rows = pq.read_table(path, columns=["exchange", "symbol", "event_time"]).to_pylist()
        keys = [(r["exchange"], r["symbol"], r["event_time"]) for r in rows]
        assert keys == sorted(keys)
        assert pq.ParquetFile(path).metadata.row_group(0).num_rows <= row_group_rows(TRADES)


def test_compacted_files_keep_dictionaries_for_repeating_values_only(lake: Lake) -> None:
    """Strings of the venue, prices, sizes and the hour columns are dictionary-encoded; times
    and ids are not (their dictionaries overflow and cost more than plain pages)."""
    compaction.compact_table(lake.table(), TRADES)
    path = iceberg_tables.current_files(lake.root)["trades"][0]
    meta = pq.ParquetFile(path).metadata
    group = meta.row_group(0)
    encodings = {
        group.column(i).path_in_schema: set(group.column(i).encodings)
        for i in range(meta.num_columns)
    }
    for name in ("exchange", "symbol", "side", "price", "size", "year", "hour"):
        assert "RLE_DICTIONARY" in encodings[name], name
    for name in ("event_time", "received_at", "trade_id", "record_id"):
        assert "RLE_DICTIONARY" not in encodings[name], name
    assert group.column(0).compression == "ZSTD"


def test_appends_committed_during_a_compaction_are_kept(lake: Lake) -> None:
    """Each commit attempt of the compaction is preceded by an append on another thread (as a
    flush of the running service), so every compaction commit races one: none is lost."""

    def append_meanwhile() -> None:
        writer = threading.Thread(target=lake.append)
        writer.start()
        writer.join()

    done = compaction.compact_table(lake.table(), TRADES, before=append_meanwhile)
    assert done, "the compaction landed despite the concurrent appends"
    count, distinct = query.run(lake.root, QUESTIONS[0])[1][0]
    assert count == distinct == lake.next  # every row appended, once
    assert lake.next > 6 * 20


def test_concurrent_appends_from_a_thread_lose_nothing(lake: Lake) -> None:
    writer = threading.Thread(target=lambda: [lake.append(rows=5) for _ in range(8)])
    writer.start()
    rounds = 0
    while writer.is_alive() or rounds == 0:
        compaction.compact_table(lake.table(), TRADES)
        rounds += 1
    writer.join()
    count, distinct = query.run(lake.root, QUESTIONS[0])[1][0]
    assert count == distinct == lake.next == 6 * 20 + 8 * 5


def test_expiry_deletes_old_snapshots_and_the_files_only_they_referenced(lake: Lake) -> None:
    before = answers(lake.root)
    compaction.compact_table(lake.table(), TRADES)
    data = sorted(lake.root.rglob("crypto_trades/data/**/*.parquet"))
    assert len(data) == 8  # 6 replaced, still referenced by older snapshots, and 2 new
    now = max(p.stat().st_mtime for p in data)
    assert compaction.expire(lake.table(), now) == (0, 0), "nothing is old enough yet"
    expired, deleted = compaction.expire(lake.table(), now + compaction.RETAIN_SECONDS + 1)
    assert expired >= 6 and deleted >= 6
    left = sorted(lake.root.rglob("crypto_trades/data/**/*.parquet"))
    assert [str(p) for p in left] == sorted(iceberg_tables.current_files(lake.root)["trades"])
    assert len(lake.table().metadata.snapshots) == 1
    assert answers(lake.root) == before


def test_streamer_compact_compacts_an_iceberg_lake(
    lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    before = answers(lake.root)
    assert main(["compact", "--day", "2025-11-25", "--lake", str(lake.root)]) == 0
    out = capsys.readouterr().out
    assert "crypto_trades 2025-11-25: 4 files -> 1 (80 rows)" in out
    assert "iceberg: 1 partitions rewritten" in out
    assert len(iceberg_tables.current_files(lake.root)["trades"]) == 3  # 2025-11-24 untouched
    assert answers(lake.root) == before
