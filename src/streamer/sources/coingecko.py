"""CoinGecko REST poller: `/simple/price` -> `SpotPrice` rows, `/coins/markets` -> `Market` rows.

Pure part: `parse_json` keeps every JSON number as its exact text, so no float round trip can
change a digit. `decode_simple_price` and `decode_markets` turn one response body into rows, or
into rejects that say what was wrong (an HTML page, a CoinGecko error object, an unknown coin
id, one bad market entry). They never raise.

Shell: `CoinGeckoSource.run` polls both endpoints at start and then every `poll_seconds` on a
monotonic schedule, so time spent in requests does not drift the cadence. HTTP 429 waits the
`retry-after` seconds; 408, 5xx and network errors back off (capped, jittered, via tenacity).
A request that still fails, or a refusal such as 401/403, is logged with the setting to fix
and the next poll goes ahead as usual. The API key is sent in a header and never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from functools import partial
from typing import NamedTuple

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from streamer.errors import ConfigError, FrameError
from streamer.ids import record_id
from streamer.numbers import real
from streamer.records import Item, Market, Millis, SpotPrice
from streamer.settings import CoinGeckoSettings
from streamer.sources.base import Clock, Emit, FeedStats, guarded, reason_for, reject
from streamer.timefmt import now_millis, parse_rfc3339

log = logging.getLogger(__name__)

SOURCE = "coingecko"
MARKETS_VS_CURRENCY = "usd"
MAX_ATTEMPTS = 4
"""Tries per request (the first and three retries); after that, the next poll tries again."""
BACKOFF_MAX_SECONDS = 30.0
RETRY_AFTER_DEFAULT_SECONDS = 60.0
"""Wait after a 429 whose `retry-after` header is missing or unreadable."""
RETRY_AFTER_MAX_SECONDS = 900.0
REQUEST_TIMEOUT_SECONDS = 20.0
KEY_HEADERS = {"demo": "x-cg-demo-api-key", "pro": "x-cg-pro-api-key"}
AUTH_FIXES = {
    10002: "the API key is missing or wrong: check STREAMER_COINGECKO_API_KEY, or set "
    "STREAMER_COINGECKO_PLAN=keyless to poll without a key",
    10010: "a Pro key was sent to the public host: set STREAMER_COINGECKO_PLAN=pro and unset "
    "STREAMER_COINGECKO_URL (Pro keys work only on https://pro-api.coingecko.com/api/v3)",
    10011: "a Demo key was sent to the Pro host: set STREAMER_COINGECKO_PLAN=demo and unset "
    "STREAMER_COINGECKO_URL (Demo keys work only on https://api.coingecko.com/api/v3)",
}
AUTH_FIX_OTHER = (
    "check STREAMER_COINGECKO_API_KEY, STREAMER_COINGECKO_PLAN (keyless, demo or pro) and "
    "STREAMER_COINGECKO_URL (Pro keys need pro-api.coingecko.com, Demo keys api.coingecko.com)"
)

Sleep = Callable[[float], Awaitable[None]]
Decoder = Callable[[str, Millis], list[Item]]

_FAILURES = (FrameError, ValueError, KeyError, TypeError, AttributeError, IndexError)
_WHOLE = re.compile(r"[0-9]+")
_RAW_DECODER = json.JSONDecoder(parse_float=str, parse_int=str)


# --- pure decoding -----------------------------------------------------------------------------


def parse_json(text: str) -> object:
    """JSON with every number kept as its exact text (`76975`, `-1.4093297098441402`).

    Raises `FrameError` for an empty body, an HTML page (Cloudflare) or invalid JSON.
    """
    head = text.lstrip()[:1]
    if not head:
        raise FrameError("empty body")
    if head == "<":
        raise FrameError("an HTML page instead of JSON (a Cloudflare block or rate-limit page?)")
    try:
        return json.loads(text, parse_float=str, parse_int=str)
    except (ValueError, RecursionError) as exc:
        raise FrameError(f"invalid JSON: {exc}") from exc


def api_error(doc: object) -> tuple[int | None, str] | None:
    """(code, message) of a CoinGecko error object, or None if `doc` is not one.

    Two shapes: `{"status": {"error_code": 429, "error_message": "..."}}` and `{"error": "..."}`.
    """
    if not isinstance(doc, dict):
        return None
    status = doc.get("status")
    if isinstance(status, dict) and "error_code" in status:
        code = status["error_code"]
        number = int(code) if isinstance(code, str) and _WHOLE.fullmatch(code) else None
        return number, str(status.get("error_message") or "")
    if isinstance(doc.get("error"), str):
        return None, doc["error"]
    return None


def _document(raw: str | bytes, endpoint: str) -> tuple[str, object]:
    text = raw if isinstance(raw, str) else raw.decode()
    try:
        doc = parse_json(text)
    except FrameError as exc:
        raise FrameError(f"{endpoint}: {exc}") from None
    error = api_error(doc)
    if error is not None:
        code, message = error
        raise FrameError(f"{endpoint}: CoinGecko error {code}: {message}")
    return text, doc


def _unix_millis(value: object, field: str) -> Millis | None:
    seconds = real(value, field)
    if seconds is None:
        return None
    if seconds.startswith("-"):
        raise FrameError(f"field {field!r} is not UNIX seconds: {value!r}")
    return Millis(int(Decimal(seconds) * 1000))


def _spot_price(coin: str, vs: str, entry: dict[str, object], received_at: Millis) -> SpotPrice:
    if vs not in entry:
        raise FrameError(f"no {vs!r} price (unsupported vs_currency?)")
    updated = _unix_millis(entry.get("last_updated_at"), "last_updated_at")
    return SpotPrice(
        coin_id=coin,
        vs_currency=vs,
        price=real(entry[vs], vs),
        market_cap=real(entry.get(f"{vs}_market_cap"), f"{vs}_market_cap"),
        volume_24h=real(entry.get(f"{vs}_24h_vol"), f"{vs}_24h_vol"),
        change_pct_24h=real(entry.get(f"{vs}_24h_change"), f"{vs}_24h_change"),
        last_updated_at=updated,
        received_at=received_at,
        record_id=record_id(SOURCE, coin, vs, updated),
    )


def _simple_price(
    raw: str | bytes, received_at: Millis, coins: Sequence[str], vs_currencies: Sequence[str]
) -> list[Item]:
    text, doc = _document(raw, "/simple/price")
    if not isinstance(doc, dict):
        raise FrameError(f"/simple/price: expected a JSON object, got {type(doc).__name__}")
    items: list[Item] = []
    for coin in coins:
        entry = doc.get(coin)
        if not isinstance(entry, dict):
            why = "is missing (unknown CoinGecko id?)" if entry is None else "is not an object"
            items.append(reject(SOURCE, f"/simple/price: coin {coin!r} {why}", text, received_at))
            continue
        for vs in vs_currencies:
            try:
                items.append(_spot_price(coin, vs, entry, received_at))
            except _FAILURES as exc:
                reason = f"/simple/price {coin}/{vs}: {reason_for(exc)}"
                items.append(reject(SOURCE, reason, text, received_at))
    return items


def decode_simple_price(
    raw: str | bytes, received_at: Millis, coins: Sequence[str], vs_currencies: Sequence[str]
) -> list[Item]:
    """One `SpotPrice` per (coin, vs_currency) in request order; a reject per missing coin."""
    decode = partial(_simple_price, coins=coins, vs_currencies=vs_currencies)
    return guarded(SOURCE, decode, raw, received_at)


def _string(entry: dict[str, object], field: str) -> str:
    value = entry[field]
    if type(value) is not str or not value:
        raise FrameError(f"field {field!r} is not a non-empty string: {value!r}"[:200])
    return value


def _rank(value: object) -> int | None:
    if value is None:
        return None
    if type(value) is not str or _WHOLE.fullmatch(value) is None:
        raise FrameError(f"field 'market_cap_rank' is not a whole number: {value!r}"[:200])
    return int(value)


def _market(entry: object, vs_currency: str, received_at: Millis) -> Market:
    if not isinstance(entry, dict):
        raise FrameError(f"expected an object, got {type(entry).__name__}")
    coin_id = _string(entry, "id")
    updated = entry.get("last_updated")
    return Market(
        coin_id=coin_id,
        symbol=_string(entry, "symbol"),
        name=_string(entry, "name"),
        vs_currency=vs_currency,
        market_cap_rank=_rank(entry.get("market_cap_rank")),
        price=real(entry.get("current_price"), "current_price"),
        market_cap=real(entry.get("market_cap"), "market_cap"),
        fully_diluted_valuation=real(
            entry.get("fully_diluted_valuation"), "fully_diluted_valuation"
        ),
        volume_24h=real(entry.get("total_volume"), "total_volume"),
        high_24h=real(entry.get("high_24h"), "high_24h"),
        low_24h=real(entry.get("low_24h"), "low_24h"),
        price_change_24h=real(entry.get("price_change_24h"), "price_change_24h"),
        price_change_pct_24h=real(
            entry.get("price_change_percentage_24h"), "price_change_percentage_24h"
        ),
        circulating_supply=real(entry.get("circulating_supply"), "circulating_supply"),
        total_supply=real(entry.get("total_supply"), "total_supply"),
        max_supply=real(entry.get("max_supply"), "max_supply"),
        last_updated_at=None if updated is None else parse_rfc3339(updated, "last_updated"),
        received_at=received_at,
        record_id=record_id(SOURCE, "markets", coin_id, updated),
    )


def _skip_space(text: str, pos: int) -> int:
    while text[pos : pos + 1] in (" ", "\t", "\n", "\r"):
        pos += 1
    return pos


def _element_texts(text: str) -> list[str]:
    """The exact source text of each element of a valid top-level JSON array (for rejects)."""
    texts: list[str] = []
    pos = _skip_space(text, _skip_space(text, 0) + 1)  # just past "["
    while text[pos] != "]":
        _, end = _RAW_DECODER.raw_decode(text, pos)
        texts.append(text[pos:end])
        pos = _skip_space(text, end)
        if text[pos] == ",":
            pos = _skip_space(text, pos + 1)
    return texts


def _markets(raw: str | bytes, received_at: Millis, vs_currency: str) -> list[Item]:
    text, doc = _document(raw, "/coins/markets")
    if not isinstance(doc, list):
        raise FrameError(f"/coins/markets: expected a JSON array, got {type(doc).__name__}")
    items: list[Item] = []
    seen: set[str] = set()
    raws: list[str] | None = None
    for index, entry in enumerate(doc):
        try:
            market = _market(entry, vs_currency, received_at)
        except _FAILURES as exc:
            raws = raws or _element_texts(text)
            reason = f"/coins/markets entry {index}: {reason_for(exc)}"
            items.append(reject(SOURCE, reason, raws[index], received_at))
            continue
        if market.coin_id not in seen:  # a page can repeat a coin; keep the first
            seen.add(market.coin_id)
            items.append(market)
    return items


def decode_markets(
    raw: str | bytes, received_at: Millis, vs_currency: str = MARKETS_VS_CURRENCY
) -> list[Item]:
    """One `Market` per entry in page order; a bad entry becomes one reject holding its text."""
    return guarded(SOURCE, partial(_markets, vs_currency=vs_currency), raw, received_at)


# --- requests ----------------------------------------------------------------------------------


def simple_price_params(settings: CoinGeckoSettings) -> dict[str, str]:
    return {
        "ids": ",".join(settings.coins),
        "vs_currencies": ",".join(settings.vs_currencies),
        "include_market_cap": "true",
        "include_24hr_vol": "true",
        "include_24hr_change": "true",
        "include_last_updated_at": "true",
        "precision": "full",
    }


def markets_params(settings: CoinGeckoSettings) -> dict[str, str]:
    return {
        "vs_currency": MARKETS_VS_CURRENCY,
        "order": "market_cap_desc",
        "per_page": str(settings.markets_per_page),
        "page": "1",
        "precision": "full",
    }


def auth_headers(settings: CoinGeckoSettings) -> dict[str, str]:
    """The key header for the plan: none when keyless, `x-cg-demo-api-key`, `x-cg-pro-api-key`."""
    header = KEY_HEADERS.get(settings.plan)
    if header is None:
        return {}
    if not settings.api_key:
        raise ConfigError(
            "STREAMER_COINGECKO_API_KEY",
            f"plan {settings.plan!r} needs an API key",
            "Set the key, or STREAMER_COINGECKO_PLAN=keyless.",
        )
    return {header: settings.api_key}


def retry_after_seconds(header: str | None) -> float:
    """Seconds to wait after a 429: the `retry-after` header if it is a number, else a default."""
    try:
        seconds = float(header) if header is not None else math.nan
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds < math.inf:
        return RETRY_AFTER_DEFAULT_SECONDS
    return min(seconds, RETRY_AFTER_MAX_SECONDS)


def describe_refusal(status: int, text: str) -> tuple[int | None, str]:
    """(CoinGecko error code, what it said and how to fix it) for a response we will not retry."""
    try:
        error = api_error(parse_json(text))
    except FrameError as exc:
        error = None, str(exc)
    code, message = error if error is not None else (None, text[:200])
    if status in (401, 403):
        message = f"{message} -- fix: {AUTH_FIXES.get(code or 0, AUTH_FIX_OTHER)}"
    return code, message


class _Retryable(Exception):
    """A failure worth retrying; `wait` (seconds) overrides the backoff, e.g. for a 429."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.wait = wait


