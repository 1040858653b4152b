"""The report's charts: matplotlib figures drawn from the query DataFrames, nothing else.

Each function takes what `Analytics` returned and draws it as is (no resampling, no
smoothing), so a chart shows exactly the SQL result; `tests/analytics/test_charts.py` reads the
values back from the artists. Figures are made without pyplot (no global state, no GUI): save
them with `figure.savefig(path)`, which renders with Agg, or display them in a notebook.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from streamer.analytics import axes

UP = "#26a69a"
DOWN = "#ef5350"
WIDE = (11.0, 6.0)
dates = axes.dates


def _figure(size: tuple[float, float] = WIDE) -> Figure:
    return Figure(figsize=size, dpi=100, layout="constrained")


def series(frame: pd.DataFrame, *keys: str) -> Iterator[tuple[tuple[str, ...], pd.DataFrame]]:
    """The frame split by `keys`, in sorted order (for one line or one chart per series)."""
    for key, part in frame.groupby(list(keys), sort=True):
        yield tuple(str(k) for k in key), part


EXCHANGE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                   "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip
"""Matplotlib's ten: one per exchange, in the order of their names (then again)."""
COIN_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
"""One per base asset, so one coin's lines on several exchanges share a marker."""


def styles(frame: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """A colour per exchange and a marker per base asset (`BTC` of `BTC-USDT-PERP`) of the
    frame: with five venues and more symbols, the colour says where and the marker what."""
    exchanges = sorted(frame["exchange"].astype(str).unique())
    bases = sorted(frame["symbol"].astype(str).str.split("-").str[0].unique())
    return (
        {e: EXCHANGE_COLORS[i % len(EXCHANGE_COLORS)] for i, e in enumerate(exchanges)},
        {b: COIN_MARKERS[i % len(COIN_MARKERS)] for i, b in enumerate(bases)},
    )


def nothing(title: str, text: str, size: tuple[float, float] = (11.0, 3.0)) -> Figure:
    """A figure that says there were no rows for it (instead of an empty frame)."""
    fig = _figure(size)
    ax = fig.subplots()
    ax.set_title(title)
    axes.empty(ax, text)
    return fig


def candlesticks(
    candles: pd.DataFrame,
    title: str,
    bar_seconds: int | None = None,
    interval_seconds: int | None = None,
) -> Figure:
    """One symbol's bars [bar_start, bar_start + bar): wicks from low to high, bodies from
    open to close (green up, red down), volume below. A bar made of fewer candles than it holds
    (`candles` < bar / `interval_seconds`: the first and last of a window, or a hole) is drawn
    pale and hatched."""
    if candles.empty:
        return nothing(title, f"no rows for {title}")
    bar_seconds = axes.bar_of(candles["bar_start"], bar_seconds)
    fig = _figure()
    price, volume = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    x = axes.centres(candles["bar_start"], bar_seconds)
    width = axes.width(bar_seconds)
    up = (candles["close"] >= candles["open"]).to_numpy()
    colors = np.where(up, UP, DOWN)
    full = bar_seconds // interval_seconds if interval_seconds else 1  # bars per candle
    short = (
        (candles["candles"] < full).to_numpy() if "candles" in candles else np.zeros(len(x), bool)
    )
    price.vlines(x, candles["low"], candles["high"], colors=colors, linewidth=1, gid="wicks")
    bottom = np.minimum(candles["open"].to_numpy(), candles["close"].to_numpy())
    height = np.abs(candles["close"].to_numpy() - candles["open"].to_numpy())
    for mask, gid in ((~short, "bodies"), (short, "partial")):
        style = {"alpha": axes.PARTIAL_ALPHA, "hatch": "//"} if gid == "partial" else {}
        label = f"partial bar (fewer than {full} candles)" if gid == "partial" else None
        if mask.any():
            price.bar(x[mask], height[mask], width, bottom=bottom[mask], color=colors[mask],
                      gid=gid, label=label, **style)  # fmt: skip
            volume.bar(x[mask], candles["volume"].to_numpy()[mask], width, color=colors[mask],
                       gid=f"volume_{gid}", **style)  # fmt: skip
    if short.any():
        price.legend(fontsize="small", loc="upper left")
    price.set_title(title)
    price.set_ylabel("price")
    volume.set_ylabel("volume")
    axes.plain(price)
    axes.compact_axis(volume)
    axes.time_axis(price)
    axes.time_axis(volume)
    price.margins(y=0.1)
    return fig


def book(top: pd.DataFrame, bar_seconds: int | None = None) -> Figure:
    """Spread (mean, basis points) and top-of-book depth (quote value of the best bid, solid,
    and best ask, dashed) per bar, a line per exchange and symbol at the bars' middles (a colour
    per exchange; spreads marked per coin, hollow for a contract); each panel goes logarithmic when
    its values span orders of magnitude."""
    if top.empty:
        return nothing("Bid/ask spread and depth", "no rows for order-book snapshots")
    bar_seconds = axes.bar_of(top["bar_start"], bar_seconds)
    fig = _figure((11.0, 7.0))
    spread, depth = fig.subplots(2, 1, sharex=True)
    colors, markers = styles(top)
    for (exchange, symbol), part in series(top, "exchange", "symbol"):
        label = f"{exchange} {symbol}"
        x = axes.centres(part["bar_start"], bar_seconds)
        color, marker = colors[exchange], markers[symbol.split("-")[0]]
        face = "white" if symbol.count("-") > 1 else color  # a contract's marker is hollow
        spread.plot(x, part["spread_bps"], label=label, color=color, marker=marker,
                    markersize=4, markerfacecolor=face)  # fmt: skip
        depth.plot(x, part["bid_depth_quote"], color=color, label=f"{label} bid")
        depth.plot(
            x, part["ask_depth_quote"], color=color, linestyle="--", label=f"{label} ask",
        )  # fmt: skip
    log = axes.fit_scale(spread, top["spread_bps"])
    spread.set_title("Bid/ask spread (mean per bar" + (", log scale)" if log else ")"))
    spread.set_ylabel("basis points")
    log = axes.fit_scale(depth, pd.concat([top["bid_depth_quote"], top["ask_depth_quote"]]))
    if not log:
        axes.compact_axis(depth)
    depth.set_title(
        "Top-of-book depth (quote value at the best level; bid solid, ask dashed"
        + (", log scale)" if log else ")")
    )
    depth.set_ylabel("quote")
    fig.legend(*spread.get_legend_handles_labels(), loc="outside lower center", ncols=4,
               fontsize="small")  # fmt: skip
    for ax in (spread, depth):
        axes.time_axis(ax)
    return fig


BASIS_LINES = (
    ("coinbase_vs_binance_bps", "Coinbase USD vs Binance USDT"),
    ("binance_vs_coingecko_bps", "Binance USDT vs CoinGecko USD"),
    ("coinbase_vs_coingecko_bps", "Coinbase USD vs CoinGecko USD"),
)


def basis(frame: pd.DataFrame, bar_seconds: int | None = None) -> Figure:
    """The cross-venue basis, a row of panels per coin (each its own scale: a coin's basis is
    not squashed by another's): Coinbase against Binance on the left, each venue against
    CoinGecko on the right (points: CoinGecko is polled, so few bars have its price)."""
    if frame.empty:
        return nothing("Cross-venue basis", "no rows for Binance USDT and Coinbase USD trades")
    bar_seconds = axes.bar_of(frame["bar_start"], bar_seconds)
    groups = list(series(frame, "base"))
    fig = _figure((11.0, max(3.5, 2.6 * len(groups))))
    grid = np.atleast_2d(fig.subplots(len(groups), 2, sharex=True, squeeze=False))
    for (venues, gecko), ((base,), part) in zip(grid, groups, strict=True):
        x = axes.centres(part["bar_start"], bar_seconds)
        column, name = BASIS_LINES[0]
        venues.plot(x, part[column], marker=".", label=base)
        venues.set_title(f"{base}: {name} (last trade per bar)", fontsize="medium")
        for (column, name), marker in zip(BASIS_LINES[1:], ("o", "x"), strict=True):
            gecko.plot(x, part[column], marker=marker, linestyle="none", label=f"{base}: {name}")
        gecko.set_title(f"{base}: each venue vs CoinGecko USD (o Binance, x Coinbase)",
                        fontsize="medium")  # fmt: skip
        for ax, columns in ((venues, BASIS_LINES[:1]), (gecko, BASIS_LINES[1:])):
            ax.set_ylabel("basis points")
            ax.axhline(0, color="grey", linewidth=0.8)
            axes.time_axis(ax)
            if part[[c for c, _ in columns]].isna().all(axis=None):
                axes.empty(ax, f"no rows for {base} in these bars", shared_x=True)
    return fig


def volume_by_side(
    frame: pd.DataFrame,
    bar_seconds: int | None = None,
    spans: Mapping[str, tuple[pd.Timestamp, pd.Timestamp]] | None = None,
) -> Figure:
    """Taker buy volume up, sell volume down (quote units), a panel per exchange and symbol.
    With `spans` (exchange: first and last trade time), bars the trades cover only in part
    are drawn pale and hatched."""
    if frame.empty:
        return nothing("Traded volume by taker side", "no rows for trades")
    bar_seconds = axes.bar_of(frame["bar_start"], bar_seconds)
    groups = list(series(frame, "exchange", "symbol"))
    columns = 2 if len(groups) > 1 else 1
    rows = max(1, -(-len(groups) // columns))
    fig = _figure((11.0, max(3.0, 2.4 * rows)))
    grid = np.atleast_1d(fig.subplots(rows, columns, sharex=True, squeeze=False)).ravel()
    width = axes.width(bar_seconds)
    for ax, ((exchange, symbol), part) in zip(grid, groups, strict=False):
        for side, sign, color in (("buy", 1, UP), ("sell", -1, DOWN)):
            rows_ = part[part["side"] == side]
            x = axes.centres(rows_["bar_start"], bar_seconds)
            height = sign * rows_["quote_volume"].to_numpy()
            short = np.zeros(len(rows_), bool)
            if spans and exchange in spans:
                short = axes.partial(rows_["bar_start"], bar_seconds, *spans[exchange])
            ax.bar(x[~short], height[~short], width, color=color, label=side, gid=side)
            if short.any():
                ax.bar(x[short], height[short], width, color=color, gid=f"{side}_partial",
                       alpha=axes.PARTIAL_ALPHA, hatch="//",
                       label="partial bar" if side == "buy" else None)  # fmt: skip
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_title(f"{exchange} {symbol}", fontsize="medium")
        axes.compact_axis(ax)
        axes.time_axis(ax)
    for below in range(len(groups), len(grid)):
        grid[below].set_visible(False)
        if below >= columns:  # the panel above it ends its column: it shows the times
            grid[below - columns].xaxis.set_tick_params(labelbottom=True)
    grid[0].legend(fontsize="small")
    fig.suptitle("Traded volume by taker side (quote units; buys up, sells down)")
    return fig


def market_caps(frame: pd.DataFrame, vs_currency: str = "usd") -> Figure:
    """CoinGecko's top coins by market cap, largest on top; a log axis when the smallest is
    far below the largest, so every bar can be read."""
    if frame.empty:
        return nothing("Top market caps", "no rows for CoinGecko markets")
    fig = _figure((9.0, max(3.0, 0.35 * len(frame) + 1.2)))
    ax = fig.subplots()
    labels = [f"{s} ({n})" for s, n in zip(frame["symbol"], frame["name"], strict=True)]
    y = np.arange(len(frame))
    ax.barh(y, frame["market_cap"], color="#5c6bc0", gid="market_cap")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    log = axes.fit_scale(ax, frame["market_cap"], axis="x")
    if log:  # bars start at the power of ten below the smallest, not at an arbitrary edge
        ax.set_xlim(left=10 ** np.floor(np.log10(frame["market_cap"].min())))
    else:
        axes.compact_axis(ax, axis="x")
    scale = ", log scale" if log else ""
    ax.set_xlabel(f"market cap ({vs_currency.upper()}{scale})")
    ax.set_title("CoinGecko: top coins by market cap (latest poll in the window)")
    ax.grid(True, axis="x", alpha=0.3)
    for position, value in zip(y, frame["market_cap"], strict=True):
        ax.annotate(axes.compact(value), (value, position), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize="small")  # fmt: skip
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
        axes.time_axis(hours)
    else:
        axes.empty(hours, "no rows in the lake")

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
        axes.empty(origin, "no rows for closed candles")

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
        axes.empty(ax, empty)


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
