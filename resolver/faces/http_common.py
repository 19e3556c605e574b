"""What every HTTP route shares: taking the identifier from the raw path, credentials,
query-string booleans, JSON bodies out and in, and the edge every route is registered behind.

Identifiers are taken from ``request.raw_path``, split from the route prefix and
percent-decoded exactly once, so ``%2F`` inside a suffix never changes the routing and a
``%25`` stays a literal ``%``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from aiohttp.typedefs import Handler

from resolver.errors import (
    INTERNAL_ERROR_BODY,
    AuthenticationFailed,
    BodyTooLarge,
    InvalidHandle,
    ProtocolError,
    RateLimited,
    TieridError,
    UnreadableBody,
    UnsupportedMediaType,
    to_json,
)
from resolver.handle import strip_scheme
from resolver.json_values import check_unicode
from resolver.message import Credentials, Identity
from resolver.numbers import is_decimal
from resolver.ratelimit import RateLimiter

log = logging.getLogger("tierid.http")

Authenticate = Callable[[Credentials], Awaitable[Identity]]

#: ``Authorization: Handle ...`` header -> the identity its session proves (or proves now)
SessionLogin = Callable[[str], Awaitable[Identity]]

#: app key holding the node's authenticator (``Authenticate``)
AUTHENTICATE = web.AppKey("authenticate", object)
#: app key holding the node's session login (``SessionLogin``)
SESSION_LOGIN = web.AppKey("session_login", object)
#: app key: whether credentials may be sent over plain HTTP (loopback demos only)
INSECURE_AUTH = web.AppKey("insecure_auth", bool)

_TRUE = {"", "true", "yes", "1", "on"}


def path_handle(request: web.Request, route_prefix: str) -> str:
    """The identifier after ``route_prefix`` in the raw path, percent-decoded once.

    :raises InvalidHandle: if the decoded bytes are not UTF-8.
    """
    raw = request.raw_path.partition("?")[0]
    tail = raw[len(route_prefix) :] if raw.startswith(route_prefix) else ""
    if "%" not in tail:
        return tail
    try:
        return unquote(tail, errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidHandle("not-unicode", "identifier is not valid UTF-8") from exc


def proxy_handle(request: web.Request) -> str:
    """The identifier of a web-proxy path, with ``hdl:``/``doi:``-style schemes removed."""
    return strip_scheme(path_handle(request, "/"))


def flag(request: web.Request, name: str, default: bool = False) -> bool:
    """Handle.Net's booleans: present-and-empty, ``true`` or ``yes`` mean true."""
    if name not in request.query:
        return default
    return request.query[name].strip().lower() in _TRUE


def int_params(request: web.Request, name: str) -> tuple[int, ...]:
    out = []
    for text in request.query.getall(name, []):
        for part in text.split(","):
            if not is_decimal(part.strip()) or len(part.strip()) > 10:
                raise ProtocolError(f"{name} must be a non-negative integer, not {part!r}")
            out.append(int(part))
    return tuple(out)


def int_param(request: web.Request, name: str, default: int, maximum: int = 0x7FFFFFFF) -> int:
    """An integer parameter from -1 to ``maximum`` (beyond: RC 4, not an overflow later)."""
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError as exc:
        raise ProtocolError(f"{name} must be an integer") from exc
    if not -1 <= value <= maximum:
        raise ProtocolError(f"{name} must be from -1 to {maximum}")
    return value


def parse_basic(header: str) -> Credentials:
    """``Basic base64(pct-encode("index:handle") + ":" + secret)``, as pyhandle sends it.

    :raises AuthenticationFailed: if the header is malformed.
    """
    try:
        decoded = base64.b64decode(header.split(None, 1)[1].strip(), validate=True)
    except (IndexError, binascii.Error, ValueError) as exc:
        raise AuthenticationFailed("malformed Basic authorization header") from exc
    user, sep, secret = decoded.partition(b":")
    if not sep or not user:
        raise AuthenticationFailed("Basic credentials must be index:handle and a secret")
    try:
        identity = Identity.from_text(unquote(user.decode("utf-8"), errors="strict"))
    except UnicodeDecodeError as exc:
        raise AuthenticationFailed("Basic user name is not UTF-8") from exc
    return Credentials(identity, secret)


def authorization(request: web.Request) -> str:
    """The request's ``Authorization`` header, "" if it has none. Every scheme spoken here
    (Basic, Bearer, Handle) writes its credentials in ASCII; aiohttp passes other bytes on as
    lone surrogates, which would fail deep inside a credential check, so they stop here.

    :raises AuthenticationFailed: if the header is not ASCII.
    """
    header = request.headers.get("Authorization", "")
    if not header.isascii():
        raise AuthenticationFailed("the Authorization header must be ASCII")
    return header


async def identity_of(request: web.Request) -> Identity | None:
    """The authenticated identity of a request, or None if it sent no credentials.

    :raises AuthenticationFailed: on a wrong secret, or credentials over plain HTTP where
        the configuration does not allow it.
    """
    header = authorization(request)
    if not header:
        return None
    scheme = header.split(None, 1)[0].lower()
    if scheme not in ("basic", "handle"):
        raise AuthenticationFailed(
            f"unsupported authorization scheme {scheme!r}; use Basic or Handle"
        )
    if not request.secure and not request.app[INSECURE_AUTH]:
        raise AuthenticationFailed("authentication over plain HTTP is disabled; use HTTPS")
    if scheme == "handle":
        login: SessionLogin = request.app[SESSION_LOGIN]  # type: ignore[assignment]
        return await login(header)
    authenticate: Authenticate = request.app[AUTHENTICATE]  # type: ignore[assignment]
    return await authenticate(parse_basic(header))


