"""Shared test helpers: where the recorded exchange fixtures live, and a small disk to fill."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.disks import small_disk as small_disk  # a fixture: a small tmpfs to fill

# Property tests draw the same examples on every run, so `make test` and CI cannot turn red on an
# input nobody changed code for. `HYPOTHESIS_PROFILE=explore` draws new ones (and more of them)
# to hunt for bugs; a failure found that way becomes a regular test.
settings.register_profile("repeatable", derandomize=True, deadline=None)
settings.register_profile("explore", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("STREAMER_FIXTURES", REPO / "tests" / "fixtures"))


def fixture_text(relative: str) -> str:
    """The exact text of a recorded fixture, e.g. `fixture_text("binance/trade.json")`."""
    return (FIXTURES / relative).read_text()


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"recorded fixtures not found at {FIXTURES}; set STREAMER_FIXTURES")
    return FIXTURES


@pytest.fixture(autouse=True)
def _root_logging() -> Iterator[None]:
    """A test that runs the CLI points the root logger at the stderr pytest captured for it;
    the handlers are put back after each test, so a later test's threads (a moto server's
    request lines) never write to a closed capture."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
