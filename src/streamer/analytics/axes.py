"""How the report's axes read: time placed by bar, numbers as written, scales that fit the data.

- A bar covers [start, start + bar): it is drawn centred on start + bar/2, 80 % of the bar wide,
  so a bar never appears before the data it holds.
- Prices keep their digits: no offset (`+8.6e4`) and no scientific notation on a price axis.
- Quantities that span orders of magnitude (spreads of BTC and of a small coin, market caps
  ranked 1 and 10) go on a log axis when the largest is `LOG_RATIO` times the smallest.
- An axis with nothing to draw says what it has no rows for.
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import Formatter, ScalarFormatter

LOG_RATIO = 20.0
"""Above this ratio of the largest to the smallest positive value, an axis goes logarithmic."""
BAR_FILL = 0.8
"""The part of its interval a bar's body fills (the rest is the gap to the next bar)."""
PARTIAL_ALPHA = 0.35

_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def dates(values: object) -> np.ndarray:
    """Times as matplotlib date numbers (days), the x of bars, wicks and lines."""
    return np.asarray(mdates.date2num(values))  # type: ignore[no-untyped-call]


def centres(starts: pd.Series, bar_seconds: int) -> np.ndarray:
    """The middle of each bar [start, start + bar), in matplotlib date numbers."""
    return dates((starts + pd.Timedelta(seconds=bar_seconds / 2)).to_numpy())


def bar_of(starts: pd.Series, bar_seconds: int | None = None) -> int:
    """`bar_seconds`, or when not given the smallest step between bar starts (60 if fewer
    than two bars)."""
    if bar_seconds:
        return bar_seconds
    values = np.unique(starts.to_numpy())
    if len(values) < 2:
        return 60
    return max(1, int(np.min(np.diff(values)) / np.timedelta64(1, "s")))


def width(bar_seconds: int) -> float:
    """A bar body's width in matplotlib date units (days)."""
    return BAR_FILL * bar_seconds / 86400


def partial(
    starts: pd.Series, bar_seconds: int, first: pd.Timestamp, last: pd.Timestamp
) -> np.ndarray:
    """Which bars the data covers only in part: those starting before `first` (the data's
    first time) or ending after `last` (its last time; times are to the millisecond)."""
    stops = starts + pd.Timedelta(seconds=bar_seconds)
    return ((starts < first) | (stops > last + pd.Timedelta(milliseconds=1))).to_numpy()


def time_axis(ax: Axes) -> None:
    # at most 7 ticks: half-width panels otherwise crowd labels ("Dec-0702:00")
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.grid(True, alpha=0.3)


def plain(ax: Axes, axis: str = "y") -> None:
    """Tick labels as the numbers themselves: no offset, no scientific notation."""
    formatter = ScalarFormatter(useOffset=False)
    formatter.set_scientific(False)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


def compact(value: float, step: float = 0.0) -> str:
    """1.2k, 3.4M, 1.7T: a quantity or an amount of money at a glance; with `step` (the
    distance to the next tick), as many decimals as tell the ticks apart (1.2005M, 1.201M)."""
    size = abs(value)
    limit, suffix = next(((lim, suf) for lim, suf in _SUFFIXES if size >= lim), (1.0, ""))
    if step > 0 and step / limit < 1:
        places = min(6, int(np.ceil(-np.log10(step / limit) - 1e-9)))
        return f"{value / limit:.{places}f}".rstrip("0").rstrip(".") + suffix
    if step > 0:
        return f"{value / limit:.0f}{suffix}"
    return f"{value / limit:.3g}{suffix}"


class CompactFormatter(Formatter):
    """Tick labels by `compact`, as precise as the ticks' spacing needs: a narrow range of
    large values (open interest moving by 0.1 %) is not labelled 1.2M at every tick."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return compact(x)

    def format_ticks(self, values: Iterable[float]) -> list[str]:
        ticks = [float(v) for v in values]
        finite = sorted({v for v in ticks if np.isfinite(v)})
        step = float(np.min(np.diff(finite))) if len(finite) > 1 else 0.0
        return [compact(v, step) for v in ticks]


def compact_axis(ax: Axes, axis: str = "y") -> None:
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(CompactFormatter())


def wants_log(values: Iterable[float]) -> bool:
    """Whether these values span enough orders of magnitude to need a log axis."""
    array = np.asarray(list(values), dtype=float)
    positive = array[np.isfinite(array) & (array > 0)]
    if len(positive) < 2 or np.any(array[np.isfinite(array)] <= 0):
        return False
    return bool(positive.max() / positive.min() > LOG_RATIO)


def fit_scale(ax: Axes, values: Iterable[float], axis: str = "y") -> bool:
    """A log axis if `wants_log(values)` (then labelled compactly); returns whether it is."""
    log = wants_log(values)
    if log:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
        compact_axis(ax, axis)
    return log


def empty(ax: Axes, text: str, shared_x: bool = False) -> None:
    """An axis with no rows to draw says so instead of showing a blank frame (a time axis
    shared with other panels keeps its ticks)."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, gid="empty")
    if not shared_x:
        ax.set_xticks([])
    ax.set_yticks([])
