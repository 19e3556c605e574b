"""Assembles a node from its configuration: store, authority, routes, middleware.

``make_app(config)`` builds everything without I/O; the store is opened (and the
configured prefixes homed) by a cleanup context when the app starts, and closed when it
stops, so nothing outlives the app.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from registry.authority import Authority
from registry.http_api import AdminRoutes
from registry.permissions import Authorizer
from registry.storage.sqlite import SQLiteStore
from resolver.faces.http import ResolutionRoutes
from resolver.faces.http_common import AUTHENTICATE, INSECURE_AUTH, error_middleware
from resolver.message import Identity
from tierid.config import Config

AUTHORITY = web.AppKey("authority", Authority)


def make_app(config: Config, samples: Sequence[str] = ()) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware], client_max_size=config.http.max_body_bytes
    )
    store = SQLiteStore(config.storage_path)
    authorizer = Authorizer(Identity.from_text(a) for a in config.node.server_admins)
    authority = Authority(store, authorizer, config.limits)
    app[AUTHORITY] = authority
    app[AUTHENTICATE] = authority.authenticate
    app[INSECURE_AUTH] = config.http.allow_insecure_auth

    async def storage(app: web.Application) -> AsyncIterator[None]:
        await store.open()
        try:
            await authority.home_configured(config.node.prefixes)
            yield
        finally:
            await store.close()

    app.cleanup_ctx.append(storage)
    resolution = ResolutionRoutes(authority.resolve, samples)
    resolution.add_to(app)
    AdminRoutes(authority).add_to(app)
    resolution.add_proxy_to(app)
    app.on_response_prepare.append(_cors)
    return app


async def _cors(request: web.Request, response: web.StreamResponse) -> None:
    """CORS as Handle.Net enables it: any origin, no credentials (browsers use headers)."""
    if request.path.startswith("/api/"):
        response.headers.setdefault("Access-Control-Allow-Origin", "*")


def ssl_context(config: Config) -> ssl.SSLContext | None:
    if not config.http.tls_cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(config.path(config.http.tls_cert), config.path(config.http.tls_key))
    return ctx
