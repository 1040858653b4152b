"""The thirteen datasets of the lake, derived from the record classes in `records.py`.

This module is what both sides import: sources build the records, sinks and the query layer
read the column list from here. Glue columns, Athena DDL and DuckDB types are all generated
from the same `Dataset` objects; `tests/core/test_schema.py` and the committed Glue export check
that no copy drifts.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

from streamer import records
from streamer.records import Dec, Holes, Hours, IdRanges, Levels, Millis, Real

GLUE_DATABASE = "crypto"
TABLE_PREFIX = "crypto_"
# Firehose renders this prefix from the arrival time of the oldest record in each object; the
# local lake renders the same template the same way (see `partitioning.py`). Terraform uses it
# verbatim, with the dataset name substituted.
PREFIX_TEMPLATE = (
    "crypto/tabular/{dataset}/year=!{{timestamp:yyyy}}/month=!{{timestamp:MM}}/"
    "day=!{{timestamp:dd}}/hour=!{{timestamp:HH}}/"
)
REJECTS_PREFIX_TEMPLATE = (
    "crypto/rejects/year=!{{timestamp:yyyy}}/month=!{{timestamp:MM}}/"
    "day=!{{timestamp:dd}}/hour=!{{timestamp:HH}}/"
)
# Where Firehose writes what it could not deliver to the prefixes above.
ERROR_PREFIX_TEMPLATE = (
    "crypto/errors/!{firehose:error-output-type}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/"
    "day=!{timestamp:dd}/hour=!{timestamp:HH}/"
)
PARTITION_KEYS: tuple[str, ...] = ("year", "month", "day", "hour")
# Partition projection (Athena computes the partitions, no crawler or MSCK needed): each key is an
# integer range, zero-padded to the digits Firehose renders. Glue table parameters (Terraform,
# via schema.json) and `athena_ddl` both come from here.
PROJECTION_RANGES: dict[str, tuple[int, int, int]] = {
    # key: (first, last, digits; 0 = not padded)
    "year": (2020, 2100, 0),
    "month": (1, 12, 2),
    "day": (1, 31, 2),
    "hour": (0, 23, 2),
}
LOCATION_TEMPLATE_SUFFIX = "".join(f"{k}=${{{k}}}/" for k in PARTITION_KEYS)
"""Appended to a table's location to give `storage.location.template`."""
DECIMAL = "decimal(38,18)"
RAW_TABLE_SUFFIX = "_raw"


def stream_name(prefix: str, dataset: str) -> str:
    """The Firehose delivery stream of one dataset (`crypto-trades`); also names lake objects."""
    return f"{prefix}-{dataset}"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    glue_type: str
    nullable: bool
    plain: bool = False
    """Text that needs no JSON escaping, by construction (see `PLAIN_TEXT`)."""

    @property
    def duckdb_type(self) -> str:
        return _DUCKDB_TYPES.get(self.glue_type, self.glue_type.upper())

    @property
    def kind(self) -> str:
        """How the JSON encoder writes it: str, int, bool, number, timestamp, levels,
        ranges or holes."""
        return _KINDS[self.glue_type]


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    record_type: type
    columns: tuple[Column, ...]
    description: str
    prefix_template: str
    compacted: bool = True
    """Compacted daily into Parquet (`streamer compact`); every dataset but the rejects."""

    @property
    def table(self) -> str:
        """The name users query: for a compacted dataset, the view over compacted and raw days."""
        return f"{TABLE_PREFIX}{self.name}"

    @property
    def glue_table(self) -> str:
        """The table over the raw JSON objects: `crypto_trades_raw`, or `table` if not compacted."""
        return f"{self.table}{RAW_TABLE_SUFFIX}" if self.compacted else self.table


_LEVELS = f"array<struct<price:{DECIMAL},size:{DECIMAL}>>"
_ID_RANGES = "array<struct<first:bigint,last:bigint>>"
_HOLES = "array<struct<first:bigint,last:bigint,reason:string>>"
_GLUE_BY_TYPE: dict[object, str] = {
    str: "string",
    int: "bigint",
    bool: "boolean",
    Dec: DECIMAL,
    Real: "double",
    Millis: "timestamp",
    Hours: "bigint",
    Levels: _LEVELS,
    IdRanges: _ID_RANGES,
    Holes: _HOLES,
}
_KINDS = {
    "string": "str",
    "bigint": "int",
    "boolean": "bool",
    DECIMAL: "number",
    "double": "number",
    "timestamp": "timestamp",
    _LEVELS: "levels",
    _ID_RANGES: "ranges",
    _HOLES: "holes",
}
_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "boolean": "BOOLEAN",
    DECIMAL: "DECIMAL(38,18)",
    "double": "DOUBLE",
    "timestamp": "TIMESTAMP",
    _LEVELS: "STRUCT(price DECIMAL(38,18), size DECIMAL(38,18))[]",
    _ID_RANGES: "STRUCT(first BIGINT, last BIGINT)[]",
    _HOLES: "STRUCT(first BIGINT, last BIGINT, reason VARCHAR)[]",
}


