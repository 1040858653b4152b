"""The local lake's Apache Iceberg tables (`STREAMER_LAKE_FORMAT=iceberg`): catalog, tables, rows.

Everything lives inside the lake folder, so the lake stays one folder to copy or delete:
`<lake>/iceberg/catalog.db` is a SQLite catalog (pyiceberg's SQL catalog), the tables'
metadata and Parquet data files are under `<lake>/iceberg/crypto.db/crypto_<dataset>/`.
Tables are created on first use from `iceberg_layout` (columns, identity partitions on the
arrival day, sort order), with properties that keep a long-running writer's metadata small:
old `metadata.json` versions are deleted after each commit, and manifests are merged
(`compaction/iceberg.py` expires snapshots and deletes unreferenced files).

Rows arrive as the lake's JSON lines; `rows_table` converts them to Arrow with DuckDB's
`read_json` and the schema's types (decimals digit for digit, timestamps in µs), adds the
arrival hour columns, sorts them in the table's sort order, and casts to the table's schema.
"""

from __future__ import annotations

import errno
import logging
import os
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from streamer.iceberg_layout import FORMAT_VERSION, ICEBERG_TABLES, TARGET_FILE_BYTES, IcebergTable
from streamer.lake_files import ICEBERG_CATALOG, ICEBERG_FOLDER, sql_text
from streamer.schema import DATASETS, Dataset
from streamer.storage import describe, fsync_dir, make_dirs

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.table import Table
    from pyiceberg.types import IcebergType

log = logging.getLogger(__name__)

FOLDER = ICEBERG_FOLDER
CATALOG_FILE = ICEBERG_CATALOG
NAMESPACE = "crypto"
TABLE_PROPERTIES = {
    "write.target-file-size-bytes": str(TARGET_FILE_BYTES),
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
    "commit.manifest-merge.enabled": "true",
    "write.parquet.compression-codec": "zstd",
    # Compaction replaces the files it read, never rows a filter matches, so an append that
    # commits meanwhile (its rows in new files) does not conflict with it: "serializable" would
    # fail every compaction that overlaps a flush.
    "write.delete.isolation-level": "snapshot",
}


class CommitError(OSError):
    """An Iceberg write that did not land (a commit the catalog refused after pyiceberg's own
    retries, a locked catalog database, a data file DuckDB could not read): the rows are kept
    and retried like a failed disk write, so it is an `OSError` to the lake sink."""


def catalog_path(root: Path) -> Path:
    return root / FOLDER / CATALOG_FILE


def open_catalog(root: Path, create: bool = True) -> SqlCatalog:
    """The lake's catalog, created (folder, SQLite file, namespace) on first use unless
    `create` is False (readers)."""
    from pyiceberg.catalog.sql import SqlCatalog

    folder = (root / FOLDER).absolute()
    if create:
        make_dirs(folder)
    catalog = SqlCatalog(
        "streamer",
        uri=f"sqlite:///{folder / CATALOG_FILE}",
        warehouse=folder.as_uri(),
        init_catalog_tables=str(create).lower(),
    )
    if create:
        catalog.create_namespace_if_not_exists(NAMESPACE)
    return catalog


def identifier(dataset: Dataset) -> str:
    return f"{NAMESPACE}.{dataset.table}"


