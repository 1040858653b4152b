"""Checkpoints are keyed by exchange and symbol, written atomically, and never move back."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto.server import ThreadedMotoServer

from streamer.checkpoints import (
    Checkpoint,
    LocalCheckpoints,
    S3Checkpoints,
    from_json,
    merge,
    relative_key,
    to_json,
)

POSITION = st.none() | st.integers(0, 2**62)
CHECKPOINT = st.builds(Checkpoint, st.just("binance"), st.just("BTC-USDT"), POSITION, POSITION,
                       POSITION, POSITION)  # fmt: skip


@given(st.lists(CHECKPOINT, min_size=1, max_size=8))
def test_merged_saves_end_at_the_largest_position_of_each_stream(saves: list[Checkpoint]) -> None:
    stored: Checkpoint | None = None
    for save in saves:
        stored = merge(stored, save)
    assert stored is not None
    for name in ("trade_id", "candle_open_time", "book_sequence"):
        seen = [getattr(s, name) for s in saves if getattr(s, name) is not None]
        assert getattr(stored, name) == (max(seen) if seen else None)
    # the trade's time travels with the trade id it belongs to
    kept = [s for s in saves if s.trade_id is not None and s.trade_id == stored.trade_id]
    assert stored.trade_id is None or stored.trade_time in {s.trade_time for s in kept}
    assert from_json(to_json(stored)) == stored


def test_merge_refuses_another_symbol() -> None:
    with pytest.raises(ValueError, match="binance/ETH-USDT"):
        merge(Checkpoint("binance", "ETH-USDT", 1), Checkpoint("binance", "BTC-USDT", 2))


@pytest.mark.parametrize("name", ["..", "../x", "a/b", "", ".hidden", "a..b"])
def test_names_that_could_leave_the_folder_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a checkpoint name"):
        relative_key("binance", name)


def test_local_checkpoint_lives_in_the_lake_state_folder_and_never_moves_back(
    tmp_path: Path,
) -> None:
    store = LocalCheckpoints(tmp_path)
    assert store.load("binance", "BTC-USDT") is None
    store.save(Checkpoint("binance", "BTC-USDT", trade_id=100, candle_open_time=60_000))
    merged = store.save(Checkpoint("binance", "BTC-USDT", trade_id=90, book_sequence=7))
    assert merged == Checkpoint("binance", "BTC-USDT", 100, None, 60_000, 7)
    assert store.load("binance", "BTC-USDT") == merged
    folder = tmp_path / ".state" / "checkpoints" / "binance"
    assert sorted(p.name for p in folder.iterdir()) == ["BTC-USDT.json", "BTC-USDT.json.lock"]


def test_the_next_save_deletes_a_killed_savers_temporary_file(tmp_path: Path) -> None:
    store = LocalCheckpoints(tmp_path)
    store.save(Checkpoint("binance", "BTC-USDT", trade_id=1))
    folder = tmp_path / ".state" / "checkpoints" / "binance"
    (folder / ".BTC-USDT.json.k1lled.tmp").write_bytes(b'{"half')  # killed mid-save
    (folder / ".ETH-USDT.json.other.tmp").write_bytes(b"")  # another symbol's: not ours
    store.save(Checkpoint("binance", "BTC-USDT", trade_id=2))
    assert sorted(p.name for p in folder.iterdir()) == [
        ".ETH-USDT.json.other.tmp", "BTC-USDT.json", "BTC-USDT.json.lock"]  # fmt: skip
    assert store.load("binance", "BTC-USDT") == Checkpoint("binance", "BTC-USDT", trade_id=2)


def _save_many(root: str, start: int) -> None:
    store = LocalCheckpoints(Path(root))
    for i in range(start, 400, 4):
        store.save(Checkpoint("okx", "BTC-USDT", trade_id=i, book_sequence=1000 - i))


def test_processes_saving_at_once_lose_no_update(tmp_path: Path) -> None:
    with ProcessPoolExecutor(4) as pool:
        list(pool.map(_save_many, [str(tmp_path)] * 4, range(4)))
    stored = LocalCheckpoints(tmp_path).load("okx", "BTC-USDT")
    assert stored == Checkpoint("okx", "BTC-USDT", trade_id=399, book_sequence=1000)


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        client = boto3.client(
            "s3",
            endpoint_url=f"http://{host}:{port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket="lake")
        yield client
    finally:
        server.stop()


def test_s3_checkpoint_lives_under_the_lake_prefix_and_never_moves_back(s3: Any) -> None:
    store = S3Checkpoints(s3, "lake", "crypto/")
    assert store.load("kraken", "ETH-USD") is None
    store.save(Checkpoint("kraken", "ETH-USD", trade_id=5, candle_open_time=120_000))
    merged = store.save(Checkpoint("kraken", "ETH-USD", trade_id=4, candle_open_time=180_000))
    assert merged == Checkpoint("kraken", "ETH-USD", 5, None, 180_000, None)
    assert store.load("kraken", "ETH-USD") == merged
    key = "crypto/state/checkpoints/kraken/ETH-USD.json"
    assert from_json(s3.get_object(Bucket="lake", Key=key)["Body"].read()) == merged
