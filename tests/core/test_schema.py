"""The schema is derived from the record classes and exported consistently."""

from __future__ import annotations

import json

from streamer import records
from streamer.glue import glue_export
from streamer.schema import DATASETS, DECIMAL, PARTITION_KEYS, REJECTS, athena_ddl
from tests.conftest import REPO

REQUIRED = {
    "tickers": ["exchange", "symbol", "event_time", "received_at", "record_id", "last_price",
                "best_bid", "best_ask", "open_24h", "high_24h", "low_24h", "volume_24h",
                "quote_volume_24h", "price_change_pct_24h"],
    "ohlcv": ["exchange", "symbol", "event_time", "received_at", "record_id", "interval",
              "open_time", "close_time", "open", "high", "low", "close", "volume", "is_closed"],
    "order_books": ["exchange", "symbol", "event_time", "received_at", "record_id", "depth",
                    "bids", "asks", "sequence"],
    "trades": ["exchange", "symbol", "event_time", "received_at", "record_id", "trade_id",
               "price", "size", "side"],
    "book_updates": ["exchange", "symbol", "event_time", "received_at", "side", "price", "size",
                     "is_snapshot", "sequence", "record_id"],
    "spot_prices": ["coin_id", "vs_currency", "price", "market_cap", "volume_24h",
                    "change_pct_24h", "last_updated_at", "received_at", "record_id"],
    "markets": ["coin_id", "symbol", "name", "market_cap_rank", "price", "market_cap",
                "volume_24h", "high_24h", "low_24h", "price_change_pct_24h",
                "circulating_supply", "total_supply", "max_supply", "last_updated_at",
                "received_at", "record_id"],
    "instruments": ["exchange", "symbol", "event_time", "received_at", "venue_symbol", "kind",
                    "base", "quote", "settle", "contract_size", "tick_size", "lot_size",
                    "delivery_time", "funding_interval_hours", "status", "record_id"],
    "derivative_tickers": ["exchange", "symbol", "event_time", "received_at", "mark_price",
                           "index_price", "estimated_settle_price", "funding_rate",
                           "next_funding_time", "open_interest", "last_price", "record_id"],
    "open_interest": ["exchange", "symbol", "event_time", "received_at", "open_interest",
                      "record_id"],
    "funding_rates": ["exchange", "symbol", "event_time", "received_at", "funding_rate",
                      "funding_interval_hours", "mark_price", "record_id"],
    "liquidations": ["exchange", "symbol", "event_time", "received_at", "side", "price",
                     "average_price", "quantity", "filled_quantity", "status", "record_id"],
    "quality": ["exchange", "symbol", "stream", "minute", "received_at", "messages", "rows",
                "gaps", "backfilled", "unrecoverable", "resyncs_sequence_break",
                "resyncs_checksum_mismatch", "resyncs_venue_reset", "silent_subscriptions",
                "connected_ms", "disconnected_ms", "rejects", "shard", "record_id"],
}  # fmt: skip


def test_thirteen_datasets_carry_the_athena_contract_columns() -> None:
    assert set(DATASETS) == set(REQUIRED) and len(DATASETS) == 13
    for name, required in REQUIRED.items():
        names = [c.name for c in DATASETS[name].columns]
        missing = [c for c in required if c not in names]
        assert not missing, f"{name} lacks {missing}"


def test_glue_types_follow_the_record_annotations() -> None:
    trades = {c.name: c for c in DATASETS["trades"].columns}
    assert trades["price"].glue_type == DECIMAL
    assert trades["event_time"].glue_type == "timestamp"
    assert trades["trade_id"].glue_type == "string"
    books = {c.name: c for c in DATASETS["order_books"].columns}
    assert books["bids"].glue_type == f"array<struct<price:{DECIMAL},size:{DECIMAL}>>"
    assert books["sequence"].nullable and books["sequence"].glue_type == "bigint"
    spot = {c.name: c for c in DATASETS["spot_prices"].columns}
    assert spot["price"].glue_type == "double" and spot["price"].nullable
    assert {c.name: c.glue_type for c in DATASETS["ohlcv"].columns}["is_closed"] == "boolean"
    updates = {c.name: c for c in DATASETS["book_updates"].columns}
    assert [c.name for c in DATASETS["book_updates"].columns] == REQUIRED["book_updates"]
    assert updates["size"].glue_type == DECIMAL and updates["is_snapshot"].glue_type == "boolean"
    assert updates["sequence"].glue_type == "bigint" and not updates["sequence"].nullable


