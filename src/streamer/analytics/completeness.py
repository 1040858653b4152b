"""The report's completeness page (completeness.html): what the lake is missing, per symbol and
hour, and why.

- Missing trade ids, from the trades themselves (`trade_id_gaps.sql`): the ids absent between
  consecutive ids of each symbol, counted in the hour of the trade after them. Venues whose ids
  are integers only (Binance spot and USD-M, Coinbase, OKX, Kraken).
- Book resyncs by cause, from the `quality` rows of the order-book streams.
- Per venue: the hours with disconnected time (`quality`'s connection rows) and the id ranges
  the collector recorded as not recoverable, with the reason.

`streamer audit --day D` checks the same day by day and exits 1 on an unrecovered hole; this
page shows where in the window the holes and resyncs fall.
"""

from __future__ import annotations

import pandas as pd

from streamer.analytics import completeness_charts as charts
from streamer.analytics.completeness_charts import CAUSES, MAX_HOURS, MAX_ROWS
from streamer.analytics.page import Section
from streamer.analytics.queries import Analytics
from streamer.analytics.sections import Writer, query, window_needs

QUALITY = "crypto_quality"
MAX_RANGES = 100
"""Unrecoverable ranges `unrecoverable.sql` reads per quality row."""


def sections(db: Analytics, writer: Writer) -> list[Section]:
    return [_missing_ids(db, writer), _resyncs(db, writer), _venues(db, writer)]


def _capped(section: Section, layout: charts.Grid, what: str) -> None:
    """Notes in `section` the rows and hours its heatmap leaves out."""
    if layout.hidden_rows:
        hidden, busy = len(layout.hidden_rows), layout.hidden_busy
        more = (
            (
                f"{busy} more with {what} (all in the CSV), starting with "
                f"{' '.join(layout.hidden_rows[0])}: choose with --symbols"
            )
            if busy
            else ""
        )
        none = f"{hidden - busy} more with none" if hidden > busy else ""
        section.missing.append(
            f"the chart shows the {MAX_ROWS} symbols with the most {what}; "
            + "; ".join(t for t in (more, none) if t)
        )
    if layout.hidden_hours:
        section.missing.append(
            f"the chart shows the last {MAX_HOURS} hours; {layout.hidden_hours} earlier hours are "
            "in the CSV: narrow the window with --since and --until"
        )


def _missing_ids(db: Analytics, writer: Writer) -> Section:
    section = Section(
        "missing_ids", "Missing trade ids",
        "Trade ids absent from the lake, per symbol and UTC hour: for each symbol the gaps "
        "between consecutive trade ids of the window, counted in the hour of the trade after "
        "the gap (ids before the window's first trade are not checked). Green: every id there; "
        "grey: no trades that hour. Only venues with integer trade ids (Binance spot and "
        "USD-M, Coinbase, OKX, Kraken); worst symbols first.",
    )  # fmt: skip
    frame = query(section, db.trade_id_gaps)
    if frame is None:
        return section
    if frame.empty:
        section.missing.append(window_needs("trades with integer ids (crypto_trades)", db.window))
        return section
    _capped(section, charts.grid(frame, ["missing_ids"]), "missing ids")
    writer.chart(section, "completeness_missing_ids", charts.missing_ids(frame),
                 "Missing trade ids per symbol and hour")  # fmt: skip
    per_symbol = charts.totals(frame, ["trades", "missing_ids", "gaps"])
    writer.table(section, "completeness_missing_ids_per_symbol", per_symbol,
                 "Missing trade ids per symbol, worst first")  # fmt: skip
    writer.table(section, "completeness_missing_ids", frame,
                 "Missing trade ids per symbol and hour: the chart's data")  # fmt: skip
    return section


def _resyncs(db: Analytics, writer: Writer) -> Section:
    section = Section(
        "resyncs", "Order-book resyncs",
        "How often each book was rebuilt from a snapshot, per symbol, UTC hour and cause "
        "(a sequence break: an update was missed; a checksum mismatch: the book kept diverged "
        "from the venue's; a venue reset), from the quality rows. Grey: no quality rows for "
        "that book that hour; most resyncs first.",
    )  # fmt: skip
    frame = query(section, db.book_resyncs)
    if frame is None:
        return section
    if frame.empty:
        section.missing.append(window_needs(f"order-book quality rows ({QUALITY})", db.window))
        return section
    causes = [c for c, _ in CAUSES]
    _capped(section, charts.resync_grid(frame), "resyncs")
    writer.chart(section, "completeness_resyncs", charts.resyncs(frame),
                 "Order-book resyncs per symbol, hour and cause")  # fmt: skip
    writer.table(section, "completeness_resyncs_per_symbol", charts.totals(frame, causes),
                 "Resyncs per symbol and cause, most first")  # fmt: skip
    writer.table(section, "completeness_resyncs", frame,
                 "Resyncs per symbol, hour and cause: the chart's data")  # fmt: skip
    return section


def _venues(db: Analytics, writer: Writer) -> Section:
    section = Section(
        "venues", "Disconnections and unrecoverable holes",
        "Per venue: the hours it spent disconnected (quality's connection rows, seconds summed "
        "over shards) and the id ranges the collector could not recover from the venue's "
        "history, with the reason (a history limit, a delisted symbol).",
    )  # fmt: skip
    hours = query(section, db.connection_hours)
    holes = query(section, db.unrecoverable)
    if hours is None or holes is None:
        return section
    if hours.empty and holes.empty:
        section.missing.append(window_needs(f"connection or hole quality rows ({QUALITY})",
                                            db.window))  # fmt: skip
        return section
    down = hours[hours["disconnected_s"] > 0].reset_index(drop=True)
    if not hours.empty and down.empty:
        section.about += " No hour had disconnected time."
    if holes.empty:
        section.about += " No id range was recorded as unrecoverable."
    writer.table(section, "completeness_venues", venue_summary(hours, holes), "Per venue")
    if not down.empty:
        writer.table(section, "completeness_disconnected", down, "Hours with disconnected time")
    if not holes.empty and (holes["ranges_in_row"] > MAX_RANGES).any():
        section.missing.append(
            f"a quality row holds more than {MAX_RANGES} unrecoverable ranges: the table lists "
            f"its first {MAX_RANGES}; streamer audit lists them all"
        )
    if not holes.empty:
        writer.table(section, "completeness_unrecoverable", holes,
                     "Unrecoverable id ranges and their reasons")  # fmt: skip
    return section


def venue_summary(hours: pd.DataFrame, holes: pd.DataFrame) -> pd.DataFrame:
    """Per exchange: hours with connection rows, hours with disconnected time, seconds
    disconnected, silent subscriptions, rejects; unrecoverable ranges and the ids they hold."""
    links = hours.groupby("exchange").agg(
        hours=("hour_start", "size"),
        hours_disconnected=("disconnected_s", lambda s: int((s > 0).sum())),
        disconnected_s=("disconnected_s", "sum"),
        silent_subscriptions=("silent_subscriptions", "sum"),
        rejects=("rejects", "sum"),
    )
    lost = holes.groupby("exchange").agg(
        unrecoverable_ranges=("ids", "size"), unrecoverable_ids=("ids", "sum")
    )
    table = links.join(lost, how="outer").reset_index()
    counts = ["hours", "hours_disconnected", "silent_subscriptions", "rejects",
              "unrecoverable_ranges", "unrecoverable_ids"]  # fmt: skip
    table[counts] = table[counts].fillna(0).astype("int64")
    table["disconnected_s"] = table["disconnected_s"].fillna(0.0).astype("float64")
    return table.sort_values("exchange", ignore_index=True)
