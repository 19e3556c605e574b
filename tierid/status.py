"""``GET /api/status``: what an operator (and ``tierid status``) wants to know of a node:
its roles, prefixes, record count, change-log position, requests served, and for a
resolver the upstream servers with their measured latency and health, and the DNS face's
counters where it runs."""

from __future__ import annotations

import os
import time
from dataclasses import asdict

from aiohttp import web

from registry.authority import Authority
from registry.mirror import Mirror
from resolver.caching import CachingResolver
from resolver.faces.dns import DnsFace
from resolver.faces.http_common import Counters, add_route, json_response
from resolver.faces.native import NativeFace
from resolver.walker import Walker


class StatusRoutes:
    def __init__(
        self,
        name: str,
        authority: Authority,
        walker: Walker | None,
        mirror: Mirror | None,
        cache: CachingResolver | None,
        counters: Counters,
        dns: DnsFace | None = None,
        native: NativeFace | None = None,
    ) -> None:
        self.dns = dns
        self.native = native
        self.mirror = mirror
        self.cache = cache
        self.name = name
        self.authority = authority
        self.walker = walker
        self.counters = counters

    def add_to(self, app: web.Application) -> None:
        add_route(app, "GET", "/api/status", self.status)

    def _roles(self, homed: list[str]) -> list[str]:
        """A mirror; an authority while it homes a prefix (a pure resolver homes none);
        a resolver."""
        roles = ["mirror"] if self.mirror is not None else ["authority"] if homed else []
        return roles + (["resolver"] if self.walker is not None else [])

    async def status(self, request: web.Request) -> web.Response:
        store = self.authority.store
        prefixes, records = await store.read(
            lambda txn: (txn.homed_prefixes(), txn.count_records())
        )
        body: dict = {
            "responseCode": 1,
            "node": self.name,
            "pid": os.getpid(),
            "roles": self._roles(prefixes),
            "uptimeSeconds": round(time.time() - self.counters.started, 1),
            "requests": self.counters.requests,
            "prefixes": prefixes,
            "records": records,
            "changeSeq": await store.last_seq(),
        }
        if self.mirror is not None:
            body["mirror"] = self.mirror.status()
        if self.cache is not None:
            body["cache"] = {
                **asdict(self.cache.stats),
                "entries": len(self.cache.l1),
                "bytes": self.cache.l1.bytes,
            }
        if self.dns is not None:
            body["dns"] = {
                **self.dns.counters(),
                "port": self.dns.settings.port,
                "zone": self.dns.settings.zone,
                "storedAnswers": len(self.dns.responder.hot),
            }
        if self.native is not None:
            body["handle"] = {
                **self.native.counters(),
                "port": self.native.settings.port,
                "storedAnswers": len(self.native.responder.hot),
            }
        if self.walker is not None:
            stats = self.walker.upstream.stats
            now = self.walker.upstream.clock()
            body["resolver"] = {
                "upstreamQueries": stats.queries,
                "servers": [
                    {
                        "url": s.url,
                        "up": s.up(now),
                        "latencyMs": None if s.latency_ms is None else round(s.latency_ms, 2),
                        "queries": s.queries,
                        "failures": s.errors,
                        "failingInARow": s.failures,
                    }
                    for s in stats.endpoints.values()
                ],
                "knownPrefixes": self.walker.cached_prefixes(),
            }
        return json_response(body)
