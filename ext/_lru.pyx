# cython: language_level=3, boundscheck=False, wraparound=False
"""The in-process cache (L1), compiled twin of ``resolver/lru_py.py`` (see its docstring).

A dict maps keys to entries threaded on a doubly linked list (most recent at the tail),
so a hit, an insert and an eviction are O(1) without Python-level list surgery.
"""

import json

from resolver._handle import normalise

POSITIVE = 1
NEGATIVE = 2
SITES = 3

cdef bytes _HEAD = b'{"responseCode":1,"handle":'


cdef class Entry:
    cdef public str key
    cdef public int kind
    cdef public object value
    cdef public object body_tail
    cdef public Py_ssize_t size
    cdef public double expires
    cdef public double stale_until
    cdef public long hits
    cdef Entry prev
    cdef Entry next

    def __init__(self, str key, int kind, value, body_tail, Py_ssize_t size, double expires,
                 double stale_until):
        self.key = key
        self.kind = kind
        self.value = value
        self.body_tail = body_tail
        self.size = size
        self.expires = expires
        self.stale_until = stale_until
        self.hits = 0


cdef class LRUCache:
    cdef public Py_ssize_t max_entries
    cdef public Py_ssize_t max_bytes
    cdef public Py_ssize_t bytes
    cdef dict _map
    cdef Entry _head  # least recently used
    cdef Entry _tail  # most recently used

    def __init__(self, Py_ssize_t max_entries, Py_ssize_t max_bytes):
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("cache bounds must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._map = {}
        self._head = None
        self._tail = None

    def __len__(self):
        return len(self._map)

    cdef inline void _unlink(self, Entry e):
        if e.prev is not None:
            e.prev.next = e.next
        else:
            self._head = e.next
        if e.next is not None:
            e.next.prev = e.prev
        else:
            self._tail = e.prev
        e.prev = None
        e.next = None

    cdef inline void _append(self, Entry e):
        e.prev = self._tail
        e.next = None
        if self._tail is not None:
            self._tail.next = e
        else:
            self._head = e
        self._tail = e

    cdef void _remove(self, Entry e):
        self._unlink(e)
        del self._map[e.key]
        self.bytes -= e.size

    cpdef Entry get(self, str key, double now):
        cdef Entry e = <Entry>self._map.get(key)
        if e is None:
            return None
        if e.stale_until <= now:
            self._remove(e)
            return None
        if e is not self._tail:
            self._unlink(e)
            self._append(e)
        e.hits += 1
        return e

    def put(self, str key, int kind, value, body_tail, Py_ssize_t size, double expires,
            double stale_until):
        cdef Entry old = <Entry>self._map.get(key)
        if old is not None:
            self._remove(old)
        if size > self.max_bytes:
            return
        cdef Entry e = Entry(key, kind, value, body_tail, size, expires, stale_until)
        self._map[key] = e
        self._append(e)
        self.bytes += size
        while len(self._map) > self.max_entries or self.bytes > self.max_bytes:
            self._remove(self._head)

    def pop(self, str key):
        cdef Entry e = <Entry>self._map.get(key)
        if e is not None:
            self._remove(e)
        return e

    def entries(self):
        cdef list out = []
        cdef Entry e = self._head
        while e is not None:
            out.append(e)
            e = e.next
        return iter(out)

    def clear(self):
        cdef Entry e = self._head
        cdef Entry nxt
        while e is not None:  # break the links so entries are freed at once
            nxt = e.next
            e.prev = None
            e.next = None
            e = nxt
        self._map.clear()
        self._head = None
        self._tail = None
        self.bytes = 0


cdef inline bint _plain_json(str s):
    cdef Py_UCS4 c
    for c in s:
        if c < 0x20 or c == u'"' or c == u'\\' or c > 0x7E:
            return False
    return True


def hit_body(LRUCache cache, str handle, double now):
    cdef Entry e = cache.get(normalise(handle), now)
    if e is None or e.kind != POSITIVE or e.expires <= now or e.body_tail is None:
        return None
    cdef bytes quoted
    if _plain_json(handle):
        quoted = b'"' + handle.encode("ascii") + b'"'
    else:
        quoted = json.dumps(handle, ensure_ascii=False).encode("utf-8")
    return _HEAD + quoted + <bytes>e.body_tail
