"""What a reader of the charts relies on: prices on the axes as prices, bars over their own
interval with partial ones marked, log axes only where magnitudes differ, a bar per exchange
chosen from its data, and a chart with no rows saying so."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from streamer.analytics import axes, charts
from streamer.analytics.report import candle_bars

T0 = pd.Timestamp("2026-01-05 12:00:00")


def bars_of(starts: list[int], prices: list[float], candles: list[int]) -> pd.DataFrame:
    return pd.DataFrame({
        "exchange": "binance", "symbol": "BTC-USDT",
        "bar_start": [T0 + pd.Timedelta(seconds=s) for s in starts],
        "open": prices, "high": [p + 0.05 for p in prices], "low": [p - 0.05 for p in prices],
        "close": [p + 0.01 for p in prices], "volume": 1.5, "candles": candles,
    })  # fmt: skip


def drawn(fig: Figure) -> Figure:
    FigureCanvasAgg(fig).draw()
    return fig


def test_a_price_axis_shows_prices_not_an_offset() -> None:
    fig = drawn(charts.candlesticks(bars_of([0, 5, 10], [86000.01, 86000.03, 86000.02],
                                            [5, 5, 5]), "BTC", 5, 1))  # fmt: skip
    price = fig.axes[0]
    formatter = price.yaxis.get_major_formatter()
    assert isinstance(formatter, ScalarFormatter) and not formatter.get_useOffset()
    assert price.yaxis.get_offset_text().get_text() == ""
    labels = [t.get_text() for t in price.get_yticklabels() if t.get_text()]
    assert "86000.00" in labels and not any("e" in label for label in labels)


def test_bars_are_drawn_over_their_interval_and_partial_ones_marked() -> None:
    fig = charts.candlesticks(bars_of([0, 5, 10], [1.0, 2.0, 3.0], [3, 5, 2]), "BTC", 5, 1)
    price = fig.axes[0]
    full = [p for p in price.patches if p.get_gid() == "bodies"]
    short = [p for p in price.patches if p.get_gid() == "partial"]
    start = axes.dates(np.array([T0.to_datetime64()]))[0]
    day = 86400
    assert len(full) == 1 and len(short) == 2
    (body,) = full  # the 5 s bar starting at T0 + 5 s spans [T0 + 5.5 s, T0 + 9.5 s]
    assert np.isclose(body.get_x(), start + 5.5 / day)  # type: ignore[attr-defined]
    assert np.isclose(body.get_x() + body.get_width(), start + 9.5 / day)  # type: ignore[attr-defined]
    assert all(p.get_hatch() == "//" for p in short)


def test_volume_bars_the_trades_cover_in_part_are_marked() -> None:
    frame = pd.DataFrame({
        "exchange": "binance", "symbol": "BTC-USDT", "side": "buy",
        "bar_start": [T0 + pd.Timedelta(seconds=s) for s in (0, 60, 120)],
        "volume": 1.0, "quote_volume": [10.0, 20.0, 30.0], "trades": 3,
    })  # fmt: skip
    first, last = T0 + pd.Timedelta(seconds=20), T0 + pd.Timedelta(seconds=150)
    fig = charts.volume_by_side(frame, 60, {"binance": (first, last)})
    (ax,) = [a for a in fig.axes if a.get_visible()]
    heights = {p.get_gid(): [] for p in ax.patches}  # type: ignore[var-annotated]
    for p in ax.patches:
        heights[p.get_gid()].append(p.get_height())  # type: ignore[attr-defined]
    assert heights == {"buy": [20.0], "buy_partial": [10.0, 30.0]}


def test_log_axes_only_where_magnitudes_differ() -> None:
    assert axes.wants_log([0.0012, 0.03, 0.6])  # BTC, ETH, SOL spreads in bps
    assert not axes.wants_log([0.5, 0.6, 1.1])
    assert not axes.wants_log([-3.0, 0.01, 8.0])  # a basis crosses zero
    caps = pd.DataFrame({"symbol": ["BTC", "C39"], "name": ["Bitcoin", "Coin 39"],
                         "market_cap": [1.7e12, 4.07e9]})  # fmt: skip
    (ax,) = charts.market_caps(caps).axes
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.texts] == ["1.7T", "4.07B"]


def test_each_exchange_gets_the_bar_its_own_candles_fit() -> None:
    """330 s of Binance 1 s candles and two Coinbase 5 m candles: not one 5 m bar for both."""
    intervals = pd.DataFrame({
        "exchange": ["binance", "coinbase"], "interval": ["1s", "5m"], "candles": [330, 2],
        "first_open": [T0 + pd.Timedelta(seconds=15), T0],
        "last_open": [T0 + pd.Timedelta(seconds=344), T0 + pd.Timedelta(minutes=5)],
    })  # fmt: skip
    assert candle_bars(intervals) == {"binance": ("1s", 1, 5), "coinbase": ("5m", 300, 300)}
    assert candle_bars(intervals, "1m")["binance"] == ("1s", 1, 60)
    assert axes.bar_of(pd.Series([T0, T0 + timedelta(seconds=15)])) == 15


def test_a_chart_with_no_rows_says_so() -> None:
    empty = bars_of([], [], [])
    for fig in (charts.candlesticks(empty, "binance DOGE-USDT"), charts.book(empty),
                charts.volume_by_side(empty), charts.basis(empty)):  # fmt: skip
        texts = [t.get_text() for ax in fig.axes for t in ax.texts]
        assert any(text.startswith("no rows for") for text in texts), texts
