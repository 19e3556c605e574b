# cython: language_level=3, boundscheck=False, wraparound=False
"""The in-process cache (L1), compiled twin of ``resolver/lru_py.py`` (see its docstring).

Laid out for a million entries (about 115 bytes per entry besides its key and JSON):

- an open-addressing table (linear probing, backward-shift deletion, load <= 2/3) of
  pointers to entries replaces a dict, so no key ``str`` is kept: each entry holds its key in
  the ``str``'s own representation (PEP 393 kind and code units), compared with ``memcmp``;
- the key and the JSON tail share one ``PyMem`` block owned by the entry (no ``bytes``
  object); a hit copies the head, the caller's spelling and the tail into one new ``bytes``,
  nothing is re-encoded;
- a number stored as ``value`` (the TTL of a positive entry) is kept as a C double or
  64-bit integer and handed back as a new ``float`` or ``int`` equal to it;
- entries are threaded on a doubly linked list (most recent at the tail) through borrowed
  pointers: the table owns the one reference, so there are no reference cycles and entries
  are not tracked by the garbage collector.

``Entry.key``, ``.value`` and ``.body_tail`` build their object on each read.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport PyObject, Py_DECREF, Py_INCREF, Py_XDECREF
from libc.stdint cimport uint32_t
from libc.string cimport memcmp, memcpy

import json

from resolver._handle import normalise

cdef extern from "Python.h":
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    int PyUnicode_KIND(object)
    void* PyUnicode_DATA(object)
    object PyUnicode_FromKindAndData(int kind, const void* buffer, Py_ssize_t size)
    bint PyFloat_CheckExact(object)
    bint PyLong_CheckExact(object)
    double PyFloat_AS_DOUBLE(object)
    object PyFloat_FromDouble(double)
    long long PyLong_AsLongLongAndOverflow(object, int*) except? -1
    object PyLong_FromLongLong(long long)

cdef enum:
    _POSITIVE = 1
    _NEGATIVE = 2
    _SITES = 3

POSITIVE = _POSITIVE
NEGATIVE = _NEGATIVE
SITES = _SITES

cdef enum:  # Entry._meta: key length (code points), its PEP 393 kind, how value is kept
    _KEY_LEN = 0x07FFFFFF  # bits 0-26
    _KIND_SHIFT = 27  # bits 27-29: 1, 2 or 4 bytes per code point
    _TAG_SHIFT = 30  # bits 30-31:
    _V_OBJ = 0  # a reference
    _V_FLOAT = 1  # a float, as a C double
    _V_INT = 2  # an int, as a C long long

cdef uint32_t _NO_TAIL = 0xFFFFFFFF
cdef Py_ssize_t _MAX_TAIL = 0xFFFFFFFE

MAX_KEY_LENGTH = _KEY_LEN  # code points
MAX_TAIL_BYTES = _MAX_TAIL

cdef bytes _HEAD = b'{"responseCode":1,"handle":'
cdef Py_ssize_t _MIN_SLOTS = 8


cdef union _Value:
    PyObject* obj  # owned
    double num
    long long integer


@cython.final
cdef class Entry:
    # 96 bytes: no vtable (no cdef methods), no GC header (no object fields), 32-bit
    # hash and lengths; the key and the tail live in the block at _data
    cdef PyObject* _prev  # borrowed (the cache owns its entries)
    cdef PyObject* _next
    cdef char* _data  # the key's code units, then the JSON tail
    cdef public double expires
    cdef public double stale_until
    cdef _Value _value
    cdef public Py_ssize_t size
    cdef public long hits
    cdef uint32_t _hash  # low 32 bits of hash(key)
    cdef uint32_t _meta
    cdef uint32_t _tail_len  # _NO_TAIL: None
    cdef public int kind

    def __cinit__(self):
        self._data = NULL
        self._meta = <uint32_t>_V_FLOAT << _TAG_SHIFT
        self._tail_len = _NO_TAIL

    def __init__(self, str key, int kind, value, body_tail, Py_ssize_t size, double expires,
                 double stale_until):
        if self._data != NULL:  # its key may be in a cache's table
            raise TypeError("an Entry is initialised once")
        _fill(self, key, hash(key), kind, value, body_tail, size, expires, stale_until)

    def __dealloc__(self):
        _release(self)

    @property
    def key(self):
        return PyUnicode_FromKindAndData(_key_kind(self), self._data, self._meta & _KEY_LEN)

    @property
    def value(self):
        cdef uint32_t tag = self._meta >> _TAG_SHIFT
        if tag == _V_FLOAT:
            return PyFloat_FromDouble(self._value.num)
        if tag == _V_INT:
            return PyLong_FromLongLong(self._value.integer)
        return <object>self._value.obj

    @property
    def body_tail(self):
        if self._tail_len == _NO_TAIL:
            return None
        return PyBytes_FromStringAndSize(self._data + _key_bytes(self), self._tail_len)


cdef inline int _key_kind(Entry e) noexcept:
    return (e._meta >> _KIND_SHIFT) & 7


cdef inline Py_ssize_t _key_bytes(Entry e) noexcept:
    return <Py_ssize_t>(e._meta & _KEY_LEN) * _key_kind(e)


cdef inline bint _is(Entry e, str key, uint32_t h) noexcept:
    return (
        e._hash == h
        and (e._meta & _KEY_LEN) == <size_t>PyUnicode_GET_LENGTH(key)
        and _key_kind(e) == PyUnicode_KIND(key)
        and memcmp(e._data, PyUnicode_DATA(key), _key_bytes(e)) == 0
    )


cdef int _check(str key, object body_tail) except -1:
    if body_tail is not None:
        if not isinstance(body_tail, bytes):
            raise TypeError("body_tail must be bytes or None")
        if PyBytes_GET_SIZE(body_tail) > _MAX_TAIL:
            raise OverflowError("body_tail too long for the cache")
    if PyUnicode_GET_LENGTH(key) > _KEY_LEN:
        raise OverflowError("key too long for the cache")
    return 0


cdef int _fill(Entry e, str key, Py_hash_t h, int kind, object value, object body_tail,
               Py_ssize_t size, double expires, double stale_until) except -1:
    cdef Py_ssize_t key_len = PyUnicode_GET_LENGTH(key)
    cdef Py_ssize_t key_bytes = key_len * PyUnicode_KIND(key)
    cdef Py_ssize_t tail_len = 0
    cdef int overflow = 0
    cdef long long integer
    cdef uint32_t tag = _V_OBJ
    cdef char* data
    _check(key, body_tail)
    if body_tail is not None:
        tail_len = PyBytes_GET_SIZE(body_tail)
    if PyFloat_CheckExact(value):
        tag = _V_FLOAT
    elif PyLong_CheckExact(value):
        integer = PyLong_AsLongLongAndOverflow(value, &overflow)
        if not overflow:
            tag = _V_INT
    data = <char*>PyMem_Malloc(max(key_bytes + tail_len, 1))
    if data == NULL:
        raise MemoryError()
    memcpy(data, PyUnicode_DATA(key), key_bytes)
    if tail_len:
        memcpy(data + key_bytes, PyBytes_AS_STRING(body_tail), tail_len)
    _release(e)
    e._data = data
    e._hash = <uint32_t>h
    e._meta = (<uint32_t>key_len | <uint32_t>PyUnicode_KIND(key) << _KIND_SHIFT
               | tag << _TAG_SHIFT)
    e._tail_len = _NO_TAIL if body_tail is None else <uint32_t>tail_len
    e.kind = kind
    e.size = size
    e.expires = expires
    e.stale_until = stale_until
    e.hits = 0
    if tag == _V_FLOAT:
        e._value.num = PyFloat_AS_DOUBLE(value)
    elif tag == _V_INT:
        e._value.integer = integer
    else:
        Py_INCREF(value)
        e._value.obj = <PyObject*>value
    return 0


cdef void _release(Entry e) noexcept:
    PyMem_Free(e._data)
    e._data = NULL
    if e._meta >> _TAG_SHIFT == _V_OBJ:
        e._meta = <uint32_t>_V_FLOAT << _TAG_SHIFT
        Py_XDECREF(e._value.obj)


@cython.final
cdef class LRUCache:
    cdef public Py_ssize_t max_entries
    cdef public Py_ssize_t max_bytes
    cdef public Py_ssize_t bytes
    cdef PyObject** _slots  # owned references, NULL for free slots
    cdef size_t _mask
    cdef Py_ssize_t _count
    cdef PyObject* _head  # least recently used (borrowed)
    cdef PyObject* _tail  # most recently used (borrowed)

    def __cinit__(self):
        self._slots = NULL
        self._mask = 0
        self._count = 0
        self._head = NULL
        self._tail = NULL

    def __init__(self, Py_ssize_t max_entries, Py_ssize_t max_bytes):
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("cache bounds must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clear()

    def __dealloc__(self):
        PyMem_Free(self._slots)
        _release_chain(self._head)

    def __len__(self):
        return self._count

    # --- the table --------------------------------------------------------------------------

    cdef int _new_slots(self, size_t n) except -1:
        cdef PyObject** slots = <PyObject**>PyMem_Malloc(n * sizeof(PyObject*))
        cdef size_t i
        if slots == NULL:
            raise MemoryError()
        for i in range(n):
            slots[i] = NULL
        PyMem_Free(self._slots)
        self._slots = slots
        self._mask = n - 1
        return 0

    cdef inline PyObject* _find(self, str key, Py_hash_t full_hash) noexcept:
        cdef uint32_t h = <uint32_t>full_hash
        cdef size_t i = h & self._mask
        cdef PyObject* p
        while True:
            p = self._slots[i]
            if p == NULL or _is(<Entry>p, key, h):
                return p
            i = (i + 1) & self._mask

    cdef inline void _place(self, PyObject* p) noexcept:
        cdef size_t i = <size_t>(<Entry>p)._hash & self._mask
        while self._slots[i] != NULL:
            i = (i + 1) & self._mask
        self._slots[i] = p

    cdef int _grow(self) except -1:
        cdef PyObject* p = self._head
        self._new_slots((self._mask + 1) * 2)
        while p != NULL:
            self._place(p)
            p = (<Entry>p)._next
        return 0

    cdef void _unplace(self, PyObject* p) noexcept:
        """Empty p's slot, shifting back the entries probed past it (no tombstones)."""
        cdef size_t mask = self._mask
        cdef size_t i = <size_t>(<Entry>p)._hash & mask
        cdef size_t j, home
        cdef PyObject* q
        while self._slots[i] != p:
            i = (i + 1) & mask
        j = i
        while True:
            j = (j + 1) & mask
            q = self._slots[j]
            if q == NULL:
                break
            home = <size_t>(<Entry>q)._hash & mask
            if (home <= i or home > j) if i < j else (home <= i and home > j):
                self._slots[i] = q
                i = j
        self._slots[i] = NULL

    # --- the recency list -------------------------------------------------------------------

    cdef inline void _unlink(self, Entry e) noexcept:
        if e._prev != NULL:
            (<Entry>e._prev)._next = e._next
        else:
            self._head = e._next
        if e._next != NULL:
            (<Entry>e._next)._prev = e._prev
        else:
            self._tail = e._prev
        e._prev = NULL
        e._next = NULL

    cdef inline void _append(self, Entry e) noexcept:
        e._prev = self._tail
        e._next = NULL
        if self._tail != NULL:
            (<Entry>self._tail)._next = <PyObject*>e
        else:
            self._head = <PyObject*>e
        self._tail = <PyObject*>e

    cdef void _remove(self, Entry e) noexcept:
        """Take e out and drop the cache's reference to it (e may be freed on return)."""
        self._unlink(e)
        self._unplace(<PyObject*>e)
        self._count -= 1
        self.bytes -= e.size
        Py_DECREF(e)

    cdef Entry _touch(self, str key, double now):
        cdef PyObject* p = self._find(key, hash(key))
        if p == NULL:
            return None
        cdef Entry e = <Entry>p
        if e.stale_until <= now:
            self._remove(e)
            return None
        if p != self._tail:
            self._unlink(e)
            self._append(e)
        e.hits += 1
        return e

    # --- the interface ----------------------------------------------------------------------

    def get(self, str key, double now):
        return self._touch(key, now)

    def put(self, str key, int kind, value, body_tail, Py_ssize_t size, double expires,
            double stale_until):
        _check(key, body_tail)  # before anything changes
        cdef Py_hash_t h = hash(key)
        cdef PyObject* p = self._find(key, h)
        if p != NULL:
            self._remove(<Entry>p)
        if size > self.max_bytes:
            return
        cdef Entry e = Entry.__new__(Entry)
        _fill(e, key, h, kind, value, body_tail, size, expires, stale_until)
        if (self._count + 1) * 3 > <Py_ssize_t>(self._mask + 1) * 2:
            self._grow()
        Py_INCREF(e)
        self._place(<PyObject*>e)
        self._count += 1
        self._append(e)
        self.bytes += size
        while self._count > self.max_entries or self.bytes > self.max_bytes:
            self._remove(<Entry>self._head)

    def pop(self, str key):
        cdef PyObject* p = self._find(key, hash(key))
        if p == NULL:
            return None
        cdef Entry e = <Entry>p
        self._remove(e)
        return e

    def entries(self):
        cdef list out = []
        cdef PyObject* p = self._head
        while p != NULL:
            out.append(<Entry>p)
            p = (<Entry>p)._next
        return iter(out)

    def clear(self):
        cdef PyObject* p = self._head
        self._new_slots(_MIN_SLOTS)
        self._count = 0
        self._head = NULL
        self._tail = NULL
        self.bytes = 0
        _release_chain(p)  # last: a value's finaliser may use the (now empty) cache


