"""The L1 cache, run against both twins on the same cases."""

from __future__ import annotations

import importlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver import _compat


def put(
    cache,
    key: str,
    *,
    size: int = 10,
    expires: float = 100,
    stale: float = 200,
    kind: int = 1,
    tail: bytes | None = b',"values":[]}',
) -> None:
    cache.put(key, kind, {"k": key}, tail, size, expires, stale)


def test_hit_miss_and_recency(lru_impl) -> None:
    cache = lru_impl.LRUCache(3, 1000)
    for k in "ABC":
        put(cache, k)
    assert cache.get("A", 0).value == {"k": "A"}  # A becomes the most recent
    put(cache, "D")  # evicts B, the least recent
    assert cache.get("B", 0) is None
    assert [e.key for e in cache.entries()] == ["C", "A", "D"]
    assert cache.get("A", 0).hits == 2


def test_byte_bound_evicts_oldest_and_refuses_oversized(lru_impl) -> None:
    cache = lru_impl.LRUCache(100, 50)
    for k in "ABCDE":
        put(cache, k, size=10)
    put(cache, "F", size=25)
    assert [e.key for e in cache.entries()] == ["D", "E", "F"]
    assert cache.bytes == 45
    put(cache, "HUGE", size=51)
    assert cache.get("HUGE", 0) is None and cache.bytes == 45
    put(cache, "D", size=5)  # replacing an entry adjusts the byte count
    assert cache.bytes == 40 and len(cache) == 3


def test_expiry_and_stale_window(lru_impl) -> None:
    cache = lru_impl.LRUCache(10, 1000)
    put(cache, "A", expires=10, stale=20)
    entry = cache.get("A", 15)
    assert entry is not None and entry.expires <= 15 < entry.stale_until  # stale, still there
    assert cache.get("A", 20) is None and len(cache) == 0 and cache.bytes == 0


def test_pop_and_clear(lru_impl) -> None:
    cache = lru_impl.LRUCache(10, 1000)
    for k in "AB":
        put(cache, k)
    assert cache.pop("A").key == "A" and cache.pop("A") is None
    cache.clear()
    assert len(cache) == 0 and cache.bytes == 0 and list(cache.entries()) == []
    with pytest.raises(ValueError):
        lru_impl.LRUCache(0, 10)


def test_hit_body_splices_the_callers_spelling(lru_impl) -> None:
    cache = lru_impl.LRUCache(10, 1000)
    tail = b',"values":[{"index":1}]}'
    put(cache, "88.118.8/PUMP-1", tail=tail)
    for spelling in ("88.118.8/pump-1", "88.118.8/PUMP-1", "88.118.8/PuMp-1"):
        body = lru_impl.hit_body(cache, spelling, 0)
        assert json.loads(body) == {"responseCode": 1, "handle": spelling, "values": [{"index": 1}]}
    put(cache, '88.118.8/Q"\\中', tail=tail)
    assert json.loads(lru_impl.hit_body(cache, '88.118.8/q"\\中', 0))["handle"] == '88.118.8/q"\\中'
    assert lru_impl.hit_body(cache, "88.118.8/PUMP-1", 150) is None  # stale: not a fast hit
    put(cache, "88.118.8/GONE", kind=2)
    assert lru_impl.hit_body(cache, "88.118.8/GONE", 0) is None  # negative: not a fast hit
    assert lru_impl.hit_body(cache, "88.118.8/NONE", 0) is None


OPS = st.lists(
    st.tuples(
        st.sampled_from(["put", "get", "pop"]),
        st.sampled_from(list("ABCDEFGH")),
        st.integers(1, 40),
        st.integers(0, 50),
    ),
    max_size=200,
)


@pytest.mark.skipif(_compat.NO_EXTENSIONS, reason="compiled twin disabled")
@settings(max_examples=300, deadline=None)
@given(OPS)
def test_twins_agree_on_any_sequence(ops) -> None:
    caches = [
        importlib.import_module(m).LRUCache(5, 100) for m in ("resolver._lru", "resolver.lru_py")
    ]
    for op, key, size, now in ops:
        seen = []
        for cache in caches:
            if op == "put":
                cache.put(key, 1, key, None, size, now + 10, now + 20)
                seen.append(None)
            elif op == "get":
                e = cache.get(key, now)
                seen.append(None if e is None else (e.key, e.hits))
            else:
                e = cache.pop(key)
                seen.append(None if e is None else e.key)
        assert seen[0] == seen[1]
        assert [e.key for e in caches[0].entries()] == [e.key for e in caches[1].entries()]
        assert caches[0].bytes == caches[1].bytes
