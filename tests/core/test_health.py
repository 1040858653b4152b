"""The health signal: feed states, the /health endpoint and `streamer health`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import orjson

from streamer import health
from streamer.service import run_service
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig

LIMITS = {"binance": 60.0, "coingecko": 390.0}


def states(
    last: dict[str, int | None], now: int, failed: dict[str, str] | None = None
) -> dict[str, str]:
    feeds = health.assess(last, LIMITS, failed or {}, started_at=0, now=now)
    return {f.name: f.state for f in feeds}


def test_feeds_start_then_are_fresh_then_stale() -> None:
    assert states({"binance": None, "coingecko": None}, now=10_000) == {
        "binance": "starting", "coingecko": "starting",
    }  # fmt: skip
    # CoinGecko's grace follows its own limit (390 s), longer than the default 120 s.
    assert states({"binance": None, "coingecko": None}, now=200_000) == {
        "binance": "stale", "coingecko": "starting",
    }  # fmt: skip
    assert states({"binance": 190_000, "coingecko": 100_000}, now=200_000) == {
        "binance": "fresh", "coingecko": "fresh",
    }  # fmt: skip
    assert states({"binance": 100_000, "coingecko": 100_000}, now=200_000)["binance"] == "stale"
    failed = states({"binance": 199_000}, now=200_000, failed={"binance": "HTTP 451"})
    assert failed == {"binance": "failed"}


def test_only_fresh_or_starting_feeds_are_healthy() -> None:
    fresh = health.assess({"binance": 1_000}, LIMITS, {}, 0, 2_000)
    stale = health.assess({"binance": 1_000}, LIMITS, {}, 0, 100_000)
    assert health.healthy(fresh) and not health.healthy(stale)
    body = health.report(stale)
    assert body["status"] == "unhealthy"
    assert body["feeds"]["binance"] == {"state": "stale", "age_seconds": 99.0, "limit_seconds": 60}


async def test_endpoint_answers_200_or_503_and_the_cli_exits_accordingly() -> None:
    verdict: dict[str, Any] = {"ok": True}

    def body() -> tuple[bool, dict[str, Any]]:
        return verdict["ok"], {"status": "ok" if verdict["ok"] else "unhealthy"}

    server = await health.serve(0, body)
    port = server.sockets[0].getsockname()[1]
    try:
        status, text = await asyncio.to_thread(health.probe, port)
        assert (status, orjson.loads(text)) == (200, {"status": "ok"})
        cli = [sys.executable, "-m", "streamer.cli", "health", "--port", str(port)]
        done = await asyncio.to_thread(subprocess.run, cli, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
        verdict["ok"] = False
        status, _ = await asyncio.to_thread(health.probe, port)
        assert status == 503
        env = {**os.environ, "STREAMER_HEALTH_PORT": str(port)}
        cli = cli[:-2]  # the port from the environment, as in the container
        done = await asyncio.to_thread(
            subprocess.run, cli, capture_output=True, timeout=60, env=env
        )
        assert done.returncode == 1 and b"unhealthy" in done.stdout
    finally:
        server.close()
        await server.wait_closed()
    status, text = await asyncio.to_thread(health.probe, port)
    assert status == 0 and "no answer" in text


async def test_service_reports_its_feeds_fresh(unused_tcp_port: int) -> None:
    config = SimulatorConfig(
        port=0,
        rate=100,
        symbols={"binance": ("BTC-USDT",), "coinbase": ("BTC-USD",), "coingecko": ("bitcoin",)},
    )
    async with Simulator(config) as sim:
        env = sim.environment()
        env.update(STREAMER_SINK="null", STREAMER_HEALTH_PORT=str(unused_tcp_port),
                   STREAMER_COINGECKO_POLL_SECONDS="5")  # fmt: skip
        stop = asyncio.Event()
        service = asyncio.create_task(run_service(load(env), stop))
        try:
            async with asyncio.timeout(60):
                while True:
                    status, text = await asyncio.to_thread(health.probe, unused_tcp_port)
                    if status == 200:
                        feeds = orjson.loads(text)["feeds"]
                        if all(f["state"] == "fresh" for f in feeds.values()):
                            break
                    await asyncio.sleep(0.2)
        finally:
            stop.set()
            await service
    assert set(feeds) == {"binance", "coinbase", "coingecko"}
    assert feeds["coingecko"]["limit_seconds"] == 45
