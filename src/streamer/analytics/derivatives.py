"""The report's derivatives page (derivatives.html): funding, open interest, mark against index
and liquidations, one section each, from the `binance_usdm` source's datasets (any venue's
rows in them alike).

Every chart of the page is drawn at one bar, chosen from the time the derivative tickers,
open interest and liquidations cover (settled fundings, fetched a day back at start, do not
stretch it), and on that time range, so the panels line up.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pandas as pd
from matplotlib.figure import Figure

from streamer.analytics import derivative_charts, tables
from streamer.analytics.derivative_charts import MAX_PANELS, TimeSpan, contracts
from streamer.analytics.page import Section
from streamer.analytics.queries import Analytics
from streamer.analytics.sections import Spans, Writer, bar_text, one_chart, query, window_needs

TICKERS = "crypto_derivative_tickers"
OPEN_INTEREST = "crypto_open_interest"
LIQUIDATIONS = "crypto_liquidations"
FUNDING = "crypto_funding_rates"
SIZED_BY = (TICKERS, OPEN_INTEREST, LIQUIDATIONS)
"""The datasets whose time the page's bar and time range are chosen from."""


def sections(db: Analytics, bar: str | None, writer: Writer) -> list[Section]:
    spans = Spans(db.derivative_spans)
    funding = Section("funding", "Funding rates", "")
    seconds = spans.bar(SIZED_BY, bar, funding)
    xlim = _time_range(spans, seconds)
    return [
        _funding(db, seconds, writer, funding, xlim),
        _open_interest(db, seconds, writer, xlim),
        _mark_basis(db, seconds, writer, xlim),
        _liquidations(db, seconds, writer, xlim),
    ]


def _time_range(spans: Spans, seconds: int) -> TimeSpan | None:
    """From the start of the first bar to the end of the last, of the data the bar was
    chosen from (None when there is none)."""
    covered = spans.covered(*SIZED_BY)
    if covered is None:
        return None
    step = pd.Timedelta(seconds=seconds)
    first, last = covered
    return first.floor(step), last.floor(step) + step


def _too_many(section: Section, *frames: pd.DataFrame) -> None:
    shown = len(contracts(*frames))
    if shown > MAX_PANELS:
        section.missing.append(
            f"{shown} contracts, the chart shows the first {MAX_PANELS}: choose with --symbols"
        )


def _capped(section: Section, draw: Callable[[pd.DataFrame], Figure]) -> Callable[
    [pd.DataFrame], Figure
]:  # fmt: skip
    """`draw`, noting in `section` when the frame has more contracts than a chart shows."""

    def capped(frame: pd.DataFrame) -> Figure:
        _too_many(section, frame)
        return draw(frame)

    return capped


def _funding(
    db: Analytics, seconds: int, writer: Writer, section: Section, xlim: TimeSpan | None
) -> Section:
    section.about = (
        f"The funding rate the venue predicts for each contract's next funding (the last shown "
        f"in each {bar_text(seconds)} bar) and the rates settled at each funding, beside the "
        "last prediction for it; in percent of the position per funding interval (8 h on most "
        "Binance perpetuals). Dated contracts do not fund."
    )
    predicted = query(section, partial(db.funding_predicted, seconds))
    settled = query(section, db.funding_settled)
    if predicted is None or settled is None:
        return section
    if predicted.empty:
        section.missing.append(window_needs(f"predicted funding ({TICKERS})", db.window))
    if settled.empty:
        section.missing.append(window_needs(f"settled funding ({FUNDING})", db.window))
    if predicted.empty and settled.empty:
        return section
    _too_many(section, predicted, settled)
    if not settled.empty and xlim is not None:  # settled fundings before the range widen it
        times = settled["funding_time"]
        xlim = (min(xlim[0], times.min()), max(xlim[1], times.max()))
    figure = derivative_charts.funding(predicted, settled, seconds, xlim)
    writer.chart(section, "funding", figure, "Funding rates: predicted and settled")
    writer.table(section, "funding_predicted", predicted, "Predicted funding per bar")
    writer.table(section, "funding_settled", settled, "Settled fundings")
    return section


def _open_interest(db: Analytics, seconds: int, writer: Writer, xlim: TimeSpan | None) -> Section:
    section = Section(
        "open_interest", "Open interest",
        f"Open contracts per contract (polled from the venue; the last value of each "
        f"{bar_text(seconds)} bar), and their worth at the bar's last mark price.",
    )  # fmt: skip

    def prices(frame: pd.DataFrame) -> tuple[dict[str, dict[str, int]], str]:
        return {"mark_price": tables.decimals_per(frame, "symbol", ["mark_price"])}, "symbol"

    draw = _capped(
        section, partial(derivative_charts.open_interest, bar_seconds=seconds, xlim=xlim)
    )
    return one_chart(writer, section, partial(db.open_interest, seconds), draw,
                     f"open interest ({OPEN_INTEREST})", db.window, prices)  # fmt: skip


def _mark_basis(db: Analytics, seconds: int, writer: Writer, xlim: TimeSpan | None) -> Section:
    section = Section(
        "mark_basis", "Mark against index",
        f"How far each contract's mark price stands from its index price (the spot price it "
        f"tracks), in basis points: the mean of each {bar_text(seconds)} bar, its lowest and "
        "highest tick shaded. Mark above index (a premium) pushes funding up.",
    )  # fmt: skip

    def prices(frame: pd.DataFrame) -> tuple[dict[str, dict[str, int]], str]:
        columns = ("mark_price", "index_price")
        return {c: tables.decimals_per(frame, "symbol", [c]) for c in columns}, "symbol"

    draw = _capped(section, partial(derivative_charts.mark_basis, bar_seconds=seconds, xlim=xlim))
    return one_chart(writer, section, partial(db.mark_basis, seconds), draw,
                     f"mark and index prices ({TICKERS})", db.window, prices)  # fmt: skip


def _liquidations(db: Analytics, seconds: int, writer: Writer, xlim: TimeSpan | None) -> Section:
    section = Section(
        "liquidations", "Liquidations",
        f"Notional of the forced orders that closed positions, per {bar_text(seconds)} bar and "
        "side: buy orders close shorts, sell orders close longs. Binance reports at most the "
        "latest liquidation per contract and second, so these are lower bounds.",
    )  # fmt: skip
    draw = _capped(section, partial(derivative_charts.liquidations, bar_seconds=seconds, xlim=xlim))
    return one_chart(writer, section, partial(db.liquidations, seconds), draw,
                     f"liquidations ({LIQUIDATIONS})", db.window)  # fmt: skip
