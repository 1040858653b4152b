"""DuckDB over the local lake, with views named exactly like the Glue tables.

`crypto_tickers`, `crypto_ohlcv`, ... read the gzip NDJSON objects of each dataset with the
column types generated from `schema.py`, plus the partition columns `year`, `month`, `day`,
`hour` (strings, as in Glue). `crypto_rejects` shows what was kept aside and why.

DuckDB's JSON reader parses numbers as binary doubles, and casting a double to DECIMAL
exposes its binary expansion (86704.77 becomes 86704.770000000003342336). The views therefore
read decimal columns as text (the double's shortest representation) and cast that text, which
is exact for values of up to 15 significant digits. The lake files themselves keep the venue's
full text; Athena reads them exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from streamer.schema import DATASETS, DECIMAL, PARTITION_KEYS, REJECTS, Column, Dataset


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_AS_TEXT = {
    DECIMAL: "VARCHAR",
    f"array<struct<price:{DECIMAL},size:{DECIMAL}>>": "STRUCT(price VARCHAR, size VARCHAR)[]",
}


def _read_type(column: Column) -> str:
    return _AS_TEXT.get(column.glue_type, column.duckdb_type)


def _select(column: Column) -> str:
    name = column.name
    if column.glue_type == DECIMAL:
        return f"CAST({name} AS DECIMAL(38,18)) AS {name}"
    if column.glue_type in _AS_TEXT:
        return (
            f"list_transform({name}, lambda x: {{'price': CAST(x.price AS DECIMAL(38,18)), "
            f"'size': CAST(x.size AS DECIMAL(38,18))}}) AS {name}"
        )
    return name


def _view_sql(dataset: Dataset, root: Path) -> str:
    folder = root / dataset.prefix_template.split("year=")[0]
    pattern = folder / "year=*" / "month=*" / "day=*" / "hour=*" / "*.gz"
    if not any(folder.glob("year=*/month=*/day=*/hour=*/*.gz")):
        empty = ", ".join(
            [f"CAST(NULL AS {c.duckdb_type}) AS {c.name}" for c in dataset.columns]
            + [f"CAST(NULL AS VARCHAR) AS {k}" for k in PARTITION_KEYS]
        )
        return f"CREATE OR REPLACE VIEW {dataset.table} AS SELECT {empty} WHERE false"
    columns = ", ".join(f"{_sql_text(c.name)}: {_sql_text(_read_type(c))}" for c in dataset.columns)
    hive_types = ", ".join(f"{_sql_text(k)}: 'VARCHAR'" for k in PARTITION_KEYS)
    select = [_select(c) for c in dataset.columns] + list(PARTITION_KEYS)
    return (
        f"CREATE OR REPLACE VIEW {dataset.table} AS SELECT {', '.join(select)} FROM read_json("
        f"{_sql_text(str(pattern))}, format='newline_delimited', columns={{{columns}}}, "
        f"hive_partitioning=true, hive_types={{{hive_types}}}, ignore_errors=true)"
    )


def connect(root: Path, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per dataset (and `crypto_rejects`) over `root`."""
    con = duckdb.connect(database)
    con.execute("SET TimeZone = 'UTC'")
    for dataset in (*DATASETS.values(), REJECTS):
        con.execute(_view_sql(dataset, root))
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
