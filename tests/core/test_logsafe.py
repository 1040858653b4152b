"""Venue text reaches the logs as one bounded, escaped line, in the text and the JSON format."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator

import orjson
import pytest

from streamer.logsafe import MESSAGE_LIMIT, SHOWN_LIMIT, bounded, shown
from streamer.logsetup import formatter
from streamer.records import Reject
from streamer.venues.binance.decode import BinanceDecoder
from streamer.venues.binance.settings import BinanceSettings
from streamer.venues.coinbase.decode import CoinbaseDecoder
from streamer.venues.coinbase.settings import CoinbaseSettings

HOSTILE = (
    "boom\n2025-01-01 00:00:00,000 ERROR streamer.cli forged line\r\x00"
    "\x1b[2J\x1b[31mred\u2028" + "x" * 3_000_000
)
"""A venue's error text: a forged log line after a newline, a NUL, ANSI escapes, 3 MB."""

Lines = Callable[[], list[str]]


@pytest.fixture(params=["text", "json"])
def log_lines(request: pytest.FixtureRequest) -> Iterator[Lines]:
    """What the `streamer` loggers write in the format of the parameter, as lines."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter(request.param))
    root = logging.getLogger("streamer")
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lambda: out.getvalue().splitlines()
    root.removeHandler(handler)
    root.setLevel(level)


def assert_safe(line: str, limit: int) -> str:
    """The message of one log line, checked to hold no control character and to be short."""
    message = orjson.loads(line)["message"] if line.startswith("{") else line
    assert len(message) <= limit
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F or c == "\u2028" for c in line)
    return str(message)


def test_a_binance_error_frame_logs_one_short_escaped_line(log_lines: Lines) -> None:
    frame = orjson.dumps({"error": {"code": -1, "msg": HOSTILE}, "id": 7})
    decoder = BinanceDecoder(BinanceSettings(symbols=("BTC-USDT",)))
    [item] = decoder.decode(frame, 1_700_000_000_000)
    assert isinstance(item, Reject)  # the reject still carries the text (bounded by its own limit)
    [line] = log_lines()
    message = assert_safe(line, SHOWN_LIMIT + 200)
    assert "binance.venue_error id=7 error='venue error -1: boom\\n2025-01-01" in message
    assert f"...[+{len('venue error -1: ' + HOSTILE) - SHOWN_LIMIT} chars]" in message


def test_a_coinbase_error_frame_logs_one_short_escaped_line(log_lines: Lines) -> None:
    frame = orjson.dumps({"type": "error", "message": HOSTILE})
    decoder = CoinbaseDecoder(CoinbaseSettings(symbols=("BTC-USD",)))
    [item] = decoder.decode(frame, 1_700_000_000_000)
    assert isinstance(item, Reject)
    [line] = log_lines()
    message = assert_safe(line, SHOWN_LIMIT + 200)
    assert "coinbase.venue_error message='boom\\n2025-01-01" in message
    assert "\\x00\\x1b[2J\\x1b[31mred\\u2028" in message


def test_the_formatter_bounds_a_message_no_call_site_bounded(log_lines: Lines) -> None:
    log = logging.getLogger("streamer.test")
    log.warning("raw reason=%s", HOSTILE)
    try:
        raise ValueError("in the traceback")
    except ValueError:
        log.exception("failed %s", "a\nb")
    lines = log_lines()
    first = assert_safe(lines[0], MESSAGE_LIMIT + 200)
    assert first.endswith(f"...[cut: {len('raw reason=') + len(HOSTILE)} chars in all]")
    if lines[1].startswith("{"):  # JSON: the traceback is a field of the one line
        assert len(lines) == 2
        entry = orjson.loads(lines[1])
        assert entry["message"] == "failed a\nb" and "in the traceback" in entry["exception"]
    else:  # text: the message escaped, the traceback after it as Python writes it
        assert lines[1].endswith("failed a\\nb")
        assert lines[2] == "Traceback (most recent call last):"
        assert lines[-1] == "ValueError: in the traceback"


def test_shown_quotes_escapes_and_cuts() -> None:
    assert shown("a\nb\x00") == "'a\\nb\\x00'"
    assert shown("x" * 301) == repr("x" * 300) + "...[+1 chars]"
    assert shown({"code": 1}) == "{'code': 1}"
    assert shown(ValueError("bad\n")) == "ValueError('bad\\n')"
    assert shown("y" * 20, limit=5) == "'yyyyy'...[+15 chars]"


def test_bounded_keeps_short_text_and_cuts_after_escaping() -> None:
    assert bounded("plain text") == "plain text"
    assert bounded("\x1b" * 10, limit=8) == "\\x1b\\x1b...[cut: 10 chars in all]"
    assert bounded("a\nb", escape=False) == "a\nb"
    assert bounded("z" * 10, limit=4, escape=False) == "zzzz...[cut: 10 chars in all]"
