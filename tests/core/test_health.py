"""The health signal: feed states, the /health endpoint and `streamer health`."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tracemalloc
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


def _ok() -> tuple[bool, dict[str, Any]]:
    return True, {"status": "ok"}


def _exchange(port: int, request: bytes) -> bytes:
    """Send `request` in 64 KiB pieces and read the answer; b"" when the server closed first."""
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        view = memoryview(request)  # slices of it copy nothing
        try:
            for start in range(0, len(view), 65536):
                sock.sendall(view[start : start + 65536])
            while data := sock.recv(65536):
                answer += data
        except (BrokenPipeError, ConnectionResetError):
            pass
    return answer


async def test_endpoint_listens_on_loopback_unless_told_otherwise() -> None:
    for host, expected in ((None, "127.0.0.1"), ("0.0.0.0", "0.0.0.0")):
        server = await (health.serve(0, _ok) if host is None else health.serve(0, _ok, host))
        try:
            assert server.sockets[0].getsockname()[0] == expected
            port = server.sockets[0].getsockname()[1]
            status, _ = await asyncio.to_thread(health.probe, port, 3.0, host or "127.0.0.1")
            assert status == 200  # `streamer health` probes loopback when it listens on all
        finally:
            server.close()
            await server.wait_closed()


async def test_a_1_mb_request_line_is_refused_without_buffering_it() -> None:
    request = b"GET /" + b"a" * 1024 * 1024 + b" HTTP/1.1\r\n\r\n"
    server = await health.serve(0, _ok)
    port = server.sockets[0].getsockname()[1]
    try:
        tracemalloc.start()
        try:
            answer = await asyncio.to_thread(_exchange, port, request)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ")
        # The server never held the line: its peak is a few reads of the socket (256 KiB each).
        assert peak < len(request), peak
        normal = await asyncio.to_thread(_exchange, port, b"GET /health HTTP/1.1\r\n\r\n")
        assert normal.startswith(b"HTTP/1.1 200 OK\r\n") and normal.endswith(b'{"status":"ok"}')
    finally:
        server.close()
        await server.wait_closed()


async def test_too_many_header_lines_get_431_and_a_normal_get_still_works() -> None:
    server = await health.serve(0, _ok)
    port = server.sockets[0].getsockname()[1]
    try:
        headers = b"".join(b"X-Pad-%d: x\r\n" % i for i in range(health.HEADER_LINES_LIMIT + 1))
        answer = await asyncio.to_thread(
            _exchange, port, b"GET /health HTTP/1.1\r\n" + headers + b"\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
        headers = b"".join(b"X-Pad-%d: x\r\n" % i for i in range(health.HEADER_LINES_LIMIT))
        answer = await asyncio.to_thread(
            _exchange, port, b"GET /health HTTP/1.1\r\n" + headers + b"\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    finally:
        server.close()
        await server.wait_closed()


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
