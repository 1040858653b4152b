"""A Firehose PutRecordBatch endpoint on loopback that can misbehave on purpose.

It speaks the real wire protocol (AWS JSON 1.1, `X-Amz-Target:
Firehose_20150804.PutRecordBatch`, base64 record blobs; DescribeDeliveryStream for the service's
start check), so a stock boto3 client pointed at it
with `endpoint_url` cannot tell it from Firehose. It enforces the service's hard limits (500
records, 1,000 KiB per record, 4 MiB per call), which boto3 and moto do not, and keeps every
accepted record so tests can check what arrived.

Faults, drawn per call from a seeded generator:
- `partial`: each record fails on its own with ServiceUnavailableException or InternalFailure
  inside a 200 answer (`FailedPutCount > 0`);
- `throttle`: 400 ThrottlingException; `unavailable`: 503 ServiceUnavailableException;
  `server_error`: 500 InternalFailure; `reset`: the connection is closed with no answer;
- `slow`: the records are accepted, then the answer waits `slow_seconds` (a client that times
  out and resends makes the duplicates Firehose documents);
- `outage(seconds)`: every call fails with 503 (or a reset) until the time is up;
- `refuse`: records it matches fail in every call (a 200 answer, `FailedPutCount`), until
  it is set back to None: the same record failing call after call;
- `hold_calls()`: PutRecordBatch calls wait, unanswered, until `release_calls()` (calls in
  flight for as long as a test needs; `held` counts them).

`python -m streamer.simulator.firehose` serves it in its own process (used by the benchmark).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from streamer.packing import MAX_BATCH_BYTES, MAX_BATCH_RECORDS, MAX_RECORD_BYTES

TARGET = "Firehose_20150804."


@dataclass(slots=True)
class Faults:
    """Probabilities per call (per record for `partial`)."""

    partial: float = 0.0
    throttle: float = 0.0
    unavailable: float = 0.0
    server_error: float = 0.0
    reset: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 0.0
    seed: int = 1


@dataclass(slots=True)
class Tally:
    """What the endpoint saw, by kind of answer."""

    calls: int = 0
    records_accepted: int = 0
    records_failed: int = 0
    throttled: int = 0
    unavailable: int = 0
    server_errors: int = 0
    resets: int = 0
    slow: int = 0
    outage_calls: int = 0
    invalid: int = 0
    invalid_reasons: list[str] = field(default_factory=list)


class FirehoseDouble:
    """The endpoint's state: faults to inject, records accepted. Thread-safe."""

    def __init__(self, faults: Faults | None = None, keep: bool = True) -> None:
        self.faults = faults or Faults()
        self.keep = keep
        self.streams: set[str] | None = None  # streams that exist; None = any name
        self.records: list[tuple[str, bytes]] = []  # (stream, data) in arrival order
        self.tally = Tally()
        self._lock = threading.Lock()
        self._random = random.Random(self.faults.seed)
        self._outage_until = 0.0
        self._outage_reset = False
        self.changed = threading.Condition(self._lock)
        self.refuse: Callable[[bytes], bool] | None = None
        self._open = threading.Event()  # cleared: calls wait at the gate
        self._open.set()
        self.held = 0  # calls waiting at the gate now

    def hold_calls(self) -> None:
        """From now on PutRecordBatch calls wait, unanswered, until `release_calls`."""
        self._open.clear()

    def release_calls(self) -> None:
        self._open.set()

    def _gate(self) -> None:
        if self._open.is_set():
            return
        with self._lock:
            self.held += 1
            self.changed.notify_all()
        self._open.wait()
        with self._lock:
            self.held -= 1

    def outage(self, seconds: float, reset: bool = False) -> None:
        """Fail every call for `seconds` from now (503, or dropped connections)."""
        with self._lock:
            self._outage_until = time.monotonic() + seconds
            self._outage_reset = reset

    def end_outage(self) -> None:
        with self._lock:
            self._outage_until = 0.0

    def set_faults(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._random = random.Random(faults.seed)

    def data(self, stream: str | None = None) -> bytes:
        """Every accepted byte, per stream if named, in arrival order."""
        with self._lock:
            return b"".join(d for s, d in self.records if stream is None or s == stream)

    def wait_for(self, predicate: Any, timeout: float) -> bool:
        """Block until `predicate(self)` holds (checked at each accepted or held call)."""
        with self.changed:
            return bool(self.changed.wait_for(lambda: predicate(self), timeout))

    # --- one call ----------------------------------------------------------------------

    def _describe(self, body: bytes) -> tuple[int, dict[str, Any] | None, float]:
        """DescribeDeliveryStream, the part the service's start check reads."""
        try:
            stream = str(orjson.loads(body)["DeliveryStreamName"])
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            return 400, _error("SerializationException", f"bad request: {exc}"), 0.0
        if self.streams is not None and stream not in self.streams:
            message = f"Firehose {stream} under account 123456789012 not found."
            return 400, _error("ResourceNotFoundException", message), 0.0
        arn = f"arn:aws:firehose:us-east-1:123456789012:deliverystream/{stream}"
        description = {
            "DeliveryStreamName": stream,
            "DeliveryStreamARN": arn,
            "DeliveryStreamStatus": "ACTIVE",
            "DeliveryStreamType": "DirectPut",
            "VersionId": "1",
            "Destinations": [],
            "HasMoreDestinations": False,
        }
        return 200, {"DeliveryStreamDescription": description}, 0.0

    def answer(self, target: str, body: bytes) -> tuple[int, dict[str, Any] | None, float]:
        """(status, JSON body or None to drop the connection, seconds to wait first)."""
        if target == TARGET + "DescribeDeliveryStream":
            return self._describe(body)
        if target != TARGET + "PutRecordBatch":
            return 400, _error("UnknownOperationException", f"not served here: {target}"), 0.0
        self._gate()
        try:
            request = orjson.loads(body)
            stream = str(request["DeliveryStreamName"])
            blobs = [base64.b64decode(r["Data"], validate=True) for r in request["Records"]]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            return 400, _error("SerializationException", f"bad request: {exc}"), 0.0
        with self._lock:
            self.tally.calls += 1
            problem = _over_limits(blobs)
            if problem:
                self.tally.invalid += 1
                self.tally.invalid_reasons.append(problem)
                return 400, _error("InvalidArgumentException", problem), 0.0
            if self.streams is not None and stream not in self.streams:
                message = f"Firehose {stream} under account 123456789012 not found."
                return 400, _error("ResourceNotFoundException", message), 0.0
            if time.monotonic() < self._outage_until:
                self.tally.outage_calls += 1
                if self._outage_reset:
                    return 0, None, 0.0
                return 503, _error("ServiceUnavailableException", "outage"), 0.0
            faults, draw = self.faults, self._random.random
            if draw() < faults.throttle:
                self.tally.throttled += 1
                return 400, _error("ThrottlingException", "Rate exceeded"), 0.0
            if draw() < faults.unavailable:
                self.tally.unavailable += 1
                return 503, _error("ServiceUnavailableException", "Slow down."), 0.0
            if draw() < faults.server_error:
                self.tally.server_errors += 1
                return 500, _error("InternalFailure", "internal failure"), 0.0
            if draw() < faults.reset:
                self.tally.resets += 1
                return 0, None, 0.0
            delay = 0.0
            if draw() < faults.slow:
                self.tally.slow += 1
                delay = faults.slow_seconds
            answers: list[dict[str, str]] = []
            failed = 0
            for blob in blobs:
                if draw() < faults.partial or (self.refuse is not None and self.refuse(blob)):
                    failed += 1
                    code = "ServiceUnavailableException" if draw() < 0.5 else "InternalFailure"
                    answers.append({"ErrorCode": code, "ErrorMessage": "record not accepted"})
                    continue
                if self.keep:
                    self.records.append((stream, blob))
                answers.append({"RecordId": uuid.uuid4().hex})
            self.tally.records_accepted += len(blobs) - failed
            self.tally.records_failed += failed
            self.changed.notify_all()
        response = {"FailedPutCount": failed, "Encrypted": False, "RequestResponses": answers}
        return 200, response, delay


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"__type": kind, "message": message}


