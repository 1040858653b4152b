"""Validation of venue number text, so prices keep their exact digits in the lake.

Venues send prices as decimal strings (Binance, Coinbase) or JSON numbers (CoinGecko). We keep
the text and write it as a bare JSON number; these checks guarantee that the text *is* a valid
JSON number, so a hostile or broken frame can never corrupt a line of the lake, and that it is
a value its column can hold, so no reader ever meets one it cannot cast:

* A `Dec` (Glue and DuckDB `decimal(38,18)`) has at most `MAX_INTEGER_DIGITS` (20) digits
  before the point and `MAX_FRACTION_DIGITS` (18) after it. Zeros past the 18th are dropped
  (`1.5000000000000000000000` is stored as `1.500000000000000000`); any other digit there
  is a reject, as is a longer integer part: nothing is rounded.
* A `Real` (CoinGecko's aggregates, `double`) must be finite as a double (at most about
  1.8e308 in magnitude).
* No number text may exceed `MAX_NUMBER_TEXT` characters, checked before anything else, so a
  10-million-digit price costs one `len`.
* A sign rule per field, for what the venue never sends: `POSITIVE` (> 0) for every trade
  price and size, book level price, and the ticker and candle prices (last, open, high, low,
  close); `NON_NEGATIVE` (>= 0) for book level sizes (0 removes a level), volumes, and a
  ticker's best bid and ask with their sizes (0 on an empty side); `ANY` for percentage
  changes and CoinGecko's values.

A value that breaks a rule raises `FrameError` naming the field and the value (cut short), so
the frame becomes a row of `rejects` with that reason.

The fast paths check many numbers at once and accept only what surely fits: `POSITIVE_PAIR`
(a trade's price and size, a bounded regex), `plain_floats` with `surely_fit` (every text at
most `SURE_FIT` characters, which no value that breaks a digit limit is), and
`plain_book_side`. Anything else goes the precise way (`dec`), which names the culprit.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Final

import msgspec

from streamer.errors import FrameError
from streamer.records import Dec, Real

JSON_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
"""RFC 8259's number grammar, as written there (the reference for the tests)."""
# The same language with possessive quantifiers: a digit run is always followed by a
# non-digit, so giving nothing back never loses a match, and the regex engine stops
# backtracking through long book sides (about 2x faster on a depth20 side of 40 numbers).
_NUMBER = r"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][+-]?+[0-9]++)?+"
_JSON_NUMBER = re.compile(_NUMBER)
_JSON_NUMBER_LIST = re.compile(f"(?:{_NUMBER},)*+{_NUMBER}")
"""A run of JSON numbers separated by single commas, validated with one regex call."""

MAX_INTEGER_DIGITS: Final = 20
MAX_FRACTION_DIGITS: Final = 18
"""`decimal(38,18)`: 38 digits, 18 of them after the point."""
SURE_FIT: Final = 20
"""Characters of number text that always fit `decimal(38,18)`: the point and one digit
before it leave at most 18 after it, and 20 characters hold at most 20 integer digits."""
SureFitText = Annotated[str, msgspec.Meta(max_length=SURE_FIT)]
"""A wire struct's number field whose length msgspec checks while it parses (no cost): a
longer value fails the typed decode, and the frame goes the general way."""
MAX_NUMBER_TEXT: Final = 100
"""Longest number text read at all (20 + 1 + 18 digits and room for zeros past them)."""
MAX_EXPONENT = 400
"""Largest decimal exponent accepted (a double reaches 1e308): `1e200000000` written out would
be 200 million digits, so a hostile frame could exhaust memory with eleven characters."""
DOUBLE_MAX: Final = 1.7976931348623157e308

ANY: Final = 0
NON_NEGATIVE: Final = 1
POSITIVE: Final = 2
"""The sign rules (see the module docstring for which field has which)."""
_SIGN_WORDS = {NON_NEGATIVE: "negative", POSITIVE: "not positive"}

_POSITIVE = r"(?:[1-9][0-9]{0,19}+(?:\.[0-9]{1,18}+)?+|0\.(?=0{0,17}+[1-9])[0-9]{1,18}+)"
POSITIVE_PAIR = re.compile(f"{_POSITIVE},{_POSITIVE}")
"""`price,size`: two positive numbers without exponents that fit `decimal(38,18)` as sent
(the trade fast paths' one check; anything else goes through `dec_pair`, which rewrites
exponents, drops zeros past the 18th decimal or names the culprit)."""


