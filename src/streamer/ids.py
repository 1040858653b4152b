"""Deterministic record ids: the same source event always yields the same id.

Athena users de-duplicate at-least-once delivery with `record_id`; it is a 128-bit BLAKE2b of
the parts that identify the event at its venue (for a trade: venue, symbol, trade id).
"""

from __future__ import annotations

from collections.abc import Callable
from hashlib import blake2b


def record_id(*parts: object) -> str:
    key = "\x1f".join(map(str, parts)).encode()
    return blake2b(key, digest_size=16).hexdigest()


def record_id_seed(*prefix: object) -> blake2b:
    """The BLAKE2b state after `prefix`: `seed.copy()`, updated with the last part's text, gives
    `record_id(*prefix, last)` (what `record_ids` does; a decoder's inlined hot loop uses it)."""
    return blake2b("".join(f"{part}\x1f" for part in prefix).encode(), digest_size=16)


def record_ids(*prefix: object) -> Callable[[object], str]:
    """`record_ids(*prefix)(last) == record_id(*prefix, last)`, with the prefix hashed once.

    The per-row path: a venue's trade ids share (exchange, symbol, kind), so only the id
    itself is hashed per row (a copy of the prefix's BLAKE2b state, then the id).
    """
    copy = record_id_seed(*prefix).copy

    def make(last: object) -> str:
        h = copy()
        h.update(str(last).encode())
        text: str = h.hexdigest()
        return text

    return make
