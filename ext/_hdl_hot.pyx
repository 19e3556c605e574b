# cython: language_level=3, boundscheck=False, wraparound=False
"""The Handle face's stored answers, compiled twin of ``resolver/hdl_hot_py.py`` (see its
docstring for which requests qualify and what a hit writes).

The request's envelope and header are read with C indexing and the answer is assembled in
one allocation; the dict of entries and the per-cache-key index are the twin's.
"""

import hashlib
from operator import itemgetter

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.string cimport memcpy, memset
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from resolver.answer_index import AnswerIndex

REUSE_SECONDS = 1.0
UDP_PACKET_SIZE = 512
cdef unsigned int _AT = 0x80000000u, _PO = 0x01000000u, _RD = 0x00800000u, _KC = 0x02000000u
cdef int _OUR_MINOR = 11
_sha256 = hashlib.sha256
_sha1 = hashlib.sha1


cdef inline double _monotonic():
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef inline unsigned int _u32(const unsigned char *p):
    return (<unsigned int> p[0] << 24) | (<unsigned int> p[1] << 16) | (p[2] << 8) | p[3]


cdef inline void _put32(unsigned char *p, unsigned int v):
    p[0] = v >> 24
    p[1] = (v >> 16) & 0xFF
    p[2] = (v >> 8) & 0xFF
    p[3] = v & 0xFF


cdef Py_ssize_t _body_end(bytes raw):
    """Where a plain resolution request's body ends, or -1 when it does not qualify."""
    cdef const unsigned char *p = <const unsigned char *> PyBytes_AS_STRING(raw)
    cdef Py_ssize_t n = len(raw), end
    if n < 44 or p[0] != 2 or p[2] & 0xFC or p[12] or p[13] or p[14] or p[15]:
        return -1
    if _u32(p + 16) != <unsigned int> (n - 20) or _u32(p + 20) != 1 or _u32(p + 24) != 0:
        return -1
    if _u32(p + 28) & (_AT | _PO) != _PO:
        return -1
    end = 44 + <Py_ssize_t> _u32(p + 40)
    if end == n:
        return end
    if end + 4 == n and not (p[end] or p[end + 1] or p[end + 2] or p[end + 3]):
        return end
    return -1


def request_key(bytes raw):
    """The body of a plain resolution request (its stored answer's key), else None."""
    cdef Py_ssize_t end = _body_end(raw)
    return None if end < 0 else raw[44:end]


cdef int _reply_minor(const unsigned char *p):
    """The minor version of the answer (major 2), or -1 before 2.1 or past major 2."""
    cdef int major = p[2] & 0x03, minor = p[3]
    if major < 2:  # no suggestion, or one no client speaks: the message's own version
        major, minor = p[0], p[1]
    if major == 5:  # very old clients wrote major 5 and mean 2.0 (hdl_types.effective_version)
        return -1
    if major > 2:
        return _OUR_MINOR
    if major < 2 or minor < 1:
        return -1
    return minor if minor < _OUR_MINOR else _OUR_MINOR


def reply_version(bytes raw):
    """The version an answer to this request is written in, or None (before 2.1)."""
    cdef int minor = _reply_minor(<const unsigned char *> PyBytes_AS_STRING(raw))
    return None if minor < 0 else (2, minor)


cdef class HotAnswers:
    """Stored answers by request body, bounded by count (oldest first out)."""

    cdef public object clock
    cdef public long long hits
    cdef unsigned int _serial
    cdef object _index
    cdef dict _entries  # the index's own dict, read directly on the hot path

    def __init__(self, Py_ssize_t max_entries, int site_serial=0xFFFF, clock=None):
        self._serial = site_serial
        self.clock = clock
        self._index = AnswerIndex(max_entries, itemgetter(-1))
        self._entries = self._index.entries
        self.hits = 0

    def __len__(self):
        return len(self._entries)

    cdef double _now(self):
        return _monotonic() if self.clock is None else self.clock()

    def answer(self, bytes raw, *, bint udp=True):
        """The stored answer to this request, ready to send, or None."""
        cdef Py_ssize_t end = _body_end(raw)
        if end < 0:
            return None
        key = raw[44:end]
        entry = self._entries.get(key)
        if entry is None:
            return None
        if <double> entry[0] <= self._now():
            self._index.forget(key)
            return None
        cdef const unsigned char *p = <const unsigned char *> PyBytes_AS_STRING(raw)
        cdef int minor = _reply_minor(p)
        if minor < 0:
            return None
        cdef unsigned int flags = _u32(p + 28) & (_KC | _RD)
        cdef bytes prefix = b""
        if flags & _RD:
            if minor >= 7:
                prefix = b"\x03" + _sha256(raw[20:end]).digest()
            else:
                prefix = b"\x02" + _sha1(raw[20:end]).digest()
        cdef bytes body = entry[1]
        cdef Py_ssize_t plen = len(prefix), blen = len(body)
        cdef Py_ssize_t body_length = plen + blen
        cdef Py_ssize_t total = 20 + 24 + body_length + 4
        if udp and total > UDP_PACKET_SIZE:
            return None
        out = PyBytes_FromStringAndSize(NULL, total)
        cdef unsigned char *o = <unsigned char *> PyBytes_AS_STRING(out)
        o[0] = 2
        o[1] = minor
        o[2] = 2
        o[3] = _OUR_MINOR
        memcpy(o + 4, p + 4, 8)
        memset(o + 12, 0, 4)
        _put32(o + 16, <unsigned int> (total - 20))
        _put32(o + 20, 1)
        _put32(o + 24, 1)
        _put32(o + 28, flags)
        o[32] = (self._serial >> 8) & 0xFF
        o[33] = self._serial & 0xFF
        o[34] = p[34]
        o[35] = 0
        memcpy(o + 36, p + 36, 4)
        _put32(o + 40, <unsigned int> body_length)
        if plen:
            memcpy(o + 44, PyBytes_AS_STRING(prefix), plen)
        memcpy(o + 44 + plen, PyBytes_AS_STRING(body), blen)
        memset(o + total - 4, 0, 4)
        self.hits += 1
        return out

    def store(self, bytes raw, bytes body, str handle_key, double ttl):
        """Keep ``body`` (the response body the full path encoded for ``raw``) for reuse."""
        key = request_key(raw)
        if key is None or ttl <= 0 or self._index.max_entries == 0:
            return
        self._index.put(key, (self._now() + min(REUSE_SECONDS, ttl), body, handle_key), handle_key)

    def drop(self, handle_key):
        """Forget the answers built from one cache key (None: all of them)."""
        self._index.drop(handle_key)
