"""The in-process cache (L1): the pure-Python twin of ``ext/_lru.pyx`` (it uses the
pure-Python identifier twin, so the whole hot path can be measured in Python).

A least-recently-used map bounded by entry count and by bytes. Each entry has an expiry
(``expires``: fresh until then) and a hard end (``stale_until``: after it the entry is
gone; between the two it may be served stale when upstream fails). Times are the caller's
clock, so the policy is testable without sleeping.

``hit_body`` is the HTTP hot path: for a fresh positive record it returns the whole JSON
answer, splicing the caller's spelling of the handle into bytes encoded once at store time.

Both twins keep an entry's ``body_tail`` as bytes (or None: anything else is a TypeError) and
refuse keys over ``MAX_KEY_LENGTH`` code points and tails over ``MAX_TAIL_BYTES`` bytes
(OverflowError), checked before the cache changes. Entries are for reading: the compiled
twin stores them compactly (see ``ext/_lru.pyx``) and rebuilds ``Entry.key``, ``.value`` and
``.body_tail`` on each read (equal to what was put, not the same objects; they cannot be set).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from resolver.handle_py import normalise

#: Entry kinds
POSITIVE = 1
NEGATIVE = 2
SITES = 3

#: limits shared with the compiled twin (which keeps lengths in 27 and 32 bits)
MAX_KEY_LENGTH = 0x07FFFFFF
MAX_TAIL_BYTES = 0xFFFFFFFE

_HEAD = b'{"responseCode":1,"handle":'


def _check(key: str, body_tail: bytes | None) -> None:
    """:raises TypeError, OverflowError: as the compiled twin does."""
    if not isinstance(key, str):
        raise TypeError("key must be str")
    if body_tail is not None:
        if not isinstance(body_tail, bytes):
            raise TypeError("body_tail must be bytes or None")
        if len(body_tail) > MAX_TAIL_BYTES:
            raise OverflowError("body_tail too long for the cache")
    if len(key) > MAX_KEY_LENGTH:
        raise OverflowError("key too long for the cache")


class Entry:
    __slots__ = ("body_tail", "expires", "hits", "key", "kind", "size", "stale_until", "value")

    def __init__(
        self,
        key: str,
        kind: int,
        value: Any,
        body_tail: bytes | None,
        size: int,
        expires: float,
        stale_until: float,
    ) -> None:
        if hasattr(self, "key"):  # it may be in a cache under that key
            raise TypeError("an Entry is initialised once")
        _check(key, body_tail)
        self.key = key
        self.kind = kind
        self.value = value
        self.body_tail = body_tail
        self.size = size
        self.expires = expires
        self.stale_until = stale_until
        self.hits = 0


class LRUCache:
    """Bounded LRU with TTLs (see module docstring)."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("cache bounds must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._map: OrderedDict[str, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._map)

    def get(self, key: str, now: float) -> Entry | None:
        """The entry (fresh or stale) or None; a used entry becomes the most recent."""
        entry = self._map.get(key)
        if entry is None:
            return None
        if entry.stale_until <= now:
            self._remove(entry)
            return None
        self._map.move_to_end(key)
        entry.hits += 1
        return entry

    def put(
        self,
        key: str,
        kind: int,
        value: Any,
        body_tail: bytes | None,
        size: int,
        expires: float,
        stale_until: float,
    ) -> None:
        """:raises TypeError, OverflowError: see the module docstring (nothing changes)."""
        entry = Entry(key, kind, value, body_tail, size, expires, stale_until)
        old = self._map.pop(key, None)
        if old is not None:
            self.bytes -= old.size
        if size > self.max_bytes:
            return
        self._map[key] = entry
        self.bytes += size
        while len(self._map) > self.max_entries or self.bytes > self.max_bytes:
            _, evicted = self._map.popitem(last=False)
            self.bytes -= evicted.size

    def pop(self, key: str) -> Entry | None:
        entry = self._map.get(key)
        if entry is not None:
            self._remove(entry)
        return entry

    def _remove(self, entry: Entry) -> None:
        del self._map[entry.key]
        self.bytes -= entry.size

    def entries(self) -> Iterator[Entry]:
        """Entries from least to most recently used (a snapshot: safe to pop while iterating)."""
        return iter(list(self._map.values()))

    def clear(self) -> None:
        self._map.clear()
        self.bytes = 0


def hit_body(cache: LRUCache, handle: str, now: float) -> bytes | None:
    """The JSON answer for a fresh, positive, unfiltered hit, or None."""
    entry = cache.get(normalise(handle), now)
    if entry is None or entry.kind != POSITIVE or entry.expires <= now or entry.body_tail is None:
        return None
    quoted = json.dumps(handle, ensure_ascii=False).encode("utf-8")
    return _HEAD + quoted + entry.body_tail
