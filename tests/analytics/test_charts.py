"""Each chart draws exactly its query's result: values read back from the matplotlib artists
equal the DataFrame the SQL returned, on the lake the pipeline wrote."""

from __future__ import annotations

from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection

from streamer.analytics import Analytics, charts, connect


@pytest.fixture(scope="module")
def db(pipeline_lake: Path) -> Analytics:
    return connect(lake=pipeline_lake)


def x_of(times: pd.Series, bar_seconds: int = 0) -> np.ndarray:
    """Where a bar starting at `times` is drawn: its middle."""
    return np.asarray(mdates.date2num((times + pd.Timedelta(seconds=bar_seconds / 2)).to_numpy()))


def bars(ax: Axes, gid: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre x, bottom and height of the rectangles with this gid."""
    patches = [p for p in ax.patches if p.get_gid() == gid]
    centre = np.array([p.get_x() + p.get_width() / 2 for p in patches])  # type: ignore[attr-defined]
    bottom = np.array([p.get_y() for p in patches])  # type: ignore[attr-defined]
    height = np.array([p.get_height() for p in patches])  # type: ignore[attr-defined]
    return centre, bottom, height


def lines(ax: Axes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Labelled lines: x as matplotlib date numbers (as drawn), y as floats."""
    return {
        str(line.get_label()): (_date_numbers(line.get_xdata()),
                                np.asarray(line.get_ydata(), dtype=float))
        for line in ax.get_lines() if not str(line.get_label()).startswith("_")
    }  # fmt: skip


def _date_numbers(x: object) -> np.ndarray:
    values = np.asarray(x)
    if np.issubdtype(values.dtype, np.number):
        return values.astype(float)
    return np.asarray(mdates.date2num(values))


def close(actual: object, expected: object) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float))


def test_candlesticks_draw_each_bar(db: Analytics) -> None:
    frame = db.candles("2m")
    part = frame[frame["symbol"] == "BTC-USDT"]
    fig = charts.candlesticks(part, "binance BTC-USDT", 120, 60)
    price, volume = fig.axes
    (wicks,) = [c for c in price.collections if c.get_gid() == "wicks"]
    assert isinstance(wicks, LineCollection)
    segments = np.array(wicks.get_segments())
    close(segments[:, 0, 0], x_of(part["bar_start"], 120))
    close(segments[:, 0, 1], part["low"])
    close(segments[:, 1, 1], part["high"])
    full = (part["candles"] == 2).to_numpy()
    centre, bottom, height = bars(price, "bodies")
    close(centre, x_of(part["bar_start"], 120)[full])
    close(bottom, np.minimum(part["open"], part["close"])[full])
    close(bottom + height, np.maximum(part["open"], part["close"])[full])
    centre, _, height = bars(volume, "volume_bodies")
    close(centre, x_of(part["bar_start"], 120)[full])
    close(height, part["volume"][full])
    centre, _, _ = bars(price, "partial")
    close(centre, x_of(part["bar_start"], 120)[~full])
    assert len(part) > 3


def test_book_chart_draws_spread_and_depth(db: Analytics) -> None:
    frame = db.book_top("1m")
    fig = charts.book(frame, 60)
    spread, depth = lines(fig.axes[0]), lines(fig.axes[1])
    for (exchange, symbol), part in frame.groupby(["exchange", "symbol"]):
        label = f"{exchange} {symbol}"
        close(spread[label][0], x_of(part["bar_start"], 60))
        close(spread[label][1], part["spread_bps"])
        close(depth[f"{label} bid"][1], part["bid_depth_quote"])
        close(depth[f"{label} ask"][1], part["ask_depth_quote"])
    assert len(spread) == 10  # Binance spot and USD-M, Coinbase, OKX, Kraken: two symbols each


def test_basis_chart_draws_every_difference(db: Analytics) -> None:
    frame = db.basis("1m")
    fig = charts.basis(frame, 60)
    assert len(fig.axes) == 4  # a row per coin, each on its own scale
    for row, (base, part) in enumerate(frame.groupby("base")):
        venues, gecko = lines(fig.axes[2 * row]), lines(fig.axes[2 * row + 1])
        close(venues[base][0], x_of(part["bar_start"], 60))
        close(venues[base][1], part["coinbase_vs_binance_bps"])
        for column, name in charts.BASIS_LINES[1:]:
            close(gecko[f"{base}: {name}"][1], part[column])
    assert list(frame.groupby("base").groups) == ["BTC", "ETH"]


