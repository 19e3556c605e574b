"""What the socket faces (DNS, Handle) share: the requests they are working on, each a task,
bounded in number and cancelled when the face closes; and TCP connections that close after
a time without requests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable

from resolver.ratelimit import HeldPerHost, RateLimiter


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


class HotUdpProtocol(asyncio.DatagramProtocol):
    """A face's datagrams: a client over its rate limit is dropped (answering a flood would
    amplify it), a question with a stored answer is answered at once, anything else goes
    to :meth:`full`, which subclasses write."""

    def __init__(
        self,
        hot_answer: Callable[[bytes], bytes | None],
        limiter: RateLimiter | None,
        log: logging.Logger,
    ) -> None:
        self.hot_answer = hot_answer
        self.limiter = limiter
        self.log = log
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.sendto = self.transport.sendto

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        if self.limiter is not None and self.limiter.wait(addr[0]):
            return
        out = self.hot_answer(data)
        if out is not None:
            self.sendto(out, addr)
            return
        self.full(data, addr)

    def full(self, data: bytes, addr: tuple) -> None:
        raise NotImplementedError

    def error_received(self, exc: Exception) -> None:
        self.log.debug("UDP error: %s", exc)


class IdleClosingProtocol(asyncio.Protocol):
    """A TCP connection closed after ``idle_timeout`` seconds without a request: subclasses
    call :meth:`touch` when a request starts or ends (not on every byte, or a client sending
    one byte a minute would hold the connection for ever).

    It also keeps what a client can make the node hold in check: asyncio pauses writing
    when the client does not read its answers, and then this stops reading from it (its
    answers would otherwise pile up here); :meth:`writable` waits for the client to catch
    up, and subclasses with a backlog of their own say when it is full
    (:meth:`backlog_full`), calling :meth:`pause_reading_if_full` as it grows and
    :meth:`resume_reading` as it empties."""

    def __init__(self, idle_timeout: float, clients: HeldPerHost | None = None) -> None:
        """``clients``: the face's connections by client host, which this one joins (or is
        refused by: one client opening hundreds of connections, each holding half a
        message, held a buffer for each)."""
        self.idle_timeout = idle_timeout
        self.clients = clients
        self.transport: asyncio.Transport | None = None
        self.writing_paused = False
        self._host: str | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._resumed: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.clients is not None:
            host = str((transport.get_extra_info("peername") or ("",))[0])
            if not self.clients.admit(host):
                transport.abort()  # before reading a byte of it
                return
            self._host = host
        self.touch()

    def touch(self) -> None:
        """Restart the idle timer."""
        if self._idle is not None:
            self._idle.cancel()
        self._idle = asyncio.get_running_loop().call_later(self.idle_timeout, self.close)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def backlog_full(self) -> bool:
        """Whether requests already read wait in such numbers that no more should be."""
        return False

    def pause_reading_if_full(self) -> None:
        """Stop reading while the backlog is full (:meth:`resume_reading` reads again)."""
        if self.transport is not None and self.backlog_full():
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read again, unless the client is not reading or the backlog is full."""
        if self.transport is not None and not (self.writing_paused or self.backlog_full()):
            self.transport.resume_reading()

    def pause_writing(self) -> None:
        self.writing_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self._resumed is not None and not self._resumed.done():
            self._resumed.set_result(None)
        self.resume_reading()

    async def writable(self) -> None:
        """Return once the client has read enough of what it was sent."""
        if self.writing_paused:
            self._resumed = asyncio.get_running_loop().create_future()
            await self._resumed

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        if self._resumed is not None and not self._resumed.done():
            self._resumed.cancel()
        if self.clients is not None and self._host is not None:
            self.clients.leave(self._host)
        self.transport = None


class Listeners:
    """A face's UDP endpoint and TCP server on one address, opened and closed together."""

    def __init__(
        self,
        host: str,
        port: int,
        udp: Callable[[], asyncio.DatagramProtocol],
        tcp: Callable[[], asyncio.Protocol],
        *,
        reuse_port: bool = False,
    ) -> None:
        """``reuse_port``: several worker processes listen on the same port."""
        self.host, self.port = host, port
        self._udp_factory, self._tcp_factory = udp, tcp
        self.reuse_port = reuse_port
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._udp, _ = await loop.create_datagram_endpoint(
            self._udp_factory,
            local_addr=(self.host, self.port),
            family=family,
            reuse_port=self.reuse_port or None,
        )
        self._tcp = await loop.create_server(
            self._tcp_factory, self.host, self.port, reuse_port=self.reuse_port or None
        )

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(Exception):
                await self._tcp.wait_closed()
