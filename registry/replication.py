"""Primary side of replication: the change log and a full copy, for mirrors.

``GET /api/changes?since=N&limit=M`` returns the changes after sequence number ``N``;
``GET /api/dump`` a consistent copy of every record and homed prefix with the sequence
number it corresponds to. Both are msgpack (records carry binary data and private values)
and need a server admin's credentials. A mirror that fell behind the pruned log is told
to take a dump instead (``{"dump": true}``).
"""

from __future__ import annotations

from typing import Any

import msgpack
from aiohttp import web

from registry.authority import Authority
from registry.storage.base import ReadTxn
from resolver.errors import AuthenticationNeeded, InsufficientPermissions, ProtocolError
from resolver.faces.http_common import add_route, identity_of, int_param

MSGPACK = "application/x-msgpack"
MAX_BATCH = 5000


def _msgpack(body: dict[str, Any]) -> web.Response:
    return web.Response(body=msgpack.packb(body, use_bin_type=True), content_type=MSGPACK)


class ReplicationRoutes:
    def __init__(self, authority: Authority) -> None:
        self.authority = authority

    def add_to(self, app: web.Application) -> None:
        add_route(app, "GET", "/api/changes", self.changes)
        add_route(app, "GET", "/api/dump", self.dump)

    async def _require_server_admin(self, request: web.Request) -> None:
        identity = await identity_of(request)
        if identity is None:
            raise AuthenticationNeeded("replication needs a server admin's credentials")
        if not self.authority.authorizer.is_server_admin(identity):
            raise InsufficientPermissions(f"{identity} is not a server admin of this node")

    async def changes(self, request: web.Request) -> web.Response:
        await self._require_server_admin(request)
        since = int_param(request, "since", 0, maximum=2**62)
        limit = int_param(request, "limit", 1000)
        if since < 0 or not 0 < limit <= MAX_BATCH:
            raise ProtocolError(f"since must be >= 0 and limit from 1 to {MAX_BATCH}")
        oldest, last = await self.authority.store.read(lambda txn: txn.seq_range())
        changes = await self.authority.store.changes_since(since, limit)
        behind_pruned = since < last and (
            oldest > since + 1 or (changes and changes[0].seq != since + 1)
        )
        if behind_pruned or since > last:
            # pruned past the mirror, or a primary whose log restarted (restored, re-made):
            # either way the mirror's position means nothing here, so it takes a full copy
            return _msgpack({"dump": True, "oldest": oldest, "last": last})
        return _msgpack(
            {
                "last": last,
                "changes": [
                    [
                        c.seq,
                        c.at,
                        c.op,
                        c.key,
                        c.handle,
                        None if c.values is None else list(c.values),
                        c.actor,
                    ]
                    for c in changes
                ],
            }
        )

    async def dump(self, request: web.Request) -> web.Response:
        await self._require_server_admin(request)

        def snapshot(txn: ReadTxn) -> dict[str, Any]:
            _, last = txn.seq_range()
            homed, records = txn.dump()
            return {"seq": last, "homed": homed, "records": records}

        return _msgpack(await self.authority.store.read(snapshot))
