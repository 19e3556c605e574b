"""A Handle binary protocol client: what the resolver walks with and the CLI talks through.

Queries go over UDP first (one datagram socket per address family, answers matched by
server and request id, multi-packet answers reassembled) and over TCP when UDP gets no
answer in ``udp_timeout``; writes, listings and anything authenticated go over TCP. TCP
connections ask for keep-alive (KPAL) and are reused; one the server closed (Handle.Net
closes after each answer) is replaced once before the request fails.

A server's RC 402 challenge is answered with the client's credentials (an HS_SECKEY secret
or an HS_PUBKEY private key), after checking that the digest the server sent is that of
the request we sent. Answers become :class:`Answer` objects or the :class:`TieridError`
their response code names, as the HTTP client does.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from resolver import challenge
from resolver.codes import ResponseCode as RC
from resolver.errors import AuthenticationNeeded, ProtocolError, error_for
from resolver.hdl_codec import (
    UdpReassembler,
    decode_envelope,
    decode_message,
    encode_message,
    split_udp,
)
from resolver.hdl_types import (
    ENVELOPE_SIZE,
    Challenge,
    ChallengeAnswer,
    CreatedHandle,
    Envelope,
    ErrorBody,
    HandleList,
    HandleRequest,
    Header,
    Message,
    OpFlag,
    Referral,
    RemoveValuesRequest,
    ResolutionRequest,
    ResolutionResponse,
    SiteInfoResponse,
    ValuesRequest,
)
from resolver.hdl_types import OpCode as OC
from resolver.message import Answer, Identity, Query
from resolver.typed_data import SiteInfo
from resolver.values import HandleValue

Address = tuple[str, int]
_CN = int(OpFlag.CN)
_ANSWERS = (RC.SUCCESS, RC.VALUES_NOT_FOUND, RC.PREFIX_REFERRAL, RC.SERVICE_REFERRAL)
#: how long after its request a response is still welcome (the header's expiration)
_EXPIRY = 12 * 3600


class Credentials(Protocol):
    """Proves an identity in answer to a challenge."""

    identity: Identity

    def answer(self, nonce: bytes, digest: bytes) -> ChallengeAnswer: ...


@dataclass(frozen=True, slots=True)
class SecretKey:
    """An HS_SECKEY identity: the secret signs challenges (PBKDF2-HMAC-SHA1, as Handle.Net 9)."""

    identity: Identity
    secret: bytes

    def answer(self, nonce: bytes, digest: bytes) -> ChallengeAnswer:
        signed = challenge.seckey_response(self.secret, nonce, digest)
        return ChallengeAnswer("HS_SECKEY", self.identity.handle, self.identity.index, signed)


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """An HS_PUBKEY identity: its private key signs challenges."""

    identity: Identity
    key: Any

    def answer(self, nonce: bytes, digest: bytes) -> ChallengeAnswer:
        signed = challenge.pubkey_response(self.key, nonce, digest)
        return ChallengeAnswer("HS_PUBKEY", self.identity.handle, self.identity.index, signed)


def parse_endpoint(endpoint: str) -> tuple[Address, bool]:
    """``hdl://host:port`` (UDP and TCP) or ``hdl+tcp://host:port`` (TCP only) to the
    address and whether UDP may be tried.

    :raises ProtocolError: for anything else.
    """
    scheme, sep, rest = endpoint.partition("://")
    if not sep or scheme not in ("hdl", "hdl+tcp"):
        raise ProtocolError(f"{endpoint!r} is not an hdl:// endpoint")
    host, colon, port = rest.rstrip("/").rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ProtocolError(f"{endpoint!r} needs a host and a port")
    return (host.strip("[]"), int(port)), scheme == "hdl"


def answer_of(responses: Sequence[Message], asked: str) -> Answer:
    """The answer a resolution's response carries.

    :raises TieridError: the error its response code names.
    """
    message = responses[-1]
    rc, body = message.header.rc, message.body
    if rc not in _ANSWERS:
        text = body.message if isinstance(body, ErrorBody) else ""
        raise error_for(rc, text, asked)
    if isinstance(body, ResolutionResponse):
        return Answer(asked, list(body.values))
    if isinstance(body, Referral):
        return Answer(asked, list(body.values), RC(rc), body.handle or None)
    if rc == RC.VALUES_NOT_FOUND:
        return Answer(asked, [], RC.VALUES_NOT_FOUND)
    raise ProtocolError(f"response code {rc} with an unexpected body")


def _checked(responses: list[Message], asked: str | None) -> list[Message]:
    """The responses of a successful operation; an error response raises."""
    last = responses[-1]
    if last.header.rc != RC.SUCCESS:
        body = last.body
        raise error_for(last.header.rc, body.message if isinstance(body, ErrorBody) else "", asked)
    return responses


class _UdpSide(asyncio.DatagramProtocol):
    """One datagram socket; answers routed to the waiting request by (server, request id)."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.waiting: dict[tuple[Address, int], asyncio.Future[bytes]] = {}
        # one server may answer all 64 at once: its host is the only one
        self.reassembler = UdpReassembler(max_pending=64, max_per_host=64)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        server = (addr[0], addr[1])
        try:
            envelope, _ = decode_envelope(data)
            whole = self.reassembler.add(data, server, time.monotonic())
        except ProtocolError:
            return  # not for us, or broken: the request times out and goes over TCP
        future = self.waiting.get((server, envelope.request_id))
        if whole is not None and future is not None and not future.done():
            future.set_result(whole)

    def error_received(self, exc: Exception) -> None:
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(exc)


