"""The project's exceptions, all rooted in `StreamerError`.

    StreamerError
     ├── ConfigError      a setting is missing or wrong; the message names it and the fix
     ├── FrameError       one frame could not be normalized; it becomes a `Reject`, never a crash
     ├── SourceError      a venue refuses the connection for a reason retrying cannot fix
     │    ├── RestrictedLocation   Binance answered HTTP 451 (use binance.us)
     │    └── RestRefused          a REST answer retrying cannot fix (sources/rest.py)
     ├── Retryable        a failure worth retrying, maybe after a venue-given wait (retry.py)
     ├── GaveUp           the retry policy's stop ended the retries (retry.py)
     ├── CompactionError  a day cannot be compacted (a raw object unreadable, raw rows missing,
     │                    an Athena query failed); its previous output is kept
     └── AthenaQueryFailed  an Athena query failed or ran past its deadline (athena_queries.py)

Foreign exceptions (websockets, httpx, orjson) are translated at the boundary that meets them.
"""

from __future__ import annotations


class StreamerError(Exception):
    """Root of every error raised on purpose by streamer."""


class ConfigError(StreamerError):
    """A setting is invalid. The message names the setting and how to fix it."""

    def __init__(self, setting: str, problem: str, fix: str) -> None:
        self.setting = setting
        super().__init__(f"{setting}: {problem}. {fix}")


class FrameError(StreamerError):
    """A frame (or one part of it) cannot be normalized; the message is the reject reason."""


class SourceError(StreamerError):
    """A venue refused service in a way that retrying will not fix."""


class RestrictedLocation(SourceError):
    """Binance answered HTTP 451: the service is unavailable from this location."""


class CompactionError(StreamerError):
    """A day of a dataset cannot be compacted; the message says why and what was kept."""
