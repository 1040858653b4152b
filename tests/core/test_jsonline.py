"""Rows encode to one JSON object per line with exact decimals and Athena timestamps."""

from __future__ import annotations

import re
from decimal import Decimal, localcontext

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.errors import FrameError
from streamer.jsonline import encode
from streamer.numbers import (
    ANY,
    JSON_NUMBER,
    MAX_EXPONENT,
    NON_NEGATIVE,
    POSITIVE,
    dec,
    dec_pair,
    decimals,
    opt_decimals,
    plain_numbers,
    real,
)
from streamer.records import Candle, Dec, Millis, Reject, SpotPrice, Trade, book_snapshot
from streamer.timefmt import format_millis, parse_rfc3339


def test_trade_line_keeps_the_venue_decimal_text() -> None:
    trade = Trade("binance", "BTC-USDT", Millis(1633998523963), Millis(1633998524001), "15683430",
                  Dec("0.35280000"), Dec("58.00000000"), "buy", "id1")  # fmt: skip
    line = encode(trade)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert b'"price":0.35280000,' in line and b'"size":58.00000000,' in line
    assert orjson.loads(line)["event_time"] == "2021-10-12 00:28:43.963"


def test_nulls_booleans_levels_and_escaping() -> None:
    book = book_snapshot("coinbase", "BTC-USD", Millis(0), Millis(1), 2,
                         ((Dec("83277.25"), Dec("0.00715626")),), (), None, "9f0a")  # fmt: skip
    parsed = orjson.loads(encode(book))
    assert parsed["bids"] == [{"price": 83277.25, "size": 0.00715626}]
    assert parsed["asks"] == [] and parsed["sequence"] is None and parsed["record_id"] == "9f0a"
    assert (parsed["bid_price"], parsed["bid_size"]) == (83277.25, 0.00715626)
    assert parsed["ask_price"] is None and parsed["ask_size"] is None  # an empty side
    trade = Trade("coinbase", "BTC-USD", Millis(0), Millis(1), 'q"\\', Dec("1"), Dec("2"), "buy",
                  "ab")  # fmt: skip
    assert orjson.loads(encode(trade))["trade_id"] == 'q"\\'  # venue text: escaped
    candle = Candle("binance", "X-Y", Millis(1), Millis(2), "1m", Millis(0), Millis(59999),
                    Dec("1"), Dec("2"), Dec("0.5"), Dec("1.5"), Dec("10"), None, None, True,
                    "ws", "c")  # fmt: skip
    parsed = orjson.loads(encode(candle))
    assert parsed["is_closed"] is True and parsed["quote_volume"] is None
    assert parsed["close_time"] == "1970-01-01 00:00:59.999"
    spot = SpotPrice("bitcoin", "usd", None, None, None, None, None, Millis(5), "s")
    assert orjson.loads(encode(spot))["last_updated_at"] is None
    reject = Reject("binance", "invalid JSON", "{\x00 \u00e9", Millis(5))
    assert orjson.loads(encode(reject))["raw"] == "{\x00 \u00e9"


@pytest.mark.parametrize("text", ["1", "0.1", "-2.50", "86704.77000000", "0", "12e3"])
def test_valid_decimal_text(text: str) -> None:
    assert dec(text, "p") == (text if "e" not in text else "12000")


@pytest.mark.parametrize("bad", ["", "abc", "1.", ".5", "01", "1,0", "NaN", "inf", " 1", 1.5, None])
def test_invalid_decimal_text_is_a_frame_error(bad: object) -> None:
    with pytest.raises(FrameError, match="'p'"):
        dec(bad, "p")


def test_decimals_validates_a_whole_side_at_once() -> None:
    assert decimals(["1.0", "2", "3.25"], "bids") == ["1.0", "2", "3.25"]
    assert decimals(["1e-05", "2"], "bids") == ["0.00001", "2"]
    with pytest.raises(FrameError, match="bids"):
        decimals(["1.0", "x"], "bids")
    with pytest.raises(FrameError, match="bids"):
        decimals(["1.0", 2], "bids")  # type: ignore[list-item]


