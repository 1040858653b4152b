"""`streamer report`: run the analytics queries once and write three pages with PNG charts:
index.html (markets and data health), derivatives.html (funding, open interest, mark against
index, liquidations; `derivatives.py`) and completeness.html (missing trade ids and book
resyncs per symbol and hour, disconnections and unrecoverable holes; `completeness.py`), each
linking the others.

Each page is a list of sections (`sections.py`): each runs its queries, draws its chart from
exactly what came back and writes the chart (`<name>.png`, also embedded in the page) and its
data (`<name>.csv`) into the output directory. A section whose data is absent says so (what
dataset, which window); a failing query is reported on the page and the rest of the report
still gets written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pandas as pd

from streamer.analytics import charts, completeness, derivatives, tables
from streamer.analytics.page import Section, render
from streamer.analytics.queries import Analytics
from streamer.analytics.sections import (
    Spans,
    Writer,
    bar_text,
    one_chart,
    query,
    window_needs,
    window_text,
)
from streamer.analytics.window import BAR_UNITS, Window, auto_bar, bar_seconds

MAX_CANDLE_CHARTS = 24
PAGES = (
    ("index.html", "Markets and data health"),
    ("derivatives.html", "Derivatives"),
    ("completeness.html", "Completeness"),
)
"""The report's pages (file, title), each linking the others."""


@dataclass
class Result:
    out: Path
    sections: list[Section] = field(default_factory=list)
    """index.html's sections"""
    derivatives: list[Section] = field(default_factory=list)
    """derivatives.html's sections"""
    completeness: list[Section] = field(default_factory=list)
    """completeness.html's sections"""

    @property
    def charts(self) -> list[Path]:
        return [self.out / c.png for s in self._all() for c in s.charts]

    @property
    def missing(self) -> list[str]:
        return [f"{s.title}: {m}" for s in self._all() for m in (*s.missing, *s.failed)]

    def _all(self) -> list[Section]:
        return [*self.sections, *self.derivatives, *self.completeness]


