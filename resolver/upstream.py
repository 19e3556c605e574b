"""Asking other nodes: server choice by measured latency and health, failover inside one
request, over the binary protocol (``hdl://`` endpoints, :mod:`resolver.hdl_client`) or
the HTTP JSON API (``http(s)://``, whose answers are decoded here).

Each endpoint keeps an exponentially weighted latency and a failure count; one that failed
is skipped for a back-off period (doubling, capped) unless nothing else is left. A request
tries the endpoints of a site in order of health and latency until one answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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


@dataclass
class UpstreamStats:
    endpoints: dict[str, EndpointStats] = field(default_factory=dict)
    queries: int = 0

    def of(self, url: str) -> EndpointStats:
        stats = self.endpoints.get(url)
        if stats is None:
            stats = self.endpoints[url] = EndpointStats(url)
        return stats


def _answer_from_json(body: Any, asked: str) -> Answer:
    if not isinstance(body, dict) or not isinstance(body.get("responseCode"), int):
        raise ProtocolError("upstream answer is not a Handle JSON response")
    try:
        rc = RC(body["responseCode"])
    except ValueError as exc:
        raise ProtocolError(f"upstream sent response code {body['responseCode']!r}") from exc
    if rc not in (RC.SUCCESS, RC.VALUES_NOT_FOUND, RC.PREFIX_REFERRAL, RC.SERVICE_REFERRAL):
        raise error_for(rc, str(body.get("message", "")), asked)
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

        return sorted(endpoints, key=key)

    async def _get(self, url: str, query: Query) -> Answer:
        if url.startswith("hdl"):
            address, udp = parse_endpoint(url)
            return await self.native.resolve(address, query, udp=udp)
        params = [("type", t) for t in query.types] + [("index", str(i)) for i in query.indexes]
        if query.authoritative:
            params.append(("auth", "true"))
        assert self._session is not None, "Upstream.open() first"
        async with self._session.get(
            api_url(url, handle_path(query.handle)), params=params, timeout=self.timeout
        ) as resp:
            try:
                body = await resp.json(content_type=None)
            except (ValueError, RecursionError) as exc:
                raise ProtocolError(f"{url} answered HTTP {resp.status} without JSON") from exc
        return _answer_from_json(body, query.handle)

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
            except (TimeoutError, aiohttp.ClientError, ProtocolError, OSError) as exc:
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
