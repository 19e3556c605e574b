"""Primitive Handle encodings (RFC 3652 section 2.1 as CNRI v9 writes them): a bounded reader
and packing helpers shared by every binary codec.

Integers are big-endian; byte arrays and UTF-8 strings are an int4 length then the bytes.
"""

from __future__ import annotations

import struct

from resolver.errors import ProtocolError

#: Largest byte array or string a peer may declare (CNRI's MAX_ARRAY_SIZE).
MAX_ARRAY_SIZE = 1_048_576

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


class Reader:
    """Reads primitives from a buffer; a short buffer or lying length is a ProtocolError."""

    __slots__ = ("_buf", "_end", "pos")

    def __init__(self, buf: bytes, start: int = 0, end: int | None = None) -> None:
        self._buf = buf
        self.pos = start
        self._end = len(buf) if end is None else end

    @property
    def remaining(self) -> int:
        return self._end - self.pos

    def _take(self, n: int) -> int:
        start = self.pos
        if n < 0 or start + n > self._end:
            raise ProtocolError(f"truncated data: need {n} bytes at offset {start}")
        self.pos = start + n
        return start

    def u8(self) -> int:
        return self._buf[self._take(1)]

    def u16(self) -> int:
        return _U16.unpack_from(self._buf, self._take(2))[0]

    def u32(self) -> int:
        return _U32.unpack_from(self._buf, self._take(4))[0]

    def raw(self, n: int) -> bytes:
        start = self._take(n)
        return bytes(self._buf[start : start + n])

    def byte_array(self, limit: int = MAX_ARRAY_SIZE) -> bytes:
        n = self.u32()
        if n > limit:
            raise ProtocolError(f"array of {n} bytes exceeds the limit of {limit}")
        return self.raw(n)

    def utf8(self, limit: int = MAX_ARRAY_SIZE) -> str:
        data = self.byte_array(limit)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"invalid UTF-8 string at offset {self.pos - len(data)}") from exc

    def count(self, limit: int) -> int:
        """An int4 element count, bounded so that a lying count cannot allocate unbounded work."""
        n = self.u32()
        if n > limit:
            raise ProtocolError(f"count {n} exceeds the limit of {limit}")
        return n

    def expect_end(self) -> None:
        if self.pos != self._end:
            raise ProtocolError(f"{self._end - self.pos} unexpected trailing bytes")


def u16(n: int) -> bytes:
    return _U16.pack(n)


def u32(n: int) -> bytes:
    return _U32.pack(n)


def byte_array(data: bytes) -> bytes:
    return _U32.pack(len(data)) + data


def utf8(text: str) -> bytes:
    return byte_array(text.encode("utf-8"))