def test_real_keeps_coingecko_text_and_rewrites_exponents() -> None:
    assert real("1542226908349.8406", "m") == "1542226908349.8406"
    assert real("1.5e-07", "m") == "0.00000015"
    assert real(None, "m") is None


def test_timestamps() -> None:
    assert format_millis(0) == "1970-01-01 00:00:00.000"
    assert parse_rfc3339("2026-09-30T02:39:53.670986313Z", "t") == 1790735993670
    assert parse_rfc3339("2026-09-30T04:39:53+02:00", "t") == 1790735993000
    with pytest.raises(FrameError):
        parse_rfc3339("2026-13-30T00:00:00Z", "t")
    with pytest.raises(FrameError):
        parse_rfc3339(17, "t")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-09-30T02:39:53.670986313Z", 1790735993670),
        ("2026-09-30T02:39:53.6Z", 1790735993600),
        ("2026-09-30 02:39:53.670Z", 1790735993670),
        ("2026-09-30T02:39:53Z", 1790735993000),
    ],
)
def test_rfc3339_fast_and_slow_paths_agree(text: str, expected: int) -> None:
    assert parse_rfc3339(text, "t") == expected


@pytest.mark.parametrize(
    "bad", ["2026-09-30T02:39:61.5Z", "2026-09-30T02:39:5x.5Z", "2026-09-30T02:39:53.5xZ"]
)
def test_rfc3339_rejects_invalid_text_on_the_fast_path(bad: str) -> None:
    with pytest.raises(FrameError):
        parse_rfc3339(bad, "t")


def test_a_nullable_timestamp_is_quoted_when_present() -> None:
    spot = SpotPrice(
        "bitcoin", "usd", None, None, None, None, Millis(1633998240999), Millis(5), "s"
    )
    assert orjson.loads(encode(spot))["last_updated_at"] == "2021-10-12 00:24:00.999"


def test_rows_sharing_received_at_each_keep_their_own_times() -> None:
    """The encoder remembers the last `received_at` text; a new value must replace it."""
    received = [5, 5, 1_000_123, 5]
    times = [(Millis(1000 * i + 7), Millis(r)) for i, r in enumerate(received)]
    rows = [Trade("binance", "B-Q", e, r, "1", Dec("1"), Dec("2"), "buy", "id") for e, r in times]
    parsed = [orjson.loads(encode(r)) for r in rows]
    assert [p["received_at"] for p in parsed] == [
        "1970-01-01 00:00:00.005",
        "1970-01-01 00:00:00.005",
        "1970-01-01 00:16:40.123",
        "1970-01-01 00:00:00.005",
    ]
    assert [p["event_time"][-6:] for p in parsed] == ["00.007", "01.007", "02.007", "03.007"]


@pytest.mark.parametrize(
    ("a", "b"),
    [("1", "2"), ("0.1", "2.50"), ("86704.77000000", "0.001"), ("12e3", "1"), ("1", "1E-2"),
     ("1.0000000000000000000000", "99999999999999999999.999999999999999999")],
)  # fmt: skip
def test_a_valid_decimal_pair_is_what_dec_gives(a: str, b: str) -> None:
    assert dec_pair(a, b, ("p", "q")) == (dec(a, "p", POSITIVE), dec(b, "q", POSITIVE))


@pytest.mark.parametrize(
    ("a", "b", "culprit"),
    [("1,2", "3", "'p'"), ("1", "2,3", "'q'"), ("", "1", "'p'"), ("1", "", "'q'"),
     ("01", "1", "'p'"), ("1", "NaN", "'q'"), (1.5, "1", "'p'"), ("1", None, "'q'"),
     ("0", "1", "'p' is not positive"), ("1", "-2", "'q' is not positive"),
     ("1", "0.000", "'q' is not positive"), ("-0", "1", "'p' is not positive")],
)  # fmt: skip
def test_an_invalid_decimal_pair_names_its_culprit(a: object, b: object, culprit: str) -> None:
    with pytest.raises(FrameError, match=culprit):
        dec_pair(a, b, ("p", "q"))


