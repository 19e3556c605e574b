"""Operator routes for the resolver cache: list entries, flush one identifier, a prefix
subtree, only "not found" answers, or everything. Guarded by the node's operator token
(``Authorization: Bearer <token>``; the token file is ``[node] operator_token_file``)."""

from __future__ import annotations

import hmac

from aiohttp import web

from resolver.caching import CachingResolver
from resolver.errors import AuthenticationFailed, AuthenticationNeeded, ProtocolError
from resolver.faces.http_common import add_route, authorization, flag, json_response
from resolver.lru import NEGATIVE


class CacheAdminRoutes:
    def __init__(self, cache: CachingResolver, token: bytes | None) -> None:
        self.cache = cache
        self.token = token

    def add_to(self, app: web.Application) -> None:
        add_route(app, "GET", "/api/cache", self.list_entries)
        add_route(app, "DELETE", "/api/cache", self.flush)

    def _check(self, request: web.Request) -> None:
        header = authorization(request)
        if not header:
            raise AuthenticationNeeded("cache administration needs the operator token")
        scheme, _, token = header.partition(" ")
        if self.token is None:
            raise AuthenticationFailed("no operator token is configured on this node")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.token
        ):
            raise AuthenticationFailed("wrong operator token")

    async def list_entries(self, request: web.Request) -> web.Response:
        self._check(request)
        now = self.cache.clock()
        prefix = request.query.get("prefix", "").upper()
        negative_only = flag(request, "negative")
        entries = []
        for e in self.cache.l1.entries():
            if negative_only and e.kind != NEGATIVE:
                continue
            if prefix and not (e.key.startswith(prefix + "/") or e.key.startswith(prefix + ".")):
                continue
            entries.append(
                {
                    "handle": e.key,
                    "kind": "notfound" if e.kind == NEGATIVE else "record",
                    "level": "l1",
                    "ttl": round(e.expires - now, 1),
                    "stale": e.expires <= now,
                    "hits": e.hits,
                }
            )
        return json_response({"responseCode": 1, "count": len(entries), "entries": entries})

    async def flush(self, request: web.Request) -> web.Response:
        self._check(request)
        handle = request.query.get("handle")
        prefix = request.query.get("prefix")
        negative_only = flag(request, "negative")
        if handle is None and prefix is None and not negative_only and not flag(request, "all"):
            raise ProtocolError("say what to flush: handle=, prefix=, negative=true or all=true")
        flushed = await self.cache.flush(handle=handle, prefix=prefix, negative_only=negative_only)
        return json_response({"responseCode": 1, "flushed": flushed})
