"""The in-process cache (L1): picks the compiled twin once (see ``resolver/_compat.py``)."""

from __future__ import annotations

from resolver._compat import load_twin

_twin, IMPLEMENTATION = load_twin("resolver._lru", "resolver.lru_py")
NEGATIVE = _twin.NEGATIVE
POSITIVE = _twin.POSITIVE
SITES = _twin.SITES
Entry = _twin.Entry
LRUCache = _twin.LRUCache
hit_body = _twin.hit_body

__all__ = ["IMPLEMENTATION", "NEGATIVE", "POSITIVE", "SITES", "Entry", "LRUCache", "hit_body"]