_backoff = wait_exponential_jitter(max=BACKOFF_MAX_SECONDS, jitter=1)


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome is not None else None
    if isinstance(exc, _Retryable) and exc.wait is not None:
        return exc.wait
    return _backoff(state)


class _Endpoint(NamedTuple):
    path: str
    params: dict[str, str]
    decode: Decoder


# --- the source --------------------------------------------------------------------------------


class CoinGeckoSource:
    """Polls `/simple/price` and `/coins/markets`; emits each response's items once."""

    name = SOURCE

    def __init__(
        self,
        settings: CoinGeckoSettings,
        *,
        clock: Clock = now_millis,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.stats = FeedStats()
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._transport = transport
        self._headers = {"accept": "application/json", **auth_headers(settings)}
        prices = partial(
            decode_simple_price, coins=settings.coins, vs_currencies=settings.vs_currencies
        )
        self._endpoints = (
            _Endpoint("/simple/price", simple_price_params(settings), prices),
            _Endpoint("/coins/markets", markets_params(settings), decode_markets),
        )

    async def run(self, emit: Emit) -> None:
        """Poll until cancelled. Failed requests are logged and retried at the next poll."""
        async with httpx.AsyncClient(
            base_url=self.settings.url,
            headers=self._headers,
            timeout=REQUEST_TIMEOUT_SECONDS,
            transport=self._transport,
        ) as client:
            log.info(
                "coingecko.polling url=%s plan=%s coins=%d every=%gs",
                self.settings.url,
                self.settings.plan,
                len(self.settings.coins),
                self.settings.poll_seconds,
            )
            deadline = self._monotonic()
            while True:
                for endpoint in self._endpoints:
                    await self._poll(client, endpoint, emit)
                now = self._monotonic()
                # A poll that overran its slot (long 429 waits) starts the next one at once.
                deadline = max(deadline + self.settings.poll_seconds, now)
                await self._sleep(deadline - now)

    async def _poll(self, client: httpx.AsyncClient, endpoint: _Endpoint, emit: Emit) -> None:
        response = await self._get(client, endpoint)
        if response is None:
            return
        received_at = self._clock()
        if response.is_success:
            items = endpoint.decode(response.text, received_at)
            self.stats.count(items, received_at)
            await emit(items)
            return
        self._count("http_errors")
        code, message = describe_refusal(response.status_code, response.text)
        event = "auth_failed" if response.status_code in (401, 403) else "http_error"
        log.error(
            "coingecko.%s endpoint=%s status=%d code=%s plan=%s url=%s: %s",
            event,
            endpoint.path,
            response.status_code,
            code,
            self.settings.plan,
            self.settings.url,
            message,
        )

    async def _get(self, client: httpx.AsyncClient, endpoint: _Endpoint) -> httpx.Response | None:
        """GET with retries; None when every attempt failed (already logged)."""
        retrying = AsyncRetrying(
            sleep=self._sleep,
            stop=stop_after_attempt(MAX_ATTEMPTS),
            wait=_wait,
            retry=retry_if_exception_type(_Retryable),
            before_sleep=self._before_retry,
            reraise=True,
        )
        try:
            response: httpx.Response = await retrying(self._attempt, client, endpoint)
        except _Retryable as exc:
            self._count("gave_up")
            log.warning(
                "coingecko.gave_up endpoint=%s attempts=%d reason=%s",
                endpoint.path,
                MAX_ATTEMPTS,
                exc,
            )
            return None
        return response

    async def _attempt(self, client: httpx.AsyncClient, endpoint: _Endpoint) -> httpx.Response:
        try:
            response = await client.get(endpoint.path, params=endpoint.params)
        except httpx.RequestError as exc:
            raise _Retryable(f"{endpoint.path}: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status == 429:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            raise _Retryable(f"{endpoint.path}: HTTP 429 (rate limited)", wait)
        if status == 408 or status >= 500:
            raise _Retryable(f"{endpoint.path}: HTTP {status}")
        return response

    def _before_retry(self, state: RetryCallState) -> None:
        self._count("retries")
        exc = state.outcome.exception() if state.outcome is not None else None
        log.warning(
            "coingecko.retry attempt=%d wait=%.1fs reason=%s",
            state.attempt_number,
            state.upcoming_sleep,
            exc,
        )

    def _count(self, counter: str) -> None:
        self.stats.extra[counter] += 1
