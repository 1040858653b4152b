"""The `streamer` command: run, demo, query, report, compact, audit, simulate, health, provision.

This is the only module that configures logging and starts an event loop (`run_loop`:
uvloop where it is installed, else asyncio's own).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from streamer import settings as settings_module
from streamer.cli_parser import parser
from streamer.errors import ConfigError
from streamer.logsetup import configure_logging
from streamer.venues import VENUES

log = logging.getLogger("streamer.cli")
T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on uvloop when available: its C event loop costs less per wake-up."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command in ("query", "report", "health", "provision"):
            _warn_unknown(settings_module.unknown_settings(os.environ))
        if args.command == "query":
            return _query(args)
        if args.command == "health":
            return _health(args)
        if args.command == "compact":
            return _compact(args)
        if args.command == "audit":
            return _audit(args)
        if args.command == "report":
            return _report(args)
        if args.command == "provision":
            return _provision(args)
        if args.command == "run":
            config = settings_module.load(config_file=args.config)
            configure_logging(args.log_level, config.log_format)
            _warn_unknown(config.unknown)
            return run_loop(_run(config))
        configure_logging(args.log_level, "text")
        if args.command == "demo":
            from streamer.demo import run_demo

            return run_loop(run_demo(args.seconds, args.lake, args.lake_format))
        if args.command == "simulate":
            return run_loop(_simulate(args))
    except ConfigError as exc:
        print(f"streamer: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


def _warn_unknown(unknown: Sequence[str]) -> None:
    """One warning for each `STREAMER_*` variable (or config key) that is not a setting."""
    for entry in unknown:
        log.warning("settings.unknown %s: not a setting, ignored", entry)


async def _run(config: settings_module.Settings) -> int:
    from streamer.service import run_service

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stats = await run_service(config, stop)
    if stats.failed_sources and len(stats.failed_sources) == len(config.sources):
        for name, error in stats.failed_sources.items():
            print(f"streamer: source {name} failed: {error}", file=sys.stderr)
        return 1
    return 0


def _provision(args: argparse.Namespace) -> int:
    from streamer.provision import provision_from_environment

    if not os.environ.get("AWS_ENDPOINT_URL"):
        raise ConfigError(
            "AWS_ENDPOINT_URL",
            "provision is for AWS emulators (moto, LocalStack); in AWS, Terraform owns these",
            "Set AWS_ENDPOINT_URL to the emulator, e.g. http://localhost:5000.",
        )
    prefix = args.prefix or settings_module.load().firehose.stream_prefix
    for name in provision_from_environment(args.bucket, prefix, args.wait):
        print(f"stream {name} -> s3://{args.bucket}")
    return 0


def _compact(args: argparse.Namespace) -> int:
    from streamer.compaction.run import compact_command

    config = settings_module.load()
    configure_logging(args.log_level, config.log_format)
    _warn_unknown(config.unknown)
    return compact_command(config, args.day, args.dataset, args.engine, args.lake)


def _audit(args: argparse.Namespace) -> int:
    from streamer.audit.run import audit_command

    config = settings_module.load()
    configure_logging(args.log_level, config.log_format)
    _warn_unknown(config.unknown)
    known = [spec.name for spec in VENUES]
    return audit_command(config, args.day, args.engine, args.lake, args.format, args.exchange,
                         args.metrics, known)  # fmt: skip


def _health(args: argparse.Namespace) -> int:
    from streamer.health import probe

    host, port = "127.0.0.1", args.port
    if port is None:
        config = settings_module.load()
        host, port = config.health_host, config.health_port
    if not port:
        raise ConfigError("STREAMER_HEALTH_PORT", "no health port is set", "Set it, or --port.")
    status, body = probe(port, host=host)
    print(body)
    return 0 if status == 200 else 1


def _report(args: argparse.Namespace) -> int:
    try:
        from streamer.analytics.report import command
    except ImportError as exc:
        raise ConfigError(
            "streamer report",
            f"the analytics extra is not installed ({exc.name} is missing)",
            "Install it: pip install -e '.[analytics]'.",
        ) from None
    return command(engine=args.engine, lake=args.lake, out=args.out, since=args.since,
                   until=args.until, symbols=args.symbols, bar=args.bar, top=args.top,
                   write=_print_err)  # fmt: skip


def _print_err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _query(args: argparse.Namespace) -> int:
    from streamer import query
    from streamer.lake_files import lake_root

    root = lake_root(args.lake)
    import duckdb

    from streamer.errors import CompactionError

    try:
        names, rows = query.run(root, args.sql)
    except (duckdb.Error, CompactionError) as exc:  # a bad query, or an unreadable manifest
        print(f"streamer: query failed: {exc}", file=sys.stderr)
        return 1
    if args.format == "table":
        print(query.format_table(names, rows))
    elif args.format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(names)
        writer.writerows(rows)
        print(out.getvalue(), end="")
    else:
        for row in rows:
            print(json.dumps(dict(zip(names, row, strict=True)), default=_json_default))
    return 0


def _json_default(value: Any) -> Any:
    return str(value)


def _symbols_by_venue(symbols: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The symbols each shardable venue's settings accept (`BTC-USDT` is no futures contract,
    `BTC-USDT-PERP` no spot pair); a venue that accepts none keeps its own listings."""
    from streamer.settings import known
    from streamer.settings_read import Reader

    out = {}
    for spec in VENUES:
        if not spec.shardable:
            continue
        name = f"STREAMER_{spec.name.upper()}_SYMBOLS"
        accepted = []
        for symbol in symbols:
            try:
                spec.load(Reader({name: symbol}, {}, known()))
            except ConfigError:
                continue
            accepted.append(symbol)
        if accepted:
            out[spec.name] = tuple(accepted)
    return out


