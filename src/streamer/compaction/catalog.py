"""The Glue objects of compaction, exported into `infra/terraform/schema.json` (pure).

For each compacted dataset: a Parquet table `crypto_<dataset>_compacted` with partition
projection over year/month/day (ranges from `schema.PROJECTION_RANGES`), and the view
`crypto_<dataset>` in its first form (no day compacted yet: all raw). Terraform creates both;
`streamer compact --engine athena` replaces the view as days are compacted.
"""

from __future__ import annotations

import re
from typing import Any

from streamer.compaction import sql
from streamer.compaction.layout import (
    COMPACTED_PARTITION_KEYS,
    MANIFEST_ROOT,
    MAX_FILES_PER_DAY,
    RAW_TAG,
    compacted_location,
    compacted_table,
)
from streamer.schema import DATASETS, PARTITION_KEYS, Dataset, projection_parameters


def trino_type(glue_type: str) -> str:
    """A Glue (Hive) type in Trino's spelling, as an Athena view definition records it:
    `array<struct<price:decimal(38,18),...>>` -> `array(row(price decimal(38,18),...))`."""
    out = glue_type.replace("struct<", "row(").replace("array<", "array(").replace(">", ")")
    out = re.sub(r"(\w+):", r"\1 ", out)
    return re.sub(r"\bstring\b", "varchar", out)


def _column_types(dataset: Dataset) -> dict[str, str]:
    types = {c.name: c.glue_type for c in dataset.columns}
    types.update(dict.fromkeys(PARTITION_KEYS, "string"))
    return types


def compacted_columns(dataset: Dataset) -> list[dict[str, str]]:
    types = _column_types(dataset)
    return [{"name": name, "type": types[name]} for name in sql.compacted_columns(dataset)]


def view_columns(dataset: Dataset) -> list[dict[str, str]]:
    types = _column_types(dataset)
    return [
        {"name": name, "type": types[name], "trino": trino_type(types[name])}
        for name in sql.view_columns(dataset)
    ]


def compaction_export() -> dict[str, Any]:
    suffix = "".join(f"{k}=${{{k}}}/" for k in COMPACTED_PARTITION_KEYS)
    return {
        "partition_keys": [{"name": k, "type": "string"} for k in COMPACTED_PARTITION_KEYS],
        "projection": projection_parameters(COMPACTED_PARTITION_KEYS),
        "location_template_suffix": suffix,
        "manifest_prefix": MANIFEST_ROOT,
        "max_files_per_day": MAX_FILES_PER_DAY,
        "raw_tag": {"key": RAW_TAG[0], "value": RAW_TAG[1]},
        "tables": {
            d.table: {
                "dataset": d.name,
                "raw_table": d.glue_table,
                "compacted_table": compacted_table(d),
                "location": compacted_location(d),
                "columns": compacted_columns(d),
                "view_sql": sql.view_select(d, ()),
                "view_columns": view_columns(d),
            }
            for d in DATASETS.values()
            if d.compacted
        },
    }
