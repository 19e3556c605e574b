"""The Handle binary face: Handle.Net's native protocol on UDP and TCP (port 2641 by default),
answering from the same pipeline as every other face (:mod:`resolver.faces.native_responder`
holds the logic; this module only moves bytes).

A repeated resolution is answered from stored bytes (:mod:`resolver.hdl_hot`) before
anything else is done. UDP: a datagram is a message or one packet of a longer one (reassembled by
:class:`UdpReassembler`, bounded in count, bytes and time); answers longer than one packet
go as 492-byte packets, as Handle.Net's clients expect. At most ``max_pending`` requests are
worked on at once; beyond that UDP requests are dropped (the client retries).

TCP: the envelope says how long each message is. Handle.Net answers one request per
connection and closes it; a request with KPAL keeps the connection open for the next one,
as does a challenge (its answer may come on the same connection). Messages on one connection
are answered in order; an idle connection closes after ``tcp_idle_timeout_s``. Bytes that do
not frame as a message end the connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from resolver.errors import ProtocolError, RateLimited
from resolver.faces.native_responder import Responder
from resolver.faces.sockets import (
    FaceTasks,
    HotUdpProtocol,
    IdleClosingProtocol,
    Listeners,
)
from resolver.hdl_codec import UdpReassembler, decode_envelope, split_udp
from resolver.hdl_types import ENVELOPE_SIZE, HEADER_SIZE, OpFlag
from resolver.ratelimit import HeldPerHost, RateLimiter

log = logging.getLogger("tierid.handle")

_KC = int(OpFlag.KC)
_TCP_QUEUE = 16
_CHALLENGE = (402).to_bytes(4, "big")


@dataclass(frozen=True, slots=True)
class NativeSettings:
    """Config section ``[handle]``."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 2641
    site_address: str = ""
    max_pending: int = 2000
    tcp_per_client: int = 64
    tcp_idle_timeout_s: int = 60
    challenge_timeout_s: int = 60
    hot_answers: int = 100_000


class _UdpProtocol(HotUdpProtocol):
    def __init__(self, face: NativeFace) -> None:
        super().__init__(face.responder.hot.answer, face.limiter, log)
        self.face = face
        self.reassembler = UdpReassembler()

    def full(self, data: bytes, addr: tuple) -> None:
        try:
            whole = self.reassembler.add(data, addr, time.monotonic())
        except ProtocolError as err:
            self.face.responder.stats.malformed += 1
            self._send(self.face.responder.refuse(data, err), addr)
            return
        if whole is not None:
            self.face.tasks.spawn(self._full(whole, addr))

    async def _full(self, raw: bytes, addr: tuple) -> None:
        self._send(await self.face.responder.respond(raw, tcp=False), addr)

    def _send(self, messages: list[bytes], addr: tuple) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        for message in messages:
            try:
                packets = split_udp(message)
            except ProtocolError as err:  # a reply we could not frame: never out of the loop
                log.warning("cannot send a Handle answer over UDP: %s", err)
                continue
            for packet in packets:
                self.transport.sendto(packet, addr)


class _TcpProtocol(IdleClosingProtocol):
    """One connection: frames messages by their envelope, answers them in order."""

    def __init__(self, face: NativeFace) -> None:
        super().__init__(face.settings.tcp_idle_timeout_s, face.tcp_clients)
        self.face = face
        self.buffer = bytearray()
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.worker = asyncio.get_running_loop().create_task(self._work())

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.worker is not None:
            self.worker.cancel()

    def backlog_full(self) -> bool:
        return self.queue.qsize() >= _TCP_QUEUE

    def data_received(self, data: bytes) -> None:
        if not self.buffer:  # a message starts: it has the idle timeout to arrive whole
            self.touch()
        self.buffer += data
        while len(self.buffer) >= ENVELOPE_SIZE:
            try:
                _, length = decode_envelope(bytes(self.buffer[:ENVELOPE_SIZE]))
            except ProtocolError as err:  # no way to find the next message: answer, hang up
                self.face.responder.stats.malformed += 1
                self._write(self.face.responder.refuse(bytes(self.buffer), err))
                self.close()
                return
            end = ENVELOPE_SIZE + length
            if len(self.buffer) < end:
                break
            self.queue.put_nowait(bytes(self.buffer[:end]))
            del self.buffer[:end]
            self.touch()
        self.pause_reading_if_full()

    async def _work(self) -> None:
        while True:
            raw = await self.queue.get()
            self.resume_reading()
            try:
                out = await self._answer(raw)
            except Exception:
                log.exception("Handle request over TCP failed")
                self.close()
                return
            self._write(out)
            await self.writable()
            keep = len(raw) >= ENVELOPE_SIZE + HEADER_SIZE and raw[28] & (_KC >> 24)
            challenged = bool(out) and out[-1][24:28] == _CHALLENGE
            if not (keep or challenged or self.queue.qsize()):
                self.close()
                return

    async def _answer(self, raw: bytes) -> list[bytes]:
        limiter, responder = self.face.limiter, self.face.responder
        if limiter is not None and self.transport is not None:
            wait = limiter.wait(self.transport.get_extra_info("peername")[0])
            if wait:
                return responder.refuse(raw, RateLimited(wait))
        hot = responder.hot.answer(raw, udp=False)
        return [hot] if hot is not None else await responder.respond(raw, tcp=True)

    def _write(self, messages: list[bytes]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(messages))


class NativeFace:
    """The UDP and TCP listeners; open and close them with the app."""

    def __init__(
        self,
        responder: Responder,
        settings: NativeSettings,
        *,
        reuse_port: bool = False,
        limiter: RateLimiter | None = None,
    ) -> None:
        """``limiter`` holds back clients over their rate: UDP requests are dropped, TCP
        ones answered RC 3."""
        self.responder = responder
        self.limiter = limiter
        self.settings = settings
        self.tasks = FaceTasks(settings.max_pending, log, "Handle request")
        self.tcp_clients = HeldPerHost(settings.tcp_per_client)
        self.listeners = Listeners(
            settings.host,
            settings.port,
            lambda: _UdpProtocol(self),
            lambda: _TcpProtocol(self),
            reuse_port=reuse_port,
        )

    def counters(self) -> dict[str, int]:
        stats = self.responder.stats
        hot = self.responder.hot.hits
        return {
            "requests": stats.requests + hot,
            "hot_answers": hot,
            "malformed": stats.malformed,
            "challenges": stats.challenges,
            "authenticated": stats.authenticated,
            "errors": stats.errors + self.tasks.errors,
            "dropped": self.tasks.dropped,
            "tcp_refused": self.tcp_clients.refused,
        }

    async def open(self) -> None:
        await self.listeners.open()

    async def close(self) -> None:
        await self.listeners.close()
        await self.tasks.cancel()
