"""What the socket faces (DNS, Handle) share: the requests they are working on, each a task,
bounded in number and cancelled when the face closes; and TCP connections that close after
a time without requests."""

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


class IdleClosingProtocol(asyncio.Protocol):
    """A TCP connection closed after ``idle_timeout`` seconds without data; subclasses call
    :meth:`touch` when data arrives and may extend the hooks (calling these)."""

    def __init__(self, idle_timeout: float) -> None:
        self.idle_timeout = idle_timeout
        self.transport: asyncio.Transport | None = None
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.touch()

    def touch(self) -> None:
        """Restart the idle timer."""
        if self._idle is not None:
            self._idle.cancel()
        self._idle = asyncio.get_running_loop().call_later(self.idle_timeout, self.close)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self.transport = None
