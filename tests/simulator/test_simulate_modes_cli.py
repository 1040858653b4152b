"""`streamer simulate --history-depth ... --keep-trading`: the flags, their help and errors, and
a real process serving histories that stop at the depth asked for."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from streamer.cli import _history_depth
from streamer.errors import ConfigError
from streamer.simulator.server import simulated

STREAMER = [sys.executable, "-m", "streamer.cli"]
DEADLINE = 60.0


def test_history_depth_is_every_venue_or_by_venue() -> None:
    assert _history_depth([]) is None
    assert _history_depth(["500"]) == 500
    assert _history_depth(["okx=20", "kraken=0"]) == {"okx": 20, "kraken": 0}
    both = _history_depth(["500", "okx=20"])
    assert both == {**dict.fromkeys(simulated(), 500), "okx": 20}
    for bad in ("-5", "okx=", "bitmex=5", "okx=ten"):
        with pytest.raises(ConfigError, match=r"--history-depth: .* is not N or VENUE=N"):
            _history_depth([bad])


def test_simulate_help_names_both_modes() -> None:
    done = subprocess.run([*STREAMER, "simulate", "--help"], capture_output=True, text=True,
                          timeout=DEADLINE, check=True)  # fmt: skip
    text = " ".join(done.stdout.split())
    assert "--history-depth N|VENUE=N" in text and "as on a venue whose history runs out" in text
    assert "--keep-trading" in text and "instead of holding the market still" in text


def test_simulate_refuses_keep_trading_at_rate_0_naming_the_flag() -> None:
    done = subprocess.run([*STREAMER, "simulate", "--port", "0", "--rate", "0", "--keep-trading"],
                          capture_output=True, text=True, timeout=DEADLINE)  # fmt: skip
    assert done.returncode == 2
    assert "--keep-trading: needs a --rate above 0" in done.stderr


def test_simulate_serves_histories_that_stop_at_the_depth() -> None:
    args = ["--port", "0", "--rate", "500", "--symbols", "BTC-USDT", "--keep-trading",
            "--history-depth", "50", "--history-depth", "okx=20"]  # fmt: skip
    sim = subprocess.Popen([*STREAMER, "simulate", *args], stdout=subprocess.PIPE, text=True)
    try:
        assert sim.stdout is not None
        exports: dict[str, str] = {}
        for line in sim.stdout:
            key, _, value = line.removeprefix("export ").strip().partition("=")
            exports[key] = value
            if {"STREAMER_BINANCE_REST_URL", "STREAMER_OKX_REST_URL"} <= exports.keys():
                break
        binance = exports["STREAMER_BINANCE_REST_URL"] + "/api/v3/historicalTrades"
        okx = exports["STREAMER_OKX_REST_URL"] + "/api/v5/market/history-trades"
        deadline = time.monotonic() + DEADLINE
        while True:  # until each market made more trades than its history holds
            spot = httpx.get(binance, params={"symbol": "BTCUSDT", "fromId": 1, "limit": 1000})
            rows = spot.json()
            if rows and rows[0]["id"] > 1:
                break
            assert time.monotonic() < deadline, rows
            time.sleep(0.1)
        while True:
            page = httpx.get(okx, params={"instId": "BTC-USDT", "limit": 100}).json()["data"]
            if len(page) == 20 and int(page[-1]["tradeId"]) > 1:
                break
            assert len(page) <= 20 and time.monotonic() < deadline, page
            time.sleep(0.1)
    finally:
        sim.terminate()
        sim.wait(timeout=DEADLINE)
        assert sim.stdout is not None
        sim.stdout.close()
    assert len(rows) == 50 and [r["id"] for r in rows] == list(
        range(rows[0]["id"], rows[0]["id"] + 50)
    )
    assert sim.returncode == 0
