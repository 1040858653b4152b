"""The picows transport against a real websockets server on 127.0.0.1 (what wsconnect needs)."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from streamer.sources.transport import (
    ConnectionEnded,
    HandshakeRefused,
    WsConnection,
    open_connection,
)
from tests.wsserver import venue


async def connect(
    url: str, *, max_size: int = 1 << 20, stale_after: float = 30.0, **kw: Any
) -> WsConnection:
    return await open_connection(
        url, max_size=max_size, open_timeout=10, stale_after=stale_after, **kw
    )


async def read_all(conn: WsConnection) -> list[bytes]:
    payloads: list[bytes] = []
    async with asyncio.timeout(20):
        try:
            while True:
                payloads += await conn.read()
        except ConnectionEnded:
            return payloads


async def test_payloads_arrive_in_order_with_fragments_joined_and_the_close_kept() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send("first")
        await ws.send(b"\x00binary")
        await ws.send(["frag", "mented", " message"])  # three frames, one message
        for i in range(500):
            await ws.send(f"n{i}")
        await ws.close(1001, "going away")

    async with venue(handler) as url:
        conn = await connect(url)
        payloads = await read_all(conn)
        await conn.close()
    assert payloads[:3] == [b"first", b"\x00binary", b"fragmented message"]
    assert payloads[3:] == [f"n{i}".encode() for i in range(500)]
    assert (conn.closed_by, conn.close_code, conn.close_reason) == ("venue", 1001, "going away")
    assert not conn.stale


async def test_many_payloads_unread_pause_the_socket_and_none_is_lost() -> None:
    async def handler(ws: ServerConnection) -> None:
        for i in range(3000):
            await ws.send(f"{i:05d}" * 20)
        await ws.close()

    async with venue(handler) as url:
        conn = await connect(url, max_pending=50)
        await asyncio.sleep(0)  # let data pile up before the first read
        payloads = await read_all(conn)
        await conn.close()
    assert payloads == [(f"{i:05d}" * 20).encode() for i in range(3000)]


async def test_a_message_over_max_size_closes_with_1009_and_is_not_delivered() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send("small")
        await ws.send("x" * 5000)
        await ws.send("after")
        await ws.wait_closed()

    async with venue(handler) as url:
        conn = await connect(url, max_size=1000)
        payloads = await read_all(conn)
        await conn.close()
    assert payloads == [b"small"]
    assert (conn.closed_by, conn.close_code) == ("client", 1009)


async def test_a_fragmented_message_over_max_size_is_refused_too() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(["y" * 600, "y" * 600])  # each frame fits, the message does not
        await ws.wait_closed()

    async with venue(handler) as url:
        conn = await connect(url, max_size=1000)
        assert await read_all(conn) == []
        await conn.close()
    assert conn.close_code == 1009


async def test_a_silent_connection_is_closed_as_stale_while_pings_are_answered() -> None:
    pong = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        await ws.send("hello")
        waiter = await ws.ping()
        await waiter  # the client's pong came back
        pong.set()
        await ws.wait_closed()

    async with venue(handler, ping_interval=None) as url:
        conn = await connect(url, stale_after=0.5)
        payloads = await read_all(conn)
        await conn.close()
    assert pong.is_set()
    assert payloads == [b"hello"] and conn.stale
    assert (conn.close_code, conn.close_reason) == (1000, "no data")


async def test_send_and_close_reach_the_server() -> None:
    received: list[str | bytes] = []
    closed: list[tuple[int | None, str | None]] = []

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            received.append(message)
        closed.append((ws.close_code, ws.close_reason))

    async with venue(handler) as url:
        conn = await connect(url)
        await conn.send('{"type":"subscribe"}')
        await conn.send("second")
        await conn.close(1000, "serverShutdown")
        async with asyncio.timeout(10):
            while not closed:
                await asyncio.sleep(0.01)
    assert received == ['{"type":"subscribe"}', "second"]
    assert closed == [(1000, "serverShutdown")]


@pytest.mark.parametrize("status", [451, 403, 503])
async def test_a_refused_handshake_carries_its_status(status: int) -> None:
    def refuse(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(status, "no\n")

    async def handler(ws: ServerConnection) -> None:  # pragma: no cover - never upgraded
        await ws.wait_closed()

    async with venue(handler, process_request=refuse) as url:
        with pytest.raises(HandshakeRefused) as refused:
            await connect(url)
    assert refused.value.status == status


async def test_a_connection_cut_during_the_handshake_is_a_failed_attempt() -> None:
    """A network cut between the upgrade request and its answer: an `OSError` (what the
    reconnect loop retries), not a crash of the source."""

    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.transport.abort()

    server = await asyncio.start_server(cut, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(OSError, match="during the WebSocket handshake"):
            await connect(f"ws://127.0.0.1:{port}/stream")


def _certificate(tmp_path: Path, host: str) -> tuple[Path, Path]:
    """A self-signed certificate for `host` (PEM cert, PEM key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_wss_verifies_the_certificate_for_the_host_name(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path, "localhost")
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    names: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment]
    trusted = ssl.create_default_context(cafile=str(cert))

    async def handler(ws: ServerConnection) -> None:
        await ws.send("over tls")
        await ws.close()

    async with serve(handler, "127.0.0.1", 0, ssl=server_tls) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        conn = await connect(f"wss://localhost:{port}/", ssl_context=trusted)
        assert await read_all(conn) == [b"over tls"]
        await conn.close()
        assert names == ["localhost"]  # SNI carried the host name
        with pytest.raises(ssl.SSLCertVerificationError):  # the name is checked, not only the chain
            await connect(f"wss://127.0.0.1:{port}/", ssl_context=trusted)
        with pytest.raises(ssl.SSLCertVerificationError):  # the system roots do not know it
            await connect(f"wss://localhost:{port}/")
