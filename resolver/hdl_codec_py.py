"""Handle message codec, the pure-Python twin of ``ext/_hdl_codec.pyx``.

Both twins code what a UDP resolution costs: the envelope, the header, handle value lists
and the resolution request and response bodies, and frame the message (digest prefix,
body, credential). The cold parts (other bodies, digests, credentials) come from
:mod:`resolver.hdl_bodies`, shared by both. The twins take and give the same objects
(:mod:`resolver.hdl_types`), write the same bytes and raise the same :class:`ProtocolError`
with the same text for anything malformed, truncated, oversized or lying about a length.

Layouts (all integers big-endian)::

    envelope  major u8, minor u8, flags|suggested major u8, suggested minor u8,
              session id u32, request id u32, sequence u32, message length u32
    header    opcode u32, response code u32, op flags u32, site serial u16,
              recursion u8, reserved u8, expiration u32, body length u32
    message   envelope, header, [digest prefix], body, u32 credential length, credential
    value     index u32, timestamp u32, ttl type u8, ttl u32, permissions u8, type utf8,
              data bytes, u32 n, n x (handle utf8, index u32)
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from resolver import hdl_bodies
from resolver import wirebase as wb
from resolver.errors import ProtocolError
from resolver.hdl_types import (
    ENVELOPE_SIZE,
    HEADER_SIZE,
    MAX_MESSAGE_LENGTH,
    Body,
    Envelope,
    Header,
    Message,
    MessageFlag,
    OpCode,
    OpFlag,
    ResolutionRequest,
    ResolutionResponse,
)
from resolver.values import HandleValue

_ENVELOPE = struct.Struct(">BBBBIIII")
_HEADER = struct.Struct(">IIIHBxII")
_VALUE_HEAD = struct.Struct(">IIBIB")
#: The smallest value: 14 fixed bytes and the lengths of type, data and references.
_MIN_VALUE_SIZE = _VALUE_HEAD.size + 12
_FRAME = ENVELOPE_SIZE + HEADER_SIZE
_UNSUPPORTED = int(MessageFlag.CP | MessageFlag.EC)
_RESOLUTION = int(OpCode.RESOLUTION)
_RD = int(OpFlag.RD)  # a plain int: IntFlag's & runs Python code


def encode_envelope(envelope: Envelope, length: int) -> bytes:
    """The 20 envelope bytes, with ``length`` as MessageLength.

    :raises ProtocolError: if a field does not fit its bits.
    """
    flags, suggested = envelope.flags, envelope.suggested_major
    if flags & 0x03 or not 0 <= suggested <= 3:
        raise ProtocolError("envelope flags overlap the suggested major version")
    try:
        return _ENVELOPE.pack(
            envelope.major,
            envelope.minor,
            flags | suggested,
            envelope.suggested_minor,
            envelope.session_id,
            envelope.request_id,
            envelope.sequence,
            length,
        )
    except struct.error as exc:
        raise ProtocolError(f"cannot encode envelope: {exc}") from exc


def decode_envelope(buf: bytes) -> tuple[Envelope, int]:
    """The envelope at the start of ``buf`` and the MessageLength it declares.

    :raises ProtocolError: if ``buf`` is too short, the major version is not 2 (or the 5
        that very old clients sent), or the length exceeds :data:`MAX_MESSAGE_LENGTH`.
    """
    if len(buf) < ENVELOPE_SIZE:
        raise ProtocolError(f"message of {len(buf)} bytes is shorter than an envelope")
    major, minor, flags, sminor, session, request, sequence, length = _ENVELOPE.unpack_from(buf)
    if major != 2 and major != 5:
        raise ProtocolError(f"unsupported protocol version {major}.{minor}")
    if length > MAX_MESSAGE_LENGTH:
        raise ProtocolError(f"message length {length} exceeds the limit of {MAX_MESSAGE_LENGTH}")
    envelope = Envelope(
        major, minor, flags & 0x03, sminor, flags & 0xFC, session, request, sequence
    )
    return envelope, length


def encode_values(values: Sequence[HandleValue]) -> bytes:
    """A value list: an int4 count, then each value.

    :raises ProtocolError: if a number does not fit its field or a string is not encodable.
    """
    try:
        return _encode_values(values)
    except (struct.error, OverflowError, ValueError) as exc:
        raise ProtocolError(f"cannot encode values: {exc}") from exc


def _encode_values(values: Sequence[HandleValue]) -> bytes:
    out = [wb.u32(len(values))]
    for v in values:
        out.append(_VALUE_HEAD.pack(v.index, v.timestamp, v.ttl_type, v.ttl, v.permissions))
        out.append(wb.utf8(v.type))
        out.append(wb.byte_array(v.data))
        out.append(wb.u32(len(v.references)))
        for handle, index in v.references:
            out.append(wb.utf8(handle))
            out.append(wb.u32(index))
    return b"".join(out)


def decode_values(buf: bytes, pos: int, end: int) -> tuple[tuple[HandleValue, ...], int]:
    """The value list at ``buf[pos:end]`` and the position after it.

    :raises ProtocolError: for a count larger than the bytes could hold, a truncated value,
        or a type or reference handle that is not UTF-8.
    :raises ValueError: if ``pos`` and ``end`` do not lie within ``buf``.
    """
    if not 0 <= pos <= end <= len(buf):
        raise ValueError("pos and end must lie within buf")
    r = wb.Reader(buf, pos, end)
    values = []
    for _ in range(r.count(r.remaining // _MIN_VALUE_SIZE)):
        index, timestamp, ttl_type, ttl, permissions = _VALUE_HEAD.unpack(r.raw(_VALUE_HEAD.size))
        value_type = r.utf8()
        data = r.byte_array()
        references = tuple((r.utf8(), r.u32()) for _ in range(r.count(r.remaining // 8)))
        values.append(
            HandleValue(index, value_type, data, ttl, ttl_type, timestamp, permissions, references)
        )
    return tuple(values), r.pos


def _encode_body(msg: Message) -> bytes:
    header, body = msg.header, msg.body
    if header.opcode == _RESOLUTION:
        if header.rc == 0 and type(body) is ResolutionRequest:
            out = [wb.utf8(body.handle), wb.u32(len(body.indexes))]
            out += [wb.u32(i) for i in body.indexes]
            out.append(wb.u32(len(body.types)))
            out += [wb.utf8(t) for t in body.types]
            return b"".join(out)
        if header.rc == 1 and type(body) is ResolutionResponse:
            return wb.utf8(body.handle) + _encode_values(body.values)
    return hdl_bodies.encode_body(
        header.opcode, header.rc, msg.envelope.version, body, _encode_values
    )


def encode_message(msg: Message) -> bytes:
    """The message's bytes, lengths filled in.

    :raises ProtocolError: if the body does not fit the opcode and response code, a digest
        is missing or extra, a field does not fit, or the message exceeds the length limit.
    """
    try:
        return _encode_message(msg)
    except (struct.error, OverflowError, ValueError) as exc:
        raise ProtocolError(f"cannot encode message: {exc}") from exc


def _encode_message(msg: Message) -> bytes:
    header = msg.header
    prefix = b""
    if header.rc != 0 and int(header.flags) & _RD:
        if msg.digest is None:
            raise ProtocolError("a response with the RD flag needs a request digest")
        prefix = hdl_bodies.encode_digest(msg.digest)
    elif msg.digest is not None:
        raise ProtocolError("only a response with the RD flag carries a request digest")
    body = _encode_body(msg)
    credential = hdl_bodies.encode_credential(msg.credential)
    body_length = len(prefix) + len(body)
    length = HEADER_SIZE + body_length + len(credential)
    if length > MAX_MESSAGE_LENGTH:
        raise ProtocolError(f"message length {length} exceeds the limit of {MAX_MESSAGE_LENGTH}")
    head = _HEADER.pack(
        header.opcode,
        header.rc,
        header.flags,
        header.site_serial,
        header.recursion,
        header.expiration,
        body_length,
    )
    return b"".join((encode_envelope(msg.envelope, length), head, prefix, body, credential))


def decode_message(buf: bytes) -> Message:
    """Decode one whole message (a TCP message, or reassembled UDP packets).

    :raises ProtocolError: if any length disagrees with the bytes, the version is not one
        we read, the message is compressed or encrypted, or any part is malformed.
    """
    envelope, length = decode_envelope(buf)
    end = len(buf)
    if length != end - ENVELOPE_SIZE:
        raise ProtocolError(f"message length {length} but {end - ENVELOPE_SIZE} bytes follow")
    if envelope.flags & _UNSUPPORTED:
        raise ProtocolError("compressed and encrypted messages are not supported")
    if length < HEADER_SIZE:
        raise ProtocolError(f"message length {length} is shorter than a header")
    opcode, rc, flags, serial, recursion, expiration, body_length = _HEADER.unpack_from(
        buf, ENVELOPE_SIZE
    )
    body_end = _FRAME + body_length
    if body_end > end:
        raise ProtocolError(f"body length {body_length} exceeds the message")
    pos = _FRAME
    digest = None
    if rc != 0 and flags & _RD:
        digest, pos = hdl_bodies.decode_digest(buf, pos, body_end)
    body: Body | None
    if opcode == _RESOLUTION and rc == 0:
        r = wb.Reader(buf, pos, body_end)
        handle = r.utf8()
        indexes = tuple(r.u32() for _ in range(r.count(r.remaining // 4)))
        types = tuple(r.utf8() for _ in range(r.count(r.remaining // 4)))
        r.expect_end()
        body = ResolutionRequest(handle, indexes, types)
    elif opcode == _RESOLUTION and rc == 1:
        r = wb.Reader(buf, pos, body_end)
        handle = r.utf8()
        values, r.pos = decode_values(buf, r.pos, body_end)
        r.expect_end()
        body = ResolutionResponse(handle, values)
    else:
        body = hdl_bodies.decode_body(
            opcode, rc, envelope.version, buf, pos, body_end, decode_values
        )
    header = Header(opcode, rc, flags, serial, recursion, expiration)
    credential = hdl_bodies.decode_credential(buf, body_end, end)
    return Message(envelope, header, body, digest, credential)
