"""Faults the simulator injects on purpose (`streamer simulate --faults ...`).

Probabilities are per frame sent to a client (WebSocket faults) or per REST request:

| name | what the client sees |
|---|---|
| `disconnect` | the TCP connection is cut with no closing handshake (close code 1006) |
| `close` | a closing handshake with code 1001 (going away) or 1011 (internal error) |
| `stall` | the connection stays open and answers pings, but sends nothing for `stall_seconds` |
| `garbage` | a frame that is not valid venue JSON, before the real one |
| `oversized` | a frame over the client's size limit (the client closes with 1009) |
| `duplicate` | the frame twice |
| `reorder` | the frame swapped with the next one |
| `gap` | (Coinbase) a `sequence_num` skipped |
| `rest_429` | HTTP 429 with `Retry-After: 1` |
| `rest_5xx` | HTTP 503 |

`rotate_seconds` closes every connection that old (Binance's 24-hour limit, compressed).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, fields

WS_FAULTS = ("disconnect", "close", "stall", "garbage", "oversized", "duplicate", "reorder", "gap")
OVERSIZED_BYTES = 5 * 1024 * 1024  # over the Binance client's 4 MiB frame limit


@dataclass(frozen=True, slots=True)
class FaultPlan:
    disconnect: float = 0.0
    close: float = 0.0
    stall: float = 0.0
    garbage: float = 0.0
    oversized: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    gap: float = 0.0
    rest_429: float = 0.0
    rest_5xx: float = 0.0
    stall_seconds: float = 40.0
    rotate_seconds: float = 0.0
    seed: int = 1

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """`disconnect=0.01,stall=0.002,stall_seconds=5` -> a plan (unknown names refused)."""
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, float | int] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, raw = part.partition("=")
            if not sep or name not in known:
                raise ValueError(f"unknown fault {part!r}; use name=value with: {', '.join(known)}")
            number = float(raw)
            if name in (*WS_FAULTS, "rest_429", "rest_5xx") and not 0 <= number <= 1:
                raise ValueError(f"fault {name} is a probability from 0 to 1, not {raw}")
            values[name] = int(number) if name == "seed" else number
        return cls(**values)  # type: ignore[arg-type]

    @property
    def active(self) -> bool:
        return any(getattr(self, n) for n in (*WS_FAULTS, "rest_429", "rest_5xx", "rotate_seconds"))


NO_FAULTS = FaultPlan()


class FaultDice:
    """Seeded draws against a plan, with a tally of what was injected."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.injected: Counter[str] = Counter()
        self.enabled = True
        # (text, connection number, loop time) of each garbage frame, for tests to find in
        # the rejects; frames still in flight when a connection is cut never arrive.
        self.garbage_sent: list[tuple[str, int, float]] = []

    def calm(self) -> None:
        """Stop injecting (the plan stays for the record)."""
        self.enabled = False

    def roll(self, name: str) -> bool:
        if not self.enabled:
            return False
        probability: float = getattr(self.plan, name)
        if probability and self.rng.random() < probability:
            self.injected[name] += 1
            return True
        return False

    def garbage(self, connection: int, now: float) -> str:
        n = self.injected["garbage"]
        text = self.rng.choice(
            [
                f"garbage-{n}: not json",
                f'{{"stream": "nosuch@stream{n}", "data": {{}}}}',
                f'{{"truncated": {n}, "data": [1, 2',
                f'[{n}, "an array, not an object"]',
            ]
        )
        self.garbage_sent.append((text, connection, now))
        return text
