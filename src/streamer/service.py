"""Assembles the configured sources and sink and runs the pipeline (the `run` command)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from streamer import health
from streamer.jsonline import MANY_ENCODERS, ManyEncoder
from streamer.metrics import FEED_COUNTERS, EmfReporter
from streamer.pipeline import PipelineStats, run_pipeline
from streamer.settings import Settings
from streamer.sharding import select
from streamer.sinks.base import Sink
from streamer.sinks.lake import LakeSink
from streamer.sinks.null import NullSink
from streamer.sources.base import Clock, Source
from streamer.storage import check_writable
from streamer.timefmt import now_millis
from streamer.venues import VENUES

log = logging.getLogger(__name__)
QUIET_LISTED = 50  # quiet streams named per feed in /health


def build_sources(settings: Settings, clock: Clock = now_millis) -> list[Source]:
    """A feed for each venue of `settings.sources` with something to collect in this shard:
    a shardable venue's symbols are split between shards, any other runs in shard 0."""
    from streamer.sources.rediscovery import Rediscovery

    shard, every = settings.shard, settings.discovery_seconds
    sources: list[Source] = []
    counts: dict[str, int] = {}
    for spec in VENUES:
        config = settings.venues[spec.name]
        if spec.shardable:
            config = replace(config, symbols=select(spec.name, config.symbols, shard))
        elif not shard.is_first:
            continue
        counts[spec.name] = len(config.symbols)
        if spec.name not in settings.sources or not config.symbols:
            continue
        selector = config.selector if spec.shardable else None
        found = Rediscovery(selector, shard, every) if selector is not None else None
        sources.append(spec.source(config, clock=clock, rediscovery=found))
    if shard.count > 1:
        log.info("service.shard shard=%s %s", shard,
                 " ".join(f"{name}={n}" for name, n in counts.items()))  # fmt: skip
    return sources


def build_sink(settings: Settings) -> Sink:
    """The configured sink. A directory it can never write (read-only, a file in the way, no
    permission) is a `ConfigError` here, before any feed starts; a full disk is not: the sink
    starts, holds its rows and reports (`storage.check_writable`)."""
    if settings.sink == "lake":
        check_writable(settings.lake.root, "STREAMER_LAKE_DIR")
        return LakeSink(settings.lake)
    if settings.sink == "null":
        return NullSink()
    from streamer.aws import check_streams
    from streamer.schema import DATASETS
    from streamer.sinks.firehose import FirehoseSink, make_client

    check_writable(settings.firehose.spool_dir, "STREAMER_SPOOL_DIR")
    # The client is made and asked now, so missing credentials, region or streams stop `run`
    # before any feed (`aws.check_streams`).
    client = make_client(settings.firehose)
    sink = FirehoseSink(settings.firehose, client=client)
    check_streams(client, [sink.stream_name(d) for d in DATASETS.values()])
    return sink


def encoders_for(settings: Settings) -> Mapping[type, ManyEncoder]:
    """How rows are encoded for the configured sink: Iceberg records for a Firehose sink
    whose streams deliver into Iceberg tables (`STREAMER_LAKE_FORMAT=iceberg`), JSON lines
    for everything else (the local lake reads JSON lines in either format)."""
    if settings.sink == "firehose" and settings.firehose.format == "iceberg":
        from streamer.iceberg_records import ICEBERG_MANY_ENCODERS

        return ICEBERG_MANY_ENCODERS
    return MANY_ENCODERS


def feed_counters(sources: Sequence[Source]) -> dict[str, int]:
    """The feeds' counters that are metrics (`metrics.FEED_COUNTERS`), summed over sources."""
    return {metric: sum(s.stats.extra[counter] for s in sources)
            for metric, counter in FEED_COUNTERS.items()}  # fmt: skip


def report_metrics(
    sink: Sink, reporter: EmfReporter, clock: Clock, sources: Sequence[Source] = ()
) -> None:
    """One CloudWatch EMF event with the sink's and the feeds' counters (a JSON line in the
    log)."""
    snapshot = {**sink.counters_snapshot(), **feed_counters(sources)}
    event = reporter.event(snapshot, clock())
    log.info(
        "sink.stats %s",
        " ".join(f"{k}={v}" for k, v in event.items() if not k.startswith("_")),
        extra={"emf": event},
    )


async def _report(
    sources: Sequence[Source],
    stats: PipelineStats,
    sink: Sink,
    reporter: EmfReporter,
    every: float,
    clock: Clock,
) -> None:
    while True:
        await asyncio.sleep(every)
        log_feed_stats(sources)
        log.info("pipeline.stats rows=%s", dict(stats.rows))
        report_metrics(sink, reporter, clock, sources)


