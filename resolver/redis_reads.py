"""The shared cache's hot reads: MGETs pipelined on one Redis connection of tierid's own.

Why not redis-py here: its command path (connection pool, retry wrapper, an awaited task
per call) costs ~190 us of Python per MGET on this machine, against ~27 us for a command
written straight to the socket and answered through hiredis's parser; the L2 hit path makes
one MGET per event-loop tick, so that cost was most of what an L2 hit adds to an L1 hit.
Everything else (writes, invalidations, pub/sub, flushes) stays on redis-py.

One connection carries any number of MGETs back to back; Redis answers in order, so each
reply goes to the oldest batch still waiting. A batch is told its values (a list of bytes or
None per key) or the error that stopped it, never left waiting:

- not connected (at start, after a loss): a connection is made (AUTH and SELECT as the URL
  says) and the batch is sent on it; if that fails, the batch is told why;
- no reply within ``timeout`` (connecting included): the batch is told ``TimeoutError``
  then; its reply, when it comes, is read and dropped, so the order still holds;
- the connection lost, or a reply that is an error: every waiting batch is told.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any

import hiredis
from redis.asyncio.connection import SSLConnection, parse_url

#: a batch's answer: its values in key order, or why there are none
Done = Callable[[list[bytes | None] | BaseException], None]


def command(*args: bytes | str) -> bytes:
    """A command in RESP, as Redis reads it."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        raw = arg.encode("utf-8") if isinstance(arg, str) else arg
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


class _Waiting:
    """One command sent and not answered yet."""

    __slots__ = ("done", "timer")

    def __init__(self, done: Done, timer: asyncio.TimerHandle | None) -> None:
        self.done: Done | None = done
        self.timer = timer

    def answer(self, result: Any) -> None:
        """Tell the batch, once (a batch that timed out has been told already)."""
        if self.timer is not None:
            self.timer.cancel()
        done, self.done = self.done, None
        if done is not None:
            done(result)


class _RespProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = hiredis.Reader()
        self.waiting: deque[_Waiting] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed(data)
        try:
            while (reply := self.parser.gets()) is not False:
                if not self.waiting:
                    raise hiredis.ProtocolError("a reply nobody asked for")
                self.waiting.popleft().answer(reply)
        except hiredis.ProtocolError as exc:
            self._fail(ConnectionError(f"unreadable reply from Redis: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError(f"connection to Redis lost: {exc or 'closed'}"))

    def _fail(self, exc: BaseException) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()
        while self.waiting:
            self.waiting.popleft().answer(exc)


class PipelinedReads:
    """MGETs on one pipelined connection (see the module docstring)."""

    def __init__(self, url: str, timeout: float) -> None:
        self.options = parse_url(url)
        self.timeout = timeout
        self._conn: _RespProtocol | None = None
        self._connecting: asyncio.Task[None] | None = None
        #: batches waiting for a connection: (command, its waiter)
        self._backlog: list[tuple[bytes, _Waiting]] = []

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.lost

    async def connect(self) -> None:
        """Connect now (a node opening its cache); a failure is left for the next read."""
        if not self.connected:
            self._reconnect()
            assert self._connecting is not None
            await asyncio.shield(self._connecting)

    def mget(self, keys: list[str], done: Done) -> None:
        """Send ``MGET keys``; ``done`` is told the values or the error (see above)."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(_checked_mget(len(keys), done), None)
        waiting.timer = loop.call_later(self.timeout, _timed_out, waiting)
        data = command("MGET", *keys)
        if self.connected:
            self._write(data, waiting)
        else:
            self._backlog.append((data, waiting))
            self._reconnect()

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        self._answer_backlog(ConnectionError("Redis reads closed"))
        if self._conn is not None:
            self._conn._fail(ConnectionError("Redis reads closed"))

    def _write(self, data: bytes, waiting: _Waiting) -> None:
        conn = self._conn
        assert conn is not None and conn.transport is not None
        conn.waiting.append(waiting)
        conn.transport.write(data)

    def _answer_backlog(self, exc: BaseException) -> None:
        backlog, self._backlog = self._backlog, []
        for _, waiting in backlog:
            waiting.answer(exc)

    def _reconnect(self) -> None:
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                conn = await self._open()
        except (OSError, TimeoutError, ConnectionError) as exc:
            self._answer_backlog(exc)
            return
        self._conn = conn
        backlog, self._backlog = self._backlog, []
        for data, waiting in backlog:
            if waiting.done is not None:  # not timed out meanwhile
                self._write(data, waiting)

    async def _open(self) -> _RespProtocol:
        """A new connection, authenticated and on the URL's database.

        :raises OSError, ConnectionError: Redis refused it (an error reply included).
        """
        loop = asyncio.get_running_loop()
        o = self.options
        if "path" in o:
            _, conn = await loop.create_unix_connection(_RespProtocol, o["path"])
        else:
            secure = o.get("connection_class") is SSLConnection
            _, conn = await loop.create_connection(
                _RespProtocol,
                o.get("host", "localhost"),
                o.get("port", 6379),
                ssl=ssl.create_default_context() if secure else None,
            )
        handshake = []
        if o.get("password"):
            user = [o["username"]] if o.get("username") else []
            handshake.append(command("AUTH", *user, o["password"]))
        if o.get("db"):
            handshake.append(command("SELECT", str(o["db"])))
        try:
            for data in handshake:
                future: asyncio.Future[Any] = loop.create_future()
                conn.waiting.append(_Waiting(future.set_result, None))
                assert conn.transport is not None
                conn.transport.write(data)
                reply = await future
                if isinstance(reply, BaseException):
                    raise ConnectionError(f"Redis refused the connection: {reply}")
        except BaseException as exc:  # refused, lost, or out of time (cancelled)
            conn._fail(exc)
            raise
        return conn


def _checked_mget(count: int, done: Done) -> Done:
    """``done``, told an error instead of a reply that is not ``count`` values."""

    def check(reply: Any) -> None:
        if isinstance(reply, BaseException) or (isinstance(reply, list) and len(reply) == count):
            done(reply)
        else:
            done(ConnectionError(f"unexpected reply to MGET: {reply!r:.80}"))

    return check


def _timed_out(waiting: _Waiting) -> None:
    waiting.timer = None
    waiting.answer(TimeoutError("Redis did not answer in time"))
