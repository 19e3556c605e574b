"""The in-process cache (L1): picks the compiled twin once (see ``resolver/_compat.py``)."""

from __future__ import annotations

from resolver._compat import NO_EXTENSIONS, REQUIRE_EXTENSIONS

if NO_EXTENSIONS:
    from resolver.lru_py import NEGATIVE, POSITIVE, SITES, Entry, LRUCache, hit_body

    IMPLEMENTATION = "py"
else:
    try:
        from resolver._lru import (  # type: ignore[import-not-found,no-redef]
            NEGATIVE,
            POSITIVE,
            SITES,
            Entry,
            LRUCache,
            hit_body,
        )

        IMPLEMENTATION = "c"
    except ImportError:
        if REQUIRE_EXTENSIONS:
            raise
        from resolver.lru_py import NEGATIVE, POSITIVE, SITES, Entry, LRUCache, hit_body

        IMPLEMENTATION = "py"

__all__ = ["IMPLEMENTATION", "NEGATIVE", "POSITIVE", "SITES", "Entry", "LRUCache", "hit_body"]
