"""What every page of `streamer report` is made of: sections that run their queries, draw a
chart from exactly what came back and write it (`<name>.png`) with its data (`<name>.csv`).

A section whose data is absent says so (what dataset, which window); a failing query is
noted in its section, and the rest of the page is still written.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from streamer.analytics import tables
from streamer.analytics.engines import QueryFailed
from streamer.analytics.page import Chart, Section
from streamer.analytics.window import BAR_UNITS, Window, auto_bar, bar_seconds

_FILE_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")

Prices = Callable[[pd.DataFrame], tuple[dict[str, dict[str, int]], str]]
"""The decimals to show a table's price columns with: {column: {key value: places}}, key."""


class Writer:
    """Writes a section's charts and tables into the output directory."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def chart(self, section: Section, name: str, figure: Figure, caption: str) -> None:
        png = f"{_FILE_SAFE.sub('_', name)}.png"
        image = io.BytesIO()
        figure.savefig(image, format="png", dpi=100)
        (self.out / png).write_bytes(image.getvalue())
        section.charts.append(Chart(png, caption, image.getvalue()))

    def table(
        self,
        section: Section,
        name: str,
        frame: pd.DataFrame,
        caption: str,
        prices: dict[str, dict[str, int]] | None = None,
        key: str = "",
    ) -> None:
        csv = f"{_FILE_SAFE.sub('_', name)}.csv"
        if not frame.empty:  # an empty table is a line on the page saying so, no file
            frame.to_csv(self.out / csv, index=False)
        section.tables.append((caption, tables.shown(frame, prices, key), csv))


def query(section: Section, run: Callable[[], pd.DataFrame]) -> pd.DataFrame | None:
    """`run()`, or None with the engine's message noted in `section` when it fails."""
    try:
        return run()
    except QueryFailed as exc:
        section.failed.append(str(exc).splitlines()[0][:500])
        return None


class Spans:
    """The first and last event times per dataset and exchange, from one spans query
    (`Analytics.spans` or `Analytics.derivative_spans`), run once, on first use."""

    def __init__(self, run: Callable[[], pd.DataFrame]) -> None:
        self.run = run
        self.frame: pd.DataFrame | None = None
        self.failed: list[str] = []

    def of(self, *datasets: str) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
        """Per exchange, the first and last time of its rows in `datasets`."""
        if self.frame is None and not self.failed:
            holder = Section("spans", "", "")
            self.frame = query(holder, self.run)
            self.failed = holder.failed
        if self.frame is None or self.frame.empty:
            return {}
        rows = self.frame[self.frame["dataset"].isin(datasets)]
        found: dict[str, tuple[pd.Timestamp, pd.Timestamp]] = {}
        for e, f, t in zip(rows["exchange"], rows["first_time"], rows["last_time"], strict=True):
            first, last = pd.Timestamp(f), pd.Timestamp(t)
            if str(e) in found:
                first, last = min(first, found[str(e)][0]), max(last, found[str(e)][1])
            found[str(e)] = (first, last)
        return found

    def covered(self, *datasets: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """The first and last time of any exchange's rows in `datasets` (None: no rows)."""
        found = self.of(*datasets)
        if not found:
            return None
        return min(f for f, _ in found.values()), max(t for _, t in found.values())

    def bar(self, datasets: str | Iterable[str], bar: str | None, section: Section) -> int:
        """`bar`, or the one that fits the time the rows of `datasets` cover (1m if
        unknown)."""
        if bar is not None:
            return bar_seconds(bar)
        names = (datasets,) if isinstance(datasets, str) else tuple(datasets)
        covered = self.covered(*names)
        section.failed.extend(f"sizing the bars: {f}" for f in self.failed)
        if covered is None:
            return 60
        first, last = covered
        return auto_bar((last - first).to_pytimedelta(), 1)


def window_needs(needs: str, window: Window) -> str:
    symbols = f" for {', '.join(window.symbols)}" if window.symbols else ""
    return f"no rows for {needs}{symbols} in {window_text(window)}"


def one_chart(
    writer: Writer,
    section: Section,
    run: Callable[[], pd.DataFrame],
    draw: Callable[[pd.DataFrame], Figure],
    needs: str,
    window: Window,
    prices: Prices | None = None,
) -> Section:
    """A section of one query drawn as one chart, its result as the table below it."""
    frame = query(section, run)
    if frame is None:
        return section
    if frame.empty:
        section.missing.append(window_needs(needs, window))
        return section
    writer.chart(section, section.key, draw(frame), section.title)
    places, key = prices(frame) if prices else ({}, "")
    writer.table(section, section.key, frame, f"{section.title}: the chart's data", places, key)
    return section


def bar_text(seconds: int) -> str:
    for unit, size in sorted(BAR_UNITS.items(), key=lambda item: -item[1]):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"  # pragma: no cover - 1 s divides everything


def window_text(window: Window) -> str:
    def show(value: datetime) -> str:
        return value.strftime("%Y-%m-%d %H:%M UTC")

    if window.since and window.until:
        return f"{show(window.since)} to {show(window.until)}"
    if window.since:
        return f"the lake from {show(window.since)}"
    if window.until:
        return f"the lake until {show(window.until)}"
    return "the whole lake"