async def _simulate(args: argparse.Namespace) -> int:
    from streamer.simulator import SimulatorConfig, run_simulator
    from streamer.simulator.faults import FaultPlan
    from streamer.simulator.proxy import OutagePlan

    try:
        faults = FaultPlan.parse(args.faults)
    except ValueError as exc:
        raise ConfigError("--faults", str(exc), "See `streamer simulate --help`.") from None
    try:
        outages = OutagePlan.parse(args.outages)
    except ValueError as exc:
        raise ConfigError("--outages", str(exc), "See `streamer simulate --help`.") from None
    if args.keep_trading and args.rate <= 0:
        raise ConfigError("--keep-trading", "needs a --rate above 0 (at 0 the clients pace the "
                          "market)", "Add e.g. --rate 200.")  # fmt: skip
    config = SimulatorConfig(host=args.host, port=args.port, rate=args.rate,
                             replay_dir=args.replay, seed=args.seed, faults=faults,
                             markets=_markets(args), activity_skew=args.activity_skew,
                             history_depth=_history_depth(args.history_depth),
                             keep_trading=args.keep_trading)  # fmt: skip
    if args.symbols:  # each symbol asked for is simulated on every exchange that names it so
        config = replace(config, symbols=_symbols_by_venue(tuple(args.symbols)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with asyncio.TaskGroup() as group:
        serving = group.create_task(run_simulator(config, out=_print_flush, outages=outages))
        await stop.wait()
        serving.cancel()
    return 0


def _markets(args: argparse.Namespace) -> dict[str, int]:
    """`--markets VENUE=N` (repeatable) and `--<venue>-markets N`, by venue."""
    venues = [spec.name for spec in VENUES if spec.sim_markets]
    out = {name: getattr(args, f"{name}_markets", 0) for name in venues}
    for item in args.markets:
        name, _, count = item.partition("=")
        if name not in venues or not count.isdigit():
            raise ConfigError(
                "--markets",
                f"{item!r} is not VENUE=N",
                f"Use e.g. {venues[0]}=1000 (venues: {', '.join(venues)}).",
            )
        out[name] = int(count)
    return {name: count for name, count in out.items() if count}


def _history_depth(items: list[str]) -> int | dict[str, int] | None:
    """`--history-depth N` (every venue) or `VENUE=N` (repeatable; a later one wins)."""
    from streamer.simulator.server import simulated

    venues = simulated()
    depth: int | None = None
    by_venue: dict[str, int] = {}
    for item in items:
        name, sep, count = item.rpartition("=")
        if not count.isdigit() or (sep and name not in venues):
            fix = f"Use e.g. 500 or {venues[0]}=500 (venues: {', '.join(venues)})."
            raise ConfigError("--history-depth", f"{item!r} is not N or VENUE=N", fix)
        if sep:
            by_venue[name] = int(count)
        else:
            depth = int(count)
    if not by_venue:
        return depth
    return {**({} if depth is None else dict.fromkeys(venues, depth)), **by_venue}


def _print_flush(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
