"""The analytics queries as functions returning pandas DataFrames.

`Analytics` runs the files in `sql/` on an engine (DuckDB or Athena) over a `Window`. Every
numeric column comes back as float64 or int64 and every time as datetime64 (UTC, naive), the
same from both engines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

import pandas as pd

from streamer.analytics import sqltext
from streamer.analytics.engines import Engine
from streamer.analytics.progress import Progress, Silent
from streamer.analytics.window import Window, bar_seconds, check_currency, parse_symbols, parse_time
from streamer.errors import ConfigError

Bar = str | int
"""A bar length: `5m`, `1h`, ... or seconds."""

_EXCHANGE = re.compile(r"[a-z][a-z0-9_]*")  # an `exchange` value (interpolated into SQL)


class Analytics:
    """The queries over one engine. Each method takes an optional `window` (default: the one
    given to `connect`, or the whole lake)."""

    def __init__(
        self, engine: Engine, window: Window | None = None, progress: Progress | None = None
    ) -> None:
        self.engine = engine
        self.window = window or Window()
        self.progress: Progress = Silent() if progress is None else progress

    def __enter__(self) -> Analytics:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.close()

    def between(
        self,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        symbols: Iterable[str] | str = (),
    ) -> Analytics:
        """The same engine with another window (times as datetimes or ISO 8601 text, UTC)."""
        return Analytics(self.engine, make_window(since, until, symbols), self.progress)

    # --- market ------------------------------------------------------------------------

    def candles(
        self,
        bar: Bar = "1m",
        source_interval: str = "1m",
        exchange: str = "",
        window: Window | None = None,
    ) -> pd.DataFrame:
        """OHLCV bars of `bar` rolled up from closed `source_interval` candles: exchange,
        symbol, bar_start, open, high, low, close, volume, candles (how many went in)."""
        seconds = _bar(bar)
        source = bar_seconds(source_interval, "source_interval")
        if seconds % source:
            raise ConfigError(
                "--bar",
                f"{seconds} s bars cannot be made of {source_interval} candles",
                f"Use a multiple of {source_interval}.",
            )
        if exchange and not _EXCHANGE.fullmatch(exchange):
            raise ConfigError("exchange", f"{exchange!r} is not an exchange", "Use e.g. binance.")
        return self.run(
            "candles",
            window,
            bar_seconds=seconds,
            source_interval=source_interval,
            exchange=exchange,
        )

    def book_top(self, bar: Bar = "1m", window: Window | None = None) -> pd.DataFrame:
        """Top of book per bar: mid, spread_bps (mean and max), best-level sizes and their
        quote value (bid_depth_quote, ask_depth_quote), snapshots."""
        return self.run("book_top", window, bar_seconds=_bar(bar))

    def basis(self, bar: Bar = "1m", window: Window | None = None) -> pd.DataFrame:
        """Per coin and bar: binance_usdt, coinbase_usd, coingecko_usd and the differences
        coinbase_vs_binance_bps, binance_vs_coingecko_bps, coinbase_vs_coingecko_bps."""
        return self.run("basis", window, bar_seconds=_bar(bar))

    def volume_by_side(self, bar: Bar = "1m", window: Window | None = None) -> pd.DataFrame:
        """Per exchange, symbol, bar and taker side: volume, quote_volume, trades."""
        return self.run("volume_by_side", window, bar_seconds=_bar(bar))

    def top_market_caps(
        self, top: int = 10, vs_currency: str = "usd", window: Window | None = None
    ) -> pd.DataFrame:
        """CoinGecko's latest poll in the window: the `top` coins by market cap."""
        if not 1 <= top <= 1000:
            raise ConfigError("--top", f"{top} is out of range", "Use 1 to 1000.")
        return self.run("top_market_caps", window, top=top, vs_currency=check_currency(vs_currency))

    # --- derivatives ---------------------------------------------------------------------

    def funding_predicted(self, bar: Bar = "1m", window: Window | None = None) -> pd.DataFrame:
        """Per contract and bar: the last predicted funding_rate (a fraction per funding
        interval, for the funding at next_funding_time) and the ticks it was seen in."""
        return self.run("funding_predicted", window, bar_seconds=_bar(bar))

    def funding_settled(self, window: Window | None = None) -> pd.DataFrame:
        """Each settled funding (funding_time, funding_rate) with the last rate predicted for
        it (last_predicted, null when the window has no prediction for it), the interval in
        hours and the venue's mark price."""
        return self.run("funding_settled", window)

    def open_interest(self, bar: Bar = "1m", window: Window | None = None) -> pd.DataFrame:
        """Per contract and bar: the last polled open_interest (contracts), the bar's last
        mark_price and open_interest_quote (their product times the contract's size in
        `instruments`, 1 where none is listed; null without a mark), polls."""
        return self.run("open_interest", window, bar_seconds=_bar(bar))

    def mark_basis(self, bar: Bar = "1m", window: Window | None = None) -> pd.DataFrame:
        """Per contract and bar: the last mark_price and index_price and the basis of mark
        over index in basis points (basis_bps the mean over the bar, min_ and max_), ticks."""
        return self.run("mark_basis", window, bar_seconds=_bar(bar))

    def liquidations(self, bar: Bar = "1m", window: Window | None = None) -> pd.DataFrame:
        """Per contract, bar and side of the liquidated order (buy: a short was liquidated):
        liquidations, quantity (filled) and notional (quote units)."""
        return self.run("liquidations", window, bar_seconds=_bar(bar))

    # --- data health ---------------------------------------------------------------------

    def intervals(self, window: Window | None = None) -> pd.DataFrame:
        """The closed candle intervals per exchange: candles, first_open, last_open."""
        return self.run("candle_intervals", window)

    def spans(self, window: Window | None = None) -> pd.DataFrame:
        """Per dataset (crypto_trades, crypto_order_books) and exchange: first_time, last_time,
        row_count of the window's rows (what the report's bars are chosen from)."""
        return self.run("spans", window)

    def derivative_spans(self, window: Window | None = None) -> pd.DataFrame:
        """As `spans`, for the derivatives datasets (derivative tickers, open interest,
        liquidations, settled funding rates)."""
        return self.run("derivative_spans", window)

    def rows_per_hour(self, window: Window | None = None) -> pd.DataFrame:
        """Rows per dataset (rejects included) and arrival hour: dataset, hour_start,
        row_count. Hours of the window only (by partition)."""
        frame = self._frame("rows_per_hour", sqltext.rows_per_hour(), window, {})
        if frame.empty:
            return frame
        return frame.sort_values(["dataset", "hour_start"], ignore_index=True)

    def rejects(self, window: Window | None = None) -> pd.DataFrame:
        """Rejected frames per source and reason: rejects, first_seen, last_seen."""
        return self.run("rejects", window)

    def candle_origins(self, window: Window | None = None) -> pd.DataFrame:
        """Closed candles per exchange, symbol, interval and origin (`ws`, or `rest` for
        backfilled ones)."""
        return self.run("candle_origins", window)

    def candle_gaps(self, window: Window | None = None) -> pd.DataFrame:
        """Holes in candle series: last_before, first_after, missing_candles."""
        return self.run("candle_gaps", window)

    # --- completeness --------------------------------------------------------------------

    def trade_id_gaps(self, window: Window | None = None) -> pd.DataFrame:
        """Per exchange, symbol and UTC hour (hour_start) of the trades with integer ids:
        trades (distinct ids), missing_ids (absent between consecutive ids, counted in the hour
        of the trade after them) and gaps (how many such ranges)."""
        return self.run("trade_id_gaps", window)

    def book_resyncs(self, window: Window | None = None) -> pd.DataFrame:
        """Per exchange, symbol and UTC hour, from `quality`'s order_books rows: resyncs by
        cause (sequence_break, checksum_mismatch, venue_reset) and quality_rows (minutes)."""
        return self.run("book_resyncs", window)

    def connection_hours(self, window: Window | None = None) -> pd.DataFrame:
        """Per exchange and UTC hour, from `quality`'s connection rows: shards, connected_s,
        disconnected_s, messages, rejects, silent_subscriptions."""
        return self.run("connection_hours", window)

    def unrecoverable(self, window: Window | None = None) -> pd.DataFrame:
        """Each id range `quality` records as not recoverable: exchange, symbol, stream,
        minute, first_id, last_id, ids, reason (and ranges_in_row)."""
        return self.run("unrecoverable", window)

    # --- plumbing ------------------------------------------------------------------------

    def run(self, name: str, window: Window | None = None, **extra: str | int) -> pd.DataFrame:
        """Any file of `sql/` by name, with the window's parameters and `extra` ones."""
        return self._frame(name, sqltext.load(name), window, extra)

    def _frame(
        self, name: str, text: str, window: Window | None, extra: dict[str, str | int]
    ) -> pd.DataFrame:
        params = {**(window or self.window).params(), **extra}
        sql, values = sqltext.bind(text, params)
        with self.progress.query(name) as done:
            frame = self.engine.frame(sql, values)
            done(len(frame))
        return _normalize(frame)


def make_window(
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    symbols: Iterable[str] | str = (),
) -> Window:
    """A `Window` from datetimes or ISO text and symbols as a list or a comma list."""
    start = parse_time(since, "since") if isinstance(since, str) else since
    end = parse_time(until, "until") if isinstance(until, str) else until
    items = [symbols] if isinstance(symbols, str) else list(symbols)
    return Window(start, end, parse_symbols(items))


def _bar(bar: Bar) -> int:
    if isinstance(bar, int):
        if bar < 1:
            raise ConfigError("--bar", f"{bar} is not a bar length", "Use at least 1 second.")
        return bar
    return bar_seconds(bar)


def _normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """Times as naive UTC datetime64[ns]; counts int64; measures float64 (DuckDB gives
    microsecond times and may give unsigned or nullable counts)."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            if getattr(series.dt, "tz", None) is not None:
                series = series.dt.tz_convert("UTC").dt.tz_localize(None)
            out[column] = series.astype("datetime64[ns]")
        elif pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series):
            out[column] = series.astype("int64")
    return out
