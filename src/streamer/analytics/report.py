"""`streamer report`: run the analytics queries once and write index.html with PNG charts.

Each section runs its queries, draws its chart from exactly what came back and writes the
chart (`<name>.png`) and its data (`<name>.csv`) into the output directory. A section whose
data is absent says so (what dataset, which window); a failing query is reported on the page
and the rest of the report still gets written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from streamer.analytics import charts
from streamer.analytics.engines import QueryFailed
from streamer.analytics.page import Section, render
from streamer.analytics.queries import Analytics
from streamer.analytics.window import BAR_UNITS, Window, auto_bar, bar_seconds

MAX_CANDLE_CHARTS = 24
_FILE_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class Result:
    out: Path
    sections: list[Section] = field(default_factory=list)

    @property
    def charts(self) -> list[Path]:
        return [self.out / png for s in self.sections for png, _ in s.charts]

    @property
    def missing(self) -> list[str]:
        return [f"{s.title}: {m}" for s in self.sections for m in (*s.missing, *s.failed)]


def build(
    db: Analytics,
    out: Path,
    bar: str | None = None,
    top: int = 10,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Result:
    """Write `out/index.html`, its charts and CSVs for `db`'s window. Returns what was written."""
    out.mkdir(parents=True, exist_ok=True)
    result = Result(out)
    writer = _Writer(out)
    candles = Section("candles", "Candles", "OHLCV bars with volume per symbol, rolled up from "
                      "the finest closed candle interval each exchange wrote.")  # fmt: skip
    chosen_bar = _candles(db, bar, candles, writer)
    seconds = chosen_bar or (bar_seconds(bar) if bar else 60)
    bar_text = _bar_text(seconds)
    result.sections.append(candles)
    result.sections.append(
        _one_chart(
            writer, "book", "Spread and depth",
            f"Bid/ask spread and best-level depth from the order-book snapshots, per {bar_text} bar.",  # noqa: E501
            lambda: db.book_top(seconds), charts.book, "crypto_order_books",
            db.window,
        )
    )  # fmt: skip
    result.sections.append(
        _one_chart(
            writer, "basis", "Cross-venue basis",
            f"Binance <BASE>-USDT against Coinbase <BASE>-USD (last trade per {bar_text} bar), "
            "and either against CoinGecko's USD price, in basis points.",
            lambda: db.basis(seconds), charts.basis,
            "Binance USDT and Coinbase USD trades of one coin (crypto_trades)", db.window,
        )
    )  # fmt: skip
    result.sections.append(
        _one_chart(
            writer, "volume", "Buy/sell volume",
            f"Traded quote volume by taker side per {bar_text} bar.",
            lambda: db.volume_by_side(seconds), charts.volume_by_side, "crypto_trades",
            db.window,
        )
    )  # fmt: skip
    result.sections.append(
        _one_chart(
            writer, "market_caps", f"Top {top} market caps",
            "CoinGecko's latest markets poll in the window.",
            lambda: db.top_market_caps(top), charts.market_caps, "crypto_markets", db.window,
        )
    )  # fmt: skip
    result.sections.append(_health(db, writer))
    facts = [
        ("engine", db.engine.label),
        ("window", _window_text(db.window)),
        ("symbols", ", ".join(db.window.symbols) or "all"),
        ("bar", bar_text),
        ("generated", now().strftime("%Y-%m-%d %H:%M:%S UTC")),
    ]
    page = render("streamer report", facts, result.sections)
    (out / "index.html").write_text(page, encoding="utf-8")
    return result


class _Writer:
    def __init__(self, out: Path) -> None:
        self.out = out

    def chart(self, section: Section, name: str, figure: Figure, caption: str) -> None:
        png = f"{_FILE_SAFE.sub('_', name)}.png"
        figure.savefig(self.out / png, dpi=100)
        section.charts.append((png, caption))

    def table(self, section: Section, name: str, frame: pd.DataFrame, caption: str) -> None:
        csv = f"{_FILE_SAFE.sub('_', name)}.csv"
        frame.to_csv(self.out / csv, index=False)
        section.tables.append((caption, frame, csv))


