"""The Handle binary face's logic: a request message's bytes in, the response messages' bytes
out, answered from the same pipeline as every other face. No I/O of its own: resolution,
writes and identity checks are the callables it is given.

What a request gets (``handle.md`` 1.2-1.9, the deployed behaviour where it differs from
RFC 3652):
- the answer, or an error message with the response code of the :class:`TieridError`
  raised (the one table in :mod:`resolver.errors`); anything else is RC 2 and logged;
- RC 303 with the child's site values where a prefix is delegated;
- RC 402 with a nonce when an operation needs an identity: the client signs it and answers
  with OC 200 on the session id the challenge gave; the original operation then runs with
  the proven identity and is answered with the original request id. A challenge can be
  answered once, within ``challenge_timeout_s``;
- a digest of the request when it set RRDG (and always with a challenge);
- list answers 50 handles a message, CONT set on all but the last;
- RC 4 with the request's ids for a message whose envelope reads but whose rest does not;
  nothing at all for bytes that are not even an envelope.

Over UDP only queries are taken (resolution, site info, challenge answers), as Handle.Net's
UDP interface is query-only; writes and listings need TCP.
"""

from __future__ import annotations

import logging
import secrets
import struct
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from resolver.codes import ResponseCode as RC
from resolver.errors import (
    AuthenticationNeeded,
    AuthenticationTimeout,
    OperationNotSupported,
    ProtocolError,
    TieridError,
    ValuesNotFound,
)
from resolver.handle import normalise
from resolver.hdl_codec import decode_message, encode_message
from resolver.hdl_hot import HotAnswers, reply_version
from resolver.hdl_types import (
    DIGEST_SIZES,
    ENVELOPE_SIZE,
    Body,
    Challenge,
    ChallengeAnswer,
    Envelope,
    ErrorBody,
    Header,
    Message,
    OpFlag,
    Referral,
    RequestDigest,
    ResolutionRequest,
    ResolutionResponse,
    SiteInfoResponse,
    digest_request,
    digest_type_for,
)
from resolver.hdl_types import OpCode as OC
from resolver.message import Answer, Identity, Query
from resolver.typed_data import SiteInfo

log = logging.getLogger("tierid.handle")

Resolve = Callable[[Query], Awaitable[Answer]]
#: Checks an OC 200 answer to a challenge: ``(answer, nonce, request digest) -> identity``.
#: Raises AuthenticationFailed (or another TieridError) when the proof does not hold.
Verify = Callable[[ChallengeAnswer, bytes, bytes], Awaitable[Identity]]

#: Opcodes taken over UDP: Handle.Net's UDP interface answers queries only.
UDP_OPCODES = frozenset({OC.RESOLUTION, OC.GET_SITE_INFO, OC.RESPONSE_TO_CHALLENGE})
#: Handles per list message (Handle.Net sends 50, CONT set on all but the last).
LIST_CHUNK = 50
_IDS = struct.Struct(">II")
_SUCCESS = int(RC.SUCCESS).to_bytes(4, "big")
_AT, _PO, _RD, _KC, _CN = (int(f) for f in (OpFlag.AT, OpFlag.PO, OpFlag.RD, OpFlag.KC, OpFlag.CN))


@dataclass(frozen=True, slots=True)
class Reply:
    """What an operation answers: one body per response message (several with CONT; None
    for an empty body), the response code, and op flags to set (OVRW when it overwrote)."""

    bodies: tuple[Body | None, ...] = (None,)
    rc: int = RC.SUCCESS
    flags: int = 0
    #: seconds the answer stays fresh in the cache that gave it (None: not from a cache)
    cache_ttl: float | None = None


#: An operation: the decoded request and the identity proven for it (None: none yet).
#: Raising AuthenticationNeeded without an identity makes the face challenge the client.
Operation = Callable[[Message, Identity | None], Awaitable[Reply]]


