"""Handle.Net-compatible admin routes: PUT/DELETE ``/api/handles/{id}``, the
``?prefix=`` listing, and ``/api/prefixes`` (list, home, unhome); plus ``POST /api/batch``
for batches of whole-record writes (``registry.batch``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from registry.authority import Authority
from registry.batch import MAX_ITEMS, OPS, BatchTooLarge, Op, counts, item_from_json
from resolver.errors import InvalidValue, ProtocolError
from resolver.faces.http_common import (
    add_route,
    flag,
    identity_of,
    int_param,
    int_params,
    json_body,
    json_response,
    path_handle,
)
from resolver.handle import normalise
from resolver.json_values import MAX_UNIX_TIME, iso_time, unix_time, value_from_json, value_to_json
from resolver.numbers import is_decimal
from resolver.values import HandleValue

#: most audit entries one request returns (page with ``since`` from the last one's time)
AUDIT_LIMIT = 10_000


def _time_param(request: web.Request, name: str, default: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if is_decimal(text) and len(text) <= 10:
        return int(text)
    try:
        return unix_time(text, name)
    except InvalidValue as exc:
        raise ProtocolError(exc.message) from exc


def values_from_body(body: Any, handle: str, max_data_bytes: int) -> list[HandleValue]:
    """Accept an array of values, ``{"values": [...]}`` (whose ``handle`` must match), or one
    value object, as Handle.Net 8.1.1+ does.

    :raises InvalidValue, ProtocolError:
    """
    if isinstance(body, dict) and "values" in body:
        named = body.get("handle")
        if named is not None and (
            not isinstance(named, str) or normalise(named) != normalise(handle)
        ):
            raise ProtocolError("handle in the body does not match the handle in the path")
        items = body["values"]
    elif isinstance(body, dict) and {"index", "type", "data"} <= body.keys():
        items = [body]
    else:
        items = body
    if not isinstance(items, list):
        raise ProtocolError("body must be an array of values, {values: [...]}, or one value")
    return [value_from_json(item, max_data_bytes=max_data_bytes) for item in items]


def batch_from_body(body: Any) -> tuple[Op, bool, list[Any]]:
    """``{"op": "create|update|upsert|delete", "atomic": true, "items": [...]}``: the op,
    whether the batch is all-or-nothing (the default) and the raw items.

    :raises ProtocolError, BatchTooLarge:
    """
    if not isinstance(body, dict):
        raise ProtocolError('body must be {"op": ..., "atomic": ..., "items": [...]}')
    unknown = sorted(set(body) - {"op", "atomic", "items"})
    if unknown:
        raise ProtocolError(f"unknown field(s) in the batch: {', '.join(unknown)}")
    op = body.get("op")
    if op not in OPS:
        raise ProtocolError(f'"op" must be one of {", ".join(OPS)}')
    atomic = body.get("atomic", True)
    if not isinstance(atomic, bool):
        raise ProtocolError('"atomic" must be true or false')
    items = body.get("items")
    if not isinstance(items, list):
        raise ProtocolError('"items" must be a list')
    if len(items) > MAX_ITEMS:
        raise BatchTooLarge(f"{len(items)} items; a batch holds at most {MAX_ITEMS}")
    return op, atomic, items


class AdminRoutes:
    def __init__(self, authority: Authority) -> None:
        self.authority = authority

    def add_to(self, app: web.Application) -> None:
        add_route(app, "GET", "/api/handles", self.list_handles)
        add_route(app, "PUT", "/api/handles/{tail:.+}", self.put_handle)
        add_route(app, "DELETE", "/api/handles/{tail:.+}", self.delete_handle)
        add_route(app, "GET", "/api/prefixes", self.list_prefixes)
        add_route(app, "POST", "/api/prefixes/{tail:.+}", self.home_prefix)
        add_route(app, "DELETE", "/api/prefixes/{tail:.+}", self.unhome_prefix)
        add_route(app, "POST", "/api/batch", self.batch)
        add_route(app, "GET", "/api/audit", self.audit)

    async def put_handle(self, request: web.Request) -> web.Response:
        handle = path_handle(request, "/api/handles/")
        identity = await identity_of(request)
        body = await json_body(request)
        values = values_from_body(body, handle, self.authority.limits.max_value_bytes)
        overwrite = flag(request, "overwrite", default=True)
        various = request.query.get("index") == "various"
        indexes = () if various else int_params(request, "index")
        if various or indexes:
            if not various and set(indexes) != {v.index for v in values}:
                raise InvalidValue("indexes in the query do not match the indexes in the body")
            result = await self.authority.put_values(handle, values, identity, overwrite=overwrite)
        else:
            result = await self.authority.create(
                handle, values, identity, overwrite=overwrite, mint=flag(request, "mintNewSuffix")
            )
        shown = result.handle if flag(request, "mintNewSuffix") else handle
        return json_response({"responseCode": 1, "handle": shown}, 201 if result.created else 200)

    async def delete_handle(self, request: web.Request) -> web.Response:
        handle = path_handle(request, "/api/handles/")
        identity = await identity_of(request)
        indexes = int_params(request, "index")
        if indexes:
            await self.authority.remove_values(handle, indexes, identity)
        else:
            await self.authority.delete(handle, identity)
        return json_response({"responseCode": 1, "handle": handle})

    async def batch(self, request: web.Request) -> web.Response:
        """Up to 2000 creates, updates, upserts or deletes, checked first and committed in
        one transaction, with a result per item (``registry.batch`` says what they mean)."""
        identity = await identity_of(request)
        op, atomic, raw = batch_from_body(await json_body(request))
        items = [item_from_json(obj, op, self.authority.limits.max_value_bytes) for obj in raw]
        results = await self.authority.batch(items, identity, atomic=atomic)
        return json_response(
            {
                "responseCode": 1,
                "committed": True,
                "counts": counts(results),
                "items": [r.to_json() for r in results],
            }
        )

    async def list_handles(self, request: web.Request) -> web.Response:
        prefix = request.query.get("prefix")
        if not prefix:
            raise ProtocolError("listing needs ?prefix=")
        identity = await identity_of(request)
        page = int_param(request, "page", -1)
        page_size = int_param(request, "pageSize", -1)
        paging = page >= 0 and page_size >= 0
        listing = await self.authority.list_handles(
            prefix, identity, page if paging else 0, page_size if paging else -1
        )
        body: dict[str, Any] = {
            "responseCode": 1,
            "prefix": prefix,
            "totalCount": str(listing.total),
        }
        if paging:
            body["page"] = page
            body["pageSize"] = page_size
        body["handles"] = listing.handles
        return json_response(body, pretty=flag(request, "pretty"))

    async def audit(self, request: web.Request) -> web.Response:
        """``GET /api/audit?prefix=P&since=T&until=T&limit=N``: the change history under a
        prefix (times as unix seconds or ISO-8601), oldest first."""
        prefix = request.query.get("prefix")
        if not prefix:
            raise ProtocolError("the audit needs ?prefix=")
        since = _time_param(request, "since", 0)
        until = _time_param(request, "until", MAX_UNIX_TIME)
        limit = int_param(request, "limit", AUDIT_LIMIT, AUDIT_LIMIT)
        history = await self.authority.audit(
            prefix, await identity_of(request), since, until, limit if limit > 0 else AUDIT_LIMIT
        )
        entries = [
            {
                "seq": change.seq,
                "at": iso_time(change.at),
                "op": change.op,
                "handle": change.handle,
                "actor": change.actor,
                "before": None if before is None else [value_to_json(v) for v in before],
                "after": None
                if change.values is None
                else [value_to_json(v) for v in change.values],
            }
            for change, before in history
        ]
        body = {"responseCode": 1, "prefix": prefix, "entries": entries}
        return json_response(body, pretty=flag(request, "pretty"))

    async def list_prefixes(self, request: web.Request) -> web.Response:
        prefixes = await self.authority.homed()
        return json_response(
            {"responseCode": 1, "totalCount": str(len(prefixes)), "prefixes": prefixes},
            pretty=flag(request, "pretty"),
        )

    async def home_prefix(self, request: web.Request) -> web.Response:
        prefix = path_handle(request, "/api/prefixes/")
        await self.authority.home(prefix, await identity_of(request))
        return json_response({"responseCode": 1, "prefix": prefix})

    async def unhome_prefix(self, request: web.Request) -> web.Response:
        prefix = path_handle(request, "/api/prefixes/")
        await self.authority.unhome(prefix, await identity_of(request))
        return json_response({"responseCode": 1, "prefix": prefix})
