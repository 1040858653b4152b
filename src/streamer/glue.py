"""The schema as Terraform reads it: `infra/terraform/schema.json`, generated from `schema.py`,
the compaction catalog and the venue registry (`python -m streamer.glue`, `make schema`); a
test fails when the committed copy drifts."""

from __future__ import annotations

import json
from typing import Any

from streamer.compaction.catalog import compaction_export
from streamer.iceberg_layout import iceberg_export
from streamer.schema import (
    DATASETS,
    ERROR_PREFIX_TEMPLATE,
    GLUE_DATABASE,
    LOCATION_TEMPLATE_SUFFIX,
    PARTITION_KEYS,
    REJECTS,
    projection_parameters,
)
from streamer.venues import VENUES


def glue_export() -> dict[str, Any]:
    """The schema as committed JSON (`infra/terraform/schema.json`), from which Terraform builds
    the Firehose streams and Glue tables. `python -m streamer.glue` prints it
    (`make schema`)."""
    return {
        "database": GLUE_DATABASE,
        "partition_keys": [{"name": k, "type": "string"} for k in PARTITION_KEYS],
        "error_prefix": ERROR_PREFIX_TEMPLATE,
        "projection": projection_parameters(),
        "location_template_suffix": LOCATION_TEMPLATE_SUFFIX,
        "tables": {
            d.table: {
                "dataset": d.name,
                "description": d.description,
                "prefix": d.prefix_template,
                "location": d.prefix_template.split("year=")[0],
                "columns": [{"name": c.name, "type": c.glue_type} for c in d.columns],
                "glue_table": d.glue_table,
            }
            for d in (*DATASETS.values(), REJECTS)
        },
        "compaction": compaction_export(),
        # The tables of `table_format = "iceberg"` (`iceberg_layout.py`).
        "iceberg": iceberg_export(),
        # The registry's venues: Terraform's `sources` may name these, and shards split the
        # symbols of the shardable ones (the others run in shard 0).
        "venues": [{"name": v.name, "shardable": v.shardable} for v in VENUES],
    }


if __name__ == "__main__":
    print(json.dumps(glue_export(), indent=2))
