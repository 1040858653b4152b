"""A folder of recorded frames and answers that the simulator replays instead of its market.

`<venue>.jsonl` holds one raw WebSocket frame per line, sent in order to each client of that
venue once it has subscribed; `<name>.json` is the body of a REST answer.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Replay:
    folder: Path

    def frames(self, venue: str) -> list[str]:
        """The recorded frames of `venue` (none if it has no file)."""
        path = self.folder / f"{venue}.jsonl"
        if not path.is_file():
            return []
        return [line for line in path.read_text().splitlines() if line.strip()]

    def body(self, name: str) -> bytes:
        """The recorded answer `name` (an empty JSON list if there is none)."""
        with contextlib.suppress(FileNotFoundError):
            return (self.folder / f"{name}.json").read_bytes()
        return b"[]"
