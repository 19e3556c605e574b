"""The requests a socket face is working on: each a task, bounded in number, cancelled when
the face closes. Shared by the DNS and Handle faces."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable


class FaceTasks:
    """Runs full-path answers as tasks; beyond ``limit`` at once a bounded one is dropped
    (a UDP client retries) rather than queued without bound."""

    def __init__(self, limit: int, log: logging.Logger, what: str) -> None:
        self.limit = limit
        self.log = log
        self.what = what
        self.dropped = 0
        self.errors = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Awaitable[None], *, bounded: bool = True) -> bool:
        """Start ``work``; :returns: False if it was dropped."""
        if bounded and len(self._tasks) >= self.limit:
            self.dropped += 1
            work.close()  # type: ignore[attr-defined]
            return False
        task = asyncio.get_running_loop().create_task(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _guarded(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:
            self.errors += 1
            self.log.exception("%s failed", self.what)

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
