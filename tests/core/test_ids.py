"""Record ids are deterministic, and the prefix-hashed maker gives exactly `record_id`'s ids."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streamer.ids import record_id, record_ids

_part = st.one_of(st.text(max_size=30), st.integers())


def test_a_known_trade_keeps_its_id() -> None:
    # Ids already in users' lakes must never change: this one was written by earlier releases.
    assert record_id("binance", "BTC-USDT", "trade", 12345) == (
        __import__("hashlib")
        .blake2b(b"binance\x1fBTC-USDT\x1ftrade\x1f12345", digest_size=16)
        .hexdigest()
    )


@given(st.lists(_part, min_size=0, max_size=4), _part)
def test_the_prefix_maker_gives_record_ids_id(prefix: list[object], last: object) -> None:
    assert record_ids(*prefix)(last) == record_id(*prefix, last)


def test_one_maker_serves_many_ids() -> None:
    make = record_ids("coinbase", "BTC-USD", "trade")
    ids = [make(i) for i in range(1000)]
    assert len(set(ids)) == 1000
    assert ids[7] == record_id("coinbase", "BTC-USD", "trade", 7)