def _cut(text: str) -> str:
    return repr(text[:40]) + (f" ({len(text)} characters)" if len(text) > 40 else "")


def _plain(text: str) -> str:
    """Rewrite exponent notation (`1e-05`) as plain decimal text, exactly."""
    try:
        number = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - guarded by the regex
        raise FrameError(f"not a number: {text!r}") from exc
    if abs(number.adjusted()) > MAX_EXPONENT:
        raise FrameError(f"number out of range: {text[:40]!r}")
    return format(number, "f")


def _fit(text: str, field: str, sign: int) -> str:
    """`text` (plain, valid) held to `decimal(38,18)` and `sign`; zeros past the 18th decimal
    dropped."""
    negative = text[0] == "-"
    whole, _, fraction = (text[1:] if negative else text).partition(".")
    if len(whole) > MAX_INTEGER_DIGITS:
        raise FrameError(
            f"field {field!r} does not fit decimal(38,18) (more than {MAX_INTEGER_DIGITS} "
            f"integer digits): {_cut(text)}"
        )
    if len(fraction) > MAX_FRACTION_DIGITS:
        if fraction.rstrip("0")[MAX_FRACTION_DIGITS:]:
            raise FrameError(
                f"field {field!r} does not fit decimal(38,18) (more than "
                f"{MAX_FRACTION_DIGITS} decimal places): {_cut(text)}"
            )
        text = text[: len(text) - len(fraction) + MAX_FRACTION_DIGITS]
    if sign and (negative or (sign == POSITIVE and whole == "0" and not fraction.strip("0"))):
        raise FrameError(f"field {field!r} is {_SIGN_WORDS[sign]}: {_cut(text)}")
    return text


def dec(value: object, field: str, sign: int = ANY) -> Dec:
    """An exchange decimal given as a string, e.g. Binance's `"86704.77000000"`, held to
    `decimal(38,18)` and the field's sign rule."""
    if type(value) is not str or len(value) > MAX_NUMBER_TEXT:
        if type(value) is str:
            raise FrameError(f"field {field!r} is too long for a number: {_cut(value)}")
        raise FrameError(f"field {field!r} is not a decimal string: {value!r}"[:200])
    if _JSON_NUMBER.fullmatch(value) is None:
        raise FrameError(f"field {field!r} is not a decimal string: {value!r}"[:200])
    if "e" in value or "E" in value:
        value = _plain(value)
    return Dec(_fit(value, field, sign))


def dec_pair(a: object, b: object, fields: tuple[str, str]) -> tuple[Dec, Dec]:
    """A trade's price and size, both positive, checked with one regex call."""
    if type(a) is str and type(b) is str and POSITIVE_PAIR.fullmatch(a + "," + b):
        return Dec(a), Dec(b)
    return dec(a, fields[0], POSITIVE), dec(b, fields[1], POSITIVE)  # names the culprit


def opt_dec(value: object, field: str, sign: int = ANY) -> Dec | None:
    """Like `dec`, but `None` and the empty string mean the venue gave no value."""
    if value is None or value == "":
        return None
    return dec(value, field, sign)


_FLOATS = msgspec.json.Decoder(list[float])


def plain_floats(joined: str, count: int) -> list[float] | None:
    """The values of `joined` when it is `count` JSON numbers without exponents, separated by
    single commas and nothing else (a book side or a ticker's numbers in one call); else None.

    msgspec's JSON parser checks RFC 8259's number grammar in C, 2.4x faster than the regex on
    a depth20 frame's 80 numbers (3.6 µs against 8.7 µs). JSON allows what a number text must
    not hold (whitespace between values, exponents), so those are refused first; a value that
    held a comma would change the count; a number too large for a float is refused too, and
    goes the precise way. This checks the grammar only: see `surely_fit` for the limits.
    """
    if (  # JSON allows these; number text does not
        "e" in joined or "E" in joined or " " in joined
        or "\t" in joined or "\n" in joined or "\r" in joined
    ):  # fmt: skip
        return None
    try:
        floats = _FLOATS.decode("[" + joined + "]")
    except msgspec.MsgspecError:
        return None
    return floats if len(floats) == count else None


def plain_numbers(joined: str, count: int) -> bool:
    """True when `plain_floats` reads `joined` (the grammar only)."""
    return plain_floats(joined, count) is not None