def _in_range(text: str) -> bool:
    """Within the exponent cap, and a value `decimal(38,18)` holds (the reference: exact)."""
    if "e" in text.lower() and abs(Decimal(text).adjusted()) > MAX_EXPONENT:
        return False
    with localcontext(prec=1000):
        value = Decimal(text)
        return abs(value) < 10**20 and value == round(value, 18)


@given(st.lists(st.text(alphabet="0123456789.-+eE", max_size=12), min_size=1, max_size=6))
def test_the_fast_number_checks_accept_exactly_rfc_8259_numbers(parts: list[str]) -> None:
    reference = re.compile(JSON_NUMBER)
    expected = all(reference.fullmatch(p) and _in_range(p) for p in parts)
    try:
        decimals(parts, "x")
        accepted = True
    except FrameError:
        accepted = False
    assert accepted == expected, parts
    if len(parts) == 2:
        positive = expected and all(Decimal(p) > 0 for p in parts)
        try:
            dec_pair(parts[0], parts[1], ("a", "b"))
            assert positive, parts
        except FrameError:
            assert not positive, parts


@given(st.lists(st.text(alphabet="0123456789.-+eE ,\t\n\r[]tn", max_size=12), max_size=8))
def test_plain_numbers_accepts_exactly_exponent_free_rfc_8259_numbers(parts: list[str]) -> None:
    """The C fast check of book sides: a list of JSON numbers without exponents and nothing
    else (no whitespace, no brackets, no `true`, a comma only between values)."""
    reference = re.compile(JSON_NUMBER)
    expected = all(
        reference.fullmatch(p) and "e" not in p.lower() and len(p.split(".")[0]) < 300
        for p in parts
    )
    assert plain_numbers(",".join(parts), len(parts)) == expected, parts


def test_numbers_too_long_for_the_fast_checks_are_checked_exactly() -> None:
    long = "12345678901234567.123456789012345678"  # 35 digits: no double holds it
    assert decimals([long, "1.5"], "bids") == [long, "1.5"]
    with pytest.raises(FrameError, match="'bids' is too long for a number"):
        decimals(["9" * 400, "1.5"], "bids")


def test_a_huge_exponent_is_a_reject_not_a_giant_string() -> None:
    with pytest.raises(FrameError, match="out of range"):
        dec("1E200000000", "p")
    assert dec("1e-8", "p") == "0.00000001"


def test_optional_decimals_are_checked_together_and_name_a_culprit() -> None:
    fields = ("a", "b", "c", "d")
    signs = (ANY, ANY, ANY, ANY)
    assert opt_decimals(["1.5", None, "", "2"], fields, signs) == ["1.5", None, None, "2"]
    assert opt_decimals(["1e2", "3", None, "4"], fields, signs) == ["100", "3", None, "4"]
    with pytest.raises(FrameError, match="'c'"):
        opt_decimals(["1", "2", "x", "4"], fields, signs)
    with pytest.raises(FrameError, match="'b'"):
        opt_decimals(["1", 2.5, None, "4"], fields, signs)
    ruled = (POSITIVE, NON_NEGATIVE, ANY, POSITIVE)
    assert opt_decimals(["1", "0", "-3", None], fields, ruled) == ["1", "0", "-3", None]
    with pytest.raises(FrameError, match="'b' is negative"):
        opt_decimals(["1", "-0.5", "-3", None], fields, ruled)
    with pytest.raises(FrameError, match="'a' is not positive"):
        opt_decimals(["0.0", "0", "-3", None], fields, ruled)
