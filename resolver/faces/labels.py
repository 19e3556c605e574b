"""``GET /api/labels/{id}?format=svg|png``: a printable QR label for a registered identifier
(:mod:`resolver.labels`); an identifier that does not resolve gets no label."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from resolver.errors import ProtocolError
from resolver.faces.http_common import add_route, path_handle
from resolver.labels import label_png, label_svg, label_url
from resolver.message import Answer, Query

Resolve = Callable[[Query], Awaitable[Answer]]
_FORMATS = {"svg": "image/svg+xml", "png": "image/png"}


class LabelRoutes:
    """``public_url``: the root labels point at (empty: the request's scheme and host)."""

    def __init__(self, resolve: Resolve, public_url: str) -> None:
        self.resolve = resolve
        self.public_url = public_url.rstrip("/")

    def add_to(self, app: web.Application) -> None:
        add_route(app, "GET", "/api/labels/{tail:.+}", self.label)

    async def label(self, request: web.Request) -> web.Response:
        kind = request.query.get("format", "svg")
        if kind not in _FORMATS:
            raise ProtocolError(f"format is svg or png, not {kind!r}")
        answer = await self.resolve(Query(path_handle(request, "/api/labels/")))
        root = self.public_url or f"{request.scheme}://{request.host}"
        url = label_url(root, answer.handle)
        body = label_png(answer.handle, url) if kind == "png" else label_svg(answer.handle, url)
        return web.Response(
            body=body.encode("utf-8") if isinstance(body, str) else body,
            content_type=_FORMATS[kind],
            headers={"Content-Disposition": f'inline; filename="label.{kind}"'},
        )
