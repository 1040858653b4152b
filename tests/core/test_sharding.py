"""Shards split a venue's symbols exactly once, stably, and a resize moves few of them."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamer.errors import ConfigError
from streamer.service import build_sources
from streamer.settings import load
from streamer.sharding import Shard, owner, parse_shard, select

SYMBOLS = [f"C{i}-USDT" for i in range(600)]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_every_symbol_is_collected_by_exactly_one_shard(count: int) -> None:
    parts = [select("binance", SYMBOLS, Shard(i, count)) for i in range(count)]
    assert sorted(s for part in parts for s in part) == sorted(SYMBOLS)
    assert sum(map(len, parts)) == len(SYMBOLS)
    assert min(map(len, parts)) > len(SYMBOLS) / count * 0.7  # roughly even


@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=40, unique=True),
       st.integers(min_value=1, max_value=12))  # fmt: skip
def test_growing_by_one_shard_only_moves_symbols_to_the_new_one(
    symbols: list[str], count: int
) -> None:
    for s in symbols:
        before, after = owner("coinbase", s, count), owner("coinbase", s, count + 1)
        assert after in (before, count)


def test_the_split_depends_on_the_exchange_too() -> None:
    assert select("binance", SYMBOLS, Shard(0, 3)) != select("coinbase", SYMBOLS, Shard(0, 3))


@pytest.mark.parametrize("text", ["3", "1/0", "3/3", "-1/3", "a/b", "0/300"])
def test_a_bad_shard_names_the_setting(text: str) -> None:
    with pytest.raises(ConfigError, match="STREAMER_SHARD"):
        parse_shard(text)
    with pytest.raises(ConfigError, match="STREAMER_SHARD"):
        load({"STREAMER_SHARD": text})


def test_three_shards_run_the_market_once_and_coingecko_in_shard_zero() -> None:
    env = {
        "STREAMER_BINANCE_SYMBOLS": ",".join(SYMBOLS[:40]),
        "STREAMER_COINBASE_SYMBOLS": ",".join(s.replace("USDT", "USD") for s in SYMBOLS[:12]),
    }
    seen: dict[str, list[str]] = {"binance": [], "coinbase": []}
    gecko = []
    for i in range(3):
        settings = load({**env, "STREAMER_SHARD": f"{i}/3"})
        for source in build_sources(settings):
            if source.name == "coingecko":
                gecko.append(i)
            else:
                seen[source.name] += list(source.settings.symbols)  # type: ignore[attr-defined]
    assert sorted(seen["binance"]) == sorted(SYMBOLS[:40])
    assert len(seen["coinbase"]) == 12 and len(set(seen["coinbase"])) == 12
    assert gecko == [0]
    assert str(replace(Shard(), index=0)) == "0/1"
