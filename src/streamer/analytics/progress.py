"""Progress of long queries: a line when one starts, `still running` lines while it runs, and a
line when it ends (rows and seconds). The report writes them to stderr."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Progress(Protocol):
    def query(self, name: str) -> AbstractContextManager[Callable[[int], None]]:
        """Around one query; the value entered takes the row count when it is done."""


class Silent:
    """No output (the library's default)."""

    @contextmanager
    def query(self, name: str) -> Iterator[Callable[[int], None]]:
        yield _ignore


def _ignore(rows: int) -> None:
    return None


class Lines:
    """One line per query start and end to `write`; every `every` seconds a `still running`
    line while a query runs (a daemon-free thread, joined when the query ends)."""

    def __init__(
        self,
        write: Callable[[str], None],
        every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self._every = every
        self._clock = clock

    @contextmanager
    def query(self, name: str) -> Iterator[Callable[[int], None]]:
        started = self._clock()
        self._write(f"query {name} ...")
        finished = threading.Event()
        rows: list[int] = []

        def heartbeat() -> None:
            while not finished.wait(self._every):
                self._write(f"query {name}: still running after {self._clock() - started:.0f} s")

        ticker = threading.Thread(target=heartbeat, name=f"progress-{name}")
        ticker.start()
        try:
            yield rows.append
        except BaseException:
            finished.set()
            ticker.join()
            self._write(f"query {name}: failed after {self._clock() - started:.1f} s")
            raise
        finished.set()
        ticker.join()
        count = rows[-1] if rows else 0
        self._write(f"query {name}: {count} rows in {self._clock() - started:.1f} s")
