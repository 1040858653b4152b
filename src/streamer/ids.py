"""Deterministic record ids: the same source event always yields the same id.

Athena users de-duplicate at-least-once delivery with `record_id`; it is a 128-bit BLAKE2b of
the parts that identify the event at its venue (for a trade: venue, symbol, trade id).
"""

from __future__ import annotations

from hashlib import blake2b


def record_id(*parts: object) -> str:
    key = "\x1f".join(map(str, parts)).encode()
    return blake2b(key, digest_size=16).hexdigest()
