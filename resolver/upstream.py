"""Asking other nodes: server choice by measured latency and health, failover inside one
request, over the binary protocol (``hdl://`` endpoints, :mod:`resolver.hdl_client`) or
the HTTP JSON API (``http(s)://``, whose answers are decoded here).

Each endpoint keeps an exponentially weighted latency and a failure count; one that failed
is skipped for a back-off period (doubling, capped) unless nothing else is left. A request
tries the endpoints of a site in order of health and latency until one answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp

from resolver.codes import ResponseCode as RC
from resolver.errors import (
    InvalidValue,
    NotResponsible,
    ProtocolError,
    TieridError,
    UpstreamUnavailable,
    error_for,
)
from resolver.hdl_client import HandleClient, parse_endpoint
from resolver.http_client import api_url, handle_path
from resolver.json_values import value_from_json
from resolver.message import Answer, Query
from resolver.values import HandleValue

#: Response codes after which another server of the same site may know better.
_TRY_NEXT = {RC.ERROR, RC.SERVER_TOO_BUSY, RC.SERVER_BACKUP, RC.SERVER_NOT_RESP}
MAX_BACKOFF = 30.0


@dataclass
class EndpointStats:
    url: str
    latency_ms: float | None = None
    failures: int = 0  # in a row: what the back-off grows with
    down_until: float = 0.0
    queries: int = 0
    errors: int = 0  # failed queries in all

    def up(self, now: float) -> bool:
        """Whether the server is in use (not being backed off) at ``now``."""
        return now >= self.down_until

    def record_success(self, elapsed_ms: float) -> None:
        self.queries += 1
        self.failures = 0
        self.down_until = 0.0
        if self.latency_ms is None:
            self.latency_ms = elapsed_ms
        else:
            self.latency_ms = 0.8 * self.latency_ms + 0.2 * elapsed_ms

    def record_failure(self, now: float) -> None:
        self.queries += 1
        self.errors += 1
        self.failures += 1
        self.down_until = now + min(MAX_BACKOFF, 0.5 * 2 ** (self.failures - 1))


#: servers whose figures (latency, failures, back-off) are kept
MAX_ENDPOINTS = 1024


@dataclass
class UpstreamStats:
    endpoints: dict[str, EndpointStats] = field(default_factory=dict)
    queries: int = 0

    def of(self, url: str) -> EndpointStats:
        """The figures of ``url``: the :data:`MAX_ENDPOINTS` servers asked most recently are
        kept (every server named in any site answer was, for good, and all went to /metrics)."""
        stats = self.endpoints.pop(url, None) or EndpointStats(url)
        self.endpoints[url] = stats  # the most recent last
        if len(self.endpoints) > MAX_ENDPOINTS:
            del self.endpoints[next(iter(self.endpoints))]
        return stats


#: the largest answer read from another node: 50 values of 4 KiB, base64 and JSON around
#: them, come to well under it (one of 400 MB took a resolver to 1.3 GB)
MAX_ANSWER_BYTES = 4 << 20
#: the most of a node's error message passed on (it is cached, and shown to clients)
MAX_MESSAGE_CHARS = 512
#: the most servers of one site asked (each asked server is measured and kept in the stats)
MAX_SITE_SERVERS = 16


def _answer_from_json(body: Any, asked: str) -> Answer:
    code = body.get("responseCode") if isinstance(body, dict) else None
    if isinstance(code, bool) or not isinstance(code, int):
        raise ProtocolError("upstream answer is not a Handle JSON response")
    try:
        rc = RC(body["responseCode"])
    except ValueError as exc:
        raise ProtocolError(f"upstream sent response code {body['responseCode']!r}") from exc
    if rc not in (RC.SUCCESS, RC.VALUES_NOT_FOUND, RC.PREFIX_REFERRAL, RC.SERVICE_REFERRAL):
        raise error_for(rc, str(body.get("message", ""))[:MAX_MESSAGE_CHARS], asked)
    raw = body.get("values", [])
    if not isinstance(raw, list):
        raise ProtocolError("upstream values are not a list")
    try:
        values: list[HandleValue] = [
            value_from_json(v, max_data_bytes=1 << 20, keep_timestamp=True) for v in raw
        ]
    except InvalidValue as exc:
        raise ProtocolError(f"upstream sent an invalid value: {exc.message}") from exc
    referral = body.get("referralHandle")
    return Answer(asked, values, rc, referral if isinstance(referral, str) else None)


class Upstream:
    """Queries endpoints over HTTP with per-request timeouts and failover."""

    def __init__(self, request_timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._session: aiohttp.ClientSession | None = None
        self.timeout = aiohttp.ClientTimeout(total=request_timeout)
        self.native = HandleClient(timeout=request_timeout, udp_timeout=request_timeout / 4)
        self.stats = UpstreamStats()
        self.clock = clock

    async def open(self) -> None:
        """Start the connection pool (keep-alive connections to every node asked)."""
        connector = aiohttp.TCPConnector(limit_per_host=32, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(connector=connector)

    async def close(self) -> None:
        await self.native.close()
        if self._session is not None:
            await self._session.close()

    def order(self, endpoints: Sequence[str]) -> list[str]:
        """Healthy endpoints first, fastest measured first; endpoints not measured yet keep
        the site's order (primary sites first) after them, and those in back-off go last.
        A mirror is thus asked once the primary fails or is slow, and measured from then on."""
        now = self.clock()

        def key(url: str) -> tuple[bool, float]:
            s = self.stats.of(url)
            return (not s.up(now), s.latency_ms if s.latency_ms is not None else float("inf"))

        return sorted(endpoints[:MAX_SITE_SERVERS], key=key)

    async def _get(self, url: str, query: Query) -> Answer:
        if url.startswith("hdl"):
            address, udp = parse_endpoint(url)
            return await self.native.resolve(address, query, udp=udp)
        params = [("type", t) for t in query.types] + [("index", str(i)) for i in query.indexes]
        if query.authoritative:
            params.append(("auth", "true"))
        assert self._session is not None, "Upstream.open() first"
        target = api_url(url, handle_path(query.handle))  # ValueError: e.g. a port past 65535
        async with self._session.get(
            target, params=params, timeout=self.timeout, allow_redirects=False
        ) as resp:
            raw = bytearray()
            async for chunk in resp.content.iter_chunked(1 << 16):
                raw += chunk
                if len(raw) > MAX_ANSWER_BYTES:
                    raise ProtocolError(f"{url} answered more than {MAX_ANSWER_BYTES} bytes")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # a redirect is not followed either
            raise ProtocolError(f"{url} answered HTTP {resp.status} without JSON") from exc
        answer = _answer_from_json(body, query.handle)
        if query.public_only:  # what the resolver keeps and shares holds no restricted value
            answer = replace(answer, values=[v for v in answer.values if v.public])
        return answer

    async def ask(self, endpoints: Sequence[str], query: Query) -> tuple[str, Answer]:
        """The first usable answer from the endpoints of one site (and which one gave it).

        :raises UpstreamUnavailable: no endpoint answered.
        :raises TieridError: the answering server's error (not found, invalid, ...).
        """
        problems: list[str] = []
        not_responsible: NotResponsible | None = None
        for url in self.order(endpoints):
            stats = self.stats.of(url)
            self.stats.queries += 1
            started = self.clock()
            try:
                answer = await self._get(url, query)
            except (TimeoutError, aiohttp.ClientError, ProtocolError, OSError, ValueError) as exc:
                stats.record_failure(self.clock())
                problems.append(f"{url}: {type(exc).__name__} {exc}".strip())
                continue
            except NotResponsible as exc:
                stats.record_success((self.clock() - started) * 1000)
                not_responsible = exc
                continue
            except TieridError as exc:
                if exc.rc in _TRY_NEXT:
                    stats.record_failure(self.clock())
                    problems.append(f"{url}: {exc}")
                    continue
                stats.record_success((self.clock() - started) * 1000)
                raise
            stats.record_success((self.clock() - started) * 1000)
            return url, answer
        if not_responsible is not None:
            raise not_responsible
        raise UpstreamUnavailable(
            f"no server answered for {query.handle}: " + "; ".join(problems), handle=query.handle
        )