def _query(section: Section, run: Callable[[], pd.DataFrame]) -> pd.DataFrame | None:
    try:
        return run()
    except QueryFailed as exc:
        section.failed.append(str(exc).splitlines()[0][:500])
        return None


def _one_chart(
    writer: _Writer,
    key: str,
    title: str,
    about: str,
    run: Callable[[], pd.DataFrame],
    draw: Callable[[pd.DataFrame], Figure],
    needs: str,
    window: Window,
) -> Section:
    section = Section(key, title, about)
    frame = _query(section, run)
    if frame is None:
        return section
    if frame.empty:
        section.missing.append(f"no rows: needs {needs} in {_window_text(window)}")
        return section
    writer.chart(section, key, draw(frame), title)
    writer.table(section, key, frame, f"{title}: the chart's data")
    return section


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


def _candles(db: Analytics, bar: str | None, section: Section, writer: _Writer) -> int | None:
    """Candlestick charts; returns the bar length used (None if there were no candles)."""
    intervals = _query(section, db.intervals)
    if intervals is None:
        return None
    finest = finest_intervals(intervals)
    if not finest:
        section.missing.append(f"no closed candles (crypto_ohlcv) in {_window_text(db.window)}")
        return None
    if bar is not None:
        seconds = bar_seconds(bar)
    else:
        span = (
            db.window.span()
            or (intervals["last_open"].max() - intervals["first_open"].min()).to_pytimedelta()
        )
        seconds = auto_bar(span, math.lcm(*(s for _, s in finest.values())))
    charted = 0
    for exchange, (interval, interval_seconds) in sorted(finest.items()):
        if seconds % interval_seconds:
            section.missing.append(
                f"{exchange}: its {interval} candles cannot make {_bar_text(seconds)} bars"
            )
            continue
        frame = _query(section, partial(db.candles, seconds, interval, exchange))
        if frame is None:
            continue
        for (symbol,), part in charts.series(frame, "symbol"):
            if charted == MAX_CANDLE_CHARTS:
                section.missing.append(
                    f"more symbols than {MAX_CANDLE_CHARTS} charts: choose with --symbols"
                )
                break
            caption = f"{exchange} {symbol}: {_bar_text(seconds)} bars from {interval} candles"
            name = f"candles_{exchange}_{symbol}"
            writer.chart(section, name, charts.candlesticks(part, caption), caption)
            charted += 1
        writer.table(section, f"candles_{exchange}", frame, f"{exchange} bars")
    return seconds


def _health(db: Analytics, writer: _Writer) -> Section:
    section = Section(
        "health", "Data health",
        "Rows per dataset and arrival hour, rejected frames by reason, closed candles by origin "
        "(rest = backfilled after a reconnect or a hole) and holes left in candle series.",
    )  # fmt: skip
    rows = _query(section, db.rows_per_hour)
    rejects = _query(section, db.rejects)
    origins = _query(section, db.candle_origins)
    gaps = _query(section, db.candle_gaps)
    if rows is None or rejects is None or origins is None or gaps is None:
        return section
    if rows.empty:
        section.missing.append(f"the lake has no rows in {_window_text(db.window)}")
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


def _bar_text(seconds: int) -> str:
    for unit, size in sorted(BAR_UNITS.items(), key=lambda item: -item[1]):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"  # pragma: no cover - 1 s divides everything


def _window_text(window: Window) -> str:
    def show(value: datetime) -> str:
        return value.strftime("%Y-%m-%d %H:%M UTC")

    if window.since and window.until:
        return f"{show(window.since)} to {show(window.until)}"
    if window.since:
        return f"the lake from {show(window.since)}"
    if window.until:
        return f"the lake until {show(window.until)}"
    return "the whole lake"


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
    write(f"streamer report: {len(result.charts)} charts in {out / 'index.html'}")
    for line in result.missing:
        write(f"streamer report: missing: {line}")
    return 0
