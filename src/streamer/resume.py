"""Completeness for one `run`: the `quality` counter wired to every feed, checkpoints loaded
and the feeds resumed from them, and the writer that saves the new ones (the service's part).

Checkpoints live beside the rows: with the lake sink in `<lake>/.state/checkpoints`, with the
Firehose sink in the lake's bucket (`STREAMER_LAKE_BUCKET`) under `crypto/state/checkpoints/`.
Without a place to keep them (the null sink; Firehose without a bucket, which is logged) the
run collects as before and a restart resumes nothing.

A checkpoint that cannot be read (a corrupt file, S3 refusing) is logged and that symbol
starts fresh: the feed runs, and the hole before its first trade is not fetched.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from streamer.checkpoint_writer import CheckpointWriter
from streamer.checkpoints import Checkpoint, CheckpointStore, LocalCheckpoints, S3Checkpoints
from streamer.logsafe import shown
from streamer.pipeline import Completeness
from streamer.quality import FeedQuality, QualityCounter
from streamer.settings import Settings
from streamer.sources.base import Clock, Source
from streamer.sources.feed import Feed

log = logging.getLogger(__name__)

LOADS_AT_ONCE = 16  # S3 GETs in flight while loading a whole market's checkpoints


def checkpoint_store(settings: Settings) -> CheckpointStore | None:
    if settings.sink == "lake":
        return LocalCheckpoints(settings.lake.root)
    if settings.sink == "firehose":
        if settings.lake_bucket is None:
            log.warning("resume.off reason=no STREAMER_LAKE_BUCKET (set it to the lake's bucket "
                        "so a restart fetches the trades it missed)")  # fmt: skip
            return None
        from botocore.config import Config

        from streamer.aws import session

        config = Config(retries={"mode": "standard", "max_attempts": 5},
                        max_pool_connections=LOADS_AT_ONCE)  # fmt: skip
        prefix = settings.firehose.stream_prefix + "/"
        return S3Checkpoints(session().client("s3", config=config), settings.lake_bucket, prefix)
    return None


def _load_all(store: CheckpointStore, exchange: str, symbols: Sequence[str]) -> list[Checkpoint]:
    def one(symbol: str) -> Checkpoint | None:
        try:
            return store.load(exchange, symbol)
        except Exception as exc:  # unreadable: this symbol starts fresh, and says so
            log.error("resume.checkpoint_unreadable exchange=%s symbol=%s error=%s (starting "
                      "without it)", exchange, symbol, shown(exc))  # fmt: skip
            return None

    with ThreadPoolExecutor(LOADS_AT_ONCE) as pool:
        return [c for c in pool.map(one, symbols) if c is not None]


async def prepare(settings: Settings, sources: Sequence[Source], clock: Clock) -> Completeness:
    """Connect every feed to one `quality` counter; resume the feeds from their checkpoints."""
    quality = QualityCounter(str(settings.shard), clock, run=uuid.uuid4().hex[:12])
    for source in sources:
        source.stats.quality = FeedQuality(quality, source.name)
    store = checkpoint_store(settings)
    writer = CheckpointWriter(store) if store is not None else None
    if store is not None:
        for source in sources:
            if isinstance(source, Feed):
                symbols = list(source.settings.symbols)
                saved = await asyncio.to_thread(_load_all, store, source.name, symbols)
                source.resume({c.symbol: c for c in saved}, settings.checkpoint_seconds)
    return Completeness(quality, writer, settings.drain_seconds)
