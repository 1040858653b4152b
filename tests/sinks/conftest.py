"""Fixtures of the sink tests: the loopback Firehose endpoint (and `small_disk`, from the
top-level conftest)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streamer.simulator.firehose import FirehoseDouble, serve_firehose


@pytest.fixture
def double() -> FirehoseDouble:
    return FirehoseDouble()


@pytest.fixture
def endpoint(double: FirehoseDouble, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The double on port 0, with the AWS environment a container would have."""
    with serve_firehose(double) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        yield url
