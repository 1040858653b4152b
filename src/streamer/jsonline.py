"""Rows to newline-terminated JSON objects, one encoder compiled per dataset.

Each encoder is generated once from the dataset's columns (see `schema.py`) into a single
expression, which keeps the per-row cost to a few string concatenations. Number columns are
written verbatim from the venue's validated text; timestamps as `YYYY-MM-DD HH:MM:SS.mmm`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import chain
from json.encoder import encode_basestring
from typing import Any

from streamer.records import Holes, IdRanges, Item, Levels
from streamer.schema import DATASET_OF_TYPE, Dataset
from streamer.timefmt import format_millis

Encoder = Callable[[Item], bytes]
ManyEncoder = Callable[[Iterable[Item], int], list[bytes]]
"""`encode_many(rows, arrival)`: the pipeline's call, with the rows' arrival (which JSON lines
do not carry: Firehose partitions them by its own arrival time; `iceberg_records.py` does)."""


_SIDE_TEMPLATES: dict[int, str] = {}


def _levels(levels: Levels) -> str:
    """A book side as a JSON array of {price, size}: one `%` over the whole side."""
    template = _SIDE_TEMPLATES.get(len(levels))
    if template is None:
        template = "[" + ",".join(['{"price":%s,"size":%s}'] * len(levels)) + "]"
        if len(levels) <= 1000:
            _SIDE_TEMPLATES[len(levels)] = template
    return template % tuple(chain.from_iterable(levels))


def _ranges(ranges: IdRanges) -> str:
    """Inclusive id ranges as a JSON array of {first, last}."""
    return "[" + ",".join(f'{{"first":{a:d},"last":{b:d}}}' for a, b in ranges) + "]"


def _holes(holes: Holes) -> str:
    """Unrecovered id ranges as a JSON array of {first, last, reason} (the reason escaped)."""
    parts = (
        f'{{"first":{a:d},"last":{b:d},"reason":{encode_basestring(why)}}}' for a, b, why in holes
    )
    return "[" + ",".join(parts) + "]"


# Each column is one `%s` in a template (quotes included where the value is always a string)
# and one expression over the row `r`: a single `template % (...)` per row.
_FORMS = {
    "str": ("%s", "_s(r[{i}])"),
    "plain": ('"%s"', "r[{i}]"),
    "int": ("%s", "r[{i}]"),
    "bool": ("%s", "('true' if r[{i}] else 'false')"),
    "number": ("%s", "r[{i}]"),
    "timestamp": ('"%s"', "{ts}(r[{i}])"),
    "levels": ("%s", "_levels(r[{i}])"),
    "ranges": ("%s", "_ranges(r[{i}])"),
    "holes": ("%s", "_holes(r[{i}])"),
}


def _last_one(format_ms: Callable[[int], str]) -> Callable[[int], str]:
    """`format_ms` remembering its last answer: every row of one socket read shares its
    `received_at`, so that column is formatted once per read."""
    last: list[Any] = [-1, ""]  # [ms, its text]

    def formatted(ms: int) -> str:
        if ms != last[0]:
            last[0], last[1] = ms, format_ms(ms)
        text: str = last[1]
        return text

    return formatted


def compile_encoder(dataset: Dataset) -> Encoder:
    """Build `encode(row) -> bytes` for one dataset."""
    return _compile(dataset)[0]


def _compile(dataset: Dataset) -> tuple[Encoder, ManyEncoder]:
    """`encode(row) -> bytes` and `encode_many(rows, arrival) -> [bytes, ...]` (one
    comprehension over a run of rows, the pipeline's path) for one dataset, from the same
    expression."""
    fields, values = [], []
    for i, column in enumerate(dataset.columns):
        form, expr = _FORMS["plain" if column.plain else column.kind]
        ts = "_ts_recv" if column.name == "received_at" else "_ts"
        expr = expr.format(i=i, ts=ts)
        if column.nullable:
            if form != "%s":
                expr = f"'\"' + {expr} + '\"'"
                form = "%s"
            expr = f"('null' if r[{i}] is None else {expr})"
        fields.append(f"{encode_basestring(column.name)}:{form}")
        values.append(expr)
    template = "{" + ",".join(fields) + "}\n"
    line = f"({template!r} % ({', '.join(values)},)).encode()"
    source = (
        f"def encode(r):\n    return {line}\n"
        f"def encode_many(rows, arrival=0):\n    return [{line} for r in rows]\n"
    )
    helpers = {"_ts": format_millis, "_ts_recv": _last_one(format_millis)}
    return build_encoders(source, f"<encoder {dataset.name}>", helpers)


def build_encoders(
    source: str, label: str, helpers: Mapping[str, object]
) -> tuple[Callable[..., bytes], Callable[..., list[bytes]]]:
    """Run generated `source` defining `encode` and `encode_many`, with the escaping and the
    level, range and hole writers in scope besides `helpers` (this module's encoders and
    `iceberg_records`' share them)."""
    namespace: dict[str, object] = {
        "_s": encode_basestring,
        "_levels": _levels,
        "_ranges": _ranges,
        "_holes": _holes,
        **helpers,
    }
    exec(compile(source, label, "exec"), namespace)
    encoder, many = namespace["encode"], namespace["encode_many"]
    assert callable(encoder) and callable(many)
    return encoder, many


_COMPILED = {t: _compile(d) for t, d in DATASET_OF_TYPE.items()}
ENCODERS: dict[type, Encoder] = {t: pair[0] for t, pair in _COMPILED.items()}
MANY_ENCODERS: dict[type, ManyEncoder] = {t: pair[1] for t, pair in _COMPILED.items()}


def encode(item: Item) -> bytes:
    """One row (or reject) as a newline-terminated JSON object."""
    return ENCODERS[type(item)](item)
