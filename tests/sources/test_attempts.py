"""The connection-attempt window never lets more than `limit` attempts into any window."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.sources.attempts import AttemptWindow


def test_a_burst_is_spread_to_the_limit() -> None:
    window = AttemptWindow(limit=8, seconds=1.0)
    waits = [window.reserve(100.0) for _ in range(20)]
    assert waits[:8] == [0.0] * 8
    assert waits[8:16] == [1.0] * 8 and waits[16:] == [2.0] * 4


@given(st.lists(st.floats(min_value=0, max_value=50, allow_nan=False), min_size=1, max_size=80),
       st.integers(min_value=1, max_value=6))  # fmt: skip
def test_no_window_holds_more_than_the_limit(requests: list[float], limit: int) -> None:
    window = AttemptWindow(limit=limit, seconds=5.0)
    made = []
    now = 0.0
    for gap in requests:
        now += gap / 10
        made.append(now + window.reserve(now))
    made.sort()
    for i in range(len(made) - limit):
        assert made[i + limit] - made[i] >= 5.0 - 1e-9


def test_a_nonsense_window_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        AttemptWindow(0, 1.0)
