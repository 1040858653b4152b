"""From rows handed on to checkpoints written: the `Progress` marker and the `Committer` (pure).

A feed cannot know when its rows are safe: they wait in the pipeline's queue, then in the
sink's buffers, until the sink has delivered or stored them (the lake's journal, Firehose or
its spool). So a feed puts a `Progress` marker in the same queue as its rows, once every row
its positions cover is queued ahead of it (`Feed.checkpoints`). The pipeline's consumer hands
each marker to the `Committer` with how many rows of each dataset the sink had been given by
then; once the sink reports that many rows of each as accepted (a sink accepts each dataset's
rows in the order they were added), the marker's checkpoints are due for writing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from streamer.checkpoints import Checkpoint, merge

WATCHED = ("trades", "ohlcv")
"""The datasets whose positions checkpoints hold."""
MAX_WAITING = 100
"""Markers held while the sink accepts nothing (a failing disk): past it, a new marker takes
the place of the newest one waiting, whose positions it covers and whose rows it waits for."""


@dataclass(frozen=True, slots=True)
class Progress:
    """A feed's positions, every row of which was queued before this marker."""

    exchange: str
    checkpoints: tuple[Checkpoint, ...]


class Committer:
    """Markers waiting for the sink, oldest first; `ready` returns the checkpoints it may now
    write (the newest position of each symbol)."""

    def __init__(self) -> None:
        self._waiting: deque[tuple[dict[str, int], Progress]] = deque()

    def __len__(self) -> int:
        return len(self._waiting)

    def mark(self, progress: Progress, added: Mapping[str, int]) -> None:
        """`progress` arrived when the sink had been given `added[dataset]` rows of each."""
        if len(self._waiting) >= MAX_WAITING:
            _, newest = self._waiting.pop()
            progress = Progress(progress.exchange, _newer(newest, progress))
        self._waiting.append(({name: added.get(name, 0) for name in WATCHED}, progress))

    def ready(self, accepted: Callable[[str], int]) -> list[Checkpoint]:
        """The checkpoints of every marker whose rows `accepted(dataset)` now covers, merged
        per symbol (each position the largest)."""
        due: dict[tuple[str, str], Checkpoint] = {}
        waiting = self._waiting
        while waiting:
            added, progress = waiting[0]
            if any(accepted(name) < count for name, count in added.items()):
                break
            waiting.popleft()
            for checkpoint in progress.checkpoints:
                key = (checkpoint.exchange, checkpoint.symbol)
                due[key] = merge(due.get(key), checkpoint)
        return list(due.values())


def _newer(old: Progress, new: Progress) -> tuple[Checkpoint, ...]:
    """`new`'s checkpoints, and `old`'s for symbols `new` does not name (each feed marks all
    its symbols, but one that was unsubscribed meanwhile keeps its last position)."""
    named = {(c.exchange, c.symbol) for c in new.checkpoints}
    kept = tuple(c for c in old.checkpoints if (c.exchange, c.symbol) not in named)
    return kept + new.checkpoints
