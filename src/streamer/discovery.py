"""Turning market selectors into symbols before any feed starts (the asyncio shell).

When a venue's symbols setting names a market (`all`, `quote:USDT`, `top:100`, see
`selectors.py`), `resolve` asks that venue what trades (its `VenueSpec.resolve`, e.g. Binance's
`exchangeInfo`). When it lists symbols, `check_symbols` reads the same listing and refuses a
symbol the venue does not list at all, naming the nearest it does (a typo would otherwise
reconnect forever); one listed but halted is kept (it may trade again, and `/health` names its
quiet streams); a venue that does not answer in time is not checked, with a warning. The venue's
REST client retries until the venue answers (capped, jittered
backoff; request weight and Retry-After honoured), logging what it waits for, so a service
started during an outage comes up on its own once the venue is back. While the service runs,
each source resolves its selector again (`sources/rediscovery.py`).
"""

from __future__ import annotations

import asyncio
import difflib
import logging
from dataclasses import replace

import httpx

from streamer.errors import ConfigError
from streamer.retry import Sleep
from streamer.selectors import Selector
from streamer.settings import Settings
from streamer.sources.base import Clock
from streamer.sources.rediscovery import Change, Rediscovery, change, rediscover
from streamer.venues import VENUES

__all__ = ["Change", "Rediscovery", "change", "check_symbols", "rediscover", "resolve"]
CHECK_SECONDS = 20.0  # how long the listing may take before symbols go unchecked
log = logging.getLogger(__name__)


async def resolve(
    settings: Settings,
    *,
    clock: Clock,
    sleep: Sleep = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Settings:
    """`settings` with every selector replaced by the symbols it names today."""
    venues = dict(settings.venues)
    for spec in VENUES:
        current = venues[spec.name]
        selector = current.selector
        if spec.name not in settings.sources or selector is None or spec.resolve is None:
            continue
        log.info("discovery.start source=%s selector=%s", spec.name, selector)
        symbols, trading = await spec.resolve(
            current, selector, clock=clock, sleep=sleep, transport=transport
        )
        log.info("discovery.done source=%s selector=%s symbols=%d trading=%d", spec.name,
                 selector, len(symbols), trading)  # fmt: skip
        venues[spec.name] = replace(current, symbols=symbols)
    return replace(settings, venues=venues)


async def check_symbols(
    settings: Settings,
    *,
    clock: Clock,
    sleep: Sleep = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
    within: float = CHECK_SECONDS,
) -> None:
    """`ConfigError` for a symbol its venue does not list (the setting, the symbols, the
    nearest listed names); a venue without a listing in `within` seconds is skipped."""
    for spec in VENUES:
        current = settings.venues[spec.name]
        if spec.name not in settings.sources or spec.resolve is None:
            continue
        if current.selector is not None or not current.symbols:
            continue
        try:
            async with asyncio.timeout(within):
                listed, _ = await spec.resolve(
                    current, Selector(listed=True), clock=clock, sleep=sleep, transport=transport
                )
        except Exception as exc:  # any failure only skips the check
            log.warning("discovery.unchecked source=%s symbols=%d (no listing: %s)",
                        spec.name, len(current.symbols), type(exc).__name__)  # fmt: skip
            continue
        known = set(listed)
        unknown = [s for s in current.symbols if s not in known]
        if unknown:
            near = sorted({n for s in unknown[:10] for n in _nearest(s, listed)})
            raise ConfigError(
                f"STREAMER_{spec.name.upper()}_SYMBOLS",
                f"{spec.name} does not list {', '.join(unknown[:10])}"
                + (f" (and {len(unknown) - 10} more)" if len(unknown) > 10 else ""),
                f"Nearest it lists: {', '.join(near) or 'none'}. Name symbols as those are "
                "spelled (docs/settings.md shows each venue's form)",
            )


def _nearest(symbol: str, listed: tuple[str, ...]) -> list[str]:
    """Listed names like `symbol`: close spellings, else the same base's markets."""
    close = difflib.get_close_matches(symbol, listed, n=3, cutoff=0.5)
    base = symbol.split("-")[0] + "-"
    return close or sorted(s for s in listed if s.startswith(base))[:3]