def _over_limits(blobs: list[bytes]) -> str:
    if not 1 <= len(blobs) <= MAX_BATCH_RECORDS:
        return f"{len(blobs)} records; a call carries 1 to {MAX_BATCH_RECORDS}"
    total = 0
    for blob in blobs:
        if len(blob) > MAX_RECORD_BYTES:
            return f"a record of {len(blob)} bytes; at most {MAX_RECORD_BYTES}"
        total += len(blob)
    if total > MAX_BATCH_BYTES:
        return f"{total} bytes in one call; at most {MAX_BATCH_BYTES}"
    return ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        status, payload, delay = self.server.double.answer(
            self.headers.get("X-Amz-Target", ""), body
        )
        if delay:
            time.sleep(delay)
        if payload is None:
            self.close_connection = True  # no answer at all: the client sees a reset
            return
        data = orjson.dumps(payload)
        self.send_response_only(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        with contextlib.suppress(OSError):  # the client may have timed out and gone
            self.end_headers()
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and benchmarks read the tally instead


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    double: FirehoseDouble


@contextlib.contextmanager
def serve_firehose(double: FirehoseDouble, port: int = 0) -> Iterator[str]:
    """Serve `double` on 127.0.0.1 (port 0 = any free port); yields the endpoint URL."""
    server = _Server(("127.0.0.1", port), _Handler)
    server.double = double
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="firehose-double", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description="a loopback Firehose PutRecordBatch endpoint")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep records (default: count)")
    args = parser.parse_args()
    double = FirehoseDouble(keep=args.keep)
    with serve_firehose(double, args.port) as url:
        print(url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1.0)


if __name__ == "__main__":
    main()
