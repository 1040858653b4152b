"""`streamer report`'s completeness page: a trades object deleted from a lake shows as missing
ids in the symbol and hour of the trade after the hole; resyncs by cause, disconnected hours
and unrecoverable ranges land where the quality rows put them; the heatmaps colour 0 apart
from any count and from hours without rows; the missing-ids query equals the same count done in
pandas on the lake the pipeline wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.image import AxesImage

from streamer.analytics import completeness_charts as charts
from streamer.analytics import connect
from streamer.analytics.completeness import venue_summary
from streamer.cli import main
from streamer.jsonline import encode
from streamer.records import Dec, Holes, IdRanges, Millis, Quality, Trade
from streamer.schema import DATASET_OF_TYPE
from streamer.settings import LakeSettings
from streamer.sinks.lake import LakeSink
from tests.analytics.test_derivatives_report import read
from tests.analytics.test_queries import raw, same
from tests.analytics.test_report import images, links, written

T0 = 1_764_000_000_000  # 2025-11-24 16:00:00 UTC
HOUR = 3_600_000
H16, H17 = pd.Timestamp("2025-11-24 16:00"), pd.Timestamp("2025-11-24 17:00")
LOST_ARRIVAL = T0 + 3 * HOUR
"""The arrival time of the one trades object the tests delete (its own partition, hour 19)."""
BTC_HOLE = range(31, 36)  # ids 31..35, all in hour 16: counted in 16 (id 36 is at 16:17:30)
ETH_HOLE = range(119, 123)  # 119, 120 at 16:59; 121, 122 at 17:00: counted in 17 (id 123's)


def trade(exchange: str, symbol: str, trade_id: int | str, at: int) -> Trade:
    return Trade(exchange, symbol, Millis(at), Millis(at), str(trade_id), Dec("100"), Dec("1"),
                 "buy", f"{exchange}-{symbol}-{trade_id}")  # fmt: skip


def at(trade_id: int) -> int:
    """Trade `trade_id`'s time: one every 30 s from 16:00, so 1..120 fall in hour 16."""
    return T0 + (trade_id - 1) * 30_000


def quality(exchange: str, symbol: str, stream: str, minute: int, **counts: Any) -> Quality:
    row: dict[str, Any] = dict(
        messages=1, rows=1, gaps=IdRanges(()), backfilled=0, unrecoverable=Holes(()),
        resyncs_sequence_break=0, resyncs_checksum_mismatch=0, resyncs_venue_reset=0,
        silent_subscriptions=0, connected_ms=0, disconnected_ms=0, rejects=0,
    )  # fmt: skip
    row.update(counts)
    return Quality(exchange, symbol, stream, Millis(minute), Millis(minute + 60_000), **row,
                   shard="0/1", record_id=f"q-{exchange}-{symbol}-{stream}-{minute}")  # fmt: skip


async def write(lake: Path, rows: list[tuple[object, int]]) -> None:
    sink = LakeSink(LakeSettings(root=lake))
    for row, arrival in rows:
        sink.add(DATASET_OF_TYPE[type(row)], encode(row), Millis(arrival))  # type: ignore[arg-type]
    await sink.aclose()