def _split(text: str) -> list[str]:
    """Split at the commas not nested in `<>` or `()`."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "<("
        depth -= ch in ">)"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")


def iceberg_type(glue_type: str, ids: Iterator[int]) -> IcebergType:
    """The Iceberg type of a Glue/Hive type string; nested fields take ids from `ids`."""
    from pyiceberg import types as t

    simple: dict[str, IcebergType] = {
        "string": t.StringType(),
        "bigint": t.LongType(),
        "boolean": t.BooleanType(),
        "double": t.DoubleType(),
        "timestamp": t.TimestampType(),
    }
    if glue_type in simple:
        return simple[glue_type]
    if match := _DECIMAL.fullmatch(glue_type):
        return t.DecimalType(int(match[1]), int(match[2]))
    if glue_type.startswith("array<") and glue_type.endswith(">"):
        element_id = next(ids)
        element = iceberg_type(glue_type[6:-1], ids)
        return t.ListType(element_id, element, element_required=False)
    if glue_type.startswith("struct<") and glue_type.endswith(">"):
        fields = []
        for part in _split(glue_type[7:-1]):
            name, _, inner = part.partition(":")
            field_id = next(ids)
            fields.append(t.NestedField(field_id, name, iceberg_type(inner, ids), required=False))
        return t.StructType(*fields)
    raise ValueError(f"no Iceberg type for {glue_type!r}")


def iceberg_schema(layout: IcebergTable) -> object:
    """The pyiceberg `Schema` of a layout (top-level ids as in the layout, nested ids after)."""
    from itertools import count

    from pyiceberg.schema import Schema
    from pyiceberg.types import NestedField

    ids = count(len(layout.columns) + 1)
    fields = [
        NestedField(c.field_id, c.name, iceberg_type(c.glue_type, ids), required=c.required)
        for c in layout.columns
    ]
    return Schema(*fields)


def create_table(catalog: SqlCatalog, dataset: Dataset) -> Table:
    """Create `crypto.crypto_<dataset>` from its layout (partitions, sort order, properties)."""
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.table.sorting import NullOrder, SortDirection, SortField, SortOrder
    from pyiceberg.transforms import IdentityTransform

    layout = ICEBERG_TABLES[dataset.name]
    schema = iceberg_schema(layout)
    assert isinstance(schema, Schema)
    ids = {c.name: c.field_id for c in layout.columns}
    spec = PartitionSpec(
        *(
            PartitionField(ids[name], 1000 + i, IdentityTransform(), name)
            for i, name in enumerate(layout.partition_columns)
        )
    )
    order = SortOrder(
        *(
            SortField(ids[name], IdentityTransform(), SortDirection.ASC, NullOrder.NULLS_FIRST)
            for name in layout.sort_columns
        )
    )
    return catalog.create_table_if_not_exists(
        identifier(dataset),
        schema=schema,
        partition_spec=spec,
        sort_order=order,
        properties={**TABLE_PROPERTIES, "format-version": str(FORMAT_VERSION)},
    )


def load_table(catalog: SqlCatalog, dataset: Dataset) -> Table | None:
    """The dataset's table, or None when nothing was written to it yet."""
    from pyiceberg.exceptions import NoSuchTableError

    try:
        return catalog.load_table(identifier(dataset))
    except NoSuchTableError:
        return None


def data_files(table: Table) -> list[str]:
    """The Parquet files of the table's current snapshot, as local paths."""
    return [_local(task.file.file_path) for task in table.scan().plan_files()]


def current_files(root: Path) -> dict[str, list[str]]:
    """Every table's current data files, by dataset name (tables not created yet: absent)."""
    catalog = open_catalog(root, create=False)
    out = {}
    for name in ICEBERG_TABLES:
        table = load_table(catalog, DATASETS[name])
        if table is not None:
            out[name] = data_files(table)
    return out


def _local(location: str) -> str:
    return location.removeprefix("file://")


def select_sql(dataset: Dataset, source: str, order: bool = True) -> str:
    """SELECT the table's columns (dataset columns, then year/month/day/hour) from `source`,
    in the table's sort order."""
    layout = ICEBERG_TABLES[dataset.name]
    columns = ", ".join(f'"{n}"' for n in layout.names)
    by = ", ".join(f'"{n}" ASC NULLS FIRST' for n in layout.sort_columns)
    tail = f" ORDER BY {by}" if order and by else ""
    return f"SELECT {columns} FROM {source}{tail}"


