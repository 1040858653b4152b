"""The analytics SQL files: Trino (Athena engine 3) parses each one, as written and as Athena
receives it, and `bind` turns `:name` markers into `?` in the order sqlglot sees them."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from streamer.analytics import sqltext
from streamer.analytics.window import Window
from streamer.schema import DATASETS, REJECTS
from tests.conftest import REPO

NAMES = sqltext.names()
EXTRA: dict[str, str | int] = {
    "bar_seconds": 60, "source_interval": "1m", "exchange": "", "top": 10, "vs_currency": "usd",
}  # fmt: skip


def _text(name: str) -> str:
    return sqltext.rows_per_hour() if name == "rows_per_hour" else sqltext.load(name)


def test_the_files_are_the_ones_under_sql_analytics() -> None:
    linked = sorted(p.stem for p in (REPO / "sql" / "analytics").glob("*.sql"))
    assert linked == NAMES
    assert {"candles", "book_top", "basis", "volume_by_side", "top_market_caps",
            "rows_per_hour", "rejects", "candle_origins", "candle_gaps"} <= set(NAMES)  # fmt: skip
    for name in NAMES:
        assert sqltext.load(name).startswith("-- "), f"{name}: the first line says what it answers"


@pytest.mark.parametrize("name", NAMES)
def test_each_query_parses_as_trino_with_its_markers_where_sqlglot_sees_them(name: str) -> None:
    text = _text(name)
    statements = [s for s in sqlglot.parse(text, read="trino") if s is not None]
    assert len(statements) == 1
    seen = [p.name for p in statements[0].find_all(exp.Placeholder)]
    assert sorted(seen) == sorted(sqltext.placeholders(text))
    assert seen, "every query takes the window"


@pytest.mark.parametrize("name", NAMES)
def test_what_athena_runs_parses_as_trino(name: str) -> None:
    params = {**Window().params(), **EXTRA, "symbols": "BTC-USDT,O'NEIL-USD"}  # a quote in a
    bound, values = sqltext.bind(_text(name), params)  # value stays inside its literal
    assert "?" in bound and ":" + "since" not in bound
    assert bound.count("?") == len(values)
    athena = bound
    for value in values:  # Athena puts each execution parameter in place of its marker
        athena = athena.replace("?", sqltext.athena_literal(value), 1)
    parsed = sqlglot.parse_one(athena, read="trino")
    assert not list(parsed.find_all(exp.Placeholder))
    if "symbols" in sqltext.placeholders(_text(name)):
        strings = {s.this for s in parsed.find_all(exp.Literal) if s.is_string}
        assert "BTC-USDT,O'NEIL-USD" in strings


def test_bind_skips_strings_identifiers_and_comments_and_keeps_casts() -> None:
    text = (
        "-- :nope\nSELECT ':no', \"a:b\", x::int, 'it''s :no' FROM t "
        "WHERE a = :a AND b = :b OR c = :a"
    )
    bound, values = sqltext.bind(text, {"a": 1, "b": "x", "unused": 3})
    assert values == [1, "x", 1]
    assert bound.endswith("WHERE a = ? AND b = ? OR c = ?")
    assert "':no'" in bound and '"a:b"' in bound and "x::int" in bound and "-- :nope" in bound


def test_bind_names_a_missing_parameter() -> None:
    with pytest.raises(KeyError, match="'since'"):
        sqltext.bind("SELECT :since", {})


def test_athena_literals_quote_text_and_refuse_other_types() -> None:
    assert sqltext.athena_literal("O'Neil") == "'O''Neil'"
    assert sqltext.athena_literal(60) == "60"
    with pytest.raises(TypeError):
        sqltext.athena_literal(True)
    with pytest.raises(TypeError):
        sqltext.athena_literal(1.5)  # type: ignore[arg-type]


def test_rows_per_hour_covers_every_dataset_of_the_schema() -> None:
    text = sqltext.rows_per_hour()
    for dataset in (*DATASETS.values(), REJECTS):
        assert f"FROM {dataset.table}\n" in text and f"'{dataset.name}' AS dataset" in text
    assert text.count("UNION ALL") == len(DATASETS)