def test_quality_id_ranges_are_arrays_of_structs_both_engines_read() -> None:
    quality = {c.name: c for c in DATASETS["quality"].columns}
    assert quality["gaps"].glue_type == "array<struct<first:bigint,last:bigint>>"
    assert quality["gaps"].duckdb_type == "STRUCT(first BIGINT, last BIGINT)[]"
    assert quality["unrecoverable"].glue_type == (
        "array<struct<first:bigint,last:bigint,reason:string>>"
    )
    assert quality["minute"].glue_type == "timestamp" and quality["shard"].plain


def test_columns_are_in_record_field_order() -> None:
    for dataset in (*DATASETS.values(), REJECTS):
        assert tuple(c.name for c in dataset.columns) == dataset.record_type._fields


def test_tables_and_prefixes_are_named_from_the_dataset() -> None:
    export = glue_export()
    assert export["database"] == "crypto"
    assert set(export["tables"]) == {f"crypto_{n}" for n in REQUIRED} | {"crypto_rejects"}
    assert export["tables"]["crypto_tickers"]["prefix"] == (
        "crypto/tabular/tickers/year=!{timestamp:yyyy}/month=!{timestamp:MM}/"
        "day=!{timestamp:dd}/hour=!{timestamp:HH}/"
    )
    assert REJECTS.prefix_template.startswith("crypto/rejects/year=")
    assert records.Reject._fields == ("source", "reason", "raw", "received_at")


def test_athena_ddl_projects_hour_partitions() -> None:
    ddl = athena_ddl(DATASETS["trades"], "s3://lake-bucket/")
    assert "CREATE EXTERNAL TABLE IF NOT EXISTS `crypto_trades_raw`" in ddl
    assert "`price` decimal(38,18)" in ddl
    assert "'ignore.malformed.json' = 'true'" in ddl
    assert (
        "s3://lake-bucket/crypto/tabular/trades/year=${year}/month=${month}/day=${day}/hour=${hour}/"
        in ddl
    )


def test_committed_glue_export_matches_the_python_schema() -> None:
    committed = json.loads((REPO / "infra" / "terraform" / "schema.json").read_text())
    assert committed == glue_export(), (
        "infra/terraform/schema.json is stale: run `make schema` and commit it"
    )


def test_raw_tables_leave_the_dataset_name_to_the_view_over_raw_and_compacted_days() -> None:
    export = glue_export()
    for dataset in DATASETS.values():
        assert export["tables"][dataset.table]["glue_table"] == f"{dataset.table}_raw"
        compacted = export["compaction"]["tables"][dataset.table]
        assert compacted["raw_table"] == f"{dataset.table}_raw"
        assert compacted["compacted_table"] == f"{dataset.table}_compacted"
        assert compacted["location"] == f"crypto/compacted/{dataset.name}/"
        assert [c["name"] for c in compacted["columns"]] == [c.name for c in dataset.columns] + [
            "hour"
        ]
        assert [c["name"] for c in compacted["view_columns"]] == [
            *(c.name for c in dataset.columns),
            *PARTITION_KEYS,
        ]
    assert export["tables"]["crypto_rejects"]["glue_table"] == "crypto_rejects"
    assert "crypto_rejects" not in export["compaction"]["tables"]
    projection = export["compaction"]["projection"]
    assert projection["projection.day.range"] == "1,31" and "projection.hour.type" not in projection


def test_derivative_columns_keep_decimals_and_separate_predicted_from_settled_funding() -> None:
    tickers = {c.name: c for c in DATASETS["derivative_tickers"].columns}
    assert tickers["mark_price"].glue_type == DECIMAL and not tickers["mark_price"].nullable
    assert tickers["funding_rate"].nullable and tickers["next_funding_time"].glue_type == (
        "timestamp"
    )
    settled = {c.name: c for c in DATASETS["funding_rates"].columns}
    assert settled["funding_rate"].glue_type == DECIMAL and not settled["funding_rate"].nullable
    assert settled["funding_interval_hours"].glue_type == "bigint"
    assert "next_funding_time" not in settled
    instruments = {c.name: c for c in DATASETS["instruments"].columns}
    assert instruments["tick_size"].glue_type == DECIMAL
    assert instruments["kind"].plain and not instruments["venue_symbol"].plain
    assert not instruments["status"].plain
    liquidations = {c.name: c for c in DATASETS["liquidations"].columns}
    assert liquidations["side"].plain and liquidations["filled_quantity"].glue_type == DECIMAL
