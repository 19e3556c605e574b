"""The stored-answer index both binary faces share (``dns_hot`` and ``hdl_hot``, each twin):
answers kept by request key and filed under the cache key they were built from, so that a
cache entry dropped (an invalidation, a flush) drops every answer built from it. Bounded by
count, the oldest out first.

The hot paths read :attr:`AnswerIndex.entries` (a plain dict) directly; what an entry holds
is the face's business (``handle_of`` tells the index which cache key an entry came from).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class AnswerIndex:
    def __init__(self, max_entries: int, handle_of: Callable[[Any], str]) -> None:
        self.max_entries = max_entries
        #: request key -> the face's stored entry (cleared in place, never replaced)
        self.entries: dict[bytes, Any] = {}
        self._handle_of = handle_of
        self._keys_by_handle: dict[str, set[bytes]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def put(self, key: bytes, entry: Any, handle_key: str) -> None:
        """Keep ``entry`` for ``key``, built from cache key ``handle_key``."""
        if key not in self.entries and len(self.entries) >= self.max_entries:
            self.forget(next(iter(self.entries)))
        self.entries[key] = entry
        self._keys_by_handle.setdefault(handle_key, set()).add(key)

    def drop(self, handle_key: str | None) -> None:
        """Forget the answers built from one cache key (None: all of them)."""
        if handle_key is None:
            self.entries.clear()
            self._keys_by_handle.clear()
            return
        for key in self._keys_by_handle.pop(handle_key, ()):
            self.entries.pop(key, None)

    def forget(self, key: bytes) -> None:
        """Forget one answer (expired, or the oldest making room)."""
        entry = self.entries.pop(key, None)
        if entry is None:
            return
        handle_key = self._handle_of(entry)
        keys = self._keys_by_handle.get(handle_key)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys_by_handle[handle_key]