def build(
    db: Analytics,
    out: Path,
    bar: str | None = None,
    top: int = 10,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Result:
    """Write `out/index.html`, `out/derivatives.html` and `out/completeness.html`, their
    charts and CSVs for `db`'s window. Returns what was written.

    Without `bar`, each chart gets its own: the shortest of `BAR_LADDER` that cuts the time its
    data covers (per exchange for candles, per dataset otherwise) into at most about 150 bars.
    """
    out.mkdir(parents=True, exist_ok=True)
    result = Result(out)
    writer = Writer(out)
    known: dict[str, int] = {}  # decimals per symbol, from the candles' prices
    spans = Spans(db.spans)
    result.sections.append(_candles(db, bar, writer, known))
    result.sections.append(_book(db, bar, writer, spans, known))
    result.sections.append(_basis(db, bar, writer, spans))
    result.sections.append(_volume(db, bar, writer, spans))
    result.sections.append(_market_caps(db, top, writer))
    result.sections.append(_health(db, writer))
    result.derivatives.extend(derivatives.sections(db, bar, writer))
    result.completeness.extend(completeness.sections(db, writer))
    facts = [
        ("engine", db.engine.label),
        ("window", window_text(db.window)),
        ("symbols", ", ".join(db.window.symbols) or "all"),
        ("bars", bar or "chosen per chart from the data"),
        ("generated", now().strftime("%Y-%m-%d %H:%M:%S UTC")),
    ]
    pages = (result.sections, result.derivatives, result.completeness)
    for (name, title), sections in zip(PAGES, pages, strict=True):
        heading = "streamer report" if name == "index.html" else f"streamer report: {title.lower()}"
        page = render(heading, facts, sections, PAGES, name)
        (out / name).write_text(page, encoding="utf-8")
    return result


def _book(
    db: Analytics, bar: str | None, writer: Writer, spans: Spans, known: dict[str, int]
) -> Section:
    section = Section("book", "Spread and depth", "")
    seconds = spans.bar("crypto_order_books", bar, section)
    section.about = (
        "Bid/ask spread and best-level depth from the order-book snapshots, per "
        f"{bar_text(seconds)} bar (mid prices with the decimals of the symbol's candles, "
        "plus one for the half tick)."
    )

    def prices(frame: pd.DataFrame) -> tuple[dict[str, dict[str, int]], str]:
        return {"mid": {s: d + 1 for s, d in known.items()}}, "symbol"

    return one_chart(
        writer, section, lambda: db.book_top(seconds), partial(charts.book, bar_seconds=seconds),
        "crypto_order_books", db.window, prices,
    )  # fmt: skip


def _basis(db: Analytics, bar: str | None, writer: Writer, spans: Spans) -> Section:
    section = Section("basis", "Cross-venue basis", "")
    seconds = spans.bar("crypto_trades", bar, section)
    section.about = (
        f"Binance <BASE>-USDT against Coinbase <BASE>-USD (last trade per {bar_text(seconds)} "
        "bar), and either against CoinGecko's USD price, in basis points; a row per coin."
    )

    def prices(frame: pd.DataFrame) -> tuple[dict[str, dict[str, int]], str]:
        columns = ("binance_usdt", "coinbase_usd", "coingecko_usd")
        return {c: tables.decimals_per(frame, "base", [c]) for c in columns}, "base"

    return one_chart(
        writer, section, lambda: db.basis(seconds), partial(charts.basis, bar_seconds=seconds),
        "Binance USDT and Coinbase USD trades of one coin (crypto_trades)", db.window, prices,
    )  # fmt: skip


def _volume(db: Analytics, bar: str | None, writer: Writer, spans: Spans) -> Section:
    section = Section("volume", "Buy/sell volume", "")
    seconds = spans.bar("crypto_trades", bar, section)
    section.about = (
        f"Traded quote volume by taker side per {bar_text(seconds)} bar; bars the trades cover "
        "only in part (the first and last) are pale and hatched."
    )
    draw = partial(charts.volume_by_side, bar_seconds=seconds, spans=spans.of("crypto_trades"))
    return one_chart(
        writer, section, lambda: db.volume_by_side(seconds), draw, "crypto_trades", db.window,
    )  # fmt: skip


def _market_caps(db: Analytics, top: int, writer: Writer) -> Section:
    section = Section(
        "market_caps", f"Top {top} market caps", "CoinGecko's latest markets poll in the window."
    )

    def prices(frame: pd.DataFrame) -> tuple[dict[str, dict[str, int]], str]:
        return {"price": tables.decimals_per(frame, "symbol", ["price"])}, "symbol"

    return one_chart(
        writer, section, lambda: db.top_market_caps(top), charts.market_caps, "crypto_markets",
        db.window, prices,
    )  # fmt: skip


def finest_intervals(intervals: pd.DataFrame) -> dict[str, tuple[str, int]]:
    """Per exchange, its finest closed candle interval (name, seconds), from
    `Analytics.intervals()`."""
    best: dict[str, tuple[str, int]] = {}
    if intervals.empty:
        return best
    for exchange, interval in zip(intervals["exchange"], intervals["interval"], strict=True):
        unit = str(interval)[-1:]
        if unit not in BAR_UNITS or not str(interval)[:-1].isdigit():
            continue  # 1M (months) has no fixed length
        seconds = bar_seconds(str(interval), "interval")
        if exchange not in best or seconds < best[exchange][1]:
            best[exchange] = (str(interval), seconds)
    return best


def candle_bars(intervals: pd.DataFrame, bar: str | None = None) -> dict[str, tuple[str, int, int]]:
    """Per exchange: its finest interval (name, seconds) and the bar to roll it up to, `bar`
    or else the one that fits the time that exchange's candles cover (each exchange its own:
    Coinbase's 5-minute candles do not coarsen Binance's 1-second ones)."""
    chosen: dict[str, tuple[str, int, int]] = {}
    for exchange, (interval, seconds) in finest_intervals(intervals).items():
        if bar is not None:
            chosen[exchange] = (interval, seconds, bar_seconds(bar))
            continue
        rows = intervals[(intervals["exchange"] == exchange) & (intervals["interval"] == interval)]
        span = rows["last_open"].max() - rows["first_open"].min() + pd.Timedelta(seconds=seconds)
        chosen[exchange] = (interval, seconds, auto_bar(span.to_pytimedelta(), seconds))
    return chosen


def _candles(db: Analytics, bar: str | None, writer: Writer, known: dict[str, int]) -> Section:
    """Candlestick charts, each exchange at its own bar; fills `known` with the decimals of
    each symbol's prices."""
    section = Section("candles", "Candles", "OHLCV bars with volume per symbol, rolled up from "
                      "the finest closed candle interval each exchange wrote, at a bar chosen "
                      "per exchange; a bar holding fewer candles than it spans is pale and "
                      "hatched.")  # fmt: skip
    intervals = query(section, db.intervals)
    if intervals is None:
        return section
    chosen = candle_bars(intervals, bar)
    if not chosen:
        section.missing.append(window_needs("closed candles (crypto_ohlcv)", db.window))
        return section
    charted = 0
    for exchange, (interval, interval_seconds, seconds) in sorted(chosen.items()):
        if seconds % interval_seconds:
            section.missing.append(
                f"{exchange}: its {interval} candles cannot make {bar_text(seconds)} bars"
            )
            continue
        frame = query(section, partial(db.candles, seconds, interval, exchange))
        if frame is None:
            continue
        if frame.empty:
            section.missing.append(window_needs(f"{exchange} {interval} candles", db.window))
            continue
        places = tables.decimals_per(frame, "symbol", ("open", "high", "low", "close"))
        known.update(places)
        for (symbol,), part in charts.series(frame, "symbol"):
            if charted == MAX_CANDLE_CHARTS:
                section.missing.append(
                    f"more symbols than {MAX_CANDLE_CHARTS} charts: choose with --symbols"
                )
                break
            caption = f"{exchange} {symbol}: {bar_text(seconds)} bars from {interval} candles"
            name = f"candles_{exchange}_{symbol}"
            figure = charts.candlesticks(part, caption, seconds, interval_seconds)
            writer.chart(section, name, figure, caption)
            charted += 1
        prices = {c: places for c in ("open", "high", "low", "close")}
        writer.table(section, f"candles_{exchange}", frame,
                     f"{exchange} {bar_text(seconds)} bars", prices, "symbol")  # fmt: skip
    return section


def _health(db: Analytics, writer: Writer) -> Section:
    section = Section(
        "health", "Data health",
        "Rows per dataset and arrival hour, rejected frames by reason, closed candles by origin "
        "(rest = backfilled after a reconnect or a hole) and holes left in candle series.",
    )  # fmt: skip
    rows = query(section, db.rows_per_hour)
    rejects = query(section, db.rejects)
    origins = query(section, db.candle_origins)
    gaps = query(section, db.candle_gaps)
    if rows is None or rejects is None or origins is None or gaps is None:
        return section
    if rows.empty:
        section.missing.append(f"the lake has no rows in {window_text(db.window)}")
        return section
    empty = sorted(set(_dataset_names()) - set(rows["dataset"]))
    if empty:
        section.missing.append(f"no rows in: {', '.join('crypto_' + d for d in empty)}")
    writer.chart(section, "health", charts.health(rows, rejects, origins, gaps), "Data health")
    writer.table(section, "health_rows", rows, "Rows per dataset and hour")
    writer.table(section, "health_rejects", rejects, "Rejects by reason")
    writer.table(section, "health_origins", origins, "Candles by origin")
    writer.table(section, "health_gaps", gaps, "Gaps in candle series")
    return section


def _dataset_names() -> list[str]:
    from streamer.schema import DATASETS

    return list(DATASETS)


def default_window(
    engine: str, since: datetime | None, until: datetime | None, symbols: tuple[str, ...] = ()
) -> Window:
    """Without --since, Athena looks at the 24 hours before --until (default now) so a scan
    stays bounded; a local lake is read whole."""
    if engine == "athena" and since is None:
        until = until or datetime.now(UTC).replace(second=0, microsecond=0)
        since = until - timedelta(hours=24)
    return Window(since, until, symbols)


def command(
    *,
    engine: str,
    lake: Path | None,
    out: Path,
    since: str | None,
    until: str | None,
    symbols: list[str],
    bar: str | None,
    top: int,
    write: Callable[[str], None],
) -> int:
    """`streamer report`: validate, connect, build, say where the page is. Bad arguments
    raise ConfigError (the CLI's exit 2); a failing query is reported in the page."""
    from streamer.analytics import AthenaTarget, connect
    from streamer.analytics.progress import Lines
    from streamer.analytics.window import parse_symbols, parse_time

    start = parse_time(since, "--since") if since else None
    end = parse_time(until, "--until") if until else None
    if bar is not None:
        bar_seconds(bar)
    if not 1 <= top <= 1000:
        from streamer.errors import ConfigError

        raise ConfigError("--top", f"{top} is out of range", "Use 1 to 1000.")
    window = default_window(engine, start, end, parse_symbols(symbols))
    progress = Lines(lambda line: write(f"streamer report: {line}"))
    if engine == "athena":
        from streamer import settings

        config = settings.load().athena
        if not config.workgroup:
            from streamer.errors import ConfigError

            raise ConfigError(
                "STREAMER_ATHENA_WORKGROUP",
                "--engine athena needs the deployment's workgroup",
                "Set it to the Terraform output athena_workgroup.",
            )
        target = AthenaTarget(config.workgroup, config.database)
        db = connect(athena=target, window=window, progress=progress)
    else:
        from streamer.lake_files import lake_root

        db = connect(lake=lake_root(lake), window=window, progress=progress)
    with db:
        result = build(db, out, bar=bar, top=top)
    for line in result.missing:
        write(f"streamer report: missing: {line}")
    write(f"streamer report: the derivatives page is {out / 'derivatives.html'}")
    write(f"streamer report: the completeness page is {out / 'completeness.html'}")
    write(f"streamer report: {len(result.charts)} charts in {out / 'index.html'}")
    return 0
