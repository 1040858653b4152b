"""Rows to newline-terminated JSON objects, one encoder compiled per dataset.

Each encoder is generated once from the dataset's columns (see `schema.py`) into a single
expression, which keeps the per-row cost to a few string concatenations. Number columns are
written verbatim from the venue's validated text; timestamps as `YYYY-MM-DD HH:MM:SS.mmm`.
"""

from __future__ import annotations

from collections.abc import Callable
from json.encoder import encode_basestring

from streamer.records import Item, Levels
from streamer.schema import DATASET_OF_TYPE, Dataset
from streamer.timefmt import format_millis

Encoder = Callable[[Item], bytes]


def _levels(levels: Levels) -> str:
    return "[" + ",".join([f'{{"price":{p},"size":{s}}}' for p, s in levels]) + "]"


_EXPRESSIONS = {
    "str": "_s(r[{i}])",
    "int": "str(r[{i}])",
    "bool": "('true' if r[{i}] else 'false')",
    "number": "r[{i}]",
    "timestamp": "'\"' + _ts(r[{i}]) + '\"'",
    "levels": "_levels(r[{i}])",
}


def compile_encoder(dataset: Dataset) -> Encoder:
    """Build `encode(row) -> bytes` for one dataset."""
    terms = []
    for i, column in enumerate(dataset.columns):
        expr = _EXPRESSIONS[column.kind].format(i=i)
        if column.nullable:
            expr = f"('null' if r[{i}] is None else {expr})"
        opener = "{" if i == 0 else ","
        terms.append(f"{opener!s}{encode_basestring(column.name)}:".__repr__() + " + " + expr)
    source = "def encode(r):\n    return (" + " + ".join(terms) + " + '}\\n').encode()\n"
    namespace: dict[str, object] = {
        "_s": encode_basestring,
        "_ts": format_millis,
        "_levels": _levels,
    }
    exec(compile(source, f"<encoder {dataset.name}>", "exec"), namespace)
    encoder = namespace["encode"]
    assert callable(encoder)
    return encoder


ENCODERS: dict[type, Encoder] = {t: compile_encoder(d) for t, d in DATASET_OF_TYPE.items()}


def encode(item: Item) -> bytes:
    """One row (or reject) as a newline-terminated JSON object."""
    return ENCODERS[type(item)](item)
