"""Assembles a node from its configuration: store, authority, the HTTP edge and its routes.

``make_app(config)`` builds everything without I/O; the store is opened (and the
configured prefixes homed) by a cleanup context when the app starts, and closed when it
stops, so nothing outlives the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from aiohttp import web

from registry import native_admin
from registry.authority import Authority
from registry.bootstrap import http_site
from registry.http_api import AdminRoutes
from registry.mirror import Mirror
from registry.permissions import Authorizer
from registry.quotas import Quotas
from registry.replication import ReplicationRoutes
from registry.session_routes import SessionRoutes
from registry.sessions import Sessions
from registry.snms import SnmsRoutes
from registry.storage.sqlite import SQLiteStore
from resolver.caching import CachingResolver
from resolver.errors import NotResponsible
from resolver.faces.cache_admin import CacheAdminRoutes
from resolver.faces.digital_link import DigitalLinkRoutes
from resolver.faces.dns import DnsFace
from resolver.faces.http import ResolutionRoutes
from resolver.faces.http_common import (
    AUTHENTICATE,
    EDGE,
    INSECURE_AUTH,
    Counters,
    Edge,
)
from resolver.faces.labels import LabelRoutes
from resolver.faces.native import NativeFace
from resolver.faces.native_responder import Responder
from resolver.faces.scan import ScanRoutes
from resolver.gs1.bindings import Gs1Resolver
from resolver.message import Answer, Identity, Query
from resolver.ratelimit import RateLimiter
from resolver.redis_cache import RedisCache
from resolver.upstream import Upstream
from resolver.walker import Walker
from tierid import worker_metrics
from tierid.config import Config
from tierid.metrics import Metrics
from tierid.status import StatusRoutes
from tierid.worker_metrics import WorkerMetrics

AUTHORITY = web.AppKey("authority", Authority)


def _managed(
    app: web.Application, open_: Callable[[], Awaitable[None]], close: Callable[[], Awaitable[None]]
) -> None:
    """Open a resource when the app starts and close it when it stops (cleanup context)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        await open_()
        try:
            yield
        finally:
            await close()

    app.cleanup_ctx.append(ctx)


def _background(app: web.Application, make: Callable[[], Awaitable[None]], name: str) -> None:
    """Run a long-lived task while the app runs; cancel it when the app stops."""

    running: list[asyncio.Task[None]] = []

    async def start() -> None:
        running.append(asyncio.create_task(make(), name=name))  # type: ignore[arg-type]

    async def stop() -> None:
        for task in running:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    _managed(app, start, stop)


@dataclass
class _Resolution:
    resolve: Callable[[Query], Awaitable[Answer]]
    walker: Walker | None = None
    cache: CachingResolver | None = None
    fast_hit: Callable[[str], bytes | None] | None = None
    shared_hit: Callable[[str], Awaitable[bytes | None]] | None = None


def _resolution(
    app: web.Application, config: Config, authority: Authority, shared: RedisCache | None
) -> _Resolution:
    """The lookup pipeline: authority alone, or authority -> cache (L1, L2) -> walk."""
    if not config.resolver.enabled:
        return _Resolution(authority.resolve)
    upstream = Upstream(config.resolver.request_timeout_ms / 1000)
    walker = Walker(upstream, config.resolver)
    _managed(app, upstream.open, upstream.close)
    if not config.cache.enabled:
        return _Resolution(_router(authority, walker.resolve), walker)
    cache = CachingResolver(walker.resolve, config.cache, l2=shared)
    if shared is not None:
        _background(app, lambda: shared.follow(cache.invalidate, cache.reset), "invalidations")
    return _Resolution(
        _router(authority, cache.resolve),
        walker,
        cache,
        cache.local_hit,
        cache.shared_hit if shared is not None else None,
    )


def shared_cache(config: Config) -> RedisCache | None:
    """The Redis cache the node's resolvers share, if configured (not open yet): writes
    invalidate its entries, whether they come through the node or straight into its store."""
    if not config.cache.redis_url:
        return None
    return RedisCache(
        config.cache.redis_url,
        config.cache.redis_namespace,
        config.cache.redis_timeout_ms / 1000,
        config.cache.redis_retry_s,
    )


