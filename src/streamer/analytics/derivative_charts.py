"""The derivatives page's charts: matplotlib figures drawn from the query DataFrames as they are.

A panel per contract (`exchange symbol`), two columns when there are several, sharing the time
axis, each with its own scale: a quiet contract is not flattened by a busy one. As in
`charts.py`, a bar [start, start + bar) is drawn at its middle, and `xlim` (the first and last
time the page's data covers) keeps sparse series (liquidations) on the page's whole time
range, so that what is not there is seen as not there.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.container import Container
from matplotlib.figure import Figure

from streamer.analytics import axes
from streamer.analytics.charts import DOWN, UP, nothing, series

MAX_PANELS = 24
"""Contracts per chart at most (the rest are named on the page: choose with --symbols)."""
SETTLED = "#37474f"
TimeSpan = tuple[pd.Timestamp, pd.Timestamp]


def contracts(*frames: pd.DataFrame) -> list[tuple[str, str]]:
    """The (exchange, symbol) pairs of `frames`, sorted: one panel each."""
    pairs = {
        (str(e), str(s))
        for f in frames
        if not f.empty
        for e, s in zip(f["exchange"], f["symbol"], strict=True)
    }
    return sorted(pairs)


def _grid(
    title: str, panels: list[tuple[str, str]], height: float = 2.6
) -> tuple[Figure, list[Axes]]:
    columns = 2 if len(panels) > 1 else 1
    rows = max(1, -(-len(panels) // columns))
    fig = Figure(figsize=(11.0, max(3.2, height * rows + 0.8)), dpi=100, layout="constrained")
    grid = list(np.atleast_1d(fig.subplots(rows, columns, sharex=True, squeeze=False)).ravel())
    for ax, (exchange, symbol) in zip(grid, panels, strict=False):
        ax.set_title(f"{exchange} {symbol}", fontsize="medium")
    for below, ax in enumerate(grid[len(panels) :], start=len(panels)):
        ax.set_visible(False)
        if below >= columns:  # the panel above it ends its column: it shows the times
            grid[below - columns].xaxis.set_tick_params(labelbottom=True)
    fig.suptitle(title)
    return fig, grid[: len(panels)]


def _panels(frame: pd.DataFrame, panels: list[tuple[str, str]], grid: list[Axes]) -> Iterator[
    tuple[Axes, pd.DataFrame]
]:  # fmt: skip
    parts = {key: part for key, part in series(frame, "exchange", "symbol")} if len(frame) else {}
    for ax, key in zip(grid, panels, strict=True):
        yield ax, parts.get(key, frame.iloc[0:0])


def _finish(ax: Axes, xlim: TimeSpan | None) -> None:
    axes.time_axis(ax)
    if xlim is not None:
        left, right = axes.dates([xlim[0], xlim[1]])
        ax.set_xlim(float(left), float(right))


def funding(
    predicted: pd.DataFrame,
    settled: pd.DataFrame,
    bar_seconds: int | None = None,
    xlim: TimeSpan | None = None,
) -> Figure:
    """Funding per contract in percent per funding interval: the predicted rate, last seen in
    each bar, as a step line; each settled funding a marker at its funding time, with the
    last rate predicted for it hollow beside it."""
    panels = contracts(predicted, settled)[:MAX_PANELS]
    if not panels:
        return nothing("Funding rates", "no rows for predicted or settled funding")
    bar = axes.bar_of(predicted["bar_start"], bar_seconds) if len(predicted) else 60
    fig, grid = _grid("Funding rate: predicted (line) and settled (markers), % per funding",
                      panels)  # fmt: skip
    for (ax, part), (_, done) in zip(_panels(predicted, panels, grid),
                                     _panels(settled, panels, grid), strict=True):  # fmt: skip
        if len(part):
            x = axes.centres(part["bar_start"], bar)
            # the latest prediction a dot too: a short run's line is a sliver on a day's axis
            ax.plot(x, part["funding_rate"] * 100, drawstyle="steps-mid", label="predicted",
                    marker="o", markersize=4, markevery=[len(part) - 1], clip_on=False,
                    gid="predicted")  # fmt: skip
        if len(done):
            x = axes.dates(done["funding_time"].to_numpy())
            ax.plot(x, done["funding_rate"] * 100, "D", color=SETTLED, label="settled",
                    gid="settled")  # fmt: skip
            known = done["last_predicted"].notna().to_numpy()
            if known.any():
                ax.plot(x[known], done["last_predicted"].to_numpy()[known] * 100, "o",
                        mfc="none", color="#ff7043", markersize=9,
                        label="last predicted for it", gid="last_predicted")  # fmt: skip
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_ylabel("% per funding")
        _finish(ax, xlim)
    _legend(fig, grid)
    return fig


def open_interest(frame: pd.DataFrame, bar_seconds: int | None = None,
                  xlim: TimeSpan | None = None) -> Figure:  # fmt: skip
    """Open interest per contract in contracts (the last polled value of each bar), with
    the latest value's quote worth at the mark price in each panel's title."""
    panels = contracts(frame)[:MAX_PANELS]
    if not panels:
        return nothing("Open interest", "no rows for open interest")
    bar = axes.bar_of(frame["bar_start"], bar_seconds)
    fig, grid = _grid("Open interest (contracts; last value polled in each bar)", panels)
    for ax, part in _panels(frame, panels, grid):
        x = axes.centres(part["bar_start"], bar)
        ax.plot(x, part["open_interest"], marker=".", gid="open_interest")
        worth = part["open_interest_quote"].dropna()
        if len(worth):
            ax.set_title(f"{ax.get_title()} (latest ≈ {axes.compact(worth.iloc[-1])} quote)",
                         fontsize="medium")  # fmt: skip
        axes.compact_axis(ax)
        ax.set_ylabel("contracts")
        ax.margins(y=0.15)
        _finish(ax, xlim)
    return fig


def mark_basis(frame: pd.DataFrame, bar_seconds: int | None = None,
               xlim: TimeSpan | None = None) -> Figure:  # fmt: skip
    """Mark price over index price per contract in basis points: the mean over each bar as
    a line, the bar's lowest to highest tick shaded."""
    panels = contracts(frame)[:MAX_PANELS]
    if not panels:
        return nothing("Mark against index", "no rows for mark and index prices")
    bar = axes.bar_of(frame["bar_start"], bar_seconds)
    fig, grid = _grid("Mark price against index price (basis points; mean, range shaded)",
                      panels)  # fmt: skip
    for ax, part in _panels(frame, panels, grid):
        x = axes.centres(part["bar_start"], bar)
        ax.fill_between(x, part["min_basis_bps"], part["max_basis_bps"], alpha=0.25,
                        linewidth=0, label="lowest to highest tick", gid="range")  # fmt: skip
        ax.plot(x, part["basis_bps"], marker=".", label="mean", gid="basis")
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_ylabel("basis points")
        _finish(ax, xlim)
    _legend(fig, grid)
    return fig


