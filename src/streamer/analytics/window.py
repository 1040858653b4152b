"""What a query looks at: a time window, symbols and a bar length, validated once.

`Window.params()` renders them as the named parameters every file in `sql/` uses. Times are
UTC. The lake is partitioned by *arrival* hour (`year`/`month`/`day`/`hour`, strings) while the
queries filter on event time, so the partition range is widened by `PARTITION_SLACK` on both
sides: an object's hour is that of its oldest row, which may have arrived up to a buffer
interval (at most 15 minutes on Firehose) before a row it holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from streamer.errors import ConfigError

PARTITION_SLACK = timedelta(hours=1)
BAR_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_BAR = re.compile(r"([1-9][0-9]{0,5})([smhdw])")
# BASE-QUOTE, or a contract: BASE-QUOTE-PERP (perpetual) or BASE-QUOTE-YYMMDD (delivered that day)
_SYMBOL = re.compile(r"[A-Z0-9]{1,20}-[A-Z0-9]{1,20}(-(PERP|[0-9]{6}))?")
_CURRENCY = re.compile(r"[a-z]{3,10}")
_NO_START = datetime(1970, 1, 1, tzinfo=UTC)
_NO_END = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
# Bars the report picks from when no --bar is given: the shortest that keeps a chart readable.
BAR_LADDER = ("1s", "5s", "15s", "1m", "5m", "15m", "1h", "4h", "1d")


def parse_time(text: str, name: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 date or date-time (without an offset it is UTC), or `today` or `yesterday`:
    the start of that UTC day."""
    if text in ("today", "yesterday"):
        day = (
            (now or datetime.now(UTC))
            .astimezone(UTC)
            .replace(hour=0, minute=0, second=0, microsecond=0)
        )
        return day - timedelta(days=1) if text == "yesterday" else day
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            name,
            f"{text!r} is not a date or time",
            "Use ISO 8601, e.g. 2025-11-24 or 2025-11-24T16:30, or today or yesterday.",
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def bar_seconds(text: str, name: str = "--bar") -> int:
    """`30s`, `1m`, `5m`, `1h`, `1d`, ...: a bar (or candle interval) length in seconds."""
    match = _BAR.fullmatch(text.strip())
    if not match:
        raise ConfigError(name, f"{text!r} is not a bar length", "Use e.g. 30s, 1m, 5m, 1h or 1d.")
    return int(match.group(1)) * BAR_UNITS[match.group(2)]


def parse_symbols(items: Iterable[str], name: str = "--symbols") -> tuple[str, ...]:
    """Normalized symbols as the lake writes them, `BASE-QUOTE` or a contract's
    `BASE-QUOTE-PERP` / `BASE-QUOTE-YYMMDD` (comma lists are split)."""
    out: list[str] = []
    for item in items:
        for part in item.split(","):
            symbol = part.strip().upper()
            if not symbol:
                continue
            if not _SYMBOL.fullmatch(symbol):
                raise ConfigError(
                    name,
                    f"{part.strip()!r} is not a symbol",
                    "Write BASE-QUOTE, e.g. BTC-USDT, or a contract, e.g. BTC-USDT-PERP.",
                )
            if symbol not in out:
                out.append(symbol)
    return tuple(out)


def check_currency(text: str) -> str:
    if not _CURRENCY.fullmatch(text):
        raise ConfigError("vs_currency", f"{text!r} is not a currency code", "Use e.g. usd.")
    return text


@dataclass(frozen=True, slots=True)
class Window:
    """Rows with event times in [since, until) for the given symbols (none = all)."""

    since: datetime | None = None
    until: datetime | None = None
    symbols: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, value in (("--since", self.since), ("--until", self.until)):
            if value is not None and value.tzinfo is None:
                raise ConfigError(name, "has no time zone", "Give a UTC time.")
        if self.since and self.until and self.since >= self.until:
            raise ConfigError("--since", "is not before --until", "Swap them or widen the window.")
        parse_symbols(self.symbols)  # validates

    @property
    def bases(self) -> tuple[str, ...]:
        """The base coins of the symbols (BTC of BTC-USDT), for the cross-venue comparison."""
        return tuple(dict.fromkeys(s.split("-")[0] for s in self.symbols))

    def span(self) -> timedelta | None:
        if self.since is None or self.until is None:
            return None
        return self.until - self.since

    def params(self) -> dict[str, str | int]:
        since = self.since or _NO_START
        until = self.until or _NO_END
        first = since.replace(minute=0, second=0, microsecond=0)
        low = first - PARTITION_SLACK if self.since else first
        high = until + PARTITION_SLACK if self.until else until
        return {
            "since": _sql_time(since),
            "until": _sql_time(until),
            "from_year": f"{low.year:04d}",
            "to_year": f"{high.year:04d}",
            "from_hour": _hour(low),
            "to_hour": _hour(high),
            "first_hour": _hour(since),
            "last_hour": _hour(until),
            "symbols": ",".join(self.symbols),
            "bases": ",".join(self.bases),
        }


def _sql_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def _hour(value: datetime) -> str:
    return value.strftime("%Y%m%d%H")


def auto_bar(span: timedelta, shortest: int, max_bars: int = 150) -> int:
    """The shortest bar of `BAR_LADDER` that is a multiple of `shortest` seconds and cuts
    `span` into at most `max_bars` bars (the longest rung if none does)."""
    rungs = [bar_seconds(r) for r in BAR_LADDER]
    fitting = [r for r in rungs if r >= shortest and r % shortest == 0]
    if not fitting:
        return shortest
    for rung in fitting:
        if span.total_seconds() / rung <= max_bars:
            return rung
    return fitting[-1]
