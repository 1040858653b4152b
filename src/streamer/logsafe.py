"""Text from outside (a venue's frames, errors and REST bodies) made safe for one log line.

A venue decides what its error messages, close reasons and answers hold: megabytes of text,
a `\\n` followed by a forged log line, NUL bytes, terminal escapes. Two layers keep each log
record one bounded line:

- `shown` at each call site that prints such text: quoted and escaped like `repr`, at most
  `SHOWN_LIMIT` characters of it, then how many were cut;
- `bounded` in the formatters (`logsetup`), whatever the call site did: the message's control
  characters escaped (the text format) and the message cut at `MESSAGE_LIMIT` characters. A
  traceback is left as it is.
"""

from __future__ import annotations

import re

SHOWN_LIMIT = 300
"""Characters of one venue-provided value shown in a log message."""
MESSAGE_LIMIT = 4096
"""Characters of one log message (the traceback apart)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def shown(value: object, limit: int = SHOWN_LIMIT) -> str:
    """`value` (a venue's text, a parsed JSON value, or an exception carrying text) for a log
    message: its `repr` (text quoted and escaped, an exception as `Type('text')`) of at most
    `limit` characters, then a count of the rest, e.g. `'abc'...[+2 chars]`."""
    if isinstance(value, BaseException):
        return f"{type(value).__name__}({shown(str(value), limit)})"
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}...[+{len(value) - limit} chars]"
    text = repr(value)  # a JSON value's repr escapes the text inside it
    return text if len(text) <= limit else f"{text[:limit]}...[+{len(text) - limit} chars]"


def _escape(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]  # \n, \r, \t, \x00, \x1b, \u2028 ...


def bounded(message: str, limit: int = MESSAGE_LIMIT, escape: bool = True) -> str:
    """`message` cut to `limit` characters (then a count of all of them), with its control
    characters escaped when `escape` (a JSON encoder escapes them itself)."""
    cut = len(message) > limit
    text = message[:limit] if cut else message
    if escape:
        text = _CONTROL.sub(_escape, text)
        if len(text) > limit:  # escaping lengthened it
            text, cut = text[:limit], True
    return f"{text}...[cut: {len(message)} chars in all]" if cut else text
