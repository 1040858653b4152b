"""The report's charts: matplotlib figures drawn from the query DataFrames, nothing else.

Each function takes what `Analytics` returned and draws it as is (no resampling, no
smoothing), so a chart shows exactly the SQL result; `tests/analytics/test_charts.py` reads the
values back from the artists. Figures are made without pyplot (no global state, no GUI): save
them with `figure.savefig(path)`, which renders with Agg, or display them in a notebook.
"""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

UP = "#26a69a"
DOWN = "#ef5350"
WIDE = (11.0, 6.0)


def dates(values: object) -> np.ndarray:
    """Times as matplotlib date numbers (days), the x of bars and wicks."""
    return np.asarray(mdates.date2num(values))  # type: ignore[no-untyped-call]


def _figure(size: tuple[float, float] = WIDE) -> Figure:
    return Figure(figsize=size, dpi=100, layout="constrained")


def _bar_width(times: pd.Series) -> float:
    """Bar width in days (matplotlib date units): 80 % of the smallest step, 1 s if single."""
    values = np.unique(dates(times.to_numpy()))
    if len(values) < 2:
        return 0.8 / 86400
    return float(np.min(np.diff(values))) * 0.8


def _time_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.grid(True, alpha=0.3)


def series(frame: pd.DataFrame, *keys: str) -> Iterator[tuple[tuple[str, ...], pd.DataFrame]]:
    """The frame split by `keys`, in sorted order (for one line or one chart per series)."""
    for key, part in frame.groupby(list(keys), sort=True):
        yield tuple(str(k) for k in key), part


def candlesticks(candles: pd.DataFrame, title: str) -> Figure:
    """One symbol's bars: wicks from low to high, bodies from open to close (green up, red
    down), and volume below."""
    fig = _figure()
    price, volume = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    x = dates(candles["bar_start"].to_numpy())
    width = _bar_width(candles["bar_start"])
    up = (candles["close"] >= candles["open"]).to_numpy()
    colors = np.where(up, UP, DOWN)
    price.vlines(x, candles["low"], candles["high"], colors=colors, linewidth=1, gid="wicks")
    bottom = np.minimum(candles["open"], candles["close"])
    height = np.abs(candles["close"] - candles["open"])
    price.bar(x, height, width, bottom=bottom, color=colors, gid="bodies")
    volume.bar(x, candles["volume"], width, color=colors, gid="volume")
    price.set_title(title)
    price.set_ylabel("price")
    volume.set_ylabel("volume")
    _time_axis(price)
    _time_axis(volume)
    price.margins(y=0.1)
    return fig


def book(top: pd.DataFrame) -> Figure:
    """Spread (mean, basis points) and top-of-book depth (quote value of the best bid, solid,
    and best ask, dashed) over time, a line per exchange and symbol."""
    fig = _figure((11.0, 7.0))
    spread, depth = fig.subplots(2, 1, sharex=True)
    for (exchange, symbol), part in series(top, "exchange", "symbol"):
        label = f"{exchange} {symbol}"
        (line,) = spread.plot(part["bar_start"], part["spread_bps"], label=label, marker=".")
        color = line.get_color()
        depth.plot(part["bar_start"], part["bid_depth_quote"], color=color, label=f"{label} bid")
        depth.plot(
            part["bar_start"], part["ask_depth_quote"], color=color, linestyle="--",
            label=f"{label} ask",
        )  # fmt: skip
    spread.set_title("Bid/ask spread (mean per bar)")
    spread.set_ylabel("basis points")
    depth.set_title("Top-of-book depth (quote value at the best level; bid solid, ask dashed)")
    depth.set_ylabel("quote")
    spread.legend(fontsize="small", ncols=2)
    for ax in (spread, depth):
        _time_axis(ax)
    return fig


BASIS_LINES = (
    ("coinbase_vs_binance_bps", "Coinbase USD vs Binance USDT"),
    ("binance_vs_coingecko_bps", "Binance USDT vs CoinGecko USD"),
    ("coinbase_vs_coingecko_bps", "Coinbase USD vs CoinGecko USD"),
)


def basis(frame: pd.DataFrame) -> Figure:
    """The cross-venue basis per coin: Coinbase against Binance on top, each venue against
    CoinGecko below (points: CoinGecko is polled, so few bars have its price)."""
    fig = _figure((11.0, 7.0))
    venues, gecko = fig.subplots(2, 1, sharex=True)
    for (base,), part in series(frame, "base"):
        column, name = BASIS_LINES[0]
        (line,) = venues.plot(part["bar_start"], part[column], marker=".", label=base)
        for column, name in BASIS_LINES[1:]:
            marker = "o" if column.startswith("binance") else "x"
            gecko.plot(
                part["bar_start"], part[column], marker=marker, linestyle="none",
                color=line.get_color(), label=f"{base}: {name}",
            )  # fmt: skip
    venues.axhline(0, color="grey", linewidth=0.8)
    gecko.axhline(0, color="grey", linewidth=0.8)
    venues.set_title(f"{BASIS_LINES[0][1]} (last trade per bar)")
    venues.set_ylabel("basis points")
    gecko.set_title("Each venue vs CoinGecko's USD price (o Binance, x Coinbase)")
    gecko.set_ylabel("basis points")
    venues.legend(fontsize="small")
    for ax in (venues, gecko):
        _time_axis(ax)
    return fig


