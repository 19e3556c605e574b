"""The Handle face's hot path: resolutions answered again from stored bytes.
Pure-Python twin of ``ext/_hdl_hot.pyx``; ``resolver/hdl_hot.py`` picks one.

Decoding a request, resolving through the cache stage and encoding the answer costs tens of
microseconds; a repeated question is answered here in a few. Only the plainest requests
qualify: major version 2 (suggesting 2.1 or later), one whole message (no UDP packet
numbering, no compression or encryption), opcode 1, public values only (PUBL set, AUTH
clear), no credential. Everything else (malformed messages included) takes the full path,
which owns every error.

An answer is stored as its response body, keyed by the request body (handle as spelt,
indexes, types), so the handle is echoed exactly as asked. A hit builds the envelope and
header around it: the request's session and request ids, the negotiated version, KPAL and
RRDG copied, the request's recursion count and expiration, and the digest of the request
when it asked for one: the bytes the full path writes, to the byte. A stored answer lives at
most one second, and no longer than the cache entry it came from; the cache stage says when
it drops a key (:meth:`HotAnswers.drop`).
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Callable
from operator import itemgetter

from resolver.answer_index import AnswerIndex

#: how long a stored answer is reused before it is built again with fresh TTLs
REUSE_SECONDS = 1.0
#: answers over UDP must fit one packet (longer ones are split by the full path)
UDP_PACKET_SIZE = 512
_AT, _PO, _RD, _KC = 0x8000_0000, 0x0100_0000, 0x0080_0000, 0x0200_0000
_REQUEST_HEAD = b"\x00\x00\x00\x01\x00\x00\x00\x00"  # opcode 1, response code 0
_ANSWER_HEAD = b"\x00\x00\x00\x01\x00\x00\x00\x01"  # opcode 1, response code 1
_OURS = (2, 11)
_U32 = struct.Struct(">I")


def request_key(raw: bytes) -> bytes | None:
    """The body of a plain resolution request (its stored answer's key), else None."""
    n = len(raw)
    if n < 44 or raw[0] != 2 or raw[2] & 0xFC or raw[12:16] != b"\x00\x00\x00\x00":
        return None
    if _U32.unpack_from(raw, 16)[0] != n - 20 or raw[20:28] != _REQUEST_HEAD:
        return None
    if _U32.unpack_from(raw, 28)[0] & (_AT | _PO) != _PO:
        return None
    end = 44 + _U32.unpack_from(raw, 40)[0]
    if end != n and (end + 4 != n or raw[end:] != b"\x00\x00\x00\x00"):
        return None
    return raw[44:end]


def reply_version(raw: bytes) -> tuple[int, int] | None:
    """The version an answer to this request is written in (the lower of the one it
    suggests and ours), or None when the hot path does not answer it (before 2.1)."""
    major, minor = raw[2] & 0x03, raw[3]
    if major < 2:  # no suggestion, or one no client speaks: the message's own version
        major, minor = raw[0], raw[1]
    if major == 5:  # very old clients wrote major 5 and mean 2.0 (hdl_types.effective_version)
        return None
    version = min((major, minor), _OURS)
    return version if version >= (2, 1) else None


class HotAnswers:
    """Stored answers by request body, bounded by count (oldest first out)."""

    def __init__(
        self, max_entries: int, site_serial: int = 0xFFFF, clock: Callable[[], float] | None = None
    ) -> None:
        """``site_serial`` is what the full path writes in answers' headers; ``clock``
        (for tests) defaults to the monotonic clock."""
        self.serial = struct.pack(">H", site_serial)
        self.clock = clock or time.monotonic
        #: key -> (reuse until, response body, cache key)
        self._index = AnswerIndex(max_entries, itemgetter(-1))
        self._entries: dict[bytes, tuple[float, bytes, str]] = self._index.entries
        self.hits = 0

    def __len__(self) -> int:
        return len(self._index)

    def answer(self, raw: bytes, *, udp: bool = True) -> bytes | None:
        """The stored answer to this request, ready to send, or None."""
        key = request_key(raw)
        if key is None:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            self._index.forget(key)
            return None
        version = reply_version(raw)
        if version is None:
            return None
        flags = _U32.unpack_from(raw, 28)[0] & (_KC | _RD)
        prefix = b""
        if flags & _RD:
            end = 44 + len(key)
            if version >= (2, 7):
                prefix = b"\x03" + hashlib.sha256(raw[20:end]).digest()
            else:
                prefix = b"\x02" + hashlib.sha1(raw[20:end]).digest()
        body_length = len(prefix) + len(entry[1])
        length = 24 + body_length + 4
        if udp and length + 20 > UDP_PACKET_SIZE:
            return None
        self.hits += 1
        return b"".join(
            (
                bytes((version[0], version[1], 2, _OURS[1])),
                raw[4:12],
                b"\x00\x00\x00\x00",
                _U32.pack(length),
                _ANSWER_HEAD,
                _U32.pack(flags),
                self.serial,
                raw[34:35],
                b"\x00",
                raw[36:40],
                _U32.pack(body_length),
                prefix,
                entry[1],
                b"\x00\x00\x00\x00",
            )
        )

    def store(self, raw: bytes, body: bytes, handle_key: str, ttl: float) -> None:
        """Keep ``body`` (the response body the full path encoded for ``raw``) for reuse."""
        key = request_key(raw)
        if key is None or ttl <= 0 or self._index.max_entries == 0:
            return
        self._index.put(key, (self.clock() + min(REUSE_SECONDS, ttl), body, handle_key), handle_key)

    def drop(self, handle_key: str | None) -> None:
        """Forget the answers built from one cache key (None: all of them)."""
        self._index.drop(handle_key)