def log_feed_stats(sources: Sequence[Source]) -> None:
    for source in sources:
        s = source.stats
        extra = s.extra
        recovery = sorted(s.recovery_ms)
        p50 = recovery[len(recovery) // 2] if recovery else 0
        p99 = recovery[int(0.99 * (len(recovery) - 1))] if recovery else 0
        log.info(
            "feed.stats source=%s connects=%d frames=%d rows=%d rejects=%d gaps=%d "
            "trades_backfilled=%d trade_ids_unserved=%d trade_holes_abandoned=%d "
            "rest_calls=%d rest_weight=%d recovery_p50_ms=%d recovery_p99_ms=%d",
            source.name, s.connects, s.frames, s.rows, s.rejects, s.gaps,
            extra["trades_backfilled"], extra["trade_ids_unserved"],
            extra["trade_holes_abandoned"], extra["calls"], extra["weight"], p50, p99,
        )  # fmt: skip


def freshness_limits(settings: Settings, sources: Sequence[Source]) -> dict[str, float]:
    """Seconds without a frame after which a feed counts as stale (its `VenueSpec.stale_after`:
    a minute for streams, whose tickers, books and heartbeats arrive every second)."""
    specs = {spec.name: spec for spec in VENUES}
    return {
        source.name: specs[source.name].stale_after(settings.venues[source.name])
        for source in sources
    }


async def _watch_health(
    sources: Sequence[Source],
    stats: PipelineStats,
    sink: Sink,
    settings: Settings,
    clock: Clock,
    started: int,
) -> None:
    """Serves /health (if a port is set) and logs feed state changes every 5 s."""
    limits = freshness_limits(settings, sources)

    def feeds() -> list[health.FeedHealth]:
        last = {s.name: s.stats.last_frame_at for s in sources}
        return health.assess(last, limits, stats.failed_sources, started, clock())

    def storage() -> health.SinkHealth:
        return health.assess_sink(sink.failing_since(), settings.undelivered_seconds, clock())

    def body() -> tuple[bool, dict[str, object]]:
        current, stored = feeds(), storage()
        extra = {
            "sink": settings.sink,
            "shard": str(settings.shard),
            "delivery": dict(sink.counters_snapshot()),
            # Streams silent even on a fresh connection (halted or illiquid symbols): named,
            # not counted against the feed, which stays fresh while its other streams flow.
            "quiet": {s.name: sorted(s.stats.quiet)[:QUIET_LISTED] for s in sources},
            "quiet_count": {s.name: len(s.stats.quiet) for s in sources},
        }
        return health.healthy(current, stored), health.report(current, extra, stored)

    server = (
        await health.serve(settings.health_port, body, settings.health_host)
        if settings.health_port
        else None
    )
    states = health.StateLog()
    try:
        while True:
            states.update(feeds())
            states.update_sink(storage())
            await asyncio.sleep(5)
    finally:
        if server is not None:
            server.close()
            await server.wait_closed()


async def run_service(
    settings: Settings, stop: asyncio.Event, clock: Clock = now_millis
) -> PipelineStats:
    from streamer.discovery import check_symbols, resolve
    from streamer.resume import prepare

    sink = build_sink(settings)  # first: a bad sink setting stops before any venue is asked
    settings = await resolve(settings, clock=clock)
    await check_symbols(settings, clock=clock)
    sources = build_sources(settings, clock)
    completeness = await prepare(settings, sources, clock)
    log.info("service.start sources=%s sink=%s", ",".join(s.name for s in sources), settings.sink)
    stats = PipelineStats()
    shard = {"Shard": str(settings.shard)} if settings.shard.count > 1 else None
    emf = EmfReporter({"Service": "streamer", "Sink": settings.sink}, shard)
    async with asyncio.TaskGroup() as group:
        reporter = group.create_task(
            _report(sources, stats, sink, emf, settings.stats_interval, clock)
        )
        watcher = group.create_task(_watch_health(sources, stats, sink, settings, clock, clock()))
        try:
            stats = await run_pipeline(
                sources, sink, stop, clock=clock, queue_size=settings.queue_size, stats=stats,
                completeness=completeness, encoders=encoders_for(settings),
            )  # fmt: skip
        finally:
            reporter.cancel()
            watcher.cancel()
    report_metrics(sink, emf, clock, sources)
    log_feed_stats(sources)
    log.info("service.stopped rows=%s failed=%s", dict(stats.rows), stats.failed_sources)
    return stats