_VENUE_PLAIN = frozenset({"exchange", "symbol", "side", "interval", "origin", "record_id"})
PLAIN_TEXT: dict[type, frozenset[str]] = {
    records.Ticker: _VENUE_PLAIN,
    records.Candle: _VENUE_PLAIN,
    records.BookSnapshot: _VENUE_PLAIN,
    records.BookUpdate: _VENUE_PLAIN,
    records.Trade: _VENUE_PLAIN,
    records.Instrument: _VENUE_PLAIN | {"kind"},
    records.DerivativeTicker: _VENUE_PLAIN,
    records.OpenInterest: _VENUE_PLAIN,
    records.FundingRate: _VENUE_PLAIN,
    records.Liquidation: _VENUE_PLAIN,
    records.Quality: _VENUE_PLAIN | {"stream", "shard"},
    records.SpotPrice: frozenset({"record_id"}),
    records.Market: frozenset({"record_id"}),
}
"""String columns whose text never holds a character JSON must escape, so the encoder writes
them between quotes as they are: the exchange name is a constant, the symbol is a configured
or discovered name (`[A-Z0-9]+-[A-Z0-9]+`, with a third part `PERP` or `YYMMDD` for a
contract, checked where it is set), the side, kind, interval and origin come from the
decoder's own constants or the checked settings, and a `record_id` is hexadecimal. Everything
else a venue sent (trade ids, venue symbols, assets, statuses, CoinGecko names, a reject's raw
text) is escaped. `tests/venues/test_parsers_fuzz.py` holds every decoded row to this."""


def _column(name: str, annotation: Any, plain: bool = False) -> Column:
    nullable = False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(get_args(annotation))
        (annotation,) = args
    try:
        glue = _GLUE_BY_TYPE[annotation]
    except KeyError:
        raise TypeError(f"column {name!r}: no Glue type for {annotation!r}") from None
    return Column(name, glue, nullable, plain and glue == "string")


def columns_of(record_type: type) -> tuple[Column, ...]:
    hints = typing.get_type_hints(record_type)
    fields: tuple[str, ...] = record_type._fields  # type: ignore[attr-defined]
    plain = PLAIN_TEXT.get(record_type, frozenset())
    return tuple(_column(name, hints[name], name in plain) for name in fields)


def _dataset(
    name: str, record_type: type, prefix_template: str = PREFIX_TEMPLATE, compacted: bool = True
) -> Dataset:
    doc = (record_type.__doc__ or "").strip().splitlines()[0]
    prefix = prefix_template.format(dataset=name)
    return Dataset(name, record_type, columns_of(record_type), doc, prefix, compacted)


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        _dataset("spot_prices", records.SpotPrice),
        _dataset("markets", records.Market),
        _dataset("tickers", records.Ticker),
        _dataset("ohlcv", records.Candle),
        _dataset("order_books", records.BookSnapshot),
        _dataset("book_updates", records.BookUpdate),
        _dataset("trades", records.Trade),
        _dataset("instruments", records.Instrument),
        _dataset("derivative_tickers", records.DerivativeTicker),
        _dataset("open_interest", records.OpenInterest),
        _dataset("funding_rates", records.FundingRate),
        _dataset("liquidations", records.Liquidation),
        _dataset("quality", records.Quality),
    )
}
REJECTS = _dataset("rejects", records.Reject, REJECTS_PREFIX_TEMPLATE, compacted=False)
DATASET_OF_TYPE: dict[type, Dataset] = {d.record_type: d for d in DATASETS.values()}
DATASET_OF_TYPE[records.Reject] = REJECTS


def projection_parameters(keys: tuple[str, ...] = PARTITION_KEYS) -> dict[str, str]:
    """The Glue/Athena table parameters that switch on partition projection (bar the template)."""
    params = {"projection.enabled": "true"}
    for key in keys:
        first, last, digits = PROJECTION_RANGES[key]
        params[f"projection.{key}.type"] = "integer"
        params[f"projection.{key}.range"] = f"{first},{last}"
        if digits:
            params[f"projection.{key}.digits"] = str(digits)
    return params


def athena_ddl(dataset: Dataset, location: str) -> str:
    """CREATE EXTERNAL TABLE for Athena, with partition projection over the arrival hour."""
    cols = ",\n".join(f"  `{c.name}` {c.glue_type}" for c in dataset.columns)
    parts = ", ".join(f"`{k}` string" for k in PARTITION_KEYS)
    base = location.rstrip("/") + "/" + dataset.prefix_template.split("year=")[0]
    suffix = LOCATION_TEMPLATE_SUFFIX
    properties = {**projection_parameters(), "storage.location.template": base + suffix}
    props = ",\n".join(f"  '{k}' = '{v}'" for k, v in properties.items())
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `{dataset.glue_table}` (\n{cols}\n)\n"
        f"PARTITIONED BY ({parts})\n"
        "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'\n"
        "WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')\n"
        "STORED AS TEXTFILE\n"
        f"LOCATION '{base}'\n"
        f"TBLPROPERTIES (\n{props}\n)"
    )


def markdown_tables() -> str:
    """The README's table reference, generated so it cannot drift (checked by a test)."""
    out = []
    for d in DATASETS.values():
        out.append(f"### `{d.table}`: {d.description}\n")
        out.append("| column | type | null |")
        out.append("|---|---|---|")
        out.extend(
            f"| `{c.name}` | `{c.glue_type}` | {'yes' if c.nullable else ''} |" for c in d.columns
        )
        out.append("| `year`, `month`, `day`, `hour` | `string` | partition (arrival hour, UTC) |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