cdef void _release_chain(PyObject* p) noexcept:
    """Unlink and release the entries from p on."""
    cdef PyObject* nxt
    while p != NULL:
        nxt = (<Entry>p)._next
        (<Entry>p)._prev = NULL
        (<Entry>p)._next = NULL
        Py_DECREF(<object>p)
        p = nxt


cdef inline bint _plain_json(str s) noexcept:
    cdef Py_UCS4 c
    for c in s:
        if c < 0x20 or c == u'"' or c == u'\\' or c > 0x7E:
            return False
    return True


def hit_body(LRUCache cache, str handle, double now):
    cdef Entry e = cache._touch(normalise(handle), now)
    if e is None or e.kind != _POSITIVE or e.expires <= now or e._tail_len == _NO_TAIL:
        return None
    cdef const char* spelling
    cdef Py_ssize_t n
    cdef bytes quoted = None
    if _plain_json(handle):  # ASCII: the str's code units are the JSON string's bytes
        spelling = <const char*>PyUnicode_DATA(handle)
        n = PyUnicode_GET_LENGTH(handle)
    else:
        quoted = json.dumps(handle, ensure_ascii=False).encode("utf-8")
        spelling = PyBytes_AS_STRING(quoted) + 1
        n = PyBytes_GET_SIZE(quoted) - 2
    cdef Py_ssize_t head = PyBytes_GET_SIZE(_HEAD)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, head + n + 2 + e._tail_len)
    cdef char* w = PyBytes_AS_STRING(out)
    memcpy(w, PyBytes_AS_STRING(_HEAD), head)
    w += head
    w[0] = 34  # '"'
    memcpy(w + 1, spelling, n)
    w[n + 1] = 34
    memcpy(w + n + 2, e._data + _key_bytes(e), e._tail_len)
    return out
