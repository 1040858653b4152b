"""The completeness page's heatmaps: a row per exchange and symbol, a column per UTC hour.

A cell's colour says how many (missing trade ids, book resyncs) fell in that hour, in steps
(0, 1, 2-9, 10-99, 100-999, 1,000 and more), so nothing reads as zero that is not: 0 is green,
any count above it yellow to dark red, and an hour with no rows to judge (no trades, no quality
rows) is left grey. Cells hold their count when the grid is small enough to print it. Rows are
sorted worst first and capped at `MAX_ROWS`, columns at the last `MAX_HOURS` hours; the page
says what was left out, and the CSVs hold everything.

As in `charts.py`, a chart is drawn from the query's frame as it is (`grid` only lays the
frame's numbers out), and the cells' numbers can be read back from the image (`gid`s name them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from streamer.analytics import axes
from streamer.analytics.charts import nothing

MAX_ROWS = 30
"""Exchange and symbol rows per heatmap at most: the worst ones."""
MAX_HOURS = 168
"""Hour columns at most (a week): the latest ones."""
ANNOTATE_CELLS = 40
"""Columns up to which each cell above zero prints its count."""
NO_ROWS = "#eeeeee"
BINS = (
    (0, "0", "#a5d6a7"),
    (1, "1", "#fff176"),
    (2, "2-9", "#ffb74d"),
    (10, "10-99", "#ff7043"),
    (100, "100-999", "#d32f2f"),
    (1000, "1,000+", "#6d0000"),
)
"""(lowest count, legend label, colour) of each colour step."""
DARK = 4
"""Bins from this index on are dark: their counts are printed in white."""
CAUSES = (
    ("sequence_break", "sequence break"),
    ("checksum_mismatch", "checksum mismatch"),
    ("venue_reset", "venue reset"),
)
"""The resync causes: the `book_resyncs` columns and their names."""


@dataclass(frozen=True, slots=True)
class Grid:
    """A frame's counts laid out for a heatmap."""

    rows: list[tuple[str, str]]
    """(exchange, symbol) of each row, worst first"""
    hours: list[pd.Timestamp]
    """each column's hour start, contiguous"""
    hidden_rows: list[tuple[str, str]]
    """rows beyond `MAX_ROWS`, worst first"""
    hidden_hours: int
    """hours before the first column that had rows"""
    zero_rows: int = 0
    """rows left out because they sum to zero"""
    hidden_busy: int = 0
    """of `hidden_rows`, those with a count above zero"""

    def cells(self, frame: pd.DataFrame, column: str) -> np.ndarray:
        """`column` per row and hour; NaN where the frame has no row for that hour."""
        out = np.full((len(self.rows), len(self.hours)), np.nan)
        row_of = {key: i for i, key in enumerate(self.rows)}
        col_of = {hour: j for j, hour in enumerate(self.hours)}
        keys = zip(frame["exchange"], frame["symbol"], frame["hour_start"], frame[column],
                   strict=True)  # fmt: skip
        for exchange, symbol, hour, value in keys:
            i, j = row_of.get((str(exchange), str(symbol))), col_of.get(pd.Timestamp(hour))
            if i is not None and j is not None:
                out[i, j] = value
        return out


def grid(
    frame: pd.DataFrame,
    columns: Sequence[str],
    max_rows: int = MAX_ROWS,
    max_hours: int = MAX_HOURS,
    skip_zero: bool = False,
) -> Grid:
    """Rows sorted by the sum of `columns` (most first, then by name; with `skip_zero`, rows
    summing to 0 left out), every hour from the frame's first to its last (the latest
    `max_hours`)."""
    totals = frame.groupby(["exchange", "symbol"])[list(columns)].sum().sum(axis=1)
    ranked = sorted(((str(e), str(s)) for e, s in totals.index),
                    key=lambda key: (-float(totals[key]), key))  # fmt: skip
    kept = [key for key in ranked if totals[key] > 0] if skip_zero else ranked
    first, last = pd.Timestamp(frame["hour_start"].min()), pd.Timestamp(frame["hour_start"].max())
    hours = list(pd.date_range(first, last, freq="h"))
    shown = hours[-max_hours:]
    hidden = kept[max_rows:]
    busy = sum(1 for key in hidden if totals[key] > 0)
    return Grid(kept[:max_rows], shown, hidden, len(hours) - len(shown),
                len(ranked) - len(kept), busy)  # fmt: skip


def resync_grid(frame: pd.DataFrame) -> Grid:
    """The resyncs heatmap's layout: the books with a resync (every book if none has one)."""
    columns = [c for c, _ in CAUSES]
    return grid(frame, columns, skip_zero=bool(frame[columns].to_numpy().sum() > 0))


