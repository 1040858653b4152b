"""Progress lines: one when a query starts, `still running` while it runs, rows and seconds
when it ends, and a line when it fails."""

from __future__ import annotations

import threading

import pytest

from streamer.analytics.progress import Lines


def test_a_long_query_reports_while_it_runs() -> None:
    lines: list[str] = []
    two_ticks = threading.Event()

    def write(line: str) -> None:
        lines.append(line)
        if sum("still running" in x for x in lines) >= 2:
            two_ticks.set()

    progress = Lines(write, every=0.01)
    with progress.query("candles") as done:
        assert two_ticks.wait(30)
        done(42)
    assert lines[0] == "query candles ..."
    assert lines[1].startswith("query candles: still running after ")
    assert lines[-1].startswith("query candles: 42 rows in ")


def test_a_failed_query_says_so_and_raises() -> None:
    lines: list[str] = []
    with pytest.raises(ValueError, match="boom"), Lines(lines.append, every=60).query("basis"):
        raise ValueError("boom")
    assert lines[0] == "query basis ..." and lines[-1].startswith("query basis: failed after")
    assert not [t for t in threading.enumerate() if t.name.startswith("progress-")]
