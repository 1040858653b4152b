"""Shared test helpers: where the recorded exchange fixtures live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
