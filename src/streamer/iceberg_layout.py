"""The Apache Iceberg layout of every dataset, derived from `schema.py` (pure).

One definition serves the three places that must agree exactly: the Iceberg tables Terraform
creates in the Glue catalog (through `infra/terraform/schema.json`), the records the Firehose
sink sends to an Iceberg destination (top-level columns matching the table, or the record goes
to the error prefix), and the local lake's Iceberg tables (`STREAMER_LAKE_FORMAT=iceberg`).

* Columns: the dataset's columns in order, then `year`, `month`, `day`, `hour`, the arrival
  hour (UTC, zero-padded strings) exactly as the JSON path's partitions. They are real columns
  here, so every query written for the JSON lake (`WHERE year = '2025' AND month = '11' AND
  day = '24'`) runs unchanged and prunes by the partition spec.
* Partitions: identity on `year`, `month` and `day`: a day per partition, as daily compaction
  makes them on the JSON path. Not bucketed: Firehose writes one file per buffer flush per
  partition, so N buckets would write N times as many small files between two compactions.
* Sort order: `exchange`, `symbol`, `event_time` (where the dataset has them). Compaction
  (the Glue optimizer's `sort` strategy on AWS, `iceberg_compaction` locally) rewrites a day in
  this order, so a file's min/max statistics cover few symbols and a one-symbol, one-hour
  query skips the rest.
* Timestamps are microseconds (Iceberg's `timestamp`, no zone; Firehose wants µs values),
  decimals `decimal(38,18)`, book levels `list<struct<price, size>>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamer.schema import DATASETS, DECIMAL, PARTITION_KEYS, Dataset

FORMAT_VERSION = 2
PARTITION_COLUMNS: tuple[str, ...] = ("year", "month", "day")
"""Identity partitions, coarsest first (see the module's docstring)."""
SORT_COLUMNS: tuple[str, ...] = ("exchange", "symbol", "event_time")
TARGET_FILE_BYTES = 128 * 2**20
"""`write.target-file-size-bytes` of the tables: what compaction aims for. Iceberg's default is
512 MiB; a day of one dataset of the default deployment is far smaller, and smaller targets
keep more row groups skippable by file-level statistics for engines that prune by file."""


@dataclass(frozen=True, slots=True)
class IcebergColumn:
    """A top-level column: its Iceberg field id (1-based, in table order), name, Glue/Hive type
    (how the Glue catalog and Athena spell it) and whether a value is required."""

    field_id: int
    name: str
    glue_type: str
    required: bool


@dataclass(frozen=True, slots=True)
class IcebergTable:
    dataset: str
    table: str
    columns: tuple[IcebergColumn, ...]
    partition_columns: tuple[str, ...]
    sort_columns: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def timestamp_columns(self) -> tuple[str, ...]:
        """The columns whose values go to Firehose as epoch microseconds."""
        return tuple(c.name for c in self.columns if c.glue_type == "timestamp")


def iceberg_table(dataset: Dataset) -> IcebergTable:
    """The Iceberg table of `dataset`: named `crypto_<dataset>`, as users query it."""
    cols = [(c.name, c.glue_type, not c.nullable) for c in dataset.columns]
    cols += [(k, "string", True) for k in PARTITION_KEYS]
    columns = tuple(IcebergColumn(i, n, t, r) for i, (n, t, r) in enumerate(cols, start=1))
    names = {c.name for c in columns}
    return IcebergTable(
        dataset=dataset.name,
        table=dataset.table,
        columns=columns,
        partition_columns=PARTITION_COLUMNS,
        sort_columns=tuple(c for c in SORT_COLUMNS if c in names),
    )


ICEBERG_TABLES: dict[str, IcebergTable] = {d.name: iceberg_table(d) for d in DATASETS.values()}


def iceberg_export() -> dict[str, object]:
    """The Iceberg part of `infra/terraform/schema.json`."""
    return {
        "format_version": FORMAT_VERSION,
        "target_file_bytes": TARGET_FILE_BYTES,
        "decimal": DECIMAL,
        "tables": {
            t.table: {
                "dataset": t.dataset,
                "columns": [
                    {"name": c.name, "type": c.glue_type, "required": c.required} for c in t.columns
                ],
                "partition_columns": list(t.partition_columns),
                "sort_columns": list(t.sort_columns),
            }
            for t in ICEBERG_TABLES.values()
        },
    }
