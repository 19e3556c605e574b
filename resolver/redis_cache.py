"""The shared cache (L2) in Redis, and the invalidation channel.

Every resolver process of a provincial node shares it. An entry is msgpack
``[kind, expires, stale_until, ttl_or_message, json_tail]`` with *absolute* times, so every
process agrees on freshness; the Redis key lives until ``stale_until``. Keys are
``<namespace>:a:<normalised handle>``; invalidations go on ``<namespace>:invalidate``.

Lookups of one event-loop tick are merged into one MGET (bounded batches; an idle lookup is
sent at the end of the same tick, so nothing waits), sent on a pipelined connection of its
own (:mod:`resolver.redis_reads`); writes, invalidations and pub/sub use redis-py. Redis
being slow, down or restarted never fails a lookup: a call that errors or exceeds
``timeout`` counts as a miss, the cache stops asking for ``retry_after`` seconds, then
tries again by itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import msgpack
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from resolver.redis_reads import PipelinedReads

log = logging.getLogger("tierid.redis")

MAX_BATCH = 256
#: built once: ``int | float`` written in an isinstance call builds a new union each time
_NUMBER = (int, float)


@dataclass
class RedisStats:
    errors: int = 0
    batches: int = 0
    invalidations: int = 0


def _entry(blob: bytes | str | None) -> tuple | None:
    """A stored entry, or None if absent or not of the expected shape (never trusted)."""
    if not isinstance(blob, bytes):
        return None
    try:
        entry = msgpack.unpackb(blob, raw=False)
    except Exception:
        return None
    if not isinstance(entry, list) or len(entry) != 5:
        return None
    kind, expires, stale_until, value, tail = entry
    if not (isinstance(expires, _NUMBER) and isinstance(stale_until, _NUMBER)):
        return None
    if kind == 1:  # positive: a TTL and a JSON tail
        shaped = isinstance(value, _NUMBER) and isinstance(tail, bytes)
    else:  # negative: a message, no tail
        shaped = kind == 2 and isinstance(value, str) and (tail is None or isinstance(tail, bytes))
    return tuple(entry) if shaped else None


class RedisCache:
    def __init__(
        self,
        url: str,
        namespace: str,
        timeout: float,
        retry_after: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.namespace = namespace
        self.timeout = timeout
        self.retry_after = retry_after
        self.clock = clock
        self.stats = RedisStats()
        self.channel = f"{namespace}:invalidate"
        self._redis: aioredis.Redis | None = None
        self._reads = PipelinedReads(url, timeout)
        self._down_until = 0.0
        self._pending: dict[str, list[asyncio.Future[Any]]] = {}
        self._scheduled = False
        self._tasks: set[asyncio.Task[Any]] = set()

    def key(self, handle_key: str) -> str:
        return f"{self.namespace}:a:{handle_key}"

    async def open(self) -> None:
        # one immediate retry: after a Redis restart the pooled connections are dead, and
        # the first command on each would otherwise fail
        self._redis = aioredis.from_url(
            self.url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[RedisConnectionError],
        )
        await self._reads.connect()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._reads.close()
        if self._redis is not None:
            await self._redis.aclose()

    @property
    def up(self) -> bool:
        return self.clock() >= self._down_until

    def _failed(self, exc: BaseException) -> None:
        self.stats.errors += 1
        if self.up:
            log.warning("redis %s unavailable (%s); using L1 and upstream only", self.url, exc)
        self._down_until = self.clock() + self.retry_after

    # --- reads: merged per tick -----------------------------------------------------------

    async def get(self, handle_key: str) -> tuple | None:
        """The stored entry ``(kind, expires, stale_until, value, tail)`` or None."""
        if self._redis is None or not self.up:
            return None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(handle_key, []).append(future)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, {}
        keys = list(pending)
        for start in range(0, len(keys), MAX_BATCH):
            batch = {k: pending[k] for k in keys[start : start + MAX_BATCH]}
            self.stats.batches += 1
            self._reads.mget([self.key(k) for k in batch], partial(self._answer, batch))

    def _answer(
        self, batch: dict[str, list[asyncio.Future[Any]]], raw: list[Any] | BaseException
    ) -> None:
        """Every waiter of a batch gets an answer: its entry, or None for a miss, an error
        or a malformed entry, so none can hang."""
        if isinstance(raw, BaseException):
            self._failed(raw)
            raw = [None] * len(batch)
        for blob, futures in zip(raw, batch.values(), strict=True):
            entry = _entry(blob)
            for f in futures:
                if not f.done():
                    f.set_result(entry)

    # --- writes: fire and forget ----------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def put(self, handle_key: str, entry: tuple) -> None:
        """Store ``(kind, expires, stale_until, value, tail)`` until ``stale_until``."""
        if self._redis is None or not self.up:
            return
        life_ms = int((entry[2] - self.clock()) * 1000)
        if life_ms <= 0:
            return
        self._spawn(self._set(self.key(handle_key), msgpack.packb(list(entry)), life_ms))

    async def _set(self, key: str, blob: bytes, life_ms: int) -> None:
        assert self._redis is not None
        try:
            await asyncio.wait_for(self._redis.set(key, blob, px=life_ms), self.timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)

    # --- invalidation ---------------------------------------------------------------------

    async def invalidate(self, handle_keys: list[str]) -> int:
        """Drop shared entries and tell every subscriber to drop its own (an authority's
        writes, an operator's flush). :returns: how many shared entries existed."""
        if self._redis is None or not handle_keys:
            return 0
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.delete(*[self.key(k) for k in handle_keys])
                for k in handle_keys:
                    pipe.publish(self.channel, k)
                results = await asyncio.wait_for(pipe.execute(), self.timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return 0
        return int(results[0])

    async def flush(self, prefix: str | None, *, negative_only: bool = False) -> int:
        """Drop shared entries under ``prefix`` (its handles and its sub-prefixes' handles;
        all when None), or only "not found" ones, and publish their invalidations.
        :returns: how many were dropped."""
        if self._redis is None:
            return 0
        base = f"{self.namespace}:a:"
        patterns = [f"{base}*"] if prefix is None else [f"{base}{prefix}/*", f"{base}{prefix}.*"]
        dropped = 0
        try:
            for pattern in patterns:
                batch: list[bytes] = []
                async for key in self._redis.scan_iter(match=pattern, count=500):
                    batch.append(key)
                    if len(batch) >= 500:
                        dropped += await self._drop(batch, base, negative_only)
                        batch = []
                if batch:
                    dropped += await self._drop(batch, base, negative_only)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
        return dropped

    async def _drop(self, keys: list[bytes], base: str, negative_only: bool) -> int:
        assert self._redis is not None
        if negative_only:
            blobs = await self._redis.mget(keys)
            keys = [k for k, b in zip(keys, blobs, strict=True) if (_entry(b) or (0,))[0] == 2]
        names = [k.decode()[len(base) :] for k in keys]
        return await self.invalidate(names) if names else 0

    async def follow(self, drop: Callable[[str], None], reset: Callable[[], None]) -> None:
        """Apply invalidations as they come (resolver side). After a lost subscription the
        whole L1 is dropped (``reset``): messages may have been missed meanwhile."""
        assert self._redis is not None
        connected_once = False
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                if connected_once:
                    reset()
                connected_once = True
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.stats.invalidations += 1
                        drop(message["data"].decode("utf-8", "replace"))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._failed(exc)
            finally:
                await pubsub.aclose()
            await asyncio.sleep(self.retry_after)
