"""The `streamer` command line: its subcommands, their options and defaults (shown in `--help`).

Options common to every command (`--log-level`) are accepted before or after the
subcommand.
"""

from __future__ import annotations

import argparse
import os
import textwrap
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from streamer.venues import VENUES

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class Formatter(argparse.RawDescriptionHelpFormatter):
    """`(default: X)` after the help of every option whose default is a value (not None, an
    empty list or a flag's False); epilogs kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or default in (None, False, argparse.SUPPRESS)
            or default == []
            or action.option_strings == []
        ):
            return text
        return text + " (default: %(default)s)"


def _version() -> str:
    try:
        return version("streamer")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree without install
        return "unknown"


def _settings_epilog() -> str:
    from streamer.settings import rows

    names = " ".join(v for s in rows() for v in s.variables)
    return (
        "Settings are STREAMER_* environment variables (or keys of the --config file). Each\n"
        "one, with its default and meaning, is in docs/settings.md; an unknown one is warned\n"
        "about (STREAMER_STRICT_SETTINGS=true refuses it). They are:\n"
        + textwrap.fill(names, width=78, initial_indent="  ", subsequent_indent="  ")
    )


AUDIT_EPILOG = """\
For each exchange and symbol of the day (its trades' and candles' own times, UTC):
  trade ids    the ids missing between the day's first and last (and since the last id of
               the day before), by range: explained where the feeds' `quality` rows name why
               they could not be recovered, unexplained otherwise (e.g. a deleted object);
               venues whose trade ids are no integers are not checked
  candles      closed candles of the finest interval: missing between the first and last,
               and how much of the day they cover (1,440 one-minute candles)
  books        resyncs by cause and checksum failures, from `quality`
  connections  each venue's disconnected time per hour and silent subscriptions
