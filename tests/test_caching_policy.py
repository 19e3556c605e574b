"""Cache policy without I/O: a fake clock and an in-process upstream function stand in for
time and the walk, so expiry, stale bounds, prefetch and single flight are exact."""

from __future__ import annotations

import asyncio

import pytest

from resolver.caching import CacheSettings, CachingResolver
from resolver.errors import HandleNotFound, ProtocolError, UpstreamUnavailable
from resolver.message import Answer, Query
from resolver.values import HandleValue


class Upstream:
    def __init__(self) -> None:
        self.calls = 0
        self.failing = False
        self.version = 1
        self.release: asyncio.Event | None = None

    async def __call__(self, query: Query) -> Answer:
        self.calls += 1
        if self.release is not None:
            await self.release.wait()
        if self.failing:
            raise UpstreamUnavailable("no server answered")
        if "MISSING" in query.handle:
            raise HandleNotFound(handle=query.handle)
        if "BROKEN" in query.handle:
            raise ProtocolError("garbled answer")
        data = f"https://x.example/v{self.version}".encode()
        return Answer(
            query.handle, [HandleValue(1, "URL", data, ttl=100), HandleValue(2, "DESC", b"d")]
        )


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def make(**settings: int) -> tuple[CachingResolver, Upstream, Clock]:
    up, clock = Upstream(), Clock()
    defaults = {"max_ttl": 1000, "negative_ttl": 10, "stale_ttl": 50}
    return CachingResolver(up, CacheSettings(**{**defaults, **settings}), clock), up, clock


def run(coro):
    return asyncio.run(coro)


def url_of(answer: Answer) -> str:
    return answer.values[0].data.decode()


def test_fresh_for_the_smallest_value_ttl_then_refreshed() -> None:
    async def go() -> None:
        cache, up, clock = make()
        await cache.resolve(Query("88.1/A"))
        clock.now += 99
        up.version = 2
        assert url_of(await cache.resolve(Query("88.1/a"))) == "https://x.example/v1"
        clock.now += 2  # past the URL value's TTL of 100
        assert url_of(await cache.resolve(Query("88.1/A"))) == "https://x.example/v2"
        assert up.calls == 2

    run(go())


def test_filters_are_applied_to_the_cached_record() -> None:
    async def go() -> None:
        cache, up, _ = make()
        await cache.resolve(Query("88.1/A"))
        answer = await cache.resolve(Query("88.1/A", types=("DESC",)))
        assert [v.index for v in answer.values] == [2] and up.calls == 1
        assert (cache.stats.misses, cache.stats.hits) == (1, 1)
        empty = await cache.resolve(Query("88.1/A", types=("NONE",)))
        assert empty.values == [] and int(empty.rc) == 200

    run(go())


def test_stale_answers_are_bounded_and_marked() -> None:
    async def go() -> None:
        cache, up, clock = make()
        await cache.resolve(Query("88.1/A"))
        up.failing = True
        clock.now += 120  # expired 20 s ago, within stale_ttl = 50
        stale = await cache.resolve(Query("88.1/A"))
        assert stale.stale and {v.ttl for v in stale.values} == {30}
        clock.now += 40  # 60 s past expiry: beyond the stale bound
        with pytest.raises(UpstreamUnavailable):
            await cache.resolve(Query("88.1/A"))
        assert cache.stats.stale_answers == 1

    run(go())


def test_not_found_is_cached_for_negative_ttl_and_errors_never() -> None:
    async def go() -> None:
        cache, up, clock = make()
        for _ in range(3):
            with pytest.raises(HandleNotFound):
                await cache.resolve(Query("88.1/MISSING"))
        assert up.calls == 1 and cache.stats.negative_hits == 2 and cache.stats.hits == 0
        clock.now += 11
        with pytest.raises(HandleNotFound):
            await cache.resolve(Query("88.1/MISSING"))
        assert up.calls == 2
        for _ in range(2):
            with pytest.raises(ProtocolError):
                await cache.resolve(Query("88.1/BROKEN"))
        assert up.calls == 4

    run(go())


def test_concurrent_misses_share_one_upstream_query() -> None:
    async def go() -> None:
        cache, up, _ = make()
        up.release = asyncio.Event()
        waiting = [asyncio.create_task(cache.resolve(Query("88.1/A"))) for _ in range(100)]
        await asyncio.sleep(0)
        up.release.set()
        answers = await asyncio.gather(*waiting)
        assert up.calls == 1 and cache.stats.shared_misses == 99
        assert {url_of(a) for a in answers} == {"https://x.example/v1"}

    run(go())


def test_hot_entries_are_prefetched_once_before_expiry() -> None:
    async def go() -> None:
        cache, up, clock = make()
        await cache.resolve(Query("88.1/A"))
        await cache.resolve(Query("88.1/A"))
        clock.now += 95  # last tenth of a 100 s life, used twice already
        up.version = 2
        for _ in range(5):
            assert url_of(await cache.resolve(Query("88.1/A"))) == "https://x.example/v1"
        await asyncio.sleep(0.01)
        assert up.calls == 2 and cache.stats.prefetches == 1
        assert url_of(await cache.resolve(Query("88.1/A"))) == "https://x.example/v2"

    run(go())


def test_authoritative_and_restricted_reads_bypass() -> None:
    async def go() -> None:
        cache, up, _ = make()
        await cache.resolve(Query("88.1/A"))
        await cache.resolve(Query("88.1/A", authoritative=True))
        await cache.resolve(Query("88.1/A", public_only=False))
        assert up.calls == 3 and cache.stats.bypassed == 2

    run(go())


def test_stale_bound_must_be_positive() -> None:
    with pytest.raises(ValueError):
        CachingResolver(Upstream(), CacheSettings(stale_ttl=0))


def test_an_invalidation_during_a_refresh_keeps_its_answer_out_of_the_cache() -> None:
    async def go() -> None:
        cache, up, _ = make()
        up.release = asyncio.Event()
        pending = asyncio.create_task(cache.resolve(Query("88.1/A")))
        await asyncio.sleep(0)
        cache.invalidate("88.1/A")  # the record changed while the old answer was on its way
        up.release.set()
        assert url_of(await pending) == "https://x.example/v1"
        up.version = 2
        assert url_of(await cache.resolve(Query("88.1/A"))) == "https://x.example/v2"
        assert up.calls == 2

    run(go())
