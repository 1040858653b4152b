"""The local lake on disk, for every reader: where it is (`lake_root`) and how DuckDB reads its
raw objects (`raw_source`). `streamer query`, `compact`, `report` and `streamer.analytics`
all find the lake here, so a wrong path gets the same error everywhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from streamer.errors import ConfigError
from streamer.schema import DATASETS, PARTITION_KEYS, Dataset

RAW_GLOB = "year=*/month=*/day=*/hour=*/*.gz"
ICEBERG_FOLDER = "iceberg"
ICEBERG_CATALOG = "catalog.db"
"""An Iceberg lake (`iceberg_tables.py`) keeps its SQLite catalog at `<root>/iceberg/catalog.db`."""


def is_iceberg_lake(root: Path) -> bool:
    """True when `root` holds an Iceberg catalog (a lake written with the iceberg format)."""
    return (root / ICEBERG_FOLDER / ICEBERG_CATALOG).is_file()


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def hive_types(keys: Sequence[str]) -> str:
    return "{" + ", ".join(f"{sql_text(k)}: 'VARCHAR'" for k in keys) + "}"


def files_sql(paths: Sequence[Path]) -> str:
    return "[" + ", ".join(sql_text(str(p)) for p in paths) + "]"


def raw_location(root: Path, dataset: Dataset) -> Path:
    return root / dataset.prefix_template.split("year=")[0]


def raw_source(dataset: Dataset, files: str | Sequence[Path], strict: bool = False) -> str:
    """`read_json` of raw objects (a glob or a list of files) with the schema's types and the
    hive partitions. `strict` fails on any unreadable line instead of skipping it."""
    columns = ", ".join(f"{sql_text(c.name)}: {sql_text(c.duckdb_type)}" for c in dataset.columns)
    where = sql_text(files) if isinstance(files, str) else files_sql(files)
    lenient = "" if strict else ", ignore_errors=true"
    return (
        f"read_json({where}, format='newline_delimited', columns={{{columns}}}, "
        f"hive_partitioning=true, hive_types={hive_types(PARTITION_KEYS)}{lenient})"
    )


def lake_root(given: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The lake to read: `given` (a `--lake` argument), else `STREAMER_LAKE_DIR` (settings);
    `ConfigError` naming whichever it came from when it is not a directory."""
    if given is None:
        from streamer.settings import load  # settings read only when no path is given

        root, name = load(env).lake.root, "STREAMER_LAKE_DIR"
    else:
        root, name = given, "--lake"
    check_lake(root, name)
    return root


def raw_root(root: Path) -> Path:
    """The folder every dataset's raw objects live under (`<root>/crypto/tabular`)."""
    (common,) = {raw_location(root, d).parent for d in DATASETS.values()}
    return common


def check_lake(root: Path, name: str = "--lake") -> None:
    """`ConfigError` naming `name` when `root` is not a lake: not a directory, or one without
    the raw objects' folder (`crypto/tabular`) or an Iceberg catalog, one of which anything
    that wrote to it creates."""
    fix = "Point it at a folder `streamer run` or `make demo` wrote, e.g. demo-lake."
    if not root.is_dir():
        raise ConfigError(name, f"{root} is not a directory", fix)
    mark = raw_root(root)
    if not mark.is_dir() and not is_iceberg_lake(root):
        missing = mark.relative_to(root).as_posix()
        raise ConfigError(name, f"{root} is not a lake (it has no {missing} folder)", fix)
