"""The in-process cache (L1): the pure-Python twin of ``ext/_lru.pyx`` (it uses the
pure-Python identifier twin, so the whole hot path can be measured in Python).

A least-recently-used map bounded by entry count and by bytes. Each entry has an expiry
(``expires``: fresh until then) and a hard end (``stale_until``: after it the entry is
gone; between the two it may be served stale when upstream fails). Times are the caller's
clock, so the policy is testable without sleeping.

``hit_body`` is the HTTP hot path: for a fresh positive record it returns the whole JSON
answer, splicing the caller's spelling of the handle into bytes encoded once at store time.
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

_HEAD = b'{"responseCode":1,"handle":'


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
        old = self._map.pop(key, None)
        if old is not None:
            self.bytes -= old.size
        if size > self.max_bytes:
            return
        self._map[key] = Entry(key, kind, value, body_tail, size, expires, stale_until)
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