def surely_fit(values: list[str]) -> bool:
    """True when no text of `values` (valid numbers) is longer than `SURE_FIT` characters, so
    every one fits `decimal(38,18)` as sent."""
    return not values or max(map(len, values)) <= SURE_FIT


def plain_book_side(values: list[str], prices: slice, measured: bool = False) -> bool:
    """True when `values` are number text that fits as sent, with `values[prices]` (the
    prices) positive and every other value (sizes) at least 0: C passes for the grammar, the
    lengths (unless `measured`: parsed as `SureFitText`) and the prices."""
    joined = ",".join(values)
    if "-" in joined or not (measured or surely_fit(values)):
        return False
    floats = plain_floats(joined, len(values))
    return floats is not None and 0.0 not in floats[prices]  # no "-": a price >= 0


def decimals(values: list[str], field: str, sign: int = ANY) -> list[Dec]:
    """Validate many decimal strings at once (`plain_floats`, then one regex call), each held
    to `sign`; fall back to `dec` per value to name the culprit or to rewrite the text."""
    if not values:
        return []
    try:
        joined = ",".join(values)
    except TypeError as exc:
        raise FrameError(f"field {field!r} holds a non-string value") from exc
    if surely_fit(values) and not (sign and "-" in joined):
        floats = plain_floats(joined, len(values))
        if floats is not None and (sign != POSITIVE or min(floats) > 0):
            return values  # type: ignore[return-value]  # validated: every item is Dec text
    return [dec(v, field, sign) for v in values]


def book_numbers(
    values: list[str], prices: slice, fields: tuple[str, str], measured: bool = False
) -> list[Dec]:
    """A book side's numbers: `values[prices]` the prices (> 0, named `fields[0]`), the others
    sizes (>= 0, `fields[1]`). Returned as they are when they pass `plain_book_side` (inlined
    here: this is the order book hot path)."""
    try:
        joined = ",".join(values)
    except TypeError:  # not all strings: `dec` names the first culprit
        joined = "-"
    if "-" not in joined and (measured or surely_fit(values)):
        floats = plain_floats(joined, len(values))
        if floats is not None and 0.0 not in floats[prices]:
            return values  # type: ignore[return-value]  # validated: every item is Dec text
    is_price = [False] * len(values)
    is_price[prices] = [True] * len(range(len(values))[prices])
    return [
        dec(v, fields[0], POSITIVE) if p else dec(v, fields[1], NON_NEGATIVE)
        for v, p in zip(values, is_price, strict=True)
    ]


def _holds(value: float, text: str, sign: int) -> bool:
    """`sign` checked on a plainly valid number (`value` its float, `text` its text)."""
    return sign == ANY or (text[0] != "-" and (sign == NON_NEGATIVE or value > 0))


def opt_decimals(
    values: list[object], fields: tuple[str, ...], signs: tuple[int, ...]
) -> list[Dec | None]:
    """Like `opt_dec` on each of `values` (a ticker's eight numbers, with their sign rules),
    with one C pass when all fit as sent; a bad value falls back to `opt_dec`, which names its
    field."""
    present = [v for v in values if v is not None and v != ""]
    if all(type(v) is str for v in present) and surely_fit(present):  # type: ignore[arg-type]
        floats = plain_floats(",".join(present), len(present))  # type: ignore[arg-type]
        if floats is not None:
            rules = [s for v, s in zip(values, signs, strict=True) if v is not None and v != ""]
            if all(map(_holds, floats, present, rules)):  # type: ignore[arg-type]
                return [None if v is None or v == "" else v for v in values]  # type: ignore[misc]
    return [opt_dec(v, f, s) for v, f, s in zip(values, fields, signs, strict=True)]


def real(value: object, field: str) -> Real | None:
    """A CoinGecko number, as raw text (see `coingecko_decode.parse_json`); None stays None.
    It must be finite as a double, the column's type."""
    if value is None:
        return None
    if type(value) is str and len(value) > MAX_NUMBER_TEXT:
        raise FrameError(f"field {field!r} is too long for a number: {_cut(value)}")
    if type(value) is not str or _JSON_NUMBER.fullmatch(value) is None:
        raise FrameError(f"field {field!r} is not a number: {value!r}"[:200])
    if not abs(float(value)) <= DOUBLE_MAX:
        raise FrameError(f"field {field!r} does not fit a double: {_cut(value)}")
    if "e" in value or "E" in value:
        return Real(_plain(value))
    return Real(value)