@dataclass
class NativeStats:
    requests: int = 0
    malformed: int = 0
    challenges: int = 0
    authenticated: int = 0
    errors: int = 0


@dataclass(frozen=True, slots=True)
class _Pending:
    raw: bytes  # the request, decoded again once answered (kept once, not twice)
    nonce: bytes
    digest: RequestDigest
    expires: float


class Challenges:
    """Challenges sent and not yet answered, by session id: bounded in number and in the
    bytes of the requests they hold (the oldest is dropped first), and in time. The clock is
    passed in. Without the byte bound, unauthenticated writes of 200 KB each grew a node by
    340 KB per challenge."""

    def __init__(self, timeout: float, limit: int = 10_000, max_bytes: int = 64 << 20) -> None:
        self.timeout = timeout
        self.limit = limit
        self.max_bytes = max_bytes
        self._pending: OrderedDict[int, _Pending] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._pending)

    def open(self, raw: bytes, digest: RequestDigest, now: float) -> tuple[int, _Pending]:
        """Remember a challenge to the request ``raw``; :returns: its fresh session id, and it."""
        while self._pending and (
            len(self._pending) >= self.limit
            or self._bytes + len(raw) > self.max_bytes
            or self._expired(now)
        ):
            self._bytes -= len(self._pending.popitem(last=False)[1].raw)
        session = secrets.randbelow(0x7FFFFFFF) + 1
        while session in self._pending:
            session = secrets.randbelow(0x7FFFFFFF) + 1
        pending = _Pending(raw, secrets.token_bytes(16), digest, now + self.timeout)
        self._pending[session] = pending
        self._bytes += len(raw)
        return session, pending

    def _expired(self, now: float) -> bool:
        return next(iter(self._pending.values())).expires <= now

    def take(self, session: int, now: float) -> _Pending:
        """The challenge a session id answers, forgotten from then on (no replay).

        :raises AuthenticationTimeout: none pending (expired, answered, or never sent).
        """
        pending = self._pending.pop(session, None)
        if pending is not None:
            self._bytes -= len(pending.raw)
        if pending is None or pending.expires <= now:
            raise AuthenticationTimeout(f"no challenge is pending for session {session}")
        return pending