def totals(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Per exchange and symbol, the sums of `columns` and the hours with rows, worst first
    (the page's table beside a heatmap)."""
    table = frame.groupby(["exchange", "symbol"], as_index=False).agg(
        hours=("hour_start", "size"), **{c: (c, "sum") for c in columns}
    )
    table["_total"] = table[list(columns)].sum(axis=1)
    ordered = table.sort_values(["_total", "exchange", "symbol"], ascending=[False, True, True])
    return ordered.drop(columns="_total").reset_index(drop=True)


def missing_ids(frame: pd.DataFrame) -> Figure:
    """Missing trade ids per exchange and symbol (rows, most first) and UTC hour."""
    title = "Missing trade ids per hour (UTC), counted in the hour of the trade after the gap"
    if frame.empty:
        return nothing(title, "no rows for trades with integer ids")
    layout = grid(frame, ["missing_ids"])
    fig = _figure(len(layout.rows))
    ax = fig.subplots()
    _heatmap(ax, layout, layout.cells(frame, "missing_ids"), "missing_ids")
    ax.set_title(title)
    _legend(fig, "no trades that hour")
    return fig


def resyncs(frame: pd.DataFrame) -> Figure:
    """Book resyncs per exchange and symbol and UTC hour, a panel per cause that occurred,
    rows in the same order in each (most resyncs first); books without any resync are left
    out (they are in the table). With no resync at all, one panel shows every book's zeros."""
    title = "Order-book resyncs per hour (UTC), by cause"
    if frame.empty:
        return nothing(title, "no quality rows for order books")
    layout = resync_grid(frame)
    causes = [(c, name) for c, name in CAUSES if frame[c].sum() > 0]
    absent = [name for c, name in CAUSES if (c, name) not in causes]
    if causes and absent:
        title += f"; none by {' or '.join(absent)}"
    if layout.zero_rows:
        title += f"; {layout.zero_rows} books without any left out"
    if not causes:
        frame = frame.assign(any_cause=0)
        causes = [("any_cause", "any cause: none")]
    fig = _figure(len(layout.rows) * len(causes), panels=len(causes))
    grid_axes = np.atleast_1d(fig.subplots(len(causes), 1, sharex=True, squeeze=False)).ravel()
    for ax, (column, name) in zip(grid_axes, causes, strict=True):
        _heatmap(ax, layout, layout.cells(frame, column), column)
        ax.set_title(name, fontsize="medium", loc="left")
    for ax in grid_axes[:-1]:
        ax.set_xlabel("")
    fig.suptitle(title)
    _legend(fig, "no quality rows that hour")
    return fig


def _figure(rows: int, panels: int = 1) -> Figure:
    height = 0.28 * rows + 1.0 * panels + 1.4
    return Figure(figsize=(11.0, max(3.0, height)), dpi=100, layout="constrained")


def _heatmap(ax: Axes, layout: Grid, cells: np.ndarray, gid: str) -> None:
    bounds = [b[0] - 0.5 for b in BINS] + [np.inf]
    cmap = ListedColormap([b[2] for b in BINS]).with_extremes(bad=NO_ROWS)
    norm = BoundaryNorm(bounds, cmap.N)
    ax.imshow(np.ma.masked_invalid(cells), cmap=cmap, norm=norm, aspect="auto",
              interpolation="nearest", gid=gid)  # fmt: skip
    labels = [f"{e} {s} ({_count(np.nansum(row))})"
              for (e, s), row in zip(layout.rows, cells, strict=True)]  # fmt: skip
    ax.set_yticks(np.arange(len(layout.rows)), labels, fontsize="small")
    _hour_ticks(ax, layout.hours)
    ax.set_xticks(np.arange(len(layout.hours) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(layout.rows) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="minor", length=0)
    if len(layout.hours) <= ANNOTATE_CELLS:
        size = (
            "medium"
            if len(layout.hours) <= 12
            else "small"
            if len(layout.hours) <= 24
            else "x-small"
        )
        for (i, j), value in np.ndenumerate(cells):
            if np.isfinite(value) and value > 0:
                dark = value >= BINS[DARK][0]
                ax.text(j, i, _cell(value), ha="center", va="center", fontsize=size,
                        color="white" if dark else "black", gid=f"{gid}_count")  # fmt: skip


def _hour_ticks(ax: Axes, hours: list[pd.Timestamp]) -> None:
    """An hour per tick, at most about 24 ticks; the date under the first and each midnight."""
    step = max(1, -(-len(hours) // 24))
    ticks = list(range(0, len(hours), step))
    labels = []
    for n, j in enumerate(ticks):
        hour = hours[j]
        new_day = n == 0 or hour.day != hours[ticks[n - 1]].day
        labels.append(hour.strftime("%H\n%b %d") if new_day else hour.strftime("%H"))
    ax.set_xticks(ticks, labels, fontsize="small")
    ax.set_xlabel("hour (UTC)")


def _legend(fig: Figure, empty: str) -> None:
    handles = [Patch(facecolor=NO_ROWS, edgecolor="#bbbbbb", label=empty)]
    handles += [Patch(facecolor=color, label=label) for _, label, color in BINS]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
               fontsize="small")  # fmt: skip


def _count(value: float) -> str:
    return f"{int(value):,}"


def _cell(value: float) -> str:
    """A cell's count: exact up to 9,999, compact above (12k, 1.2M)."""
    return _count(value) if value < 10_000 else axes.compact(value)
