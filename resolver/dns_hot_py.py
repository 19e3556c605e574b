"""The DNS face's hot path: answers to repeated questions sent from stored wire bytes.
Pure-Python twin of ``ext/_dns_hot.pyx``; ``resolver/dns_hot.py`` picks one.

A full dnspython parse and build costs about 90 us a query; a hot name is answered here in a
few microseconds instead. Only the plainest queries qualify: opcode QUERY, one question, no
answer or authority records, and at most one additional record that is an EDNS(0) OPT. Any
other packet (malformed ones included) goes to the full path, which owns every error.

An answer is stored without its first 12 bytes and question: a hit sends the query's id, the
stored flags and counts (RD copied from the query), the question exactly as the client spelt
it (so DNS 0x20 case randomisation is echoed) and the stored rest, whose compression
pointers into the question stay right because only the case can differ between two queries
with the same key. The key is the lower-cased question plus whether EDNS (and DO) was
asked for, since that changes the rest. A stored answer lives at most one second, so the TTLs
it carries are never more than a second too long, and no longer than the cache entry it was
built from; the cache stage tells us when it drops a key (:meth:`HotAnswers.drop`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from operator import itemgetter

from resolver.answer_index import AnswerIndex

#: how long a stored answer is reused before it is built again with fresh TTLs
REUSE_SECONDS = 1.0
_OPT = 41
_NO_EDNS_LIMIT = 512


def question_key(data: bytes, max_udp: int) -> tuple[bytes, int, int] | None:
    """``(key, end of question, the client's UDP size limit)`` for a plain query, else None."""
    n = len(data)
    if n < 17 or data[2] & 0xF8 or data[4:10] != b"\x00\x01\x00\x00\x00\x00" or data[10]:
        return None
    i = 12
    while True:
        if i >= n:
            return None
        length = data[i]
        if length == 0:
            break
        if length > 63:
            return None
        i += length + 1
    qend = i + 5
    additional = data[11]
    if additional == 0:
        if qend != n:
            return None
        return data[12:qend].lower() + b"\x00", qend, _NO_EDNS_LIMIT
    if additional != 1 or qend + 11 > n or data[qend] or data[qend + 1 : qend + 3] != b"\x00)":
        return None
    if data[qend + 6] or qend + 11 + (data[qend + 9] << 8 | data[qend + 10]) != n:
        return None  # EDNS version other than 0, or a lying length
    payload = data[qend + 3] << 8 | data[qend + 4]
    limit = max(_NO_EDNS_LIMIT, min(payload, max_udp))
    do = b"\x03" if data[qend + 7] & 0x80 else b"\x01"
    return data[12:qend].lower() + do, qend, limit


class HotAnswers:
    """Stored answers by question key, bounded by count (oldest first out)."""

    def __init__(
        self, max_entries: int, max_udp: int, clock: Callable[[], float] | None = None
    ) -> None:
        """``clock`` (for tests) defaults to the monotonic clock."""
        self.max_udp = max_udp
        self.clock = clock or time.monotonic
        #: key -> (reuse until, head with RD clear, head with RD set, rest, cache key)
        self._index = AnswerIndex(max_entries, itemgetter(-1))
        self._entries: dict[bytes, tuple[float, bytes, bytes, bytes, str]] = self._index.entries
        self.hits = 0

    def __len__(self) -> int:
        return len(self._index)

    def answer(self, data: bytes, *, tcp: bool = False) -> bytes | None:
        """The stored answer to this query, ready to send, or None."""
        parsed = question_key(data, self.max_udp)
        if parsed is None:
            return None
        key, qend, limit = parsed
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            self._index.forget(key)
            return None
        out = data[:2] + entry[1 + (data[2] & 1)] + data[12:qend] + entry[3]
        if not tcp and len(out) > limit:
            return None
        self.hits += 1
        return out

    def store(self, query: bytes, response: bytes, handle_key: str, ttl: float) -> None:
        """Keep ``response`` (built by the full path for ``query``) for reuse."""
        parsed = question_key(query, self.max_udp)
        if parsed is None or ttl <= 0 or self._index.max_entries == 0:
            return
        key, qend, _ = parsed
        if response[12:qend].lower() != query[12:qend].lower():
            return
        flags = response[2] & 0xFE
        head = response[3:12]
        entry = (
            self.clock() + min(REUSE_SECONDS, ttl),
            bytes((flags,)) + head,
            bytes((flags | 1,)) + head,
            response[qend:],
            handle_key,
        )
        self._index.put(key, entry, handle_key)

    def drop(self, handle_key: str | None) -> None:
        """Forget the answers built from one cache key (None: all of them)."""
        self._index.drop(handle_key)
