"""Every dataset's Iceberg record has exactly its table's columns, in order, with values of the
column types: µs timestamps, exact decimals, lists of structs, nulls only where allowed, and the
arrival hour. A column added to a record without the table (or the reverse) fails here."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.iceberg_layout import ICEBERG_TABLES, IcebergColumn, IcebergTable
from streamer.iceberg_records import (
    ICEBERG_MANY_ENCODERS,
    encode_iceberg,
    hour_columns,
    is_iceberg_record,
)
from streamer.jsonline import MANY_ENCODERS, encode
from streamer.numbers import ANY, dec
from streamer.records import Dec, Item, Millis, Reject, Trade, book_snapshot
from streamer.schema import DATASETS, PARTITION_KEYS, REJECTS
from streamer.service import encoders_for
from streamer.settings import load
from tests.lakes import LONG_DECIMAL, row

ARRIVAL = 1764003599999  # 2025-11-24 16:59:59.999 UTC: the last ms of an hour
_STRUCT = re.compile(r"array<struct<(.*)>>")


def parse(line: bytes) -> dict[str, Any]:
    """The record as Firehose reads it: one JSON object, numbers exactly (Decimal)."""
    assert line.endswith(b"}\n") and line.count(b"\n") == 1, line[-40:]
    value = json.loads(line, parse_float=Decimal)
    assert isinstance(value, dict)
    return value


def with_nulls(item: Item) -> Item:
    """`item` with every nullable column None."""
    dataset = DATASETS[next(n for n, d in DATASETS.items() if d.record_type is type(item))]
    nulls = {c.name: None for c in dataset.columns if c.nullable}
    replaced: Item = item._replace(**nulls)  # type: ignore[union-attr]
    return replaced


def check_value(column: IcebergColumn, value: Any, source: Any) -> None:
    """`value` (parsed) is of `column`'s type and equals the row's `source` value."""
    glue = column.glue_type
    if value is None:
        assert not column.required, f"{column.name} is required"
        assert source is None
        return
    if glue == "timestamp":
        assert type(value) is int and value == source * 1000, column.name
    elif glue.startswith("decimal") or glue == "double":
        assert type(value) in (int, Decimal), column.name
        assert Decimal(value) == Decimal(source), column.name  # exact, no float on the way
    elif glue == "bigint":
        assert type(value) is int and value == source, column.name
    elif glue == "boolean":
        assert type(value) is bool and value is source, column.name
    elif glue == "string":
        assert type(value) is str and value == source, column.name
    else:
        match = _STRUCT.fullmatch(glue)
        assert match is not None, f"{column.name}: no check for {glue}"
        fields = [f.split(":", 1) for f in match.group(1).split(",") if ":" in f]
        names = [name for name, _ in fields]
        assert type(value) is list and len(value) == len(source), column.name
        for element, expected in zip(value, source, strict=True):
            assert list(element) == names, column.name
            for (name, ftype), part in zip(fields, expected, strict=True):
                check_value(IcebergColumn(0, name, ftype, True), element[name], part)


def check_record(table: IcebergTable, item: Item, arrival: int) -> None:
    record = parse(encode_iceberg(item, arrival))
    assert list(record) == list(table.names)  # every column, in table order, nothing else
    dataset_columns = table.columns[: len(item)]
    for column, source in zip(dataset_columns, item, strict=True):
        check_value(column, record[column.name], source)
    hour = [record[k] for k in PARTITION_KEYS]
    assert hour == list(hour_columns(arrival))
    stamp = datetime.fromtimestamp(arrival / 1000, UTC)
    assert hour == [f"{stamp.year:04d}", f"{stamp.month:02d}", f"{stamp.day:02d}",
                    f"{stamp.hour:02d}"]  # fmt: skip
    for column in table.columns:
        assert not (column.required and record[column.name] is None), column.name


@pytest.mark.parametrize("name", sorted(ICEBERG_TABLES))
def test_every_dataset_record_matches_its_iceberg_table(name: str) -> None:
    table = ICEBERG_TABLES[name]
    for i in range(3):  # row 0 carries a 35-digit decimal no double holds
        check_record(table, row(DATASETS[name], i), ARRIVAL + i)
    if any(c.nullable for c in DATASETS[name].columns):
        check_record(table, with_nulls(row(DATASETS[name], 1)), ARRIVAL)


def test_a_trade_and_a_book_as_firehose_reads_them() -> None:
    trade = Trade("binance", "BTC-USDT", Millis(1633998523963), Millis(1633998524001), "15683430",
                  Dec("0.35280000"), Dec("58.00000000"), "buy", "id1")  # fmt: skip
    line = encode_iceberg(trade, 1633998524010)
    assert line == (
        b'{"exchange":"binance","symbol":"BTC-USDT","event_time":1633998523963000,'
        b'"received_at":1633998524001000,"trade_id":"15683430","price":0.35280000,'
        b'"size":58.00000000,"side":"buy","record_id":"id1",'
        b'"year":"2021","month":"10","day":"12","hour":"00"}\n'
    )
    book = book_snapshot("coinbase", "BTC-USD", Millis(5), Millis(6), 2,
                         ((Dec("83277.25"), Dec(LONG_DECIMAL)),), (), None, "9f0a")  # fmt: skip
    record = parse(encode_iceberg(book, 7))
    assert record["bids"] == [{"price": Decimal("83277.25"), "size": Decimal(LONG_DECIMAL)}]
    assert record["asks"] == [] and record["sequence"] is None
    assert record["bid_size"] == Decimal(LONG_DECIMAL) and record["ask_price"] is None


def test_the_many_encoder_equals_the_row_encoder_and_rejects_stay_json_lines() -> None:
    rows = [row(DATASETS["trades"], i) for i in range(4)]
    many = ICEBERG_MANY_ENCODERS[Trade](rows, ARRIVAL)
    assert many == [encode_iceberg(r, ARRIVAL) for r in rows]
    # the hour is taken from each call's arrival, not remembered from the last one
    later = ICEBERG_MANY_ENCODERS[Trade](rows[:1], ARRIVAL + 1)
    assert parse(later[0])["hour"] == "17" and parse(many[0])["hour"] == "16"
    reject = Reject("binance", "invalid JSON", '{"x', Millis(5))
    assert ICEBERG_MANY_ENCODERS[Reject]([reject], ARRIVAL) == [encode(reject)]
    assert REJECTS.name not in ICEBERG_TABLES
    assert set(ICEBERG_MANY_ENCODERS) == set(MANY_ENCODERS)


_DIGITS = st.text("0123456789", min_size=1, max_size=20)


@given(
    whole=_DIGITS,
    fraction=st.text("0123456789", max_size=18),
    negative=st.booleans(),
    ms=st.integers(0, 253402300799999),  # through 9999-12-31
)
def test_decimals_and_timestamps_round_trip_exactly(
    whole: str, fraction: str, negative: bool, ms: int
) -> None:
    text = ("-" if negative else "") + (whole.lstrip("0") or "0")
    if fraction:
        text += "." + fraction
    price = dec(text, "price", ANY)
    trade = Trade("okx", "BTC-USDT", Millis(ms), Millis(ms), "1", price, price, "sell", "r")
    record = parse(encode_iceberg(trade, ms))
    assert Decimal(record["price"]) == Decimal(text)
    assert record["event_time"] == ms * 1000
    stamp = datetime.fromtimestamp(ms // 1000, UTC)
    assert record["year"] == f"{stamp.year:04d}" and record["hour"] == f"{stamp.hour:02d}"


def test_the_service_encodes_iceberg_records_only_for_firehose_into_iceberg() -> None:
    iceberg = {"STREAMER_SINK": "firehose", "STREAMER_LAKE_FORMAT": "iceberg"}
    assert encoders_for(load(iceberg)) is ICEBERG_MANY_ENCODERS
    assert encoders_for(load({"STREAMER_SINK": "firehose"})) is MANY_ENCODERS
    # the local lake takes JSON lines in either format (it writes its own tables)
    assert encoders_for(load({**iceberg, "STREAMER_SINK": "lake"})) is MANY_ENCODERS


def test_an_iceberg_record_is_told_from_json_lines_for_every_dataset() -> None:
    for name in ICEBERG_TABLES:
        item = row(DATASETS[name], 1)
        assert is_iceberg_record(encode_iceberg(item, ARRIVAL)), name
        assert not is_iceberg_record(encode(item)), name
        assert not is_iceberg_record(encode_iceberg(item, ARRIVAL) * 2), name  # two rows
    assert not is_iceberg_record(encode(Reject("okx", "bad", ',"hour":"07"}', Millis(1))))