def rows_table(dataset: Dataset, ndjson: Path, arrival: int) -> pa.Table:
    """The rows of a file of JSON lines as an Arrow table of the dataset's Iceberg schema, in
    its sort order, with the arrival hour (`arrival`, epoch ms) as year/month/day/hour."""
    import duckdb

    columns = ", ".join(f"{sql_text(c.name)}: {sql_text(c.duckdb_type)}" for c in dataset.columns)
    year, month, day, hour = (
        datetime.fromtimestamp(arrival / 1000, UTC).strftime("%Y %m %d %H").split()
    )
    source = (
        f"(SELECT *, {sql_text(year)} AS year, {sql_text(month)} AS month, "
        f"{sql_text(day)} AS day, {sql_text(hour)} AS hour FROM read_json("
        f"{sql_text(str(ndjson))}, format='newline_delimited', columns={{{columns}}}))"
    )
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        try:
            arrow = con.sql(select_sql(dataset, source)).to_arrow_table()
        except duckdb.Error as exc:  # unreadable scratch file, or a row the types refuse:
            # held and retried (and reported) like a failed write, never dropped
            raise CommitError(errno.EIO, f"reading {ndjson}: {exc}") from exc
    return conform(arrow, table_arrow_schema(dataset))


def table_arrow_schema(dataset: Dataset) -> pa.Schema:
    from pyiceberg.io.pyarrow import schema_to_pyarrow
    from pyiceberg.schema import Schema

    schema = iceberg_schema(ICEBERG_TABLES[dataset.name])
    assert isinstance(schema, Schema)
    return schema_to_pyarrow(schema)


def conform(arrow: pa.Table, schema: pa.Schema) -> pa.Table:
    """`arrow` cast to the table's Arrow schema (field ids, nullability, list element names)."""
    import pyarrow as pa

    arrays = [arrow.column(f.name).cast(f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def append(table: Table, rows: pa.Table) -> None:
    """Append `rows` to `table` as one commit (pyiceberg retries a commit a concurrent writer
    beat, against the new head); `CommitError` when it did not land."""
    from pyiceberg.exceptions import CommitFailedException, ValidationException
    from sqlalchemy.exc import SQLAlchemyError

    try:
        table.append(rows)
    except (CommitFailedException, ValidationException, SQLAlchemyError) as exc:
        raise CommitError(errno.EAGAIN, f"commit to {table.name()} failed: {exc}") from exc
    try:
        sync_snapshot(table)
    except OSError as exc:  # committed: retrying would append the rows twice
        log.error("iceberg.fsync_failed table=%s error=%s (committed; a host crash may lose "
                  "it)", ".".join(table.name()), describe(exc))  # fmt: skip


def added_files(table: Table) -> list[Path]:
    """What the current snapshot added: its data files, manifests and manifest list, and the
    table's metadata file."""
    from pyiceberg.manifest import ManifestEntryStatus

    snapshot = table.current_snapshot()
    if snapshot is None:
        return []
    paths = [table.metadata_location, snapshot.manifest_list]
    for manifest in snapshot.manifests(table.io):
        if manifest.added_snapshot_id != snapshot.snapshot_id:
            continue
        paths.append(manifest.manifest_path)
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if entry.status == ManifestEntryStatus.ADDED:
                paths.append(entry.data_file.file_path)
    return [Path(_local(p)) for p in paths]


def sync_snapshot(table: Table) -> None:
    """fsync `added_files` and their folders, so a host crash after the lake sink deletes the
    rows' journal cannot lose them (pyiceberg does not fsync; the SQLite catalog does)."""
    paths = added_files(table)
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for folder in {p.parent for p in paths}:
        fsync_dir(folder)


def write_lines(
    catalog: SqlCatalog, dataset: Dataset, lines: Sequence[bytes], arrival: int, tmp: Path
) -> int:
    """Append JSON lines to the dataset's table (created if new) as one commit; `tmp` is a
    scratch file for DuckDB to read them from. Returns the rows appended."""
    try:
        tmp.write_bytes(b"".join(lines))
        rows = rows_table(dataset, tmp, arrival)
    finally:
        tmp.unlink(missing_ok=True)
    table = load_table(catalog, dataset) or create_table(catalog, dataset)
    append(table, rows)
    return int(rows.num_rows)
