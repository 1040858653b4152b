"""What every source shares: the `Source` protocol, frame guarding and per-feed statistics.

A source turns a venue's frames into normalized rows. Its pure part is a *decoder*: a function
or small class that takes one raw frame plus the local receive time and returns a list of
`Item`s (rows, or a `Reject` holding the reason and the raw text). Decoders never raise for bad
input: `guarded` turns any parsing failure into a reject. The asyncio part only moves frames
from the network to the decoder and the decoder's output to `emit`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from streamer.errors import FrameError
from streamer.quality import FeedQuality
from streamer.records import RAW_LIMIT, Item, Millis, Reject

log = logging.getLogger(__name__)

Emit = Callable[[Sequence[Item]], Awaitable[None]]
"""Hands one frame's items to the pipeline; awaits when the pipeline's queue is full."""

Clock = Callable[[], Millis]
"""Returns the current UTC time in epoch milliseconds."""


class Source(Protocol):
    """A venue feed.

    `run` streams until cancelled: it connects, subscribes, decodes, and awaits `emit` once per
    frame (or REST response) that yields items, with those items in venue order; delivery is
    in arrival order per connection. A bad frame becomes a `Reject`; it never ends `run`.
    `run` raises only for errors retrying cannot fix (`SourceError`), which end this source
    but not the others.
    """

    name: str
    stats: FeedStats

    async def run(self, emit: Emit) -> None: ...


@dataclass(slots=True)
class FeedStats:
    """Counters for one source, read by the CLI's periodic log line and the health report."""

    frames: int = 0
    rows: int = 0
    rejects: int = 0
    connects: int = 0
    gaps: int = 0
    stalls: int = 0  # connections or streams silent past the watchdog limit
    backfilled: int = 0  # rows fetched from REST to fill holes
    last_frame_at: Millis | None = None
    extra: Counter[str] = field(default_factory=Counter)
    recovery_ms: list[int] = field(default_factory=list)  # drop -> first frame again, newest 10k
    quiet: set[str] = field(default_factory=set)  # streams silent even on a fresh connection
    quality: FeedQuality = field(default_factory=FeedQuality)
    """The `quality` dataset's events (gaps, backfills, holes, resyncs, connection time); the
    service connects it to the process's counter, else it does nothing."""

    def recovered(self, took_ms: int) -> None:
        self.recovery_ms.append(took_ms)
        if len(self.recovery_ms) > 10_000:
            del self.recovery_ms[:1000]

    def count_read(self, frames: int, items: Sequence[Item], received_at: Millis) -> None:
        """`frames` frames of one socket read, which gave `items` in all."""
        self.frames += frames
        self.last_frame_at = received_at
        rejects = list(map(type, items)).count(Reject) if items else 0
        self.rejects += rejects
        self.rows += len(items) - rejects

    def count(self, items: Sequence[Item], received_at: Millis) -> None:
        self.frames += 1
        self.last_frame_at = received_at
        for item in items:
            if type(item) is Reject:
                self.rejects += 1
            else:
                self.rows += 1


def raw_text(raw: str | bytes) -> str:
    text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
    return text[:RAW_LIMIT]


def json_object(raw: str | bytes) -> dict[str, Any]:
    """A frame's JSON object; `FrameError` (or orjson's error) when it is not one."""
    msg = orjson.loads(raw)
    if type(msg) is not dict:
        raise FrameError("frame is not a JSON object")
    return msg


def reject(source: str, reason: str, raw: str | bytes, received_at: Millis) -> Reject:
    return Reject(source, reason[:500], raw_text(raw), received_at)


def reason_for(exc: Exception) -> str:
    """A stable, readable reject reason for a parsing failure."""
    if isinstance(exc, FrameError):
        return str(exc)
    if isinstance(exc, orjson.JSONDecodeError):
        return f"invalid JSON: {exc}"
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}" if exc.args else "missing field"
    if isinstance(exc, TypeError | AttributeError | IndexError):
        return f"wrong type or shape: {exc}"
    if isinstance(exc, UnicodeDecodeError):
        return "frame is not UTF-8"
    return f"{type(exc).__name__}: {exc}"


FRAME_FAILURES = (FrameError, ValueError, KeyError, TypeError, AttributeError, IndexError)
"""What a parser may raise on bad input; `guarded` turns these into a `Reject`."""


def guarded(
    source: str,
    decode: Callable[[str | bytes, Millis], list[Item]],
    raw: str | bytes,
    received_at: Millis,
) -> list[Item]:
    """Run a decoder on one frame; any parsing failure becomes a single `Reject`."""
    try:
        return decode(raw, received_at)
    except FRAME_FAILURES as exc:
        return [reject(source, reason_for(exc), raw, received_at)]
