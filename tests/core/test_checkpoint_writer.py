"""The checkpoint writer: saves off the loop, newest wins, a failed save is kept and retried,
an unchanged checkpoint is not written again."""

from __future__ import annotations

import asyncio
from pathlib import Path

from streamer.checkpoint_writer import CheckpointWriter
from streamer.checkpoints import Checkpoint, LocalCheckpoints


class Flaky(LocalCheckpoints):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.fail = True
        self.calls: list[Checkpoint] = []

    def save(self, checkpoint: Checkpoint) -> Checkpoint:
        self.calls.append(checkpoint)
        if self.fail:
            raise OSError(28, "No space left on device")
        return super().save(checkpoint)


async def test_a_failed_save_is_kept_for_the_next_and_the_close_saves_it(tmp_path: Path) -> None:
    store = Flaky(tmp_path)
    writer = CheckpointWriter(store)
    writer.add([Checkpoint("binance", "BTC-USDT", 5, 50)])
    async with asyncio.timeout(10):
        while not writer.failures:  # the first save fails (a full disk)
            await asyncio.sleep(0.01)
    writer.add([Checkpoint("binance", "BTC-USDT", 9, 90)])  # merged with the kept one: 9 wins
    store.fail = False
    await writer.aclose()  # cuts the retry wait short and saves what is pending
    assert store.load("binance", "BTC-USDT") == Checkpoint("binance", "BTC-USDT", 9, 90)
    assert [c.trade_id for c in store.calls] == [5, 9]


async def test_an_unchanged_checkpoint_is_not_written_again(tmp_path: Path) -> None:
    store = Flaky(tmp_path)
    store.fail = False
    writer = CheckpointWriter(store)
    same = Checkpoint("okx", "BTC-USDT", 3, 30)
    writer.add([same])
    await writer.aclose()
    writer.add([same])  # an idle symbol: the same position again
    writer.add([Checkpoint("okx", "ETH-USDT", 1, 10)])
    await writer.aclose()
    assert [c.symbol for c in store.calls] == ["BTC-USDT", "ETH-USDT"]
