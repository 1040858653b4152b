"""A new user's first hour: mistakes are caught at start with one line and a non-zero exit, and
the command line explains itself (`--version`, `python -m streamer`, defaults in help, the
settings named in `run --help`, options after the subcommand, `today`/`yesterday`)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streamer import cli, cli_parser
from streamer.analytics.window import parse_time
from streamer.discovery import check_symbols
from streamer.errors import ConfigError
from streamer.settings import load, rows
from streamer.simulator import Simulator, SimulatorConfig
from streamer.simulator.firehose import FirehoseDouble, serve_firehose
from streamer.timefmt import now_millis

REPO = Path(__file__).resolve().parents[2]


async def streamer(*args: str, env: dict[str, str]) -> tuple[int, list[str]]:
    """Run `python -m streamer ARGS` to its end: (exit code, stderr lines)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streamer", *args, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, err.decode().splitlines()


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any STREAMER_* or AWS_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAMER_", "AWS_"))}
    return {**env, **extra}


# --- mistakes caught at start ------------------------------------------------------------


async def test_a_symbol_the_venue_does_not_trade_is_named_with_the_nearest_it_does(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    config = SimulatorConfig(port=0, symbols={"binance": ("BTC-USDT", "ETH-USDT")},
                             markets={"binance": 20})  # fmt: skip
    async with Simulator(config) as sim:
        listing = sim.venues["binance"].listings
        (halted, *_) = [item.symbol for item in listing.values() if not item.trading]
        env = {**sim.environment(), "STREAMER_SOURCES": "binance,coinbase",
               "STREAMER_BINANCE_SYMBOLS": "BTC-USDT,BTC-XYZ"}  # fmt: skip
        with pytest.raises(ConfigError) as caught:
            await check_symbols(load(env), clock=now_millis)
        message = str(caught.value)
        assert message.startswith("STREAMER_BINANCE_SYMBOLS: binance does not list BTC-XYZ.")
        assert "Nearest it lists: BTC-USDT" in message
        # Listed symbols pass, and so does one listed but halted (it may trade again).
        env["STREAMER_BINANCE_SYMBOLS"] = f"ETH-USDT,{halted}"
        await check_symbols(load(env), clock=now_millis)

        env.update(STREAMER_BINANCE_SYMBOLS="BTC-XYZ", STREAMER_LAKE_DIR=str(lake))
        code, lines = await streamer("run", env=clean_env(**env))
    assert code == 2
    (line,) = [x for x in lines if "configuration error" in x]
    assert "STREAMER_BINANCE_SYMBOLS: binance does not list BTC-XYZ" in line
    assert not [x for x in lines if "Traceback" in x]


async def test_a_venue_whose_listing_does_not_answer_is_not_checked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = {"STREAMER_SOURCES": "binance", "STREAMER_BINANCE_SYMBOLS": "BTC-XYZ",
           "STREAMER_BINANCE_REST_URL": "http://127.0.0.1:9"}  # fmt: skip
    await check_symbols(load(env), clock=now_millis, within=0.5)
    assert any("discovery.unchecked source=binance" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "command", [["query", "SELECT 1"], ["report"], ["compact", "--day", "today"]]
)
def test_a_folder_that_is_not_a_lake_is_refused(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("not a lake")
    assert cli.main([*command, "--lake", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"streamer: configuration error: --lake: {tmp_path} is not a lake (it has no "
        "crypto/tabular folder). Point it at a folder `streamer run` or `make demo` wrote, "
        "e.g. demo-lake."
    )


async def test_firehose_without_credentials_stops_at_start(tmp_path: Path) -> None:
    double = FirehoseDouble()
    with serve_firehose(double) as url:
        env = clean_env(
            STREAMER_SINK="firehose", STREAMER_SPOOL_DIR=str(tmp_path / "spool"),
            AWS_ENDPOINT_URL=url, AWS_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
            AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
            AWS_CONFIG_FILE=str(tmp_path / "none"),
        )  # fmt: skip
        code, lines = await streamer("run", env=env)
    assert code == 2, lines
    (line,) = [x for x in lines if "configuration error" in x]
    assert "AWS credentials: none were found" in line
    assert double.tally.calls == 0


async def test_firehose_without_its_delivery_streams_stops_at_start(tmp_path: Path) -> None:
    double = FirehoseDouble()
    double.streams = {"crypto-trades"}  # the others were never created
    with serve_firehose(double) as url:
        env = clean_env(
            STREAMER_SINK="firehose", STREAMER_SPOOL_DIR=str(tmp_path / "spool"),
            AWS_ENDPOINT_URL=url, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
        )  # fmt: skip
        code, lines = await streamer("run", env=env)
    assert code == 2, lines
    (line,) = [x for x in lines if "configuration error" in x]
    assert "STREAMER_FIREHOSE_PREFIX: the delivery stream crypto-" in line
    assert "does not exist in us-east-1" in line


def test_a_venv_made_by_a_python_that_no_longer_runs_is_made_again(tmp_path: Path) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    broken = tmp_path / ".venv" / "bin"
    broken.mkdir(parents=True)
    (broken / "python").write_text("#!/bin/sh\nexit 1\n")
    (broken / "python").chmod(0o755)
    (tmp_path / ".venv" / ".synced-dev").touch()  # the stamp of a sync it no longer has
    done = subprocess.run([make, "-s", "venv", f"PYTHON={sys.executable}"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "make: .venv was made by a Python that no longer runs; making it again" in done.stdout
    assert not (tmp_path / ".venv" / ".synced-dev").exists()
    works = subprocess.run([str(broken / "python"), "-c", "print(1)"], capture_output=True,
                           text=True, check=False)  # fmt: skip
    assert works.stdout == "1\n"
    again = subprocess.run([make, "-s", "venv", f"PYTHON={sys.executable}"], cwd=tmp_path,
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert "making it again" not in again.stdout  # a good one is left alone


# --- command-line conventions ----------------------------------------------------------


def test_version_and_python_dash_m(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    (printed,) = capsys.readouterr().out.splitlines()
    assert printed.startswith("streamer ") and printed.split()[1][0].isdigit()
    module = subprocess.run([sys.executable, "-m", "streamer", "--version"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert module.stdout.strip() == printed


def test_help_shows_defaults_and_never_none() -> None:
    top = cli_parser.parser()
    helps = {name: sub.format_help() for name, sub in _subparsers(top).items()}
    assert "how long to stream (default: 30.0)" in " ".join(helps["demo"].split())
    assert "(default: duckdb)" in helps["compact"] and "(default: report)" in helps["report"]
    assert "(default: 8765)" in helps["simulate"]
    for name, text in helps.items():
        assert "(default: None)" not in text and "default: []" not in text, name


def test_run_help_says_where_every_setting_is_documented() -> None:
    text = _subparsers(cli_parser.parser())["run"].format_help()
    assert "docs/settings.md" in text
    for setting in rows():
        for variable in setting.variables:
            assert variable in text


def test_global_options_work_before_and_after_the_subcommand() -> None:
    top = cli_parser.parser()
    assert top.parse_args(["query", "SELECT 1"]).log_level == "INFO"
    assert top.parse_args(["--log-level", "debug", "query", "SELECT 1"]).log_level == "DEBUG"
    assert top.parse_args(["query", "SELECT 1", "--log-level", "warning"]).log_level == "WARNING"
    with pytest.raises(SystemExit):
        top.parse_args(["query", "SELECT 1", "--log-level", "loud"])


def test_today_and_yesterday_wherever_a_day_is_taken() -> None:
    now = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)
    assert parse_time("today", "--since", now) == datetime(2026, 12, 7, tzinfo=UTC)
    assert parse_time("yesterday", "--until", now) == datetime(2026, 12, 6, tzinfo=UTC)
    for command in ("report", "compact"):
        help_text = _subparsers(cli_parser.parser())[command].format_help()
        assert "`today`" in help_text and "`yesterday`" in help_text, command


def _subparsers(top: object) -> dict[str, object]:
    import argparse

    assert isinstance(top, argparse.ArgumentParser)
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")
