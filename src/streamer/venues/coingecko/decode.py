"""CoinGecko's wire format, decoded without I/O: response bodies -> rows or rejects.

`parse_json` keeps every JSON number as its exact text, so no float round trip can change a
digit. `decode_simple_price` (`/simple/price` -> `SpotPrice`) and `decode_markets`
(`/coins/markets` -> `Market`) turn one body into rows, or into rejects that say what was wrong
(an HTML page, a CoinGecko error object, an unknown coin id, one bad market entry); they never
raise. The plan's key header (`auth_headers`), the request parameters and `describe_refusal`
(what a 401/403 said and which setting fixes it) live here too; `coingecko.py` is the poller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import partial

from streamer.errors import ConfigError, FrameError
from streamer.ids import record_id
from streamer.numbers import real
from streamer.records import Item, Market, Millis, SpotPrice
from streamer.sources.base import guarded, reason_for, reject
from streamer.timefmt import MAX_MILLIS, parse_rfc3339
from streamer.venues.coingecko.settings import CoinGeckoSettings

SOURCE = "coingecko"
MARKETS_VS_CURRENCY = "usd"
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

Decoder = Callable[[str | bytes, Millis], list[Item]]

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
    millis = int(Decimal(seconds) * 1000) if not seconds.startswith("-") else -1
    if not 0 <= millis <= MAX_MILLIS:
        raise FrameError(f"field {field!r} is not UNIX seconds: {value!r}"[:200])
    return Millis(millis)


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


# --- requests and refusals ---------------------------------------------------------------------


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