Exit status: 0 complete; 1 a hole is unrecovered (missing ids or candles, a hole `quality`
reported that the lake cannot check, or a day with no rows); 2 the audit could not run.
"""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="streamer",
        description="Crypto market data into an S3/Athena or local lake.",
        formatter_class=Formatter,
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    top.add_argument("--log-level", default="INFO", type=str.upper, choices=LEVELS,
                     help="how much to log")  # fmt: skip
    # The same option after the subcommand (`streamer run --log-level DEBUG`): SUPPRESS keeps
    # the top-level value unless it is given there.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log-level", default=argparse.SUPPRESS, type=str.upper,
                        choices=LEVELS, help="how much to log (default: INFO)")  # fmt: skip
    subs = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def sub(name: str, help: str, **kwargs: Any) -> argparse.ArgumentParser:
        return subs.add_parser(name, help=help, description=help, parents=[common],
                               formatter_class=Formatter, **kwargs)  # fmt: skip

    run = sub("run", "stream the configured sources into the configured sink",
              epilog=_settings_epilog())  # fmt: skip
    run.add_argument("--config", type=Path, help="TOML file with settings (env vars win)")

    demo = sub("demo", help="simulator -> pipeline -> local lake, then show the tables")
    demo.add_argument("--seconds", type=float, default=30.0, help="how long to stream")
    demo.add_argument("--lake", type=Path, default=Path("demo-lake"), help="lake directory")
    demo.add_argument(
        "--lake-format",
        choices=("json", "iceberg"),
        default=os.environ.get("STREAMER_LAKE_FORMAT", "json"),
        help="gzip JSON objects or Iceberg tables (default: STREAMER_LAKE_FORMAT, else json)",
    )

    query = sub("query", help="SQL over the local lake (DuckDB)")
    query.add_argument("sql", help="a SELECT over the crypto_* views")
    query.add_argument("--lake", type=Path, default=None, help="lake dir (STREAMER_LAKE_DIR)")
    query.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="output format"
    )

    comp = sub(
        "compact", help="one day of each dataset, de-duplicated, into Parquet (DuckDB or Athena)"
    )
    comp.add_argument("--day", required=True, help="YYYY-MM-DD (UTC), `yesterday` or `today`")
    comp.add_argument(
        "--dataset", nargs="+", action="extend", metavar="NAME", help="none: every dataset"
    )
    comp.add_argument(
        "--engine",
        choices=("duckdb", "athena"),
        default="duckdb",
        help="duckdb: the local lake; athena: the S3 lake, run in Athena",
    )
    comp.add_argument("--lake", type=Path, default=None, help="lake dir (STREAMER_LAKE_DIR)")
    audit = sub(
        "audit",
        help="what the lake proves about one UTC day: missing trade ids, candles, resyncs, "
        "disconnections (exit 1: a hole is unrecovered)",
        epilog=AUDIT_EPILOG,
    )
    audit.add_argument("--day", required=True, help="YYYY-MM-DD (UTC), `yesterday` or `today`")
    audit.add_argument(
        "--engine",
        choices=("duckdb", "athena"),
        default="duckdb",
        help="duckdb: the local lake; athena: the Glue tables, in STREAMER_ATHENA_WORKGROUP",
    )
    audit.add_argument("--lake", type=Path, default=None, help="lake dir (STREAMER_LAKE_DIR)")
    audit.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    audit.add_argument(
        "--exchange",
        nargs="+",
        action="extend",
        metavar="NAME",
        help=f"only these exchanges ({', '.join(s.name for s in VENUES)}); none: every one",
    )
    audit.add_argument(
        "--metrics",
        action="store_true",
        help="also log MissingTrades and UnrecoveredHoles as a CloudWatch EMF event "
        "(Service=streamer-audit)",
    )
    report = sub(
        "report", help="index.html with charts from the lake (DuckDB) or Athena (analytics extra)"
    )
    report.add_argument("--lake", type=Path, default=None, help="lake dir (STREAMER_LAKE_DIR)")
    report.add_argument("--out", type=Path, default=Path("report"), help="output dir")
    report.add_argument(
        "--since",
        default=None,
        help="UTC, ISO 8601, `today` or `yesterday` (none: all; Athena 24 h)",
    )
    report.add_argument(
        "--until", default=None, help="UTC, ISO 8601, `today` or `yesterday`, exclusive (none: all)"
    )
    report.add_argument("--symbols", nargs="*", default=[], help="e.g. BTC-USDT,BTC-USD")
    report.add_argument(
        "--engine",
        choices=("duckdb", "athena"),
        default="duckdb",
        help="duckdb: the local lake; athena: the Glue tables",
    )
    report.add_argument(
        "--bar", default=None, help="bar length, e.g. 1m, 15m, 1h (none: chosen from the data)"
    )
    report.add_argument("--top", type=int, default=10, help="coins in the market-cap chart")

    check = sub("health", help="probe a running service's /health (exit 0 = healthy)")
    check.add_argument(
        "--port",
        type=int,
        default=None,
        help="none: STREAMER_HEALTH_PORT (on STREAMER_HEALTH_HOST; with --port, 127.0.0.1)",
    )

    prov = sub("provision", help="create the bucket and Firehose streams on an AWS emulator")
    prov.add_argument("--bucket", default="streamer-lake", help="the lake's bucket")
    prov.add_argument("--prefix", default=None, help="stream prefix (STREAMER_FIREHOSE_PREFIX)")
    prov.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the emulator")

    names = ", ".join(spec.name for spec in VENUES if spec.simulator is not None)
    sim = sub("simulate", help=f"serve the venues ({names}) on loopback")
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sim.add_argument("--port", type=int, default=8765, help="port (0: any free one)")
    sim.add_argument("--rate", type=float, default=200.0, help="frames/s per client; 0 = max")
    sim.add_argument("--symbols", nargs="*", default=None, help="e.g. BTC-USDT ETH-USD")
    sim.add_argument("--replay", type=Path, default=None, help="directory of recorded frames")
    sim.add_argument("--seed", type=int, default=7, help="seed of the simulated market")
    sim.add_argument(
        "--markets",
        action="append",
        default=[],
        metavar="VENUE=N",
        help="also generate N listings on VENUE (C0001-USDT, ..., a few not trading); "
        f"venues: {', '.join(s.name for s in VENUES if s.sim_markets)}; try --rate 2000",
    )
    for spec in VENUES:  # the short form of each: --<venue>-markets N (binance_usdm: -usdm-)
        if spec.sim_markets:
            sim.add_argument(f"--{spec.name.replace('_', '-')}-markets", type=int, default=0,
                             metavar="N", dest=f"{spec.name}_markets",
                             help=f"the same as --markets {spec.name}=N")  # fmt: skip
    sim.add_argument(
        "--activity-skew",
        type=float,
        default=1.0,
        help="how much busier the first generated symbols are (Zipf exponent)",
    )
    sim.add_argument(
        "--history-depth",
        action="append",
        default=[],
        metavar="N|VENUE=N",
        help="the REST trade histories serve only the newest N trades of each market; older "
        "ids are gone, as on a venue whose history runs out (a hole older than that cannot "
        "be filled); VENUE=N for one venue, repeatable; default: all kept (20,000)",
    )
    sim.add_argument(
        "--keep-trading",
        action="store_true",
        help="the markets trade on at --rate whatever the clients do: a client that stops "
        "reading (a frozen link, a stopped process) is cut 20,000 frames behind instead of "
        "holding the market still",
    )
    sim.add_argument(
        "--faults",
        default="",
        help="inject faults, e.g. disconnect=0.001,stall=0.0005,garbage=0.01,rest_429=0.1 "
        "(names: disconnect close stall garbage oversized duplicate reorder gap rest_429 "
        "rest_5xx stall_seconds rotate_seconds seed)",
    )
    sim.add_argument(
        "--outages",
        default="",
        help="serve through a TCP proxy that cuts every connection every N seconds and "
        "freezes all traffic, e.g. cut_every=11,freeze_every=35,freeze_seconds=20",
    )
    return top