def make_app(config: Config) -> web.Application:
    counters = Counters()
    limiter = RateLimiter.from_settings(config.ratelimit)
    app = web.Application(client_max_size=config.http.max_body_bytes)
    app[EDGE] = Edge(counters, limiter)
    store = SQLiteStore(config.storage_path, changelog_keep=config.node.changelog_keep)
    _managed(app, store.open, store.close)
    shared = shared_cache(config)
    if shared is not None:
        _managed(app, shared.open, shared.close)
    authorizer = Authorizer(Identity.from_text(a) for a in config.node.server_admins)
    mirror_of = config.mirror.primary
    read_only = f"this node is a mirror of {mirror_of}; send writes there" if mirror_of else None
    quotas = Quotas(config.quotas, authorizer)
    authority = Authority(
        store,
        authorizer,
        config.limits,
        read_only=read_only,
        notify=shared.invalidate if shared is not None else None,
        quotas=quotas if quotas.active else None,
    )
    mirror = None
    if mirror_of:
        secret = config.path(config.mirror.secret_file).read_bytes().strip()
        mirror = Mirror(store, config.mirror, secret, shared)
        _background(app, mirror.run, "mirror")
    else:
        _managed(app, partial(authority.home_configured, config.node.prefixes), _nothing)
    app[AUTHORITY] = authority
    app[AUTHENTICATE] = authority.authenticate
    app[INSECURE_AUTH] = config.http.allow_insecure_auth

    lookups = _resolution(app, config, authority, shared)
    # the lookup route first: the router tries routes in order, and it is the hot one
    routes = ResolutionRoutes(lookups.resolve, lookups.fast_hit, lookups.shared_hit)
    routes.add_to(app)
    gs1 = Gs1Resolver(lookups.resolve, config.resolver.gs1_index)
    ScanRoutes(lookups.resolve, gs1).add_to(app)
    LabelRoutes(lookups.resolve, config.http.public_url).add_to(app)
    if config.resolver.gs1_index:
        DigitalLinkRoutes(gs1, config.http.public_url, config.node.name).add_to(app)
    face = None
    if config.dns.enabled:
        face = DnsFace(
            lookups.resolve,
            config.dns,
            gs1=gs1,
            reuse_port=config.http.workers > 1,
            limiter=limiter,
        )
        if lookups.cache is not None:
            lookups.cache.drop_listeners.append(face.drop)
        _managed(app, face.open, face.close)
    native = _native_face(
        app, config, authority, lookups.resolve, is_mirror=mirror is not None, limiter=limiter
    )
    if native is not None and lookups.cache is not None:
        lookups.cache.drop_listeners.append(native.responder.hot.drop)
    StatusRoutes(
        config.node.name, authority, lookups.walker, mirror, lookups.cache, counters, face, native
    ).add_to(app)
    ReplicationRoutes(authority).add_to(app)
    AdminRoutes(authority).add_to(app)
    SessionRoutes(Sessions(store, config.sessions)).add_to(app)
    SnmsRoutes(authority, config.snms, config.data_dir).add_to(app)
    routes.add_proxy_to(app)
    metrics = Metrics(
        counters, authority, lookups.walker, lookups.cache, shared, face, native, limiter, mirror
    )
    if config.http.workers > 1:
        metrics.workers = WorkerMetrics(worker_metrics.folder_of(config.data_dir), metrics.own)
        _background(app, metrics.workers.run, "worker-metrics")
    metrics.add_to(app)
    if lookups.cache is not None:
        token_file = config.node.operator_token_file
        token = config.path(token_file).read_bytes().strip() if token_file else None
        CacheAdminRoutes(lookups.cache, token).add_to(app)
    return app


def _native_face(
    app: web.Application,
    config: Config,
    authority: Authority,
    resolve: Callable[[Query], Awaitable[Answer]],
    *,
    is_mirror: bool,
    limiter: RateLimiter | None,
) -> NativeFace | None:
    """The Handle binary face, if enabled: lookups through the pipeline, writes and
    listings through the authority, identities proven by challenge-response."""
    settings = config.handle
    if not settings.enabled:
        return None
    site = http_site(
        settings.site_address or settings.host,
        config.http.port,
        https=bool(config.http.tls_cert),
        primary=not is_mirror,
        handle_port=settings.port,
    )
    responder = Responder(
        resolve,
        site=site,
        operations=native_admin.operations(authority),
        verify=authority.verify_challenge,
        challenge_timeout=settings.challenge_timeout_s,
        hot_answers=settings.hot_answers,
    )
    face = NativeFace(responder, settings, reuse_port=config.http.workers > 1, limiter=limiter)
    _managed(app, face.open, face.close)
    return face


async def _nothing() -> None:
    return None


def _router(
    authority: Authority, remote: Callable[[Query], Awaitable[Answer]]
) -> Callable[[Query], Awaitable[Answer]]:
    """Local prefixes from the authority; everything else (or a referral) through ``remote``
    (the cache in front of the walk). Handles under no prefix homed here skip the store."""

    async def resolve(query: Query) -> Answer:
        if not await authority.may_know(query.handle):
            return await remote(query)
        try:
            answer = await authority.resolve(query)
        except NotResponsible:
            return await remote(query)
        if answer.referral is not None:
            return await remote(query)
        return answer

    return resolve


def ssl_context(config: Config) -> ssl.SSLContext | None:
    if not config.http.tls_cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(config.path(config.http.tls_cert), config.path(config.http.tls_key))
    return ctx
