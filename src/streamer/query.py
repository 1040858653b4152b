"""DuckDB over the lake, with views named exactly like the Glue tables and Athena views.

For each compacted dataset (see `compaction/`) there are three views, as in Athena:

* `crypto_<dataset>_raw` reads the gzip NDJSON objects, with the column types generated from
  `schema.py` plus the partition columns `year`, `month`, `day`, `hour` (strings, as in Glue);
* `crypto_<dataset>_compacted` reads exactly the Parquet files the day manifests list;
* `crypto_<dataset>`, the name to query, is `compaction.sql.view_select`, the SQL of the
  Athena view: the compacted days from Parquet, every other day from raw, never both.

`crypto_rejects` shows what was kept aside and why.

An Iceberg lake (`STREAMER_LAKE_FORMAT=iceberg`, `iceberg_tables.py`) has the same names:
`crypto_<dataset>` reads the Parquet data files of each table's current snapshot, listed by
pyiceberg at `connect` (DuckDB's own `iceberg` extension is downloaded at run time, which an
offline machine cannot do), plus the JSON view above if the lake also holds JSON objects of
that dataset (a lake switched from json to iceberg). DuckDB (2.0 and later) reads the JSON
numbers of `decimal(38,18)` columns straight into DECIMAL, digit for digit, as Athena does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from streamer import iceberg_tables
from streamer.compaction import sql
from streamer.compaction.layout import COMPACTED_PARTITION_KEYS, compacted_table
from streamer.compaction.manifests import Manifest, read_all_local
from streamer.lake_files import (
    RAW_GLOB,
    files_sql,
    hive_types,
    is_iceberg_lake,
    raw_location,
    raw_source,
)
from streamer.schema import DATASETS, PARTITION_KEYS, REJECTS, Dataset

__all__ = ["RAW_GLOB", "raw_location", "raw_source", "run", "table_counts"]


def _empty_view(name: str, dataset: Dataset, names: Iterable[str]) -> str:
    """A view of no rows with the columns' types (partitions and `hour` are strings)."""
    types = {c.name: c.duckdb_type for c in dataset.columns}
    nulls = ", ".join(f"CAST(NULL AS {types.get(n, 'VARCHAR')}) AS {sql.quote(n)}" for n in names)
    return f"CREATE OR REPLACE VIEW {name} AS SELECT {nulls} WHERE false"


def _raw_view(dataset: Dataset, root: Path) -> str:
    name = sql.quote(dataset.glue_table)
    names = (*(c.name for c in dataset.columns), *PARTITION_KEYS)
    folder = raw_location(root, dataset)
    if not any(folder.glob(RAW_GLOB)):
        return _empty_view(name, dataset, names)
    select = ", ".join(sql.quote(n) for n in names)
    return (
        f"CREATE OR REPLACE VIEW {name} AS SELECT {select} "
        f"FROM {raw_source(dataset, str(folder / RAW_GLOB))}"
    )


def _compacted_view(dataset: Dataset, root: Path, manifests: Sequence[Manifest]) -> str:
    name = sql.quote(compacted_table(dataset))
    names = (*sql.compacted_columns(dataset), *COMPACTED_PARTITION_KEYS)
    files = [root / key for m in manifests for key in m.files]
    if not files:
        return _empty_view(name, dataset, names)
    select = ", ".join(sql.quote(n) for n in names)
    return (
        f"CREATE OR REPLACE VIEW {name} AS SELECT {select} FROM read_parquet({files_sql(files)}, "
        f"hive_partitioning=true, hive_types={hive_types(COMPACTED_PARTITION_KEYS)}, "
        "union_by_name=true)"
    )


def _views(dataset: Dataset, root: Path) -> list[str]:
    if not dataset.compacted:
        return [_raw_view(dataset, root)]
    manifests = read_all_local(root, dataset)
    days = [m.day for m in manifests]
    union = f"CREATE OR REPLACE VIEW {sql.quote(dataset.table)} AS {sql.view_select(dataset, days)}"
    return [_raw_view(dataset, root), _compacted_view(dataset, root, manifests), union]


def _iceberg_view(dataset: Dataset, root: Path, files: Sequence[str]) -> str:
    """`crypto_<dataset>` over the table's current Parquet files, and over the JSON lake's
    view of the dataset too when it has JSON objects or compacted days."""
    select = ", ".join(sql.quote(n) for n in sql.view_columns(dataset))
    parquet = f"read_parquet({files_sql([Path(f) for f in files])}, hive_partitioning=false)"
    body = f"SELECT {select} FROM {parquet}"
    days = [m.day for m in read_all_local(root, dataset)]
    if days or any(raw_location(root, dataset).glob(RAW_GLOB)):
        body += f"\nUNION ALL\n{sql.view_select(dataset, days)}"
    return f"CREATE OR REPLACE VIEW {sql.quote(dataset.table)} AS {body}"


def connect(root: Path, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the views of every dataset (and `crypto_rejects`) over `root`."""
    con = duckdb.connect(database)
    con.execute("SET TimeZone = 'UTC'")
    tables = iceberg_tables.current_files(root) if is_iceberg_lake(root) else {}
    for dataset in (*DATASETS.values(), REJECTS):
        for statement in _views(dataset, root):
            con.execute(statement)
        if tables.get(dataset.name):  # a table with no files yet leaves the JSON views
            con.execute(_iceberg_view(dataset, root, tables[dataset.name]))
    return con


def run(root: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one query over the lake; returns (column names, rows)."""
    with connect(root) as con:
        result = con.execute(sql)
        names = [d[0] for d in result.description or []]
        return names, result.fetchall()


def table_counts(root: Path) -> dict[str, int]:
    with connect(root) as con:
        return {
            d.table: int(con.execute(f"SELECT count(*) FROM {d.table}").fetchone()[0])  # type: ignore[index]
            for d in DATASETS.values()
        }


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, Decimal):  # DECIMAL(38,18) without its padding zeros
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def format_table(names: list[str], rows: Iterable[tuple[Any, ...]], limit: int = 1000) -> str:
    """A plain aligned text table (what `streamer query --format table` prints)."""
    cells = [[_cell(v) for v in row] for row in rows][:limit]
    widths = [len(n) for n in names]
    for row in cells:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
    line = "  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, rule, *body])