def volume_by_side(frame: pd.DataFrame) -> Figure:
    """Taker buy volume up, sell volume down (quote units), a panel per exchange and symbol."""
    groups = list(series(frame, "exchange", "symbol"))
    columns = 2 if len(groups) > 1 else 1
    rows = max(1, -(-len(groups) // columns))
    fig = _figure((11.0, max(3.0, 2.4 * rows)))
    axes = np.atleast_1d(fig.subplots(rows, columns, sharex=True, squeeze=False)).ravel()
    for ax, ((exchange, symbol), part) in zip(axes, groups, strict=False):
        width = _bar_width(part["bar_start"])
        buys = part[part["side"] == "buy"]
        sells = part[part["side"] == "sell"]
        ax.bar(
            dates(buys["bar_start"].to_numpy()), buys["quote_volume"], width,
            color=UP, label="buy", gid="buy",
        )  # fmt: skip
        ax.bar(
            dates(sells["bar_start"].to_numpy()), -sells["quote_volume"], width,
            color=DOWN, label="sell", gid="sell",
        )  # fmt: skip
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_title(f"{exchange} {symbol}", fontsize="medium")
        _time_axis(ax)
    for ax in axes[len(groups) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize="small")
    fig.suptitle("Traded volume by taker side (quote units; buys up, sells down)")
    return fig


def market_caps(frame: pd.DataFrame, vs_currency: str = "usd") -> Figure:
    """CoinGecko's top coins by market cap, largest on top."""
    fig = _figure((9.0, max(3.0, 0.35 * len(frame) + 1.2)))
    ax = fig.subplots()
    labels = [f"{s} ({n})" for s, n in zip(frame["symbol"], frame["name"], strict=True)]
    y = np.arange(len(frame))
    ax.barh(y, frame["market_cap"], color="#5c6bc0", gid="market_cap")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(f"market cap ({vs_currency.upper()})")
    ax.set_title("CoinGecko: top coins by market cap (latest poll in the window)")
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def health(
    rows_per_hour: pd.DataFrame,
    rejects: pd.DataFrame,
    origins: pd.DataFrame,
    gaps: pd.DataFrame,
) -> Figure:
    """The data-health panel: rows per dataset and hour, rejects by reason, closed candles by
    origin (streamed or backfilled) and missing candles per series."""
    fig = _figure((12.0, 8.0))
    (hours, rejected), (origin, holes) = fig.subplots(2, 2)
    for (dataset,), part in series(rows_per_hour, "dataset"):
        hours.plot(part["hour_start"], part["row_count"], marker="o", label=dataset)
    hours.set_title("Rows per dataset and arrival hour")
    hours.set_yscale("log")
    if len(rows_per_hour):
        hours.legend(fontsize="small")
        first, last = rows_per_hour["hour_start"].min(), rows_per_hour["hour_start"].max()
        hours.set_xlim(first - pd.Timedelta(hours=1), last + pd.Timedelta(hours=1))
    _time_axis(hours)

    reasons = rejects.head(10)
    _barh(rejected, [f"{s}: {r[:40]}" for s, r in zip(reasons["source"], reasons["reason"],
          strict=True)], reasons["rejects"], "#ef5350", "no rejects")  # fmt: skip
    rejected.set_title("Rejects by source and reason (top 10)")

    pivot = _origins(origins)
    labels = list(pivot.index)
    y = np.arange(len(labels))
    left = np.zeros(len(labels))
    for name, color in (("ws", "#26a69a"), ("rest", "#ffa726")):
        if name in pivot.columns:
            origin.barh(y, pivot[name], left=left, color=color, label=name, gid=name)
            left = left + pivot[name].to_numpy()
    origin.set_yticks(y, labels, fontsize="small")
    origin.invert_yaxis()
    origin.set_title("Closed candles by origin (rest = backfilled)")
    if labels:
        origin.legend(fontsize="small")
    else:
        _empty(origin, "no candles")

    missing = _missing(gaps)
    _barh(holes, list(missing.index), missing.to_numpy(), "#8d6e63", "no gaps")
    holes.set_title("Missing candles per series")
    return fig


def _barh(ax: Axes, labels: list[str], values: object, color: str, empty: str) -> None:
    y = np.arange(len(labels))
    ax.barh(y, values, color=color, gid="values")  # type: ignore[arg-type]
    ax.set_yticks(y, labels, fontsize="small")
    ax.invert_yaxis()
    if not labels:
        _empty(ax, empty)


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _series_label(frame: pd.DataFrame) -> pd.Series:
    return frame["exchange"] + " " + frame["symbol"] + " " + frame["interval"]


def _origins(origins: pd.DataFrame) -> pd.DataFrame:
    """Candles per series (rows) and origin (columns)."""
    if origins.empty:
        return pd.DataFrame()
    table = origins.assign(series=_series_label(origins))
    return table.pivot_table(
        index="series", columns="origin", values="candles", aggfunc="sum", fill_value=0
    )


def _missing(gaps: pd.DataFrame) -> pd.Series:
    """Missing candles summed per series."""
    if gaps.empty:
        return pd.Series(dtype="int64")
    return gaps.assign(series=_series_label(gaps)).groupby("series")["missing_candles"].sum()