class Responder:
    """Turns request bytes into response bytes for one node."""

    def __init__(
        self,
        resolve: Resolve,
        *,
        site: SiteInfo | None = None,
        operations: dict[int, Operation] | None = None,
        verify: Verify | None = None,
        challenge_timeout: float = 60.0,
        hot_answers: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``operations`` adds opcodes (the registry's writes); ``verify`` checks challenge
        answers (without it, operations that need an identity fail with RC 402);
        ``hot_answers`` bounds the stored answers of the hot path (``self.hot``)."""
        self.resolve = resolve
        self.site = site
        self.verify = verify
        self.clock = clock
        self.stats = NativeStats()
        self.challenges = Challenges(challenge_timeout)
        self.hot = HotAnswers(hot_answers, site.serial if site is not None else 0xFFFF)
        self.operations: dict[int, Operation] = {
            OC.RESOLUTION: self._resolution,
            OC.GET_SITE_INFO: self._site_info,
            **(operations or {}),
        }

    async def respond(self, raw: bytes, *, tcp: bool) -> list[bytes]:
        """The encoded response messages to one whole request message (none: drop it)."""
        self.stats.requests += 1
        try:
            request = decode_message(raw)
        except ProtocolError as err:
            self.stats.malformed += 1
            return self.refuse(raw, err)
        if request.header.rc != 0:
            self.stats.malformed += 1  # a response sent to a server: nothing to answer
            return []
        if request.header.opcode == OC.RESPONSE_TO_CHALLENGE:
            try:
                return await self._answered(request, tcp)
            except TieridError as err:
                return [self._error(request, raw, request, err)]
        return await self._run(request, raw, None, tcp, request)

    # --- running operations --------------------------------------------------------------

    async def _run(
        self,
        request: Message,
        raw: bytes,
        identity: Identity | None,
        tcp: bool,
        carrier: Message,
    ) -> list[bytes]:
        """Run ``request``'s operation; ``carrier`` is the message being answered (the
        request itself, or the OC 200 that proved ``identity`` for it)."""
        opcode = request.header.opcode
        try:
            operation = self.operations.get(opcode)
            if operation is None:
                raise OperationNotSupported(f"opcode {opcode} is not supported by this server")
            if not tcp and opcode not in UDP_OPCODES:
                raise OperationNotSupported(f"opcode {opcode} is taken over TCP only")
            reply = await operation(request, identity)
        except AuthenticationNeeded as err:
            if identity is None and self.verify is not None:
                return [self._challenge(request, raw)]
            return [self._error(request, raw, carrier, err)]
        except TieridError as err:
            return [self._error(request, raw, carrier, err)]
        except Exception:
            self.stats.errors += 1
            log.exception("Handle request (opcode %s) failed", opcode)
            return [self._error(request, raw, carrier, TieridError("Internal error"))]
        out = self._replies(request, raw, carrier, reply)
        if reply.cache_ttl is not None and carrier is request and len(out) == 1:
            self._keep(raw, out[0], request, reply.cache_ttl)
        return out

    def _keep(self, raw: bytes, out: bytes, request: Message, ttl: float) -> None:
        """Store a cached answer's body for the hot path (which answers only requests whose
        reply it can write to the byte: see :mod:`resolver.hdl_hot`)."""
        if out[24:28] != _SUCCESS or reply_version(raw) is None:
            return
        start, end = 44, 44 + int.from_bytes(out[40:44], "big")
        if request.header.flags & _RD:
            start += 1 + DIGEST_SIZES[out[44]]
        assert isinstance(request.body, ResolutionRequest)
        self.hot.store(raw, out[start:end], normalise(request.body.handle), ttl)

    def _challenge(self, request: Message, raw: bytes) -> bytes:
        self.stats.challenges += 1
        envelope = request.envelope.reply()
        digest = digest_request(raw, digest_type_for(envelope.version))
        session, pending = self.challenges.open(raw, digest, self.clock())
        header = self._header(request, RC.AUTHENTICATION_NEEDED, _RD)
        reply = Message(
            _with_ids(envelope, session, request.envelope.request_id),
            header,
            Challenge(pending.nonce),
            digest,
        )
        return encode_message(reply)

    async def _answered(self, answer: Message, tcp: bool) -> list[bytes]:
        """OC 200: check the proof, then run the request it was asked for."""
        body = answer.body
        if not isinstance(body, ChallengeAnswer):
            raise ProtocolError("a challenge answer needs a challenge answer body")
        pending = self.challenges.take(answer.envelope.session_id, self.clock())
        if self.verify is None:
            raise OperationNotSupported("this server authenticates nobody")
        identity = await self.verify(body, pending.nonce, pending.digest.digest)
        self.stats.authenticated += 1
        return await self._run(decode_message(pending.raw), pending.raw, identity, tcp, answer)

    # --- built-in operations -------------------------------------------------------------

    async def _resolution(self, request: Message, identity: Identity | None) -> Reply:
        body = request.body
        if not isinstance(body, ResolutionRequest):
            raise ProtocolError("a resolution request needs a resolution body")
        flags = request.header.flags
        query = Query(
            body.handle,
            body.types,
            body.indexes,
            authoritative=bool(flags & _AT),
            public_only=bool(flags & _PO),
            identity=identity,
        )
        answer = await self.resolve(query)
        if answer.rc == RC.PREFIX_REFERRAL or answer.rc == RC.SERVICE_REFERRAL:
            return Reply((Referral(answer.referral or "", tuple(answer.values)),), answer.rc)
        if answer.rc == RC.VALUES_NOT_FOUND:
            raise ValuesNotFound(handle=body.handle)
        response = ResolutionResponse(body.handle, tuple(answer.values))
        return Reply((response,), cache_ttl=answer.cache_ttl)

    async def _site_info(self, request: Message, identity: Identity | None) -> Reply:
        if self.site is None:
            raise OperationNotSupported("this server does not describe its site")
        return Reply((SiteInfoResponse(self.site),))

    # --- building responses --------------------------------------------------------------

    def _header(self, request: Message, rc: int, flags: int) -> Header:
        head = request.header
        serial = self.site.serial if self.site is not None else 0xFFFF
        return Header(
            head.opcode, rc, (head.flags & _KC) | flags, serial, head.recursion, head.expiration
        )

    def _message(
        self,
        request: Message,
        raw: bytes,
        rc: int,
        body: Body | None,
        flags: int = 0,
        carrier: Message | None = None,
    ) -> Message:
        """A response to ``request`` sent on ``carrier``'s session (the request's own by
        default), with a digest of the request when it asked for one."""
        envelope = (carrier or request).envelope.reply()
        envelope = _with_ids(envelope, envelope.session_id, request.envelope.request_id)
        rc, body = _for_version(rc, body, envelope.version)
        digest = None
        if request.header.flags & _RD:
            flags |= _RD
            digest = digest_request(raw, digest_type_for(envelope.version))
        return Message(envelope, self._header(request, rc, flags), body, digest)

    def _replies(self, request: Message, raw: bytes, carrier: Message, reply: Reply) -> list[bytes]:
        out = []
        last = len(reply.bodies) - 1
        for i, body in enumerate(reply.bodies):
            flags = reply.flags | (_CN if i < last else 0)
            message = self._message(request, raw, reply.rc, body, flags, carrier)
            try:
                out.append(encode_message(message))
            except ProtocolError as err:  # e.g. an answer beyond the message size limit
                log.warning("cannot encode the answer to opcode %s: %s", request.header.opcode, err)
                return [self._error(request, raw, carrier, TieridError(err.message))]
        return out

    def _error(self, request: Message, raw: bytes, carrier: Message, err: TieridError) -> bytes:
        body = ErrorBody(err.message)
        return encode_message(self._message(request, raw, err.rc, body, 0, carrier))

    def refuse(self, raw: bytes, err: TieridError) -> list[bytes]:
        """An error answer read off the envelope and header alone (RC 4 for a message that
        does not decode, RC 3 for a client over its rate limit), with the request's ids and
        opcode, for bytes that start like a message (major version 2, or the 5 of very old
        clients); nothing for anything else."""
        if len(raw) < ENVELOPE_SIZE or raw[0] not in (2, 5):
            return []
        envelope = Envelope(raw[0], raw[1], raw[2] & 0x03, raw[3])
        opcode = int.from_bytes(raw[ENVELOPE_SIZE : ENVELOPE_SIZE + 4], "big")
        reply = Message(
            _with_ids(envelope.reply(), *_IDS.unpack_from(raw, 4)),
            Header(opcode if len(raw) >= ENVELOPE_SIZE + 4 else 0, err.rc),
            ErrorBody(err.message),
        )
        return [encode_message(reply)]


def _with_ids(envelope: Envelope, session: int, request: int) -> Envelope:
    return replace(envelope, session_id=session, request_id=request)


def _for_version(rc: int, body: Body | None, version: tuple[int, int]) -> tuple[int, Body | None]:
    """Codes older clients know instead of newer ones (Handle.Net: before 2.5, a prefix
    referral is "server backup" and an invalid value "value already exists")."""
    if version >= (2, 5):
        return rc, body
    if rc == RC.PREFIX_REFERRAL:
        return RC.SERVER_BACKUP, ErrorBody("prefix referred elsewhere")
    if rc == RC.INVALID_VALUE:
        return RC.VALUE_ALREADY_EXISTS, body
    return rc, body
