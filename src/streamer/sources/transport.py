"""The WebSocket transport under `wsconnect`: picows (Cython) with a small asyncio surface.

picows parses frames in C and calls `on_ws_frame` synchronously for each one, flagging the last
frame of every socket read (`last_in_buffer`). `_Listener` keeps the payloads of one read in a
list and wakes the reader once per read, so the session loop hands a whole read to the decoder
with one receive time and one `await`, instead of one `await` per frame.

What it guarantees, each checked by `tests/sources/test_transport.py`:
- payloads in arrival order, fragmented messages reassembled, none larger than `max_size`
  (a bigger one closes the connection with 1009, as websockets does);
- pings answered at once (`enable_auto_pong`: Binance drops a client that has not answered its
  20 s ping within a minute), and a ping of ours after 20 s without data, the connection dropped
  if its pong does not come back within 20 s;
- one stale timer per connection, not per frame: no data for `stale_after` seconds closes it
  (`stale` is then True), even while pings are answered;
- TLS with SNI for `wss://` (the default context of `ssl.create_default_context`);
- a refused handshake raises `HandshakeRefused` with the HTTP status (451, 403, ...); the close
  code and reason of a closed connection are kept (`close_code`, `close_reason`, `closed_by`);
- the reader pauses the socket when `max_pending` payloads wait unread (TCP back-pressure), and
  the kernel's receive buffer is bounded (`RECEIVE_BUFFER_BYTES`), which bounds one read.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import Any

from picows import (
    WSCloseCode,
    WSError,
    WSFrame,
    WSInvalidStatusError,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_connect,
)

PING_IDLE_SECONDS = 20.0
"""Send a ping of our own after this long without incoming data."""
PONG_TIMEOUT_SECONDS = 20.0
"""Drop the connection when our ping is not answered within this long (picows allows at most
the idle time)."""
MAX_PENDING = 20_000
"""Payloads waiting for the reader before the socket stops reading."""
RECEIVE_BUFFER_BYTES = 256 * 1024
"""SO_RCVBUF (Linux doubles it: a 512 KiB TCP window, 5 MB/s at 100 ms round trip, 50 MB/s at
10 ms). picows doubles its read buffer whenever a read fills it, so behind a flood it grows to
whatever the kernel holds (several MiB on loopback); a bounded kernel buffer bounds it, and
with it the memory of one read. Measured: peak RSS 37 MB instead of 60-120 MB on 200,000
queued frames, and no more CPU."""

_TEXT, _BINARY, _CONTINUATION, _CLOSE = (
    WSMsgType.TEXT,
    WSMsgType.BINARY,
    WSMsgType.CONTINUATION,
    WSMsgType.CLOSE,
)
CONNECT_ERRORS = (OSError, TimeoutError, WSError, asyncio.IncompleteReadError)
"""What a failed connection attempt may raise besides `HandshakeRefused`: worth a retry."""


class HandshakeRefused(Exception):
    """The server answered the upgrade request with HTTP `status` instead of 101."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:200]!r}")
        self.status = status


class ConnectionEnded(Exception):
    """The connection is closed and every payload it received has been read."""