class HandleClient:
    """``async with HandleClient() as c: await c.resolve(("127.0.0.1", 2641), query)``."""

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        udp_timeout: float = 0.5,
        credentials: Credentials | None = None,
        max_idle_connections: int = 8,
    ) -> None:
        self.timeout = timeout
        self.udp_timeout = min(udp_timeout, timeout)
        self.credentials = credentials
        self.max_idle = max_idle_connections
        self._ids = itertools.count(secrets.randbelow(1 << 30) + 1)
        self._udp: dict[int, _UdpSide] = {}
        self._idle: dict[Address, list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}

    async def __aenter__(self) -> HandleClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for side in self._udp.values():
            if side.transport is not None:
                side.transport.close()
        self._udp.clear()
        for connections in self._idle.values():
            for _, writer in connections:
                writer.close()
        self._idle.clear()

    # --- operations ----------------------------------------------------------------------

    async def resolve(self, address: Address, query: Query, *, udp: bool = True) -> Answer:
        """Resolve at one server (public values unless the query names an identity).

        :raises TimeoutError, OSError: the server did not answer.
        :raises TieridError: its error (not found, not responsible, ...).
        """
        flags = OpFlag.PO if query.public_only else 0
        if query.authoritative:
            flags |= OpFlag.AT
        body = ResolutionRequest(query.handle, query.indexes, query.types)
        request = self._request(OC.RESOLUTION, body, int(flags))
        return answer_of(await self.send(address, request, udp=udp), query.handle)

    async def site_info(self, address: Address) -> SiteInfo:
        responses = _checked(
            await self.send(address, self._request(OC.GET_SITE_INFO, HandleRequest("/"))), None
        )
        body = responses[-1].body
        if not isinstance(body, SiteInfoResponse):
            raise ProtocolError("site info answered without a site")
        return body.site

    async def create(
        self,
        address: Address,
        handle: str,
        values: Sequence[HandleValue],
        *,
        overwrite: bool = False,
        mint: bool = False,
    ) -> tuple[str, bool]:
        """Create (or with ``overwrite`` replace) a record; :returns: its handle (minted
        when ``mint``) and whether it was new."""
        flags = (OpFlag.OVRW if overwrite else 0) | (OpFlag.MINT if mint else 0)
        body = ValuesRequest(handle, tuple(values))
        last = (await self._admin(address, OC.CREATE_HANDLE, body, int(flags)))[-1]
        created = last.body.handle if isinstance(last.body, CreatedHandle) else handle
        return created, not last.header.flags & OpFlag.OVRW

    async def add_values(
        self,
        address: Address,
        handle: str,
        values: Sequence[HandleValue],
        *,
        overwrite: bool = False,
    ) -> None:
        flags = int(OpFlag.OVRW) if overwrite else 0
        await self._admin(address, OC.ADD_VALUE, ValuesRequest(handle, tuple(values)), flags)

    async def modify_values(
        self, address: Address, handle: str, values: Sequence[HandleValue]
    ) -> None:
        await self._admin(address, OC.MODIFY_VALUE, ValuesRequest(handle, tuple(values)))

    async def remove_values(self, address: Address, handle: str, indexes: Sequence[int]) -> None:
        await self._admin(address, OC.REMOVE_VALUE, RemoveValuesRequest(handle, tuple(indexes)))

    async def delete(self, address: Address, handle: str) -> None:
        await self._admin(address, OC.DELETE_HANDLE, HandleRequest(handle))

    async def list_handles(self, address: Address, prefix: str) -> list[str]:
        na = prefix if prefix.upper().startswith("0.NA/") else f"0.NA/{prefix}"
        responses = await self._admin(address, OC.LIST_HANDLES, HandleRequest(na))
        return [h for m in responses if isinstance(m.body, HandleList) for h in m.body.handles]

    async def home(self, address: Address, prefix: str, *, unhome: bool = False) -> None:
        opcode = OC.UNHOME_NA if unhome else OC.HOME_NA
        await self._admin(address, opcode, HandleRequest(f"0.NA/{prefix}"))

    async def _admin(
        self, address: Address, opcode: int, body: Any, flags: int = 0
    ) -> list[Message]:
        """An administrative request over TCP; :raises TieridError: the server's error."""
        responses = await self.send(address, self._request(opcode, body, flags), udp=False)
        return _checked(responses, getattr(body, "handle", None))

    # --- messages ------------------------------------------------------------------------

    def _request(self, opcode: int, body: Any, flags: int = 0) -> Message:
        envelope = Envelope(request_id=next(self._ids) & 0x7FFFFFFF)
        expires = (int(time.time()) + _EXPIRY) & 0xFFFFFFFF
        return Message(envelope, Header(opcode, 0, flags, 0xFFFF, 0, expires), body)

    async def send(self, address: Address, request: Message, *, udp: bool = True) -> list[Message]:
        """Send a request and return its response messages (several when the server
        streams), answering a challenge on the way.

        :raises TimeoutError, OSError: no answer over either transport.
        :raises ProtocolError: an answer that does not decode, or a challenge whose digest
            is not that of our request.
        :raises AuthenticationNeeded: challenged without credentials.
        """
        raw = encode_message(request)
        async with asyncio.timeout(self.timeout):
            if udp:
                try:
                    async with asyncio.timeout(self.udp_timeout):
                        responses = [
                            decode_message(await self._udp_exchange(address, raw, request))
                        ]
                except (TimeoutError, OSError):
                    responses = await self._tcp_exchange(address, raw)
                else:
                    if _challenged(responses):  # answered over TCP: keep the session in one place
                        responses = await self._tcp_exchange(address, raw)
            else:
                responses = await self._tcp_exchange(address, raw)
        return responses

    async def _udp_exchange(self, address: Address, raw: bytes, request: Message) -> bytes:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        side = self._udp.get(family)
        if side is None or side.transport is None or side.transport.is_closing():
            loop = asyncio.get_running_loop()
            _, side = await loop.create_datagram_endpoint(_UdpSide, family=family)
            self._udp[family] = side
        key = (address, request.envelope.request_id)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        side.waiting[key] = future
        try:
            assert side.transport is not None
            for packet in split_udp(raw, mark_truncated=True):
                side.transport.sendto(packet, address)
            return await future
        finally:
            side.waiting.pop(key, None)

    async def _tcp_exchange(self, address: Address, raw: bytes) -> list[Message]:
        """One request over TCP, on a kept connection if there is one (replaced once if the
        server had closed it), with its challenge answered on the same connection."""
        raw = _with_keepalive(raw)
        pool = self._idle.setdefault(address, [])
        while pool:
            reader, writer = pool.pop()
            try:
                return await self._converse(address, reader, writer, raw)
            except ConnectionError:
                writer.close()
        reader, writer = await asyncio.open_connection(*address)
        return await self._converse(address, reader, writer, raw)

    async def _converse(
        self,
        address: Address,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        raw: bytes,
    ) -> list[Message]:
        try:
            writer.write(raw)
            responses = await _read_responses(reader)
            if _challenged(responses):
                responses = await self._answer_challenge(reader, writer, raw, responses[-1])
        except BaseException:
            writer.close()
            raise
        pool = self._idle.setdefault(address, [])
        if len(pool) < self.max_idle and not reader.at_eof():
            pool.append((reader, writer))
        else:
            writer.close()
        return responses

    async def _answer_challenge(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        raw: bytes,
        challenged: Message,
    ) -> list[Message]:
        if self.credentials is None:
            raise AuthenticationNeeded("the server asks for authentication and no key was given")
        body, digest = challenged.body, challenged.digest
        if not isinstance(body, Challenge) or digest is None or not digest.matches(raw):
            raise ProtocolError("the server's challenge does not carry our request's digest")
        answer = self.credentials.answer(body.nonce, digest.digest)
        request = decode_message(raw)
        envelope = replace(request.envelope, session_id=challenged.envelope.session_id)
        header = replace(request.header, opcode=OC.RESPONSE_TO_CHALLENGE)
        writer.write(encode_message(Message(envelope, header, answer)))
        return await _read_responses(reader)


def _challenged(responses: list[Message]) -> bool:
    return responses[-1].header.rc == RC.AUTHENTICATION_NEEDED


def _with_keepalive(raw: bytes) -> bytes:
    """The request with KPAL set (byte 28 is the top byte of the op flags)."""
    out = bytearray(raw)
    out[ENVELOPE_SIZE + 8] |= int(OpFlag.KC) >> 24
    return bytes(out)


async def _read_responses(reader: asyncio.StreamReader) -> list[Message]:
    """Messages up to the first without CONT."""
    out = []
    while True:
        try:
            head = await reader.readexactly(ENVELOPE_SIZE)
            _, length = decode_envelope(head)
            message = decode_message(head + await reader.readexactly(length))
        except asyncio.IncompleteReadError as exc:
            raise ConnectionResetError("the server closed the connection mid-answer") from exc
        out.append(message)
        if not message.header.flags & _CN:
            return out
