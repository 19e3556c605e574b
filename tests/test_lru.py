"""The L1 cache, run against both twins on the same cases."""

from __future__ import annotations

import gc
import importlib
import json
import sys
import weakref

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


def test_values_come_back_equal_and_of_the_same_type(lru_impl) -> None:
    cache = lru_impl.LRUCache(100, 10_000)
    marker = object()
    values = [
        None,
        0,
        86400,
        -7,
        2**63 - 1,
        -(2**63),
        2**70,
        2.5,
        -0.0,
        float("inf"),
        True,
        "not found",
        ["http://a", "http://b"],
        marker,
    ]
    for i, value in enumerate(values):
        put(cache, f"K{i}", tail=None)
        cache.put(f"K{i}", 1, value, None, 10, 100, 200)
    for i, value in enumerate(values):
        got = cache.get(f"K{i}", 0).value
        assert type(got) is type(value) and (got == value or got is value), (value, got)
    assert str(cache.get("K8", 0).value) == "-0.0"
    sites = cache.get("K12", 0).value
    assert sites is values[12]  # objects are kept, not copied


def test_keys_and_tails_of_every_width_round_trip(lru_impl) -> None:
    cache = lru_impl.LRUCache(100, 10_000)
    keys = ["", "A", "88.118.8/PUMP-1", "88.118.8/Ä", "88.118.8/中国", "88.118.8/😀", "88.118.8/A"]
    for i, key in enumerate(keys):
        put(cache, key, tail=b"" if i % 2 else f',"i":{i}}}'.encode())
    assert [e.key for e in cache.entries()] == keys
    for i, key in enumerate(keys):
        e = cache.get(key, 0)
        assert e.key == key and e.body_tail == (b"" if i % 2 else f',"i":{i}}}'.encode())
    # same length, different widths or code units: different keys
    for other in ("88.118.8/B", "88.118.8/ä", "88.118.8/中", "88.118.8/😁", "88.118.8/PUMP-2"):
        assert cache.get(other, 0) is None
    assert lru_impl.hit_body(cache, "88.118.8/中国", 0) == (
        '{"responseCode":1,"handle":"88.118.8/中国","i":4}'.encode()
    )


def test_bad_puts_change_nothing(lru_impl) -> None:
    cache = lru_impl.LRUCache(10, 1000)
    put(cache, "A", tail=b',"values":[]}')
    with pytest.raises(TypeError):
        cache.put("A", 1, None, ',"values":[]}', 10, 100, 200)  # a str, not bytes
    with pytest.raises(TypeError):
        cache.put("A", 1, None, bytearray(b"x"), 10, 100, 200)
    assert cache.get("A", 0).body_tail == b',"values":[]}' and cache.bytes == 10
    with pytest.raises(TypeError):
        cache.get("A", 0).__init__("B", 1, None, None, 10, 100, 200)
    assert cache.get("A", 0).key == "A" and cache.get("B", 0) is None
    assert lru_impl.MAX_KEY_LENGTH == 0x07FFFFFF and lru_impl.MAX_TAIL_BYTES == 0xFFFFFFFE


def test_entries_outlive_their_cache_and_release_their_values(lru_impl) -> None:
    class Value:
        pass

    cache = lru_impl.LRUCache(10, 1000)
    kept = Value()
    refs = []
    for k in "ABC":
        v = Value()
        refs.append(weakref.ref(v))
        cache.put(k, 2, v, b",", 10, 100, 200)
    del v
    held = cache.pop("A")
    cache.put("D", 2, kept, None, 10, 100, 200)
    cache.clear()
    assert refs[0]() is not None and refs[1]() is None and refs[2]() is None
    assert held.key == "A" and held.body_tail == b"," and held.value is refs[0]()
    del held
    assert refs[0]() is None
    cache.put("E", 2, kept, None, 10, 100, 200)
    before = sys.getrefcount(kept)
    for _ in range(100):
        cache.put("E", 2, kept, None, 10, 100, 200)
        cache.get("E", 0)
    assert sys.getrefcount(kept) == before
    del cache
    gc.collect()
    assert sys.getrefcount(kept) == before - 1


@pytest.mark.skipif(_compat.NO_EXTENSIONS, reason="compiled twin disabled")
def test_compiled_entries_are_small_and_untracked() -> None:
    lru = importlib.import_module("resolver._lru")
    cache = lru.LRUCache(10, 1000)
    put(cache, "88.118.8/PUMP-1")
    entry = cache.get("88.118.8/PUMP-1", 0)
    # 96 bytes besides the key and the tail; no GC header: the list links are borrowed
    assert sys.getsizeof(entry) <= 96 and not gc.is_tracked(entry)
    assert not gc.is_tracked(cache)


@pytest.mark.skipif(_compat.NO_EXTENSIONS, reason="compiled twin disabled")
@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["put", "get", "pop", "hit", "clear"]),
            st.integers(0, 400),
            st.integers(1, 40),
            st.integers(0, 50),
        ),
        max_size=1500,
    )
)
def test_twins_agree_on_many_keys(ops) -> None:
    """Hundreds of keys: the compiled table grows, wraps and shifts entries back on removal."""
    mods = [importlib.import_module(m) for m in ("resolver._lru", "resolver.lru_py")]
    caches = [m.LRUCache(300, 6000) for m in mods]
    for op, n, size, now in ops:
        key = f"88.118.{n % 7}/K-{n}" if n % 5 else f"88.118.{n % 7}/中-{n}"
        seen = []
        for mod, cache in zip(mods, caches, strict=True):
            if op == "put":
                tail = f',"values":[{n}]}}'.encode() if n % 3 else None
                cache.put(key, 1 + n % 2, n, tail, size, now + 10, now + 20)
            elif op == "get":
                e = cache.get(key, now)
                seen.append(None if e is None else (e.key, e.hits, e.value, e.body_tail))
            elif op == "pop":
                e = cache.pop(key)
                seen.append(None if e is None else e.key)
            elif op == "hit":
                seen.append(mod.hit_body(cache, key.lower(), now))
            elif n < 2:
                cache.clear()
        assert not seen or seen[0] == seen[1]
        assert len(caches[0]) == len(caches[1]) and caches[0].bytes == caches[1].bytes
    assert [e.key for e in caches[0].entries()] == [e.key for e in caches[1].entries()]
    for e in caches[0].entries():
        assert caches[0].get(e.key, 0) is not None