class _Listener(WSListener):
    def __init__(self, max_size: int, max_pending: int) -> None:
        self.max_size = max_size
        self.max_pending = max_pending
        self.pending: list[bytes] = []
        self.partial: list[bytes] | None = None
        self.partial_size = 0
        self.waiter: asyncio.Future[None] | None = None
        self.transport: WSTransport | None = None
        self.ended = False
        self.paused = False
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed_by = "client"
        self.last_data = 0.0
        self.loop = asyncio.get_running_loop()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.last_data = self.loop.time()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if self.close_code is not None:
            return  # closing: what follows in the buffer is not delivered
        kind = frame.msg_type
        if frame.payload_size > self.max_size:  # picows flags it, yet still hands it over
            self._close(transport, WSCloseCode.MESSAGE_TOO_BIG, "message too big", "client")
            return
        if kind is _TEXT or kind is _BINARY:
            if frame.fin:
                self.pending.append(frame.get_payload_as_bytes())
            else:
                self.partial = [frame.get_payload_as_bytes()]
                self.partial_size = frame.payload_size
        elif kind is _CONTINUATION and self.partial is not None:
            self.partial.append(frame.get_payload_as_bytes())
            self.partial_size += frame.payload_size
            if self.partial_size > self.max_size:
                self._close(transport, WSCloseCode.MESSAGE_TOO_BIG, "message too big", "client")
                return
            if frame.fin:
                self.pending.append(b"".join(self.partial))
                self.partial = None
        elif kind is _CLOSE:
            code = frame.get_close_code()
            reason = frame.get_close_message() or b""
            self._close(transport, code, reason.decode("utf-8", "replace"), "venue")
            return
        if frame.last_in_buffer and self.pending:
            self.last_data = self.loop.time()
            if len(self.pending) >= self.max_pending and not self.paused:
                self.paused = True
                transport.underlying_transport.pause_reading()
            self._wake()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.ended = True
        self._wake()

    def _close(self, transport: WSTransport, code: Any, reason: str, by: str) -> None:
        if self.close_code is None:
            if transport.is_close_frame_sent:  # picows closed first (e.g. 1009, too big)
                by = "client"
            self.close_code, self.close_reason, self.closed_by = int(code), reason, by
        if not transport.is_close_frame_sent:
            transport.send_close(code)
        transport.disconnect()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class WsConnection:
    """One open client connection: `send`, `close`, and `read` (the payloads of a read)."""

    def __init__(self, transport: WSTransport, listener: _Listener, stale_after: float) -> None:
        self._transport = transport
        self._listener = listener
        self._stale_after = stale_after
        self.stale = False
        self._timer = listener.loop.call_later(stale_after, self._check_stale)

    @property
    def close_code(self) -> int | None:
        return self._listener.close_code

    @property
    def close_reason(self) -> str:
        return self._listener.close_reason

    @property
    def closed_by(self) -> str:
        return self._listener.closed_by

    async def read(self) -> list[bytes]:
        """Every payload received since the last call, in order; waits for at least one.

        Raises `ConnectionEnded` once the connection is closed and nothing is left unread.
        """
        listener = self._listener
        while not listener.pending:
            if listener.ended:
                raise ConnectionEnded
            listener.waiter = listener.loop.create_future()
            try:
                await listener.waiter
            finally:
                listener.waiter = None
        payloads, listener.pending = listener.pending, []
        if listener.paused:
            listener.paused = False
            self._transport.underlying_transport.resume_reading()
        return payloads

    async def send(self, text: str) -> None:
        self._transport.send(_TEXT, text.encode())

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame (once) and drop the TCP connection; returns when it is gone."""
        self._timer.cancel()
        listener = self._listener
        if not listener.ended:
            if listener.close_code is None:
                listener.close_code, listener.close_reason = code, reason
            if not self._transport.is_close_frame_sent:
                self._transport.send_close(WSCloseCode(code), reason.encode()[:120])
            self._transport.disconnect()
        try:
            async with asyncio.timeout(2.0):
                await self._transport.wait_disconnected()
        except TimeoutError:  # pragma: no cover - a peer that never lets go is aborted
            self._transport.underlying_transport.abort()
        except WSError:
            pass  # how picows reports a protocol error (e.g. 1009) that ended the connection

    def _check_stale(self) -> None:
        listener = self._listener
        if listener.ended:
            return
        idle = listener.loop.time() - listener.last_data
        if idle >= self._stale_after:
            self.stale = True
            listener.close_code, listener.close_reason = 1000, "no data"
            self._transport.send_close(WSCloseCode.OK, b"no data")
            self._transport.disconnect()
            return
        self._timer = listener.loop.call_later(self._stale_after - idle, self._check_stale)


async def open_connection(
    url: str,
    *,
    max_size: int,
    open_timeout: float,
    stale_after: float,
    max_pending: int = MAX_PENDING,
    ssl_context: ssl.SSLContext | None = None,
) -> WsConnection:
    """Connect and complete the WebSocket handshake within `open_timeout` seconds.

    `wss://` verifies the venue's certificate for its host name (sent as SNI) against the
    system's roots, or against `ssl_context` when one is given.
    """
    try:
        async with asyncio.timeout(open_timeout):
            transport, listener = await ws_connect(
                lambda: _Listener(max_size, max_pending),
                url,
                websocket_handshake_timeout=open_timeout,
                enable_auto_ping=True,
                auto_ping_idle_timeout=PING_IDLE_SECONDS,
                auto_ping_reply_timeout=PONG_TIMEOUT_SECONDS,
                enable_auto_pong=True,
                max_frame_size=max_size,
                max_redirects=0,
                ssl_context=ssl_context,
            )
    except WSInvalidStatusError as exc:
        status = int(exc.response.status) if exc.response is not None else 0
        raise HandshakeRefused(status, exc.raw_body or b"") from None
    if not isinstance(listener, _Listener):
        # The peer dropped the connection before the handshake completed (a network cut
        # mid-connect): picows then hands back no listener. A failed attempt, retried.
        raise ConnectionResetError("connection lost during the WebSocket handshake")
    sock = transport.underlying_transport.get_extra_info("socket")
    # Already closed by the peer: what it sent is in the listener, and there is nothing to bound.
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
    return WsConnection(transport, listener, stale_after)
