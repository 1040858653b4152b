"""Lakes for the compaction tests: rows of every dataset written by the real encoders and lake
sink, objects delivered twice as Firehose may do, and the raw rows read back independently of
DuckDB (Python's json with exact decimals), as the truth to compare with."""

from __future__ import annotations

import gzip
import json
import shutil
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from streamer.jsonline import encode
from streamer.records import Dec, Item, Millis
from streamer.schema import DATASET_OF_TYPE, Dataset
from streamer.settings import LakeSettings
from streamer.sinks.lake import LakeSink

T0 = Millis(1764000000000)  # 2025-11-24 16:00:00 UTC
HOUR = 3_600_000
LONG_DECIMAL = "12345678901234567.123456789012345678"  # 35 digits: no double holds it


def _value(dataset: Dataset, kind: str, glue_type: str, name: str, i: int, t: int) -> Any:
    if name == "record_id":
        return f"{dataset.name}-{i}"
    if kind == "str":
        return ["binance", "coinbase"][i % 2] if name == "exchange" else f"{name}-{i % 3}"
    if kind == "int":
        return i
    if kind == "bool":
        return i % 2 == 0
    if kind == "timestamp":
        return Millis(t + i * 1000)
    if kind == "ranges":
        return ((i, i + 2), (i + 10, i + 10))
    if kind == "holes":
        return ((i + 20, i + 25, f"history limit {i}"),)
    if kind == "levels":
        return ((Dec(f"{100 + i}.25"), Dec(LONG_DECIMAL)), (Dec(f"{99 + i}.5"), Dec("0.001")))
    if glue_type == "double":
        return f"{i}.75"
    return Dec(LONG_DECIMAL if i % 3 == 0 else f"{86704 + i}.77000000")


def row(dataset: Dataset, i: int, t: int = T0) -> Item:
    """Row `i` of any dataset, from its columns alone (so a new dataset is covered too)."""
    values = [_value(dataset, c.kind, c.glue_type, c.name, i, t) for c in dataset.columns]
    item: Item = dataset.record_type(*values)
    return item


async def write(root: Path, rows: Sequence[tuple[Item, int]], seconds: float = 60.0) -> None:
    """Rows with their arrival times through the lake sink, objects cut every `seconds`."""
    sink = LakeSink(LakeSettings(root=root, buffer_seconds=seconds))
    for item, arrival in sorted(rows, key=lambda pair: pair[1]):
        await sink.flush_due(Millis(arrival))
        sink.add(DATASET_OF_TYPE[type(item)], encode(item), Millis(arrival))
    await sink.aclose()


def deliver_twice(root: Path) -> int:
    """A second copy of every raw object under its own name (a redelivered Firehose object)."""
    objects = sorted((root / "crypto" / "tabular").rglob("*.gz"))
    for path in objects:
        shutil.copyfile(path, path.with_name(f"{path.stem}-again-{uuid.uuid4()}.gz"))
    return len(objects)


def raw_lines(root: Path, dataset: Dataset, day: str) -> list[dict[str, Any]]:
    """Every raw row of one arrival day (duplicates included), decimals exact, plus `hour`."""
    y, m, d = day.split("-")
    folder = root / dataset.prefix_template.split("year=")[0] / f"year={y}/month={m}/day={d}"
    out = []
    for path in sorted(folder.glob("hour=*/*.gz")):
        hour = path.parent.name.split("=")[1]
        for line in gzip.decompress(path.read_bytes()).splitlines():
            out.append({**json.loads(line, parse_float=Decimal), "hour": hour})
    return out


def distinct(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One row per record_id, the copy of the earliest hour (what compaction keeps)."""
    out: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: r["hour"]):
        out.setdefault(r["record_id"], r)
    return out


def normalized(value: Any) -> Any:
    """A DuckDB value in the JSON's terms: timestamps as lake text, decimals unpadded."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, float):
        return Decimal(repr(value)).normalize()
    if isinstance(value, list):
        return [normalized(v) for v in value]
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items()}
    return value


def json_normalized(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, list):
        return [json_normalized(v) for v in value]
    if isinstance(value, dict):
        return {k: json_normalized(v) for k, v in value.items()}
    return value
