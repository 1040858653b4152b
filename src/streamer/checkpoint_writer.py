"""The asyncio shell that saves checkpoints: off the event loop, newest wins, never fatal.

The pipeline hands over the checkpoints the sink has accepted the rows of (`progress`); a
background task saves them in a thread (a file rename, or an S3 put), keeping only the newest
of each symbol while a save runs. A failed save is logged and counted, and the checkpoint stays
pending for the next round: a lost checkpoint only makes the next start fetch more (duplicates
with the same `record_id`), never skip rows. A checkpoint equal to the one this process saved
last is not saved again (an idle symbol costs no write: on S3 each is a request).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from streamer.checkpoints import Checkpoint, CheckpointStore, merge
from streamer.logsafe import shown

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0


class CheckpointWriter:
    def __init__(self, store: CheckpointStore) -> None:
        self.store = store
        self._pending: dict[tuple[str, str], Checkpoint] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._saved: dict[tuple[str, str], Checkpoint] = {}  # what this process saved last
        self.saved = 0
        self.failures = 0

    def add(self, checkpoints: Iterable[Checkpoint]) -> None:
        pending, saved = self._pending, self._saved
        for checkpoint in checkpoints:
            key = (checkpoint.exchange, checkpoint.symbol)
            if key not in pending and saved.get(key) == checkpoint:
                continue
            pending[key] = merge(pending.get(key), checkpoint)
        if pending:
            self._wake.set()
            if self._task is None:
                self._task = asyncio.create_task(self._run(), name="checkpoint-writer")

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            if not await self._save() and not self._closing:
                try:
                    async with asyncio.timeout(RETRY_SECONDS):
                        await self._wake.wait()  # a close cuts the wait short
                except TimeoutError:
                    pass
                self._wake.set()

    async def _save(self) -> bool:
        """Save what is pending; True if every save succeeded (failed ones stay pending)."""
        batch, self._pending = self._pending, {}
        failed = await asyncio.to_thread(self._save_all, list(batch.values()))
        for checkpoint in failed:
            key = (checkpoint.exchange, checkpoint.symbol)
            self._pending[key] = merge(checkpoint, self._pending[key]) if key in self._pending \
                else checkpoint  # fmt: skip
        return not failed

    def _save_all(self, checkpoints: list[Checkpoint]) -> list[Checkpoint]:
        failed = []
        for checkpoint in checkpoints:
            try:
                self.store.save(checkpoint)
                self._saved[(checkpoint.exchange, checkpoint.symbol)] = checkpoint
                self.saved += 1
            except Exception as exc:  # disk, S3 or a corrupt file: logged, kept, retried
                self.failures += 1
                failed.append(checkpoint)
                log.error("checkpoint.save_failed exchange=%s symbol=%s error=%s",
                          checkpoint.exchange, checkpoint.symbol, shown(exc))  # fmt: skip
        return failed

    async def aclose(self) -> None:
        """Let a save under way finish, then one last save of whatever is pending."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._pending:
            await self._save()
        if self._pending:
            log.error("checkpoint.unsaved symbols=%d (the next start fetches from older "
                      "checkpoints)", len(self._pending))  # fmt: skip
