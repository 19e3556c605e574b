# cython: language_level=3, boundscheck=False, wraparound=False
"""The DNS face's stored answers, compiled twin of ``resolver/dns_hot_py.py`` (see its
docstring for what is stored and when it is reused).

The question is scanned over the packet's bytes with C indexing, and the reply is assembled
in one allocation; everything else (the dict of entries, the per-cache-key index) is the
same as in the twin.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from resolver.answer_index import AnswerIndex

REUSE_SECONDS = 1.0
cdef int _NO_EDNS_LIMIT = 512


cdef inline double _monotonic():
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef object _question_key(bytes data, int max_udp, Py_ssize_t *qend_out, int *limit_out):
    cdef const unsigned char *p = <const unsigned char *> PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = len(data)
    cdef Py_ssize_t i = 12, qend
    cdef int length, payload, additional
    if n < 17 or p[2] & 0xF8 or p[4] != 0 or p[5] != 1 or p[6] or p[7] or p[8] or p[9] or p[10]:
        return None
    while True:
        if i >= n:
            return None
        length = p[i]
        if length == 0:
            break
        if length > 63:
            return None
        i += length + 1
    qend = i + 5
    additional = p[11]
    if additional == 0:
        if qend != n:
            return None
        qend_out[0] = qend
        limit_out[0] = _NO_EDNS_LIMIT
        return data[12:qend].lower() + b"\x00"
    if additional != 1 or qend + 11 > n or p[qend] or p[qend + 1] != 0 or p[qend + 2] != 41:
        return None
    if p[qend + 6] or qend + 11 + (p[qend + 9] << 8 | p[qend + 10]) != n:
        return None
    payload = p[qend + 3] << 8 | p[qend + 4]
    limit_out[0] = max(_NO_EDNS_LIMIT, min(payload, max_udp))
    qend_out[0] = qend
    return data[12:qend].lower() + (b"\x03" if p[qend + 7] & 0x80 else b"\x01")


def question_key(bytes data, int max_udp):
    """``(key, end of question, the client's UDP size limit)`` for a plain query, else None."""
    cdef Py_ssize_t qend = 0
    cdef int limit = 0
    key = _question_key(data, max_udp, &qend, &limit)
    if key is None:
        return None
    return key, qend, limit


cdef class _Stored:
    cdef double until
    cdef bytes head_rd0
    cdef bytes head_rd1
    cdef bytes rest
    cdef str handle_key


def _handle_key_of(_Stored entry):
    return entry.handle_key


cdef class HotAnswers:
    """Stored answers by question key, bounded by count (oldest first out)."""

    cdef public int max_udp
    cdef public object clock
    cdef public long hits
    cdef object _index
    cdef dict _entries  # the index's own dict, read directly on the hot path

    def __init__(self, Py_ssize_t max_entries, int max_udp, clock=None):
        self.max_udp = max_udp
        self.clock = clock
        self.hits = 0
        self._index = AnswerIndex(max_entries, _handle_key_of)
        self._entries = self._index.entries

    def __len__(self):
        return len(self._entries)

    cdef double _now(self):
        return _monotonic() if self.clock is None else self.clock()

    def answer(self, bytes data, bint tcp=False):
        """The stored answer to this query, ready to send, or None."""
        cdef Py_ssize_t qend = 0
        cdef int limit = 0
        cdef _Stored entry
        key = _question_key(data, self.max_udp, &qend, &limit)
        if key is None:
            return None
        found = self._entries.get(key)
        if found is None:
            return None
        entry = <_Stored> found
        if entry.until <= self._now():
            self._index.forget(key)
            return None
        cdef const char *src = PyBytes_AS_STRING(data)
        cdef bytes head = entry.head_rd1 if src[2] & 1 else entry.head_rd0
        cdef Py_ssize_t rest_len = len(entry.rest)
        cdef Py_ssize_t total = qend + rest_len
        if not tcp and total > limit:
            return None
        out = PyBytes_FromStringAndSize(NULL, total)
        cdef char *dst = PyBytes_AS_STRING(out)
        memcpy(dst, src, 2)
        memcpy(dst + 2, PyBytes_AS_STRING(head), 10)
        memcpy(dst + 12, src + 12, qend - 12)
        memcpy(dst + qend, PyBytes_AS_STRING(entry.rest), rest_len)
        self.hits += 1
        return out

    def store(self, bytes query, bytes response, str handle_key, double ttl):
        """Keep ``response`` (built by the full path for ``query``) for reuse."""
        cdef Py_ssize_t qend = 0
        cdef int limit = 0
        key = _question_key(query, self.max_udp, &qend, &limit)
        if key is None or ttl <= 0 or self._index.max_entries == 0:
            return
        if response[12:qend].lower() != query[12:qend].lower():
            return
        cdef int flags = response[2] & 0xFE
        head = response[3:12]
        cdef _Stored entry = _Stored()
        entry.until = self._now() + min(REUSE_SECONDS, ttl)
        entry.head_rd0 = bytes((flags,)) + head
        entry.head_rd1 = bytes((flags | 1,)) + head
        entry.rest = response[qend:]
        entry.handle_key = handle_key
        self._index.put(key, entry, handle_key)

    def drop(self, handle_key):
        """Forget the answers built from one cache key (None: all of them)."""
        self._index.drop(handle_key)
