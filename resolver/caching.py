"""The resolver's cache stage: answers from L1 when fresh, fetches once per key when not,
and serves a stale answer (marked) when every upstream server fails.

Policy (RFC 8767 style, like CoreDNS's cache with serve_stale):
- positive answers live for the smallest TTL of their values, capped by ``max_ttl``;
  "not found" answers for ``negative_ttl``; errors are never cached;
- after expiry an entry is kept ``stale_ttl`` more seconds, and served (marked stale) only
  when the refresh fails for lack of an answering server;
- concurrent misses for one key share one upstream query (single flight);
- a hot entry (used twice or more) in the last tenth of its life is refreshed once in the
  background before it expires (prefetch);
- authoritative queries and queries for restricted values bypass the cache.
Only public values reach this stage, so nothing restricted is ever cached.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from resolver.codes import ResponseCode
from resolver.errors import HandleNotFound, UpstreamUnavailable, WalkTimeout
from resolver.faces.http_common import dumps
from resolver.handle import normalise, parse
from resolver.json_values import value_from_json, value_to_json
from resolver.lru import NEGATIVE, POSITIVE, Entry, LRUCache, hit_body
from resolver.message import Answer, Query
from resolver.redis_cache import RedisCache
from resolver.values import TTL_RELATIVE, HandleValue, lifetime, select

log = logging.getLogger("tierid.cache")

Resolve = Callable[[Query], Awaitable[Answer]]


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """Config section ``[cache]``."""

    enabled: bool = True
    max_entries: int = 200_000
    max_bytes: int = 256 * 1024 * 1024
    max_ttl: int = 86400
    negative_ttl: int = 30
    stale_ttl: int = 3600
    stale_answer_ttl: int = 30
    redis_url: str = ""
    redis_namespace: str = "tierid"
    redis_timeout_ms: int = 50
    redis_retry_s: int = 2


@dataclass
class CacheStats:
    hits: int = 0
    l2_hits: int = 0
    negative_hits: int = 0
    misses: int = 0
    stale_answers: int = 0
    bypassed: int = 0
    upstream_queries: int = 0
    shared_misses: int = 0
    prefetches: int = 0


#: what the cache keeps per key: kind, TTL (positive) or message (negative), JSON tail
Cached = tuple[int, Any, bytes | None]


def values_of(tail: bytes | None) -> list[HandleValue]:
    """The values of a stored JSON tail."""
    raw = json.loads(b'{"v":0' + tail)["values"] if tail else []
    return [value_from_json(v, max_data_bytes=1 << 20, keep_timestamp=True) for v in raw]


class CachingResolver:
    """A cache stage in front of ``upstream`` (the walk)."""

    def __init__(
        self,
        upstream: Resolve,
        settings: CacheSettings,
        clock: Callable[[], float] = time.time,
        l2: RedisCache | None = None,
    ) -> None:
        if settings.stale_ttl <= 0:
            raise ValueError("stale_ttl must be positive: stale answers are always bounded")
        self.upstream = upstream
        self.settings = settings
        self.clock = clock
        self.l1 = LRUCache(settings.max_entries, settings.max_bytes)
        self.l2 = l2
        self.stats = CacheStats()
        self._inflight: dict[str, asyncio.Future[Cached]] = {}
        self._invalidated_in_flight: set[str] = set()
        self._background: set[asyncio.Task[Cached]] = set()
        #: called with a key when it is dropped (invalidated or flushed), with None when
        #: everything is: faces that keep encoded answers drop theirs
        self.drop_listeners: list[Callable[[str | None], None]] = []

    async def resolve(self, query: Query) -> Answer:
        """:raises HandleNotFound, UpstreamUnavailable, WalkTimeout, TieridError:"""
        if query.authoritative or not query.public_only:
            self.stats.bypassed += 1
            return await self.upstream(query)
        parse(query.handle)
        key = normalise(query.handle)
        now = self.clock()
        entry = self.l1.get(key, now)
        if entry is not None and entry.expires > now:
            self._maybe_prefetch(key, query.handle, entry, now)
            if entry.kind == NEGATIVE:
                self.stats.negative_hits += 1
            else:
                self.stats.hits += 1
            cached = (entry.kind, entry.value, entry.body_tail)
            return self._answer(query, cached, stale=False, ttl=entry.expires - now)
        self.stats.misses += 1
        shared = await self.l2.get(key) if self.l2 is not None else None
        if shared is not None:
            kind, expires, stale_until, value, tail = shared
            self.l1.put(
                key, kind, value, tail, len(tail or b"") + len(key) + 200, expires, stale_until
            )
            if expires > now:
                self.stats.l2_hits += 1
                return self._answer(query, (kind, value, tail), stale=False, ttl=expires - now)
        try:
            cached = await self._fetch(key, query.handle)
        except (UpstreamUnavailable, WalkTimeout):
            stale = self.l1.get(key, self.clock())
            if stale is None:
                raise
            self.stats.stale_answers += 1
            return self._answer(query, (stale.kind, stale.value, stale.body_tail), stale=True)
        return self._answer(query, cached, stale=False, ttl=cached[1])

    def local_hit(self, handle: str) -> bytes | None:
        """The HTTP fast path's first step: a fresh positive answer from L1 as ready bytes
        (the caller's spelling spliced in), or None."""
        body = hit_body(self.l1, handle, self.clock())
        if body is not None:
            self.stats.hits += 1
        return body

    async def shared_hit(self, handle: str) -> bytes | None:
        """The HTTP fast path's second step: a fresh positive answer from L2 as ready bytes
        (it is kept in L1 too), or None to take the ordinary path."""
        if self.l2 is None:
            return None
        key = normalise(handle)
        shared = await self.l2.get(key)
        if shared is None:
            return None
        kind, expires, stale_until, value, tail = shared
        self.l1.put(key, kind, value, tail, len(tail or b"") + len(key) + 200, expires, stale_until)
        body = hit_body(self.l1, handle, self.clock())
        if body is not None:
            self.stats.l2_hits += 1
        return body

    def _answer(
        self, query: Query, cached: Cached, *, stale: bool, ttl: float | None = None
    ) -> Answer:
        kind, value, tail = cached
        if kind == NEGATIVE:
            raise HandleNotFound(value, handle=query.handle)
        stored = values_of(tail)
        values = select(stored, query.types, query.indexes)
        if stale:
            shown = self.settings.stale_answer_ttl
            values = [v._replace(ttl=shown, ttl_type=TTL_RELATIVE) for v in values]
        rc = ResponseCode.VALUES_NOT_FOUND if stored and not values else ResponseCode.SUCCESS
        return Answer(query.handle, values, rc, stale=stale, cache_ttl=None if stale else ttl)

    # --- filling -------------------------------------------------------------------------

    async def _fetch(self, key: str, handle: str) -> Cached:
        """One upstream query per key at a time; the others wait for its result."""
        pending = self._inflight.get(key)
        if pending is not None:
            self.stats.shared_misses += 1
            return await asyncio.shield(pending)
        task = asyncio.get_running_loop().create_task(self._refresh(key, handle))
        self._inflight[key] = task
        task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _refresh(self, key: str, handle: str) -> Cached:
        """Ask upstream and store the answer, unless the key was invalidated while the
        question was out (the answer may predate the change). :returns: the answer."""
        self.stats.upstream_queries += 1
        now = self.clock()
        try:
            answer = await self.upstream(Query(handle))
        except HandleNotFound as err:
            ttl = self.settings.negative_ttl
            if self._keep(key):
                size = len(err.message) + len(key) + 200  # the message counts: it is kept
                self.l1.put(key, NEGATIVE, err.message, None, size, now + ttl, now + ttl)
                if self.l2 is not None:
                    self.l2.put(key, (NEGATIVE, now + ttl, now + ttl, err.message, None))
            return NEGATIVE, err.message, None
        return self.store(key, answer.values, now, keep=self._keep(key))

    def _keep(self, key: str) -> bool:
        if key in self._invalidated_in_flight:
            self._invalidated_in_flight.discard(key)
            return False
        return True

    def invalidate(self, key: str) -> None:
        """Drop a key (its record changed at the authority), including from a refresh that
        is under way."""
        self.l1.pop(key)
        if key in self._inflight:
            self._invalidated_in_flight.add(key)
        self._dropped(key)

    def reset(self) -> None:
        """Drop everything (invalidations may have been missed)."""
        self.l1.clear()
        self._invalidated_in_flight.update(self._inflight)
        self._dropped(None)

    def _dropped(self, key: str | None) -> None:
        for listener in self.drop_listeners:
            listener(key)

    def store(
        self, key: str, values: Sequence[HandleValue], now: float, *, keep: bool = True
    ) -> Cached:
        """Keep a positive answer: only its JSON (``,"values":[...]}``) and TTL are stored,
        which is what a hit sends; filtered and stale hits decode it again."""
        ttl = lifetime(values, now, self.settings.max_ttl)
        tail = b',"values":' + dumps([value_to_json(v) for v in values]) + b"}"
        if keep:
            stale_until = now + ttl + self.settings.stale_ttl
            size = len(tail) + len(key) + 200
            self.l1.put(key, POSITIVE, ttl, tail, size, now + ttl, stale_until)
            if self.l2 is not None:
                self.l2.put(key, (POSITIVE, now + ttl, stale_until, ttl, tail))
        return POSITIVE, ttl, tail

    def _maybe_prefetch(self, key: str, handle: str, entry: Entry, now: float) -> None:
        if entry.kind != POSITIVE or entry.hits < 2 or key in self._inflight:
            return
        if entry.expires - now > entry.value / 10:
            return
        self.stats.prefetches += 1
        task = asyncio.get_running_loop().create_task(self._refresh(key, handle))
        self._inflight[key] = task
        self._background.add(task)

        def done(t: asyncio.Task[Cached]) -> None:
            self._inflight.pop(key, None)
            self._background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.info("prefetch of %s failed: %s", handle, t.exception())

        task.add_done_callback(done)

    # --- administration ------------------------------------------------------------------

    async def flush(
        self, *, handle: str | None = None, prefix: str | None = None, negative_only: bool = False
    ) -> int:
        """Drop entries: one handle, a prefix subtree, only negative ones, or everything,
        here and in the shared cache (whose invalidations reach every other resolver).
        :returns: how many entries were dropped from L1 and L2 together."""
        if handle is not None:
            key = normalise(handle)
            dropped = 0
            if self.l2 is not None:
                dropped += await self.l2.invalidate([key])
            self._dropped(key)
            return dropped + (1 if self.l1.pop(key) is not None else 0)
        wanted = normalise(prefix) if prefix else None
        dropped = 0
        if self.l2 is not None:
            dropped += await self.l2.flush(wanted, negative_only=negative_only)
        for entry in self.l1.entries():
            if negative_only and entry.kind != NEGATIVE:
                continue
            if wanted is not None:
                entry_prefix = entry.key.split("/", 1)[0]
                if entry_prefix != wanted and not entry_prefix.startswith(wanted + "."):
                    continue
            self.l1.pop(entry.key)
            self._dropped(entry.key)
            dropped += 1
        return dropped
