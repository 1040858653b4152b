"""Logging handlers for the CLI: readable text on a terminal, JSON lines in production.

Both formats keep a record to one bounded line (`logsafe.bounded`): the message is cut at
`logsafe.MESSAGE_LIMIT` characters, and the text format escapes its control characters (JSON
escapes them itself). A traceback is written in full.
"""

from __future__ import annotations

import copy
import logging
import re
import sys
import time

import orjson

from streamer.logsafe import bounded

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class TextFormatter(logging.Formatter):
    """`TEXT_FORMAT`, its message escaped and cut (`logsafe.bounded`)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        safe = copy.copy(record)  # other handlers still see the record as it was logged
        safe.msg, safe.args = bounded(record.getMessage()), None
        return super().format(safe)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event message, exception if any.

    Records carrying an `emf` mapping (see `service.report_metrics`) are written as that
    object alone, so CloudWatch Logs can read it as embedded-metric format.
    """

    def format(self, record: logging.LogRecord) -> str:
        emf = getattr(record, "emf", None)
        if emf is not None:  # a CloudWatch embedded-metric event is logged as is
            return orjson.dumps(emf).decode()
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": bounded(record.getMessage(), escape=False),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _JSON_BREAKS.sub(_escape_break, orjson.dumps(entry).decode())


_JSON_BREAKS = re.compile("[\x85\u2028\u2029]")
"""Line breaks to some readers that orjson leaves raw (it escapes only below U+0020)."""


def _escape_break(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def formatter(fmt: str) -> logging.Formatter:
    """The formatter of `fmt` (`text` or `json`, `STREAMER_LOG_FORMAT`)."""
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