async def holed_lake(lake: Path) -> None:
    """Trades 1..200 of binance BTC-USDT and ETH-USDT and okx BTC-USDT-PERP, and coinbase's
    with ids that are no integers; the trades of `BTC_HOLE` and `ETH_HOLE` go into one object
    of their own, which is then deleted. BTC-USDT's trades are all delivered twice. Quality
    rows: resyncs, a disconnected stretch, an unrecoverable range."""
    holes = {("binance", "BTC-USDT"): BTC_HOLE, ("binance", "ETH-USDT"): ETH_HOLE}
    rows: list[tuple[object, int]] = []
    lost: list[tuple[object, int]] = []
    again: list[tuple[object, int]] = []
    for exchange, symbol in (("binance", "BTC-USDT"), ("binance", "ETH-USDT"),
                             ("okx", "BTC-USDT-PERP")):  # fmt: skip
        for i in range(1, 201):
            row = trade(exchange, symbol, i, at(i))
            if i in holes.get((exchange, symbol), ()):
                lost.append((row, LOST_ARRIVAL))
                continue
            rows.append((row, at(i)))
            if symbol == "BTC-USDT":
                again.append((row, at(i) + 5 * HOUR))
    rows += [(trade("coinbase", "BTC-USD", f"x{i}", at(i)), at(i)) for i in range(1, 5)]
    books = [
        quality("binance", "BTC-USDT", "order_books", T0 + 10 * 60_000),
        quality("binance", "BTC-USDT", "order_books", T0 + 65 * 60_000, resyncs_sequence_break=2),
        quality("okx", "BTC-USDT-PERP", "order_books", T0 + 30 * 60_000,
                resyncs_checksum_mismatch=1),
        quality("okx", "BTC-USDT-PERP", "order_books", T0 + 70 * 60_000),
        quality("binance", "*", "connection", T0, connected_ms=60_000, messages=40),
        quality("binance", "*", "connection", T0 + 80 * 60_000, connected_ms=45_000,
                disconnected_ms=15_000, messages=30),
        quality("okx", "*", "connection", T0 + 80 * 60_000, connected_ms=60_000),
        quality("binance", "ETH-USDT", "trades", T0 + 61 * 60_000,
                unrecoverable=Holes(((119, 120, "history limit: 100 trades back"),))),
    ]  # fmt: skip
    rows += [(row, row.minute + 60_000) for row in books]
    again.append((books[1], T0 + 4 * HOUR))  # a quality row delivered twice counts once
    for objects in (rows, lost, again):  # each its own objects: lost in hour 19's partition
        await write(lake, objects)
    (deleted,) = (lake / "crypto/tabular/trades/year=2025/month=11/day=24/hour=19").glob("*.gz")
    deleted.unlink()


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import asyncio

    root = tmp_path_factory.mktemp("holed") / "lake"
    asyncio.run(holed_lake(root))
    return root


