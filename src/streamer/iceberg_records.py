"""Rows to the JSON records a Firehose Apache Iceberg destination takes, one per row (pure).

Firehose maps the top-level keys of each record to the table's columns by name; a record whose
keys or value types do not match the table goes to the stream's S3 error prefix instead of the
table. So each encoder is generated from the dataset's Iceberg table (`iceberg_layout.py`), key
for key in table order, and a test parses every dataset's record against that table:

* timestamps as integer microseconds since the epoch (the row's milliseconds times 1000;
  Firehose: "For Timestamp data types, you must always send in microseconds");
* decimals and doubles as bare JSON numbers, the venue's validated text verbatim (as on the
  JSON path: no float round trip, so the digits reach the Parquet decimal unchanged);
* book levels as arrays of `{"price", "size"}` objects, id ranges and holes as arrays of
  structs, each exactly as the JSON path writes them;
* every column present, a missing value as `null` (only nullable columns can have one);
* `year`, `month`, `day`, `hour`: the arrival hour (UTC), zero-padded strings, as the JSON
  path's partitions (`schema.PARTITION_KEYS`), from the `arrival` the pipeline hands the sink.

A record is one object ending in a newline: JSON allows whitespace after a value, and the newline
lets the spool and the counters count rows the way they do for JSON lines.

The rejects have no Iceberg table (`iceberg_layout.ICEBERG_TABLES` has none): in Iceberg mode
they stay JSON lines on `<prefix>-rejects` (`ICEBERG_MANY_ENCODERS[Reject]` is the JSON
encoder), an S3 destination as today, where their free-form raw text is read when debugging.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from streamer.iceberg_layout import ICEBERG_TABLES
from streamer.jsonline import MANY_ENCODERS, ManyEncoder, build_encoders
from streamer.records import Item, Reject
from streamer.schema import DATASET_OF_TYPE, PARTITION_KEYS, Dataset

RowEncoder = Callable[[Item, int], bytes]

_HOUR_MS = 3_600_000
_ICEBERG_END = re.compile(rb',"hour":"[0-9]{2}"\}\n\Z')
"""How every Iceberg record ends, and no JSON line does (JSON rows have no `hour` column)."""

# Each column is one `%s` in the template (quotes included where the value is always a
# string) and one expression over the row `r`, as in `jsonline.py`; timestamps differ.
_FORMS = {
    "str": ("%s", "_s(r[{i}])"),
    "plain": ('"%s"', "r[{i}]"),
    "int": ("%d", "r[{i}]"),
    "bool": ("%s", "('true' if r[{i}] else 'false')"),
    "number": ("%s", "r[{i}]"),
    "timestamp": ("%d", "r[{i}] * 1000"),
    "levels": ("%s", "_levels(r[{i}])"),
    "ranges": ("%s", "_ranges(r[{i}])"),
    "holes": ("%s", "_holes(r[{i}])"),
}


def hour_columns(arrival_ms: int) -> tuple[str, str, str, str]:
    """`year`, `month`, `day`, `hour` of an arrival (UTC), zero-padded as the JSON partitions."""
    t = time.gmtime(arrival_ms // 1000)
    return f"{t.tm_year:04d}", f"{t.tm_mon:02d}", f"{t.tm_mday:02d}", f"{t.tm_hour:02d}"


def _hour_tail() -> Callable[[int], str]:
    """The record's closing `,"year":..,"hour":"07"}` for an arrival, made once per hour."""
    last: list[Any] = [-1, ""]  # [hour number, its tail]

    def tail(arrival_ms: int) -> str:
        hour = arrival_ms // _HOUR_MS
        if hour != last[0]:
            values = hour_columns(arrival_ms)
            pairs = ",".join(f'"{k}":"{v}"' for k, v in zip(PARTITION_KEYS, values, strict=True))
            last[0], last[1] = hour, f",{pairs}}}\n"
        text: str = last[1]
        return text

    return tail


def _compile(dataset: Dataset) -> tuple[RowEncoder, ManyEncoder]:
    """`encode(row, arrival)` and `encode_many(rows, arrival)` for one dataset's table."""
    table = ICEBERG_TABLES[dataset.name]
    names = tuple(c.name for c in dataset.columns)
    if table.names != (*names, *PARTITION_KEYS):  # iceberg_layout derives one from the other
        raise AssertionError(f"{table.table}: columns {table.names} do not follow {names}")
    fields, values = [], []
    for i, column in enumerate(dataset.columns):
        form, expr = _FORMS["plain" if column.plain else column.kind]
        expr = expr.format(i=i)
        if column.nullable:
            if form == '"%s"':
                expr = f"'\"' + {expr} + '\"'"
            form = "%s"
            expr = f"('null' if r[{i}] is None else {expr})"
        fields.append(f'"{column.name}":{form}')
        values.append(expr)
    template = "{" + ",".join(fields) + "%s"
    line = f"({template!r} % ({', '.join(values)}, tail)).encode()"
    source = (  # the tail is made once per call: every row of a run shares its arrival
        f"def encode(r, arrival):\n    tail = _tail(arrival)\n    return {line}\n"
        f"def encode_many(rows, arrival=0):\n    tail = _tail(arrival)\n"
        f"    return [{line} for r in rows]\n"
    )
    return build_encoders(source, f"<iceberg encoder {dataset.name}>", {"_tail": _hour_tail()})


_COMPILED = {t: _compile(d) for t, d in DATASET_OF_TYPE.items() if d.name in ICEBERG_TABLES}
ICEBERG_ENCODERS: dict[type, RowEncoder] = {t: pair[0] for t, pair in _COMPILED.items()}
ICEBERG_MANY_ENCODERS: dict[type, ManyEncoder] = {
    **{t: pair[1] for t, pair in _COMPILED.items()},
    Reject: MANY_ENCODERS[Reject],  # no Iceberg table: JSON lines to `<prefix>-rejects`
}


def encode_iceberg(item: Item, arrival: int) -> bytes:
    """One row as the newline-terminated JSON record of its dataset's Iceberg table."""
    return ICEBERG_ENCODERS[type(item)](item, arrival)


def is_iceberg_record(data: bytes) -> bool:
    """A Firehose record as this module makes them (one row, ending in the hour columns), not
    JSON lines: tells which format a spool left by an earlier run holds."""
    return data.count(b"\n") == 1 and _ICEBERG_END.search(data) is not None
