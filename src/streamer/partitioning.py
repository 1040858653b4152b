"""S3 key rendering, exactly as Firehose does it (pure functions).

Firehose evaluates `!{timestamp:<pattern>}` in a prefix with the approximate arrival time of
the oldest record in the object (UTC), and names the object
`<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>`; the local lake does the same so both layouts
are identical and one set of table definitions reads either.
"""

from __future__ import annotations

import re
import time

from streamer.errors import ConfigError

_EXPRESSION = re.compile(r"!\{([^}:]+):([^}]*)\}")
# The subset of java.time.format.DateTimeFormatter letters a lake prefix needs.
_PATTERN_LETTERS = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
_PATTERN_TOKEN = re.compile(r"'[^']*'|yyyy|MM|dd|HH|mm|ss|[A-Za-z]|[^A-Za-z']+")


def _strftime_pattern(java: str) -> str:
    out = []
    for token in _PATTERN_TOKEN.findall(java):
        if token.startswith("'"):
            out.append(token[1:-1].replace("%", "%%"))
        elif token in _PATTERN_LETTERS:
            out.append(_PATTERN_LETTERS[token])
        elif token.isalpha():
            raise ConfigError(
                "prefix template",
                f"timestamp pattern letter {token!r} is not supported",
                "Use yyyy, MM, dd, HH, mm and ss.",
            )
        else:
            out.append(token.replace("%", "%%"))
    return "".join(out)


def render_prefix(template: str, arrival_ms: int) -> str:
    """Evaluate `!{timestamp:...}` expressions for one object's oldest arrival time (UTC)."""
    moment = time.gmtime(arrival_ms // 1000)

    def evaluate(match: re.Match[str]) -> str:
        namespace, value = match.groups()
        if namespace != "timestamp":
            raise ConfigError(
                "prefix template",
                f"namespace {namespace!r} cannot be rendered locally",
                "Use only !{timestamp:...} expressions in the lake prefix.",
            )
        return time.strftime(_strftime_pattern(value), moment)

    return _EXPRESSION.sub(evaluate, template)


def object_name(stream: str, version: int, arrival_ms: int, unique: str) -> str:
    """Firehose's object suffix: `crypto-tickers-1-2026-11-24-08-00-00-<uuid>`."""
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(arrival_ms // 1000))
    return f"{stream}-{version}-{stamp}-{unique}"