@pytest.fixture(scope="module")
def report(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("completeness-report")
    assert main(["report", "--lake", str(lake), "--out", str(out)]) == 0
    return out


def cells(frame: pd.DataFrame, column: str) -> dict[tuple[str, str, pd.Timestamp], int]:
    keys = zip(frame["exchange"], frame["symbol"], frame["hour_start"], frame[column],
               strict=True)  # fmt: skip
    return {(str(e), str(s), pd.Timestamp(h)): int(v) for e, s, h, v in keys}


def test_a_deleted_trades_object_is_missing_in_its_symbol_and_hour(lake: Path) -> None:
    gaps = connect(lake=lake).trade_id_gaps()
    assert cells(gaps, "missing_ids") == {
        ("binance", "BTC-USDT", H16): len(BTC_HOLE),
        ("binance", "BTC-USDT", H17): 0,
        ("binance", "ETH-USDT", H16): 0,
        ("binance", "ETH-USDT", H17): len(ETH_HOLE),  # the hole crosses 17:00: the hour after
        ("okx", "BTC-USDT-PERP", H16): 0,
        ("okx", "BTC-USDT-PERP", H17): 0,
    }  # coinbase's ids are no integers: not checked
    assert cells(gaps, "gaps")[("binance", "ETH-USDT", H17)] == 1
    trades = cells(gaps, "trades")  # distinct ids: BTC-USDT's second delivery counts once
    assert trades[("binance", "BTC-USDT", H16)] == 120 - len(BTC_HOLE)
    assert trades[("binance", "ETH-USDT", H17)] == 80 - 2


def test_resyncs_disconnections_and_holes_land_where_quality_puts_them(lake: Path) -> None:
    db = connect(lake=lake)
    resyncs = db.book_resyncs()
    assert cells(resyncs, "sequence_break") == {
        ("binance", "BTC-USDT", H16): 0, ("binance", "BTC-USDT", H17): 2,
        ("okx", "BTC-USDT-PERP", H16): 0, ("okx", "BTC-USDT-PERP", H17): 0,
    }  # fmt: skip
    assert cells(resyncs, "checksum_mismatch")[("okx", "BTC-USDT-PERP", H16)] == 1
    assert resyncs["venue_reset"].sum() == 0
    hours = db.connection_hours()
    down = hours[hours["disconnected_s"] > 0]
    assert list(zip(down["exchange"], down["hour_start"], down["disconnected_s"],
                    strict=True)) == [("binance", H17, 15.0)]  # fmt: skip
    holes = db.unrecoverable()
    assert holes[["exchange", "symbol", "first_id", "last_id", "ids", "reason"]].values.tolist() \
        == [["binance", "ETH-USDT", 119, 120, 2, "history limit: 100 trades back"]]  # fmt: skip
    summary = venue_summary(hours, holes).set_index("exchange")
    assert summary.loc["binance", "hours_disconnected"] == 1
    assert summary.loc["binance", "unrecoverable_ids"] == 2
    assert summary.loc["okx", "hours_disconnected"] == 0


def heatmap(ax: Axes) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """A heatmap's cells (NaN: no rows), their colours (RGBA), row and column labels."""
    (image,) = [i for i in ax.get_images() if isinstance(i, AxesImage)]
    values = np.ma.filled(np.ma.asarray(image.get_array(), dtype=float), np.nan)
    rows = [t.get_text().rsplit(" (", 1)[0] for t in ax.get_yticklabels()]
    columns = [t.get_text() for t in ax.get_xticklabels()]
    return values, image.to_rgba(image.get_array()), rows, columns


def colour(name: str) -> tuple[float, ...]:
    return tuple(mcolors.to_rgba(name))


def test_the_heatmap_shows_the_hole_in_its_cell_and_zero_apart_from_a_count(lake: Path) -> None:
    figure = charts.missing_ids(connect(lake=lake).trade_id_gaps())
    values, rgba, rows, columns = heatmap(figure.axes[0])
    assert rows[:2] == ["binance BTC-USDT", "binance ETH-USDT"]  # worst first: 5, then 4
    assert [c.split("\n")[0] for c in columns] == ["16", "17"]
    np.testing.assert_array_equal(values[:2], [[5, 0], [0, 4]])
    green, orange = colour(charts.BINS[0][2]), colour(charts.BINS[2][2])
    assert tuple(rgba[0, 1]) == green and tuple(rgba[0, 0]) == orange
    texts = {t.get_text() for t in figure.axes[0].texts if t.get_gid() == "missing_ids_count"}
    assert texts == {"5", "4"}  # counts printed in the cells above zero, none in the zeros


def test_an_hour_without_trades_is_grey_not_zero() -> None:
    frame = pd.DataFrame({"exchange": ["v", "v", "v"], "symbol": ["A-B", "A-B", "C-D"],
                          "hour_start": [H16, H16 + pd.Timedelta(hours=2), H16],
                          "missing_ids": [0, 1, 1200]})  # fmt: skip
    values, rgba, rows, columns = heatmap(charts.missing_ids(frame).axes[0])
    assert rows == ["v C-D", "v A-B"] and len(columns) == 3  # every hour from first to last
    assert np.isnan(values[0, 1]) and np.isnan(values[1, 1])
    assert tuple(rgba[1, 1]) == colour(charts.NO_ROWS) != tuple(rgba[1, 0])
    assert tuple(rgba[0, 0]) == colour(charts.BINS[-1][2])  # 1,200: the darkest step


def test_the_resyncs_chart_has_a_panel_per_cause_that_occurred(lake: Path) -> None:
    figure = charts.resyncs(connect(lake=lake).book_resyncs())
    panels = {ax.get_title(loc="left"): ax for ax in figure.axes}
    assert set(panels) == {"sequence break", "checksum mismatch"}
    values, _, rows, _ = heatmap(panels["sequence break"])
    assert rows == ["binance BTC-USDT", "okx BTC-USDT-PERP"]
    np.testing.assert_array_equal(values, [[0, 2], [0, 0]])
    values, _, rows, _ = heatmap(panels["checksum mismatch"])
    np.testing.assert_array_equal(values, [[0, 0], [1, 0]])
    assert "none by venue reset" in figure.get_suptitle()


def test_rows_are_capped_worst_first() -> None:
    n = charts.MAX_ROWS + 5
    frame = pd.DataFrame({"exchange": ["v"] * n, "symbol": [f"S{i:02d}-X" for i in range(n)],
                          "hour_start": [H16] * n,
                          "missing_ids": [i % 3 for i in range(n)]})  # fmt: skip
    layout = charts.grid(frame, ["missing_ids"])
    assert len(layout.rows) == charts.MAX_ROWS and len(layout.hidden_rows) == 5
    shown = frame.set_index("symbol").loc[[s for _, s in layout.rows], "missing_ids"]
    assert shown.is_monotonic_decreasing and layout.hidden_busy == 0  # the 5 left out: none
    many = pd.DataFrame({"exchange": ["v"] * 2, "symbol": ["A-B"] * 2, "missing_ids": [1, 2],
                         "hour_start": [H16, H16 + pd.Timedelta(hours=199)]})  # fmt: skip
    hours = charts.grid(many, ["missing_ids"])
    assert len(hours.hours) == charts.MAX_HOURS and hours.hidden_hours == 200 - charts.MAX_HOURS
    assert hours.hours[-1] == H16 + pd.Timedelta(hours=199)  # the latest hours are kept


def test_the_page_renders_and_is_linked_from_the_others(report: Path, lake: Path) -> None:
    page = (report / "completeness.html").read_text()
    index = (report / "index.html").read_text()
    assert "completeness.html" in links(index)
    assert {"index.html", "derivatives.html"} <= links(page)
    mine = {p for p in written(report) if p.startswith("completeness_")}
    assert links(page) - {"index.html", "derivatives.html"} == mine
    assert {"completeness_missing_ids.png", "completeness_resyncs.png"} <= mine
    assert len(images(page)) == 2
    for section in ("Missing trade ids", "Order-book resyncs",
                    "Disconnections and unrecoverable holes"):  # fmt: skip
        assert f">{section}</h2>" in page
    assert "history limit: 100 trades back" in page and "Hours with disconnected time" in page
    db = connect(lake=lake)
    for name, frame in (("completeness_missing_ids.csv", db.trade_id_gaps()),
                        ("completeness_resyncs.csv", db.book_resyncs()),
                        ("completeness_unrecoverable.csv", db.unrecoverable())):  # fmt: skip
        same(read(report / name, frame), frame)


def test_an_empty_lake_says_what_the_page_needs(tmp_path: Path) -> None:
    lake, out = tmp_path / "lake", tmp_path / "out"
    (lake / "crypto" / "tabular").mkdir(parents=True)
    assert main(["report", "--lake", str(lake), "--out", str(out)]) == 0
    page = (out / "completeness.html").read_text()
    for needs in ("trades with integer ids (crypto_trades)",
                  "order-book quality rows (crypto_quality)",
                  "connection or hole quality rows (crypto_quality)"):  # fmt: skip
        assert f"no rows for {needs} in the whole lake" in page
    assert "<img" not in page


def test_missing_ids_equal_pandas_on_the_pipeline_lake(pipeline_lake: Path) -> None:
    trades = raw(pipeline_lake, "SELECT DISTINCT exchange, symbol, trade_id, event_time "
                                "FROM crypto_trades")  # fmt: skip
    trades["id"] = pd.to_numeric(trades["trade_id"], errors="coerce")
    trades = trades.dropna(subset=["id"]).astype({"id": "int64"})
    trades = trades.groupby(["exchange", "symbol", "id"], as_index=False)["event_time"].min()
    trades = trades.sort_values(["exchange", "symbol", "id"])
    skipped = trades.groupby(["exchange", "symbol"])["id"].diff().fillna(1) - 1
    trades["missing_ids"] = skipped.clip(lower=0).astype("int64")
    trades["gaps"] = (skipped > 0).astype("int64")
    trades["hour_start"] = trades["event_time"].astype("datetime64[ns]").dt.floor("h")
    expected = (
        trades.groupby(["exchange", "symbol", "hour_start"])
        .agg(trades=("id", "size"), missing_ids=("missing_ids", "sum"), gaps=("gaps", "sum"))
        .reset_index()
    )
    actual = connect(lake=pipeline_lake).trade_id_gaps()
    same(actual, expected)
    assert {"binance", "coinbase", "okx", "kraken", "binance_usdm"} <= set(actual["exchange"])