def dumps(body: Any, pretty: bool = False) -> bytes:
    if pretty:
        return json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(body: Any, status: int = 200, *, pretty: bool = False) -> web.Response:
    return web.Response(body=dumps(body, pretty), status=status, content_type="application/json")


async def json_body(request: web.Request) -> Any:
    """The parsed JSON entity of a write.

    :raises UnsupportedMediaType: unless ``Content-Type: application/json``.
    :raises BodyTooLarge: over the configured limit.
    :raises ProtocolError: if it is not valid JSON.
    :raises InvalidValue: if a string in it is not Unicode (an escaped lone surrogate).
    """
    if request.content_type != "application/json":
        raise UnsupportedMediaType(
            f"request body must be application/json, not {request.content_type or 'missing'}"
        )
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise BodyTooLarge(f"request body exceeds {request.app._client_max_size} bytes") from exc
    except web.RequestPayloadError as exc:  # e.g. Content-Encoding: gzip on a body that is not
        raise UnreadableBody(f"request body cannot be read ({' '.join(str(exc).split())})") from exc
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ProtocolError("request body is nested too deeply") from exc
    check_unicode(raw, body)
    return body


def error_response(err: TieridError, request: web.Request) -> web.Response:
    resp = json_response(to_json(err), err.http_status)
    if err.http_status == 401:
        resp.headers["WWW-Authenticate"] = 'Basic realm="tierid"'
    if isinstance(err, RateLimited):
        resp.headers["Retry-After"] = str(max(1, math.ceil(err.retry_after)))
    if isinstance(err, UnreadableBody):
        resp.force_close()  # says "Connection: close", so no client sends more on it
    return resp


@dataclass
class Counters:
    """What the HTTP edge counts (shown by /api/status and /metrics)."""

    started: float = field(default_factory=time.time)
    requests: int = 0


class Edge:
    """What every HTTP request passes through, cache hits included: it counts requests,
    holds back clients over their rate limit (429), adds CORS to API answers as Handle.Net
    does (any origin, no credentials: browsers authenticate with headers), and is the only
    place HTTP errors are made (typed errors to Handle JSON, anything else to a 500 without
    details).

    It wraps each route's handler (:func:`add_route`) instead of being an aiohttp
    middleware: aiohttp's middleware chain, even one that only passes the request on, cost
    about 15% of a cache hit's throughput here, where it is most of the work."""

    def __init__(self, counters: Counters, limiter: RateLimiter | None) -> None:
        self.counters = counters
        self.limiter = limiter

    def wrap(self, handler: Handler, *, cors: bool) -> Handler:
        """``handler`` behind the edge; ``cors``: its answers carry the CORS header."""
        counters, limiter = self.counters, self.limiter

        async def edge(request: web.Request) -> web.StreamResponse:
            counters.requests += 1
            response: web.StreamResponse
            if limiter is not None and (wait := limiter.wait(request.remote or "")):
                response = error_response(RateLimited(wait), request)
            else:
                try:
                    response = await handler(request)
                except TieridError as err:
                    response = error_response(err, request)
                except web.HTTPRequestEntityTooLarge:
                    response = _body_too_large(request)
                except web.HTTPException:
                    raise
                except Exception:
                    log.exception("internal error on %s %s", request.method, request.path)
                    response = json_response(INTERNAL_ERROR_BODY, 500)
            if cors:
                response.headers.setdefault("Access-Control-Allow-Origin", "*")
            return response

        return edge


#: app key holding the node's :class:`Edge`
EDGE = web.AppKey("edge", Edge)


def add_route(app: web.Application, method: str, path: str, handler: Handler) -> None:
    """Register a route behind the app's :class:`Edge`: every tierid route is added here.
    API routes (``/api/...``) answer with CORS, as Handle.Net's do; a GET route answers HEAD
    too (aiohttp leaves the body out), as aiohttp's own ``add_get`` does."""
    wrapped = app[EDGE].wrap(handler, cors=path.startswith("/api/"))
    for each in ("GET", "HEAD") if method == "GET" else (method,):
        app.router.add_route(each, path, wrapped)


def _body_too_large(request: web.Request) -> web.Response:
    limit = request.app._client_max_size
    return error_response(BodyTooLarge(f"request body exceeds {limit} bytes"), request)


#: what a browser's preflight is told an API request may use: its methods, and the headers
#: credentials and JSON bodies need (``Authorization`` is never covered by a wildcard)
_PREFLIGHT = {
    "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "86400",
}


async def api_preflight(request: web.Request) -> web.Response:
    """``OPTIONS`` on an API path: a browser asking whether a page of another origin may
    send a write (or anything with ``Authorization``); the edge adds the origin."""
    return web.Response(status=204, headers=_PREFLIGHT)


async def unknown_endpoint(request: web.Request) -> web.Response:
    """A path under ``/api/`` that no route takes: 404 with RC 4, as Handle.Net answers."""
    message = f"Unknown HTTP API endpoint {request.method} {request.path}"
    return json_response({"responseCode": 4, "message": message}, 404)


async def method_not_allowed(request: web.Request) -> web.Response:
    """A method no route takes on a path (every path takes GET: the web proxy's)."""
    message = f"Method {request.method} not allowed on {request.path}"
    return json_response({"responseCode": 4, "message": message}, 405)
