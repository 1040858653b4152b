"""Which process collects which symbols: `STREAMER_SHARD=<i>/<n>` (pure).

Rendezvous (highest-random-weight) hashing: a symbol belongs to the shard whose hash of
(exchange, symbol, shard) is highest. Every symbol lands in exactly one of the n shards, the
assignment depends on nothing but those names, so every process computes the same split on
its own, and when n grows to n + 1 a symbol either stays where it was or moves to the new
shard (about 1/(n + 1) of them), so a resize moves few feeds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from hashlib import blake2b

from streamer.errors import ConfigError

_SHARD = re.compile(r"(\d+)/(\d+)")
MAX_SHARDS = 256


@dataclass(frozen=True, slots=True)
class Shard:
    index: int = 0
    count: int = 1

    @property
    def is_first(self) -> bool:
        """Shard 0 also runs what cannot be split (the CoinGecko poller)."""
        return self.index == 0

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """`"1/3"` -> Shard(1, 3); a `ConfigError` naming STREAMER_SHARD otherwise."""
    match = _SHARD.fullmatch(text.strip())
    if match is None:
        raise ConfigError("STREAMER_SHARD", f"{text!r} is not <index>/<count>", "Use e.g. 0/3.")
    index, count = int(match[1]), int(match[2])
    if not 1 <= count <= MAX_SHARDS or index >= count:
        raise ConfigError(
            "STREAMER_SHARD",
            f"{text!r} is out of range",
            f"Use an index from 0 to count - 1 and a count from 1 to {MAX_SHARDS}, e.g. 2/3.",
        )
    return Shard(index, count)


def owner(exchange: str, symbol: str, count: int) -> int:
    """The shard (0 .. count - 1) that collects `symbol` of `exchange`."""
    if count == 1:
        return 0
    key = f"{exchange}\x1f{symbol}\x1f".encode()
    weights = [
        int.from_bytes(blake2b(key + str(i).encode(), digest_size=8).digest(), "big")
        for i in range(count)
    ]
    return max(range(count), key=weights.__getitem__)


def select(exchange: str, symbols: Iterable[str], shard: Shard) -> tuple[str, ...]:
    """The symbols of `exchange` that `shard` collects, in their given order."""
    return tuple(s for s in symbols if owner(exchange, s, shard.count) == shard.index)
