"""The cold parts of the Handle message codec, shared by both twins: request digests,
credentials, and every body except the resolution request and response (which the twins
code themselves, being what a UDP resolution costs).

Which body a message has depends on its opcode, its response code and, for RC 303, its
version. The value list codec is passed in, so that values inside a referral or a create
request are coded by the same twin as the rest of the message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from resolver import wirebase as wb
from resolver.codes import ResponseCode as RC
from resolver.errors import ProtocolError
from resolver.hdl_types import (
    DIGEST_SIZES,
    Body,
    Challenge,
    ChallengeAnswer,
    CreatedHandle,
    Credential,
    ErrorBody,
    HandleList,
    HandleRequest,
    HashType,
    RawBody,
    Referral,
    RemoveValuesRequest,
    RequestDigest,
    ResolutionRequest,
    ResolutionResponse,
    SiteInfoResponse,
    ValuesRequest,
)
from resolver.hdl_types import OpCode as OC
from resolver.typed_data import SiteInfo
from resolver.values import HandleValue

#: ``decode_values(buf, pos, end) -> (values, new pos)``, as each twin provides.
ValuesDecoder = Callable[[bytes, int, int], tuple[tuple[HandleValue, ...], int]]
#: ``encode_values(values) -> bytes`` (count and values), as each twin provides.
ValuesEncoder = Callable[[Sequence[HandleValue]], bytes]

#: A legacy (old-format) digest is an MD5; allow room but no more.
_MAX_LEGACY_DIGEST = 64
#: Digest sizes by hash type, with plain int keys (decoding looks them up per response).
_SIZES = {int(k): v for k, v in DIGEST_SIZES.items()}

_REQUESTS: dict[int, type] = {
    OC.RESOLUTION: ResolutionRequest,  # coded by the twins
    OC.GET_SITE_INFO: HandleRequest,
    OC.CREATE_HANDLE: ValuesRequest,
    OC.DELETE_HANDLE: HandleRequest,
    OC.ADD_VALUE: ValuesRequest,
    OC.REMOVE_VALUE: RemoveValuesRequest,
    OC.MODIFY_VALUE: ValuesRequest,
    OC.LIST_HANDLES: HandleRequest,
    OC.RESPONSE_TO_CHALLENGE: ChallengeAnswer,
    OC.HOME_NA: HandleRequest,
    OC.UNHOME_NA: HandleRequest,
    OC.LIST_HOMED_NAS: HandleRequest,
    OC.SESSION_TERMINATE: HandleRequest,
    OC.GET_NEXT_TXN_ID: HandleRequest,
    OC.BACKUP_SERVER: HandleRequest,
}

# None: the success response has an empty body.
_SUCCESSES: dict[int, type | None] = {
    OC.RESOLUTION: ResolutionResponse,  # coded by the twins
    OC.GET_SITE_INFO: SiteInfoResponse,
    OC.CREATE_HANDLE: CreatedHandle,  # or empty, without MINT
    OC.DELETE_HANDLE: None,
    OC.ADD_VALUE: None,
    OC.REMOVE_VALUE: None,
    OC.MODIFY_VALUE: None,
    OC.LIST_HANDLES: HandleList,
    OC.HOME_NA: None,
    OC.UNHOME_NA: None,
    OC.LIST_HOMED_NAS: HandleList,
    OC.SESSION_TERMINATE: None,
    OC.SESSION_EXCHANGEKEY: None,
    OC.BACKUP_SERVER: None,
}

#: Bodies that may also be empty (a create without MINT answers nothing).
_MAY_BE_EMPTY = frozenset({CreatedHandle})


def body_type(opcode: int, rc: int, version: tuple[int, int]) -> type | None:
    """The body class a message carries (None: an empty body). Before 2.5, RC 303 meant
    "server backup" and carried an error text."""
    if rc == RC.RESERVED:
        return _REQUESTS.get(opcode, RawBody)
    if rc == RC.SUCCESS:
        return _SUCCESSES.get(opcode, RawBody)
    if rc == RC.SERVICE_REFERRAL or (rc == RC.PREFIX_REFERRAL and version >= (2, 5)):
        return Referral
    if rc == RC.AUTHENTICATION_NEEDED:
        return Challenge
    return ErrorBody


# --- request digest prefix -----------------------------------------------------------------


def encode_digest(digest: RequestDigest) -> bytes:
    """The digest prefix of a response body; the old format has no hash byte.

    :raises ProtocolError: if the digest's length does not fit its hash type.
    """
    if digest.hash_type == HashType.MD5_OLD_FORMAT:
        if not 0 < len(digest.digest) <= _MAX_LEGACY_DIGEST:
            raise ProtocolError("an old-format digest needs 1 to 64 bytes")
        return wb.byte_array(digest.digest)
    if _SIZES.get(digest.hash_type) != len(digest.digest):
        raise ProtocolError(f"a digest of hash type {digest.hash_type} has the wrong length")
    return bytes((digest.hash_type,)) + digest.digest


def decode_digest(buf: bytes, pos: int, end: int) -> tuple[RequestDigest, int]:
    """Read a digest prefix at ``pos`` (on every response to a client that asks for one).

    :raises ProtocolError: for an unknown hash type or a truncated digest.
    """
    if pos >= end:
        raise ProtocolError(f"truncated data: need 1 bytes at offset {pos}")
    hash_type = buf[pos]
    size = _SIZES.get(hash_type)
    if size is not None:
        stop = pos + 1 + size
        if stop > end:
            raise ProtocolError(f"truncated data: need {size} bytes at offset {pos + 1}")
        return RequestDigest(hash_type, bytes(buf[pos + 1 : stop])), stop
    if hash_type != HashType.MD5_OLD_FORMAT:
        raise ProtocolError(f"unknown request digest hash type {hash_type}")
    r = wb.Reader(buf, pos, end)  # the 0x00 was the first byte of an int4 length
    digest = r.byte_array(_MAX_LEGACY_DIGEST)
    if not digest:
        raise ProtocolError("empty request digest")
    return RequestDigest(hash_type, digest), r.pos


# --- credential ----------------------------------------------------------------------------


def encode_credential(credential: Credential | None) -> bytes:
    """The credential section with its int4 length; CNRI always writes the length (0)."""
    if credential is None:
        return wb.u32(0)
    section = wb.utf8(credential.hash_algorithm) + wb.byte_array(credential.signature)
    body = b"".join(
        (
            bytes((credential.version, 0)),
            wb.u16(credential.flags),
            wb.utf8(credential.signer_handle),
            wb.u32(credential.session_counter),
            wb.utf8(credential.signature_type),
            wb.u32(len(section)),
            section,
        )
    )
    return wb.u32(len(body)) + body


def decode_credential(buf: bytes, pos: int, end: int) -> Credential | None:
    """The credential section from ``pos`` (just after the body) to ``end``. Old clients
    omit even its length, so nothing at all is no credential, as is a length of 0.

    :raises ProtocolError: if the section does not fill exactly what is left.
    """
    if pos == end:
        return None
    r = wb.Reader(buf, pos, end)
    length = r.u32()
    if length != r.remaining:
        raise ProtocolError(f"credential length {length} but {r.remaining} bytes follow")
    if length == 0:
        return None
    version = r.u8()
    r.u8()  # reserved
    flags = r.u16()
    signer = r.utf8()
    counter = r.u32()
    signature_type = r.utf8()
    section_length = r.u32()
    if section_length != r.remaining:
        raise ProtocolError(f"signature section length {section_length} but {r.remaining} left")
    hash_algorithm = r.utf8()
    signature = r.byte_array()
    r.expect_end()
    return Credential(signature_type, hash_algorithm, signature, counter, signer, version, flags)


# --- bodies --------------------------------------------------------------------------------


#: Reads a value list where the reader stands, with the twin's value codec.
ValuesReader = Callable[[], tuple[HandleValue, ...]]


def _error(r: wb.Reader, _: ValuesReader) -> ErrorBody:
    if not r.remaining:  # 2.0 servers and some others send no text at all
        return ErrorBody("")
    return ErrorBody(r.byte_array().decode("utf-8", "replace"))


def _with_values(
    kind: type[ValuesRequest] | type[Referral],
) -> Callable[[wb.Reader, ValuesReader], ValuesRequest | Referral]:
    def decode(r: wb.Reader, read_values: ValuesReader) -> ValuesRequest | Referral:
        handle = r.utf8()
        if kind is ValuesRequest or r.remaining:  # a referral may name only a handle
            return kind(handle, read_values())
        return kind(handle, ())

    return decode


def _ints(r: wb.Reader) -> tuple[int, ...]:
    return tuple(r.u32() for _ in range(r.count(r.remaining // 4)))


def _strings(r: wb.Reader) -> tuple[str, ...]:
    return tuple(r.utf8() for _ in range(r.count(r.remaining // 4)))


_DECODERS: dict[type, Callable[[wb.Reader, ValuesReader], Body]] = {
    RawBody: lambda r, _: RawBody(r.raw(r.remaining)),
    ErrorBody: _error,
    HandleRequest: lambda r, _: HandleRequest(r.utf8()),
    CreatedHandle: lambda r, _: CreatedHandle(r.utf8()),
    ValuesRequest: _with_values(ValuesRequest),
    Referral: _with_values(Referral),
    RemoveValuesRequest: lambda r, _: RemoveValuesRequest(r.utf8(), _ints(r)),
    ChallengeAnswer: lambda r, _: ChallengeAnswer(r.utf8(), r.utf8(), r.u32(), r.byte_array()),
    SiteInfoResponse: lambda r, _: SiteInfoResponse(SiteInfo.from_wire(r.raw(r.remaining))),
    HandleList: lambda r, _: HandleList(_strings(r)),
    Challenge: lambda r, _: Challenge(r.byte_array()),
}


def decode_body(
    opcode: int,
    rc: int,
    version: tuple[int, int],
    buf: bytes,
    pos: int,
    end: int,
    decode_values: ValuesDecoder,
) -> Body | None:
    """Decode the body in ``buf[pos:end]`` (after any digest prefix), consuming all of it;
    for any message but a resolution request or response, which the twins decode.

    :raises ProtocolError: for a short, long or malformed body.
    """
    kind = body_type(opcode, rc, version)
    if pos == end and (kind is None or kind in _MAY_BE_EMPTY):
        return None
    if kind is None:
        raise ProtocolError(f"opcode {opcode} answers with an empty body, got {end - pos} bytes")
    r = wb.Reader(buf, pos, end)

    def read_values() -> tuple[HandleValue, ...]:
        values, r.pos = decode_values(buf, r.pos, end)
        return values

    body = _DECODERS[kind](r, read_values)
    r.expect_end()
    return body


def encode_body(
    opcode: int,
    rc: int,
    version: tuple[int, int],
    body: Body | None,
    encode_values: ValuesEncoder,
) -> bytes:
    """Encode a body other than a resolution request or response (the twins encode those).

    :raises ProtocolError: if the body is not the one this opcode and code carry.
    """
    kind = body_type(opcode, rc, version)
    if body is None:
        if kind is None or kind in _MAY_BE_EMPTY:
            return b""
    elif type(body) is kind:
        return _ENCODERS[kind](body, encode_values)
    expected = "no body" if kind is None else kind.__name__
    raise ProtocolError(
        f"opcode {opcode} with response code {rc} carries {expected}, not {type(body).__name__}"
    )


def _int_list(numbers: Sequence[int]) -> bytes:
    return wb.u32(len(numbers)) + b"".join(wb.u32(n) for n in numbers)


def _challenge_answer(body: ChallengeAnswer) -> bytes:
    return b"".join(
        (
            wb.utf8(body.auth_type),
            wb.utf8(body.key_handle),
            wb.u32(body.key_index),
            wb.byte_array(body.signature),
        )
    )


_ENCODERS: dict[type, Callable[[Any, ValuesEncoder], bytes]] = {
    RawBody: lambda b, _: b.data,
    ErrorBody: lambda b, _: wb.utf8(b.message),
    HandleRequest: lambda b, _: wb.utf8(b.handle),
    CreatedHandle: lambda b, _: wb.utf8(b.handle),
    ValuesRequest: lambda b, enc: wb.utf8(b.handle) + enc(b.values),
    Referral: lambda b, enc: wb.utf8(b.handle) + (enc(b.values) if b.values else b""),
    RemoveValuesRequest: lambda b, _: wb.utf8(b.handle) + _int_list(b.indexes),
    ChallengeAnswer: lambda b, _: _challenge_answer(b),
    SiteInfoResponse: lambda b, _: b.site.to_wire(),
    HandleList: lambda b, _: wb.u32(len(b.handles)) + b"".join(wb.utf8(h) for h in b.handles),
    Challenge: lambda b, _: wb.byte_array(b.nonce),
}
