# cython: language_level=3, boundscheck=False, wraparound=False
"""Handle message codec, compiled twin of ``resolver/hdl_codec_py.py`` (see its docstring).

Fields are read with C indexing over the message bytes and a message is written into one
growing C buffer; the cold parts call the same :mod:`resolver.hdl_bodies` as the Python
twin. Same objects, same bytes, same exceptions, the same checks in the same order.

Decoded objects are frozen dataclasses, whose generated ``__init__`` costs more than all
the parsing (a Python frame and one ``object.__setattr__`` per field). So the hot ones are
made as that ``__init__`` makes them, without the frame: ``object.__new__`` and the same
``object.__setattr__`` per field; values (a named tuple) with ``tuple.__new__``, without
the generated ``__new__``'s frame. The module refuses to import (and the Python twin
serves) if one of those classes no longer has exactly the fields written here.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject_GenericSetAttr
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeUTF8
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy

import dataclasses
import struct

from resolver import hdl_bodies
from resolver.errors import ProtocolError
from resolver.hdl_types import (
    MAX_MESSAGE_LENGTH,
    Envelope,
    Header,
    Message,
    ResolutionRequest,
    ResolutionResponse,
)
from resolver.values import HandleValue
from resolver.wirebase import MAX_ARRAY_SIZE

cdef Py_ssize_t _MAX_ARRAY = MAX_ARRAY_SIZE
cdef Py_ssize_t _MAX_MESSAGE = MAX_MESSAGE_LENGTH
cdef Py_ssize_t _ENVELOPE = 20
cdef Py_ssize_t _HEADER = 24
cdef Py_ssize_t _FRAME = 44
cdef Py_ssize_t _VALUE_HEAD = 14
cdef Py_ssize_t _MIN_VALUE_SIZE = 26
cdef uint32_t _RD = 0x00800000
cdef uint8_t _UNSUPPORTED = 0x80 | 0x40
_ENCODE_ERRORS = (struct.error, OverflowError, ValueError)
_object_new = object.__new__
_tuple_new = tuple.__new__


def _check_fields(cls, names):
    fields = cls._fields if issubclass(cls, tuple) else tuple(f.name for f in dataclasses.fields(cls))
    if fields != names or hasattr(cls, "__post_init__"):
        raise ImportError(f"{cls.__name__} has fields {fields}: rebuild resolver._hdl_codec")


_check_fields(
    HandleValue,
    ("index", "type", "data", "ttl", "ttl_type", "timestamp", "permissions", "references"),
)
_check_fields(
    Envelope,
    (
        "major",
        "minor",
        "suggested_major",
        "suggested_minor",
        "flags",
        "session_id",
        "request_id",
        "sequence",
    ),
)
_check_fields(Header, ("opcode", "rc", "flags", "site_serial", "recursion", "expiration"))
_check_fields(Message, ("envelope", "header", "body", "digest", "credential"))
_check_fields(ResolutionRequest, ("handle", "indexes", "types"))
_check_fields(ResolutionResponse, ("handle", "values"))


# --- reading -------------------------------------------------------------------------------

cdef struct _Cursor:
    const unsigned char *p
    Py_ssize_t pos
    Py_ssize_t end


cdef inline uint32_t _be32(const unsigned char *q) noexcept nogil:
    return (<uint32_t>q[0] << 24) | (<uint32_t>q[1] << 16) | (<uint32_t>q[2] << 8) | q[3]


# --- building frozen objects ---------------------------------------------------------------

cdef inline object _value(
    index, value_type, data, ttl, ttl_type, timestamp, permissions, references
):
    return _tuple_new(
        HandleValue,
        (index, value_type, data, ttl, ttl_type, timestamp, permissions, references),
    )


cdef object _envelope(const unsigned char *p):
    obj = _object_new(Envelope)
    PyObject_GenericSetAttr(obj, "major", p[0])
    PyObject_GenericSetAttr(obj, "minor", p[1])
    PyObject_GenericSetAttr(obj, "suggested_major", p[2] & 0x03)
    PyObject_GenericSetAttr(obj, "suggested_minor", p[3])
    PyObject_GenericSetAttr(obj, "flags", p[2] & 0xFC)
    PyObject_GenericSetAttr(obj, "session_id", _be32(p + 4))
    PyObject_GenericSetAttr(obj, "request_id", _be32(p + 8))
    PyObject_GenericSetAttr(obj, "sequence", _be32(p + 12))
    return obj


cdef object _header(const unsigned char *p):
    obj = _object_new(Header)
    PyObject_GenericSetAttr(obj, "opcode", _be32(p))
    PyObject_GenericSetAttr(obj, "rc", _be32(p + 4))
    PyObject_GenericSetAttr(obj, "flags", _be32(p + 8))
    PyObject_GenericSetAttr(obj, "site_serial", (p[12] << 8) | p[13])
    PyObject_GenericSetAttr(obj, "recursion", p[14])
    PyObject_GenericSetAttr(obj, "expiration", _be32(p + 16))
    return obj


cdef object _message(envelope, header, body, digest, credential):
    obj = _object_new(Message)
    PyObject_GenericSetAttr(obj, "envelope", envelope)
    PyObject_GenericSetAttr(obj, "header", header)
    PyObject_GenericSetAttr(obj, "body", body)
    PyObject_GenericSetAttr(obj, "digest", digest)
    PyObject_GenericSetAttr(obj, "credential", credential)
    return obj


cdef object _request(handle, indexes, types):
    obj = _object_new(ResolutionRequest)
    PyObject_GenericSetAttr(obj, "handle", handle)
    PyObject_GenericSetAttr(obj, "indexes", indexes)
    PyObject_GenericSetAttr(obj, "types", types)
    return obj


cdef object _response(handle, values):
    obj = _object_new(ResolutionResponse)
    PyObject_GenericSetAttr(obj, "handle", handle)
    PyObject_GenericSetAttr(obj, "values", values)
    return obj


cdef Py_ssize_t _take(_Cursor *c, Py_ssize_t n) except -1:
    cdef Py_ssize_t start = c.pos
    if n < 0 or n > c.end - start:
        raise ProtocolError(f"truncated data: need {n} bytes at offset {start}")
    c.pos = start + n
    return start


cdef inline long long _u32(_Cursor *c) except -1:
    return _be32(c.p + _take(c, 4))


cdef long long _count(_Cursor *c, Py_ssize_t limit) except -1:
    cdef long long n = _u32(c)
    if n > limit:
        raise ProtocolError(f"count {n} exceeds the limit of {limit}")
    return n


cdef Py_ssize_t _array(_Cursor *c, Py_ssize_t *start) except -1:
    """Read a byte-array header and claim its bytes; returns the length."""
    cdef long long n = _u32(c)
    if n > _MAX_ARRAY:
        raise ProtocolError(f"array of {n} bytes exceeds the limit of {_MAX_ARRAY}")
    start[0] = _take(c, n)
    return n


cdef bytes _byte_array(_Cursor *c):
    cdef Py_ssize_t start = 0
    cdef Py_ssize_t n = _array(c, &start)
    return PyBytes_FromStringAndSize(<char *>c.p + start, n)


cdef str _utf8(_Cursor *c):
    cdef Py_ssize_t start = 0
    cdef Py_ssize_t n = _array(c, &start)
    try:
        return PyUnicode_DecodeUTF8(<char *>c.p + start, n, NULL)
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"invalid UTF-8 string at offset {start}") from exc


cdef int _expect_end(_Cursor *c) except -1:
    if c.pos != c.end:
        raise ProtocolError(f"{c.end - c.pos} unexpected trailing bytes")
    return 0


cdef tuple _decode_values(_Cursor *c):
    cdef Py_ssize_t i, j, n, nrefs
    cdef const unsigned char *q
    cdef list values = []
    cdef list refs
    n = _count(c, (c.end - c.pos) // _MIN_VALUE_SIZE)
    for i in range(n):
        q = c.p + _take(c, _VALUE_HEAD)
        value_type = _utf8(c)
        data = _byte_array(c)
        nrefs = _count(c, (c.end - c.pos) // 8)
        references = ()
        if nrefs:
            refs = []
            for j in range(nrefs):
                handle = _utf8(c)
                refs.append((handle, _u32(c)))
            references = tuple(refs)
        values.append(
            _value(_be32(q), value_type, data, _be32(q + 9), q[8], _be32(q + 4), q[13], references)
        )
    return tuple(values)


cdef _Cursor _cursor(bytes buf, Py_ssize_t pos, Py_ssize_t end):
    cdef _Cursor c
    c.p = <const unsigned char *>PyBytes_AS_STRING(buf)
    c.pos = pos
    c.end = end
    return c


cdef bytes _as_bytes(buf):
    return buf if type(buf) is bytes else bytes(memoryview(buf))


def decode_values(buf, Py_ssize_t pos, Py_ssize_t end):
    cdef bytes data = _as_bytes(buf)
    if not 0 <= pos <= end <= PyBytes_GET_SIZE(data):
        raise ValueError("pos and end must lie within buf")
    cdef _Cursor c = _cursor(data, pos, end)
    values = _decode_values(&c)
    return values, c.pos


cdef tuple _decode_envelope(bytes buf, long long *length):
    cdef Py_ssize_t n = PyBytes_GET_SIZE(buf)
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(buf)
    if n < _ENVELOPE:
        raise ProtocolError(f"message of {n} bytes is shorter than an envelope")
    if p[0] != 2 and p[0] != 5:
        raise ProtocolError(f"unsupported protocol version {p[0]}.{p[1]}")
    length[0] = _be32(p + 16)
    if length[0] > _MAX_MESSAGE:
        raise ProtocolError(f"message length {length[0]} exceeds the limit of {_MAX_MESSAGE}")
    return _envelope(p), length[0]


def decode_envelope(buf):
    cdef long long length = 0
    return _decode_envelope(_as_bytes(buf), &length)


def decode_message(buf):
    cdef bytes data = _as_bytes(buf)
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(data)
    cdef Py_ssize_t end = PyBytes_GET_SIZE(data)
    cdef long long length = 0
    cdef Py_ssize_t pos, body_end
    cdef uint32_t opcode, rc, flags, body_length
    cdef _Cursor c
    envelope = _decode_envelope(data, &length)[0]
    if length != end - _ENVELOPE:
        raise ProtocolError(f"message length {length} but {end - _ENVELOPE} bytes follow")
    if p[2] & _UNSUPPORTED:
        raise ProtocolError("compressed and encrypted messages are not supported")
    if length < _HEADER:
        raise ProtocolError(f"message length {length} is shorter than a header")
    opcode = _be32(p + 20)
    rc = _be32(p + 24)
    flags = _be32(p + 28)
    body_length = _be32(p + 40)
    body_end = _FRAME + body_length
    if body_end > end:
        raise ProtocolError(f"body length {body_length} exceeds the message")
    pos = _FRAME
    digest = None
    if rc != 0 and flags & _RD:
        digest, pos = hdl_bodies.decode_digest(data, pos, body_end)
    if opcode == 1 and rc == 0:
        c = _cursor(data, pos, body_end)
        handle = _utf8(&c)
        indexes = tuple([_u32(&c) for _ in range(_count(&c, (c.end - c.pos) // 4))])
        types = tuple([_utf8(&c) for _ in range(_count(&c, (c.end - c.pos) // 4))])
        _expect_end(&c)
        body = _request(handle, indexes, types)
    elif opcode == 1 and rc == 1:
        c = _cursor(data, pos, body_end)
        handle = _utf8(&c)
        values = _decode_values(&c)
        _expect_end(&c)
        body = _response(handle, values)
    else:
        body = hdl_bodies.decode_body(
            opcode, rc, envelope.version, data, pos, body_end, decode_values
        )
    header = _header(p + _ENVELOPE)
    if end - body_end == 4 and _be32(p + body_end) == 0:
        credential = None  # what CNRI always writes: no credential
    else:
        credential = hdl_bodies.decode_credential(data, body_end, end)
    return _message(envelope, header, body, digest, credential)


# --- writing -------------------------------------------------------------------------------

cdef struct _Out:
    char *data
    Py_ssize_t size
    Py_ssize_t cap


cdef inline void _set32(char *q, uint32_t v) noexcept nogil:
    q[0] = <char>(v >> 24)
    q[1] = <char>(v >> 16)
    q[2] = <char>(v >> 8)
    q[3] = <char>v


cdef int _reserve(_Out *o, Py_ssize_t extra) except -1:
    cdef Py_ssize_t cap
    cdef char *grown
    if o.size + extra <= o.cap:
        return 0
    cap = max(o.size + extra, 2 * o.cap, 512)
    grown = <char *>realloc(o.data, cap)
    if grown == NULL:
        raise MemoryError()
    o.data = grown
    o.cap = cap
    return 0


cdef int _put32(_Out *o, uint32_t v) except -1:
    _reserve(o, 4)
    _set32(o.data + o.size, v)
    o.size += 4
    return 0


cdef int _put_raw(_Out *o, const char *src, Py_ssize_t n) except -1:
    _reserve(o, n)
    memcpy(o.data + o.size, src, n)
    o.size += n
    return 0


cdef int _put_bytes(_Out *o, data) except -1:
    cdef bytes b = _as_bytes(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(b)
    _put32(o, n)
    return _put_raw(o, PyBytes_AS_STRING(b), n)


cdef int _put_utf8(_Out *o, str text) except -1:
    cdef Py_ssize_t n = 0
    cdef const char *s = PyUnicode_AsUTF8AndSize(text, &n)
    _put32(o, n)
    return _put_raw(o, s, n)


cdef int _put_values(_Out *o, values) except -1:
    cdef uint32_t index, timestamp, ttl
    cdef uint8_t ttl_type, permissions
    cdef char *q
    _put32(o, len(values))
    for v in values:
        index = v.index
        timestamp = v.timestamp
        ttl_type = v.ttl_type
        ttl = v.ttl
        permissions = v.permissions
        _reserve(o, _VALUE_HEAD)
        q = o.data + o.size
        _set32(q, index)
        _set32(q + 4, timestamp)
        q[8] = <char>ttl_type
        _set32(q + 9, ttl)
        q[13] = <char>permissions
        o.size += _VALUE_HEAD
        _put_utf8(o, v.type)
        _put_bytes(o, v.data)
        references = v.references
        _put32(o, len(references))
        for handle, ref_index in references:
            _put_utf8(o, handle)
            _put32(o, ref_index)
    return 0


cdef bytes _finish(_Out *o):
    return PyBytes_FromStringAndSize(o.data, o.size)


def _encode_values(values):
    """Values with errors unwrapped, for hdl_bodies (the message wraps them)."""
    cdef _Out o = _Out(NULL, 0, 0)
    try:
        _put_values(&o, values)
        return _finish(&o)
    finally:
        free(o.data)


def encode_values(values):
    try:
        return _encode_values(values)
    except _ENCODE_ERRORS as exc:
        raise ProtocolError(f"cannot encode values: {exc}") from exc


cdef int _write_envelope(char *q, envelope, length) except -1:
    cdef uint8_t major, minor, flags, suggested_minor
    cdef uint32_t session, request, sequence, n
    if envelope.flags & 0x03 or not 0 <= envelope.suggested_major <= 3:
        raise ProtocolError("envelope flags overlap the suggested major version")
    try:
        major = envelope.major
        minor = envelope.minor
        flags = envelope.flags | envelope.suggested_major
        suggested_minor = envelope.suggested_minor
        session = envelope.session_id
        request = envelope.request_id
        sequence = envelope.sequence
        n = length
    except _ENCODE_ERRORS as exc:
        raise ProtocolError(f"cannot encode envelope: {exc}") from exc
    q[0] = <char>major
    q[1] = <char>minor
    q[2] = <char>flags
    q[3] = <char>suggested_minor
    _set32(q + 4, session)
    _set32(q + 8, request)
    _set32(q + 12, sequence)
    _set32(q + 16, n)
    return 0


def encode_envelope(envelope, length):
    cdef char out[20]
    _write_envelope(out, envelope, length)
    return PyBytes_FromStringAndSize(out, 20)


cdef int _encode_message(_Out *o, msg) except -1:
    cdef uint32_t opcode, rc, flags, expiration
    cdef uint16_t serial
    cdef uint8_t recursion
    cdef Py_ssize_t body_start, body_length, length
    cdef char *q
    header = msg.header
    envelope = msg.envelope
    body = msg.body
    _reserve(o, _FRAME)
    o.size = _FRAME
    if header.rc != 0 and int(header.flags) & _RD:
        if msg.digest is None:
            raise ProtocolError("a response with the RD flag needs a request digest")
        prefix = hdl_bodies.encode_digest(msg.digest)
        _put_raw(o, PyBytes_AS_STRING(prefix), PyBytes_GET_SIZE(prefix))
    elif msg.digest is not None:
        raise ProtocolError("only a response with the RD flag carries a request digest")
    if header.opcode == 1 and header.rc == 0 and type(body) is ResolutionRequest:
        _put_utf8(o, body.handle)
        _put32(o, len(body.indexes))
        for i in body.indexes:
            _put32(o, i)
        _put32(o, len(body.types))
        for t in body.types:
            _put_utf8(o, t)
    elif header.opcode == 1 and header.rc == 1 and type(body) is ResolutionResponse:
        _put_utf8(o, body.handle)
        _put_values(o, body.values)
    else:
        raw = hdl_bodies.encode_body(
            header.opcode, header.rc, envelope.version, body, _encode_values
        )
        _put_raw(o, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw))
    body_length = o.size - _FRAME
    if msg.credential is None:
        _put32(o, 0)
    else:
        credential = hdl_bodies.encode_credential(msg.credential)
        _put_raw(o, PyBytes_AS_STRING(credential), PyBytes_GET_SIZE(credential))
    length = o.size - _ENVELOPE
    if length > _MAX_MESSAGE:
        raise ProtocolError(f"message length {length} exceeds the limit of {_MAX_MESSAGE}")
    opcode = header.opcode
    rc = header.rc
    flags = header.flags
    serial = header.site_serial
    recursion = header.recursion
    expiration = header.expiration
    q = o.data + _ENVELOPE
    _set32(q, opcode)
    _set32(q + 4, rc)
    _set32(q + 8, flags)
    q[12] = <char>(serial >> 8)
    q[13] = <char>serial
    q[14] = <char>recursion
    q[15] = 0
    _set32(q + 16, expiration)
    _set32(q + 20, <uint32_t>body_length)
    _write_envelope(o.data, envelope, length)
    return 0


def encode_message(msg):
    cdef _Out o = _Out(NULL, 0, 0)
    try:
        _encode_message(&o, msg)
        return _finish(&o)
    except _ENCODE_ERRORS as exc:
        raise ProtocolError(f"cannot encode message: {exc}") from exc
    finally:
        free(o.data)
