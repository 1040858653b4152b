"""The Iceberg layout follows the schema: every column in order, the arrival-hour columns after,
and a sort order only over columns a dataset has."""

from streamer.iceberg_layout import ICEBERG_TABLES, iceberg_export
from streamer.schema import DATASETS, PARTITION_KEYS


def test_every_dataset_has_a_table_with_its_columns_then_the_arrival_hour() -> None:
    assert set(ICEBERG_TABLES) == set(DATASETS)
    for name, table in ICEBERG_TABLES.items():
        dataset = DATASETS[name]
        assert table.table == dataset.table
        assert table.names == (*(c.name for c in dataset.columns), *PARTITION_KEYS)
        assert [c.field_id for c in table.columns] == list(range(1, len(table.columns) + 1))
        required = {c.name for c in table.columns if c.required}
        assert required >= set(PARTITION_KEYS)
        assert {c.name for c in dataset.columns if c.nullable}.isdisjoint(required)


def test_sort_order_names_only_columns_the_table_has() -> None:
    assert ICEBERG_TABLES["trades"].sort_columns == ("exchange", "symbol", "event_time")
    assert ICEBERG_TABLES["spot_prices"].sort_columns == ()
    assert ICEBERG_TABLES["trades"].timestamp_columns == ("event_time", "received_at")
    exported = iceberg_export()["tables"]
    assert isinstance(exported, dict)
    assert exported["crypto_order_books"]["partition_columns"] == ["year", "month", "day"]
