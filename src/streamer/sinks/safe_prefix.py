"""How many of a lane's rows, counted from the first, a kill can no longer lose (pure).

Rows leave a Firehose lane's packer in the order they were added, and each record is numbered
by its first row. They become safe (delivered, spooled, or counted as dropped) out of that
order: a partial failure resends a record after the records behind it went through, and a full
memory spools new records while older ones wait in a call not yet answered. A checkpoint may
only cover a row when every row before it is safe too, so `accepted` is the length of the safe
prefix, never the number of safe rows.
"""

from __future__ import annotations


class SafePrefix:
    """The safe prefix of one lane's rows; `safe(first, rows)` marks a record's rows."""

    __slots__ = ("_ahead", "accepted")

    def __init__(self) -> None:
        self.accepted = 0  # rows 0 .. accepted-1 are all safe
        self._ahead: dict[int, int] = {}  # safe ranges past a gap: first row -> end

    def safe(self, first: int, rows: int) -> None:
        """Rows `first` .. `first + rows - 1` are safe (`first` < 0: rows read back from the
        spool, already counted when they were written there)."""
        if first < self.accepted or rows <= 0:
            return
        end = first + rows
        if first > self.accepted:
            self._ahead[first] = end
            return
        ahead = self._ahead
        while end in ahead:
            end = ahead.pop(end)
        self.accepted = end
