"""The HTTP resolution face: Handle.Net's ``GET /api/handles/{id}`` and the web proxy
(``GET /{id}`` redirects to the record's URL, ``?noredirect`` shows it to a person).

The face parses the request into a :class:`Query`, calls the injected ``resolve``
(the authority on an authority node, the pipeline on a resolver), and encodes the answer.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from urllib.parse import quote

from aiohttp import web

from resolver.aliases import follow_aliases
from resolver.errors import TieridError, http_status
from resolver.faces import html
from resolver.faces.http_common import (
    add_route,
    api_preflight,
    flag,
    identity_of,
    int_params,
    json_response,
    method_not_allowed,
    path_handle,
    proxy_handle,
    unknown_endpoint,
)
from resolver.json_values import value_to_json
from resolver.message import Answer, Query
from resolver.templates import REF_INDEX, REF_TYPE, Item, template_in
from resolver.values import HandleValue, first_url, lifetime

Resolve = Callable[[Query], Awaitable[Answer]]

#: Longest time a redirect may be cached by browsers (Handle.Net's proxy: 2 days).
MAX_REDIRECT_TTL = 2 * 86400
_LOCATION_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


def location(url: str) -> str:
    """A URL as a ``Location`` header carries it: characters outside URI syntax (spaces,
    non-ASCII) percent-encoded, everything already valid kept."""
    return quote(url, safe=_LOCATION_SAFE)


def redirect_ttl(values: Iterable[HandleValue]) -> int:
    """How long a redirect built from these values may be cached: their shortest TTL, at
    most :data:`MAX_REDIRECT_TTL`."""
    return int(lifetime(values, time.time(), MAX_REDIRECT_TTL))


def answer_json(answer: Answer, items: Mapping[int, Item] | None = None) -> dict:
    """Handle.Net's JSON answer; with ``items`` (template items by value index), each value
    at an item's index also carries ``"item": {"key": ..., "name": ...}``."""
    body = {"responseCode": int(answer.rc), "handle": answer.handle}
    if answer.referral is not None:
        body["referralHandle"] = answer.referral
    body["values"] = [value_to_json(v) for v in answer.values]
    if items:
        for value in body["values"]:
            item = items.get(value["index"])
            if item is not None:
                value["item"] = {"key": item.key, "name": item.name}
    return body


class ResolutionRoutes:
    """Routes that only read."""

    def __init__(
        self,
        resolve: Resolve,
        fast_hit: Callable[[str], bytes | None] | None = None,
        shared_hit: Callable[[str], Awaitable[bytes | None]] | None = None,
    ) -> None:
        """``fast_hit`` (L1) and then ``shared_hit`` (L2) answer a plain GET (no parameters,
        no credentials) with ready bytes when a cache holds a fresh answer, before any other
        work is done."""
        self.resolve = resolve
        self.fast_hit = fast_hit
        self.shared_hit = shared_hit

    def add_to(self, app: web.Application) -> None:
        """Register the API route. Call :meth:`add_proxy_to` after every other face's routes."""
        add_route(app, "GET", "/api/handles/{tail:.+}", self.get_handle)

    def add_proxy_to(self, app: web.Application) -> None:
        """The web proxy catches every other GET path, so it goes last. Unknown ``/api/``
        paths are answered as Handle.Net does (404, RC 4) instead of being resolved, a
        browser's CORS preflight (OPTIONS) on any ``/api/`` path is answered, and other
        methods on other paths get 405. So every request reaches a route (and the node's
        :class:`~resolver.faces.http_common.Edge`), none an error of aiohttp's router."""
        add_route(app, "OPTIONS", "/api/{tail:.*}", api_preflight)
        add_route(app, "*", "/api/{tail:.*}", unknown_endpoint)
        add_route(app, "GET", "/", self.index)
        add_route(app, "GET", "/{tail:.+}", self.proxy)
        add_route(app, "*", "/{tail:.*}", method_not_allowed)

    async def _query(self, request: web.Request, handle: str) -> Query:
        identity = await identity_of(request)
        return Query(
            handle=handle,
            types=tuple(request.query.getall("type", [])),
            indexes=int_params(request, "index"),
            authoritative=flag(request, "auth"),
            public_only=flag(request, "publicOnly", default=identity is None),
            identity=identity,
        )

    async def get_handle(self, request: web.Request) -> web.Response:
        handle = path_handle(request, "/api/handles/")
        # "?" in the raw path, not request.query_string: that decodes the query (measurable)
        if (
            self.fast_hit is not None
            and "?" not in request.raw_path
            and ("Authorization" not in request.headers)
        ):
            body = self.fast_hit(handle)
            if body is None and self.shared_hit is not None:
                body = await self.shared_hit(handle)
            if body is not None:
                return web.Response(body=body, content_type="application/json")
        try:
            query = await self._query(request, handle)
            answer = await self.resolve(query)
        except TieridError as err:
            err.handle = handle  # what was asked, not a step of the walk (0.NA/99.99)
            raise
        items = None
        if flag(request, "itemNames"):
            named = answer.values
            if query.types or query.indexes:  # the template is named at 1000, maybe not asked
                named = (await self.resolve(replace(query, types=(), indexes=(REF_INDEX,)))).values
            items = await self._template_items(named)
        resp = json_response(
            answer_json(answer, items),
            http_status(answer.rc, resolution=True),
            pretty=flag(request, "pretty"),
        )
        if answer.stale:
            resp.headers["Warning"] = '110 tierid "Response is Stale"'
        return resp

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(text=html.index_page(), content_type="text/html")

    async def _template_items(self, values: Sequence[HandleValue]) -> dict[int, Item]:
        """The items of the template a record is registered against (resolved like any
        record, so cached), by value index; none if it has no template or it cannot be read."""
        ref = next((v for v in values if v.index == REF_INDEX and v.type.upper() == REF_TYPE), None)
        if ref is None:
            return {}
        try:
            answer = await self.resolve(Query(ref.data.decode("utf-8", "replace")))
            template = template_in(answer.values)
        except TieridError:
            return {}
        return {} if template is None else {i.index: i for i in template.items}

    async def proxy(self, request: web.Request) -> web.Response:
        """Resolve, follow HS_ALIAS, then redirect to the first URL or show the record."""
        handle = proxy_handle(request)
        try:
            query = await self._query(request, handle)
            answer = await self.resolve(query)
            if not flag(request, "ignore_aliases"):
                answer = await follow_aliases(self.resolve, answer, query)
        except TieridError as err:
            title = "Not found" if err.http_status == 404 else "Cannot resolve"
            return web.Response(
                text=html.error_page(title, f"{handle}: {err.message}"),
                status=err.http_status,
                content_type="text/html",
            )
        action = request.query.get("action", "")
        url = first_url(answer.values)
        if flag(request, "noredirect") or action == "showvalues" or url is None:
            items = await self._template_items(answer.values)
            names = {index: item.name for index, item in items.items()}
            return web.Response(
                text=html.record_page(answer.handle, answer.values, names),
                content_type="text/html",
            )
        url += request.query.get("urlappend", "")
        target = location(url)
        ttl = redirect_ttl(answer.values)
        return web.Response(
            status=302,
            headers={"Location": target, "Cache-Control": f"max-age={ttl}"},
            text=f'<a href="{target}">{target}</a>',
            content_type="text/html",
        )