def test_volume_chart_draws_buys_up_and_sells_down(db: Analytics) -> None:
    frame = db.volume_by_side("1m")
    fig = charts.volume_by_side(frame, 60)
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert len(panels) == 10  # Binance spot and USD-M, Coinbase, OKX, Kraken: two symbols each
    for (exchange, symbol), part in frame.groupby(["exchange", "symbol"]):
        ax = panels[f"{exchange} {symbol}"]
        for side, sign in (("buy", 1), ("sell", -1)):
            rows = part[part["side"] == side]
            centre, _, height = bars(ax, side)
            close(centre, x_of(rows["bar_start"], 60))
            close(height, sign * rows["quote_volume"])


def test_market_cap_chart_draws_the_top_coins(db: Analytics) -> None:
    frame = db.top_market_caps(8)
    fig = charts.market_caps(frame)
    (ax,) = fig.axes
    widths = [p.get_width() for p in ax.patches if p.get_gid() == "market_cap"]  # type: ignore[attr-defined]
    close(widths, frame["market_cap"])
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [f"{s} ({n})" for s, n in zip(frame["symbol"], frame["name"], strict=True)]


def test_health_panel_draws_rows_rejects_origins_and_gaps(db: Analytics) -> None:
    rows, rejects = db.rows_per_hour(), db.rejects()
    origins, gaps = db.candle_origins(), db.candle_gaps()
    fig = charts.health(rows, rejects, origins, gaps)
    hours, rejected, origin, holes = fig.axes
    drawn = lines(hours)
    for dataset, part in rows.groupby("dataset"):
        close(drawn[dataset][0], x_of(part["hour_start"]))
        close(drawn[dataset][1], part["row_count"])
    widths = [p.get_width() for p in rejected.patches]  # type: ignore[attr-defined]
    close(widths, rejects["rejects"].head(10))
    assert sum(widths) > 0
    labels = [t.get_text() for t in origin.get_yticklabels()]
    for name in ("ws", "rest"):
        drawn_widths = dict(
            zip(labels, [p.get_width() for p in origin.patches if p.get_gid() == name],  # type: ignore[attr-defined]
                strict=True)
        )  # fmt: skip
        expected = origins[origins["origin"] == name]
        for row in expected.itertuples():
            assert drawn_widths[f"{row.exchange} {row.symbol} {row.interval}"] == row.candles
    labels = [t.get_text() for t in holes.get_yticklabels()]
    widths = [p.get_width() for p in holes.patches]  # type: ignore[attr-defined]
    per_series = gaps.groupby(["exchange", "symbol", "interval"])["missing_candles"].sum()
    assert dict(zip(labels, widths, strict=True)) == {
        f"{e} {s} {i}": n for (e, s, i), n in per_series.items()
    }
    # every streaming venue fetches missed candles from REST, so a cut connection leaves no
    # hole; but Kraken's stream sends nothing for a minute without trades: its OHLC has the
    # minute (flat, volume 0), fetched once the next candle shows the gap, which a run that
    # stops right then has not done yet
    assert set(gaps["exchange"]) <= {"kraken"}, gaps


def test_health_panel_sums_missing_candles_per_series() -> None:
    gaps = pd.DataFrame({
        "exchange": ["binance", "binance", "coinbase"], "symbol": ["BTC-USDT"] * 2 + ["BTC-USD"],
        "interval": ["1m", "1m", "5m"], "missing_candles": [2, 3, 1],
    })  # fmt: skip
    empty = pd.DataFrame(columns=["dataset", "hour_start", "row_count"])
    no_rejects = pd.DataFrame(columns=["source", "reason", "rejects"])
    no_origins = pd.DataFrame(columns=["exchange", "symbol", "interval", "origin", "candles"])
    fig = charts.health(empty, no_rejects, no_origins, gaps)
    holes = fig.axes[3]
    labels = [t.get_text() for t in holes.get_yticklabels()]
    widths = [p.get_width() for p in holes.patches]  # type: ignore[attr-defined]
    assert dict(zip(labels, widths, strict=True)) == {
        "binance BTC-USDT 1m": 5, "coinbase BTC-USD 5m": 1,
    }  # fmt: skip