def liquidations(frame: pd.DataFrame, bar_seconds: int | None = None,
                 xlim: TimeSpan | None = None) -> Figure:  # fmt: skip
    """Liquidated notional per contract and bar (quote units): buy orders (shorts
    liquidated) up, sell orders (longs liquidated) down."""
    panels = contracts(frame)[:MAX_PANELS]
    if not panels:
        return nothing("Liquidations", "no rows for liquidations")
    bar = axes.bar_of(frame["bar_start"], bar_seconds)
    width = axes.width(bar)
    fig, grid = _grid("Liquidated notional (quote units): shorts up (buy orders), longs down "
                      "(sell orders)", panels)  # fmt: skip
    for ax, part in _panels(frame, panels, grid):
        for side, sign, color, label in (("buy", 1, UP, "buy: shorts liquidated"),
                                         ("sell", -1, DOWN, "sell: longs liquidated")):  # fmt: skip
            rows = part[part["side"] == side]
            ax.bar(axes.centres(rows["bar_start"], bar), sign * rows["notional"].to_numpy(),
                   width, color=color, label=label, gid=side)  # fmt: skip
        ax.axhline(0, color="grey", linewidth=0.8)
        top = float(part["notional"].max()) if len(part) else 1.0
        ax.set_ylim(-1.15 * top, 1.15 * top)  # symmetric: up and down read alike
        axes.compact_axis(ax)
        _finish(ax, xlim)
    _legend(fig, grid)
    return fig


def _legend(fig: Figure, grid: list[Axes]) -> None:
    """One legend for the figure, of every kind of line any panel drew."""
    seen: dict[str, Artist] = {}
    for ax in grid:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if isinstance(handle, Container) and not len(handle):
                continue  # no bars in this panel: its empty container has no colour to show
            seen.setdefault(label, handle)
    if seen:
        fig.legend(list(seen.values()), list(seen.keys()), loc="outside lower center",
                   ncols=len(seen), fontsize="small")  # fmt: skip
