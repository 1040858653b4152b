"""`streamer simulate` and `streamer run` as real processes: SIGTERM flushes and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from streamer import query

STREAMER = [sys.executable, "-m", "streamer.cli"]


def test_run_against_simulate_then_sigterm_flushes(tmp_path: Path) -> None:
    sim = subprocess.Popen(
        [*STREAMER, "simulate", "--port", "0", "--rate", "300", "--symbols", "BTC-USDT"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        exports = {}
        for line in sim.stdout:
            assert line.startswith("export STREAMER_"), line
            key, _, value = line.removeprefix("export ").strip().partition("=")
            exports[key] = value
            if key == "STREAMER_COINGECKO_COINS":
                break
        env = {
            **os.environ,
            **exports,
            "STREAMER_LAKE_DIR": str(tmp_path),
            "STREAMER_LAKE_BUFFER_SECONDS": "900",  # only the shutdown flush writes
            "STREAMER_LOG_FORMAT": "json",
            "STREAMER_STATS_INTERVAL": "1",
            "STREAMER_SINKK": "firehose",  # misspelt: warned about once, then ignored
        }
        run = subprocess.Popen([*STREAMER, "run"], env=env, stderr=subprocess.PIPE, text=True)
        assert run.stderr is not None
        read = []
        for line in run.stderr:  # wait until trades have flowed through the pipeline
            read.append(line)
            if "pipeline.stats" in line and "'trades'" in line:
                break
        run.send_signal(signal.SIGTERM)
        _, errors = run.communicate(timeout=60)
        assert run.returncode == 0, errors
        assert '"service.stopped' in errors or "service.stopped" in errors
        [warning] = [line for line in read if "settings.unknown" in line]
        assert orjson.loads(warning)["message"] == (
            "settings.unknown STREAMER_SINKK (did you mean STREAMER_SINK?): not a setting, ignored"
        )
        counts = query.table_counts(tmp_path)
        assert counts["crypto_trades"] > 0 and counts["crypto_order_books"] > 0
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=30)
        assert sim.stdout is not None
        sim.stdout.close()
    assert sim.returncode == 0


def test_run_with_a_bad_setting_exits_2() -> None:
    env = {**os.environ, "STREAMER_BINANCE_SYMBOLS": "btc/usdt"}
    done = subprocess.run([*STREAMER, "run"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "STREAMER_BINANCE_SYMBOLS" in done.stderr and "BTC-USDT" in done.stderr


def test_run_with_strict_settings_and_a_misspelt_one_exits_2_in_one_line() -> None:
    env = {**os.environ, "STREAMER_SINKK": "firehose", "STREAMER_STRICT_SETTINGS": "true"}
    done = subprocess.run([*STREAMER, "run"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "streamer: configuration error: STREAMER_STRICT_SETTINGS: not settings: STREAMER_SINKK "
        "(did you mean STREAMER_SINK?). Fix or remove them, or set "
        "STREAMER_STRICT_SETTINGS=false to only warn"
    ]


def test_run_with_the_firehose_sink_and_no_region_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(STREAMER_SINK="firehose", AWS_CONFIG_FILE=str(tmp_path / "none"))
    done = subprocess.run([*STREAMER, "run"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "AWS_REGION" in done.stderr and "Traceback" not in done.stderr


def test_simulate_binance_usdm_markets_lists_that_many_generated_perpetuals() -> None:
    sim = subprocess.Popen(
        [*STREAMER, "simulate", "--port", "0", "--rate", "0", "--binance-usdm-markets", "60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        exports = {}
        for line in sim.stdout:
            key, _, value = line.removeprefix("export ").strip().partition("=")
            exports[key] = value
            if key == "STREAMER_COINGECKO_COINS":
                break
        rest = exports["STREAMER_BINANCE_USDM_REST_URL"]
        info = httpx.get(f"{rest}/fapi/v1/exchangeInfo", timeout=30).json()
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=30)
        assert sim.stdout is not None
        sim.stdout.close()
    status = {s["symbol"]: s["status"] for s in info["symbols"]}
    generated = {name for name in status if name.startswith("C0")}
    assert generated == {f"C{k:04d}USDT" for k in range(1, 61)}
    assert status["C0017USDT"] == "SETTLING" and status["C0060USDT"] == "TRADING"
    exported = exports["STREAMER_BINANCE_USDM_SYMBOLS"].split(",")
    assert "C0060-USDT-PERP" in exported and "C0017-USDT-PERP" not in exported
    assert sim.returncode == 0
