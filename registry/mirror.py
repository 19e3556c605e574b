"""A mirror: a read-only copy of a primary node that follows its change log.

It pulls every change after the last sequence number it applied (kept in its own store,
in the same transaction as the changes, so a restart resumes exactly where it stopped),
takes a full copy when it is new or has fallen behind the primary's pruned log, and keeps
retrying with a bounded back-off while the primary is down. It refuses writes (RC 7).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgpack

from registry.storage.base import Store, StoredRecord, WriteTxn
from resolver.handle import normalise, parse
from resolver.http_client import basic_header
from resolver.redis_cache import RedisCache
from resolver.values import HandleValue

log = logging.getLogger("tierid.mirror")

SEQ_KEY = "replicated_seq"


@dataclass(frozen=True, slots=True)
class MirrorSettings:
    """Config section ``[mirror]``."""

    primary: str = ""
    identity: str = ""
    secret_file: str = ""
    poll_interval_ms: int = 500
    batch: int = 1000


def _values(raw: list | None) -> tuple[HandleValue, ...]:
    return tuple(HandleValue.from_tuple(t) for t in raw or ())


#: a poll of the change log: a primary that sends nothing for 10 s is down (a hung one
#: read as connected for 30 s)
_POLL_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=10)
#: a full copy: the primary builds it whole before the first byte (about 1 s per million
#: records), and no bound on the whole, which grows with the store
_COPY_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=600)

#: change-log operations on records (the others home, unhome or reset prefixes)
_RECORD_CHANGES = ("create", "update", "delete")


def _apply(txn: WriteTxn, change: list) -> None:
    _seq, _at, op, key, handle, values, _actor = change
    if op in ("create", "update"):
        prefix, _ = parse(handle)
        record = StoredRecord(handle, _values(values))
        txn.put(key, record, normalise(prefix), created=op == "create")
    elif op == "delete":
        txn.delete(key, handle)
    elif op == "home":
        txn.home(key, handle)
    elif op == "unhome":
        txn.unhome(key)
    elif op == "reset":
        txn.clear()


class Mirror:
    """Follows a primary; ``run()`` is the long-lived task.

    With ``shared`` (the Redis cache the province's resolvers share), every change it
    applies is invalidated there too, as the primary's own writes are: the primary's
    invalidation reaches the resolvers before this copy has the change, and a resolver
    reading from the mirror then would cache the old answer for its whole TTL."""

    def __init__(
        self,
        store: Store,
        settings: MirrorSettings,
        secret: bytes,
        shared: RedisCache | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.shared = shared
        self.primary = settings.primary.rstrip("/")
        self._auth = basic_header(settings.identity, secret)
        self.primary_seq = 0
        self.applied_seq = 0
        self.connected = False
        self.last_error = ""
        self.full_copies = 0

    async def _get(
        self,
        session: aiohttp.ClientSession,
        path: str,
        params: dict,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> Any:
        async with session.get(
            self.primary + path,
            params=params,
            headers={"Authorization": self._auth},
            timeout=timeout or _POLL_TIMEOUT,
        ) as resp:
            if resp.status != 200:
                data = await resp.content.read(200)
                raise RuntimeError(f"primary answered HTTP {resp.status}: {data!r}")
            self.connected = True  # answering, if slowly (a full copy)
            data = await resp.read()
        return msgpack.unpackb(data, raw=False)

    async def _load_dump(self, session: aiohttp.ClientSession) -> None:
        dump = await self._get(session, "/api/dump", {}, _COPY_TIMEOUT)

        def load(txn: WriteTxn) -> None:
            txn.clear()
            for key, prefix in dump["homed"]:
                txn.home(key, prefix)
            txn.put_copy([tuple(r) for r in dump["records"]])
            txn.set_meta(SEQ_KEY, str(dump["seq"]))

        await self.store.write(load, actor=f"mirror-of:{self.primary}")
        if self.shared is not None:  # anything may have changed
            await self.shared.flush(None)
        self.applied_seq = dump["seq"]
        self.full_copies += 1
        log.info("loaded a full copy from %s at seq %d", self.primary, dump["seq"])

    async def sync_once(self, session: aiohttp.ClientSession) -> bool:
        """Pull and apply one batch. :returns: True if more may be waiting."""
        since = await self.store.read(lambda txn: int(txn.get_meta(SEQ_KEY) or 0))
        self.applied_seq = since
        body = await self._get(
            session, "/api/changes", {"since": str(since), "limit": str(self.settings.batch)}
        )
        self.primary_seq = body["last"]
        if body.get("dump"):
            await self._load_dump(session)
            return True
        changes = body["changes"]
        if not changes:
            return False

        def apply(txn: WriteTxn) -> None:
            for change in changes:
                _apply(txn, change)
            txn.set_meta(SEQ_KEY, str(changes[-1][0]))

        await self.store.write(apply, actor=f"mirror-of:{self.primary}")
        if self.shared is not None:
            await self.shared.invalidate([c[3] for c in changes if c[2] in _RECORD_CHANGES])
        self.applied_seq = changes[-1][0]
        return len(changes) >= self.settings.batch

    async def run(self) -> None:
        poll = self.settings.poll_interval_ms / 1000
        backoff = poll
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    more = await self.sync_once(session)
                    self.connected, self.last_error, backoff = True, "", poll
                    if more:
                        continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if self.connected or not self.last_error:
                        log.warning("cannot follow %s: %s", self.primary, exc)
                    self.connected, self.last_error = False, f"{type(exc).__name__}: {exc}"
                    backoff = min(backoff * 2, 5.0)
                    await asyncio.sleep(backoff)
                    continue
                await asyncio.sleep(poll)

    def status(self) -> dict[str, Any]:
        return {
            "primary": self.primary,
            "connected": self.connected,
            "appliedSeq": self.applied_seq,
            "primarySeq": self.primary_seq,
            "lag": max(0, self.primary_seq - self.applied_seq),
            "lastError": self.last_error,
            "fullCopies": self.full_copies,
        }
