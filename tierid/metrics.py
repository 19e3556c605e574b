"""``GET /metrics``: the node's counters in Prometheus text format (version 0.0.4)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from registry.authority import Authority
from registry.mirror import Mirror
from resolver.caching import CachingResolver
from resolver.faces.dns import DnsFace
from resolver.faces.http_common import Counters, add_route
from resolver.faces.native import NativeFace
from resolver.ratelimit import RateLimiter
from resolver.redis_cache import RedisCache
from resolver.walker import Walker

if TYPE_CHECKING:
    from tierid.worker_metrics import WorkerMetrics


@dataclass(frozen=True, slots=True)
class Family:
    """One metric: its samples as (label set in exposition syntax, value)."""

    name: str
    kind: str  # "counter" | "gauge"
    help: str
    samples: list[tuple[str, float]]


def render(families: Iterable[Family]) -> str:
    """Prometheus text exposition format 0.0.4."""
    lines = []
    for f in families:
        lines.append(f"# HELP {f.name} {f.help}")
        lines.append(f"# TYPE {f.name} {f.kind}")
        lines.extend(f"{f.name}{labels} {value:g}" for labels, value in f.samples)
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


_DNS_COUNTERS = {
    "queries": "DNS queries received (UDP and TCP).",
    "hot_answers": "DNS queries answered from stored wire bytes.",
    "truncated": "DNS answers truncated (TC) to fit the client's UDP size.",
    "dropped": "DNS queries dropped because too many were being resolved.",
    "malformed": "DNS packets that did not parse (FORMERR or dropped).",
    "refused": "DNS queries for other zones or classes (REFUSED).",
    "errors": "DNS queries that failed to resolve (SERVFAIL and the like).",
    "tcp_refused": "DNS TCP connections closed unread: their address held tcp_per_client.",
}


_HANDLE_COUNTERS = {
    "requests": "Handle protocol messages received (UDP and TCP).",
    "hot_answers": "Handle resolutions answered from stored wire bytes.",
    "malformed": "Handle messages that did not decode (RC 4 or dropped).",
    "challenges": "Challenges (RC 402) sent to Handle protocol clients.",
    "authenticated": "Challenge answers that proved an identity.",
    "dropped": "Handle UDP requests dropped because too many were being answered.",
    "errors": "Handle requests that failed with an internal error (RC 2).",
    "tcp_refused": "Handle TCP connections closed unread: their address held tcp_per_client.",
}


class Metrics:
    def __init__(
        self,
        counters: Counters,
        authority: Authority,
        walker: Walker | None,
        cache: CachingResolver | None,
        shared: RedisCache | None,
        dns: DnsFace | None = None,
        native: NativeFace | None = None,
        limiter: RateLimiter | None = None,
        mirror: Mirror | None = None,
    ) -> None:
        self.mirror = mirror
        #: set when the node runs as several processes (``[http] workers``)
        self.workers: WorkerMetrics | None = None
        self.dns = dns
        self.native = native
        self.limiter = limiter
        self.shared = shared
        self.counters = counters
        self.authority = authority
        self.walker = walker
        self.cache = cache

    def add_to(self, app: web.Application) -> None:
        add_route(app, "GET", "/metrics", self.metrics)

    async def metrics(self, request: web.Request) -> web.Response:
        """This process's figures (with worker processes, all of theirs: see
        :class:`tierid.worker_metrics.WorkerMetrics`), then the store's."""
        own = self.workers.combined() if self.workers is not None else self.own()
        seq, records = await self.authority.store.read(
            lambda txn: (txn.seq_range()[1], txn.count_records())
        )
        stored = [
            Family("tierid_records", "gauge", "Records stored on this node.", [("", records)]),
            Family(
                "tierid_changelog_seq", "gauge", "Last change-log sequence number.", [("", seq)]
            ),
        ]
        return web.Response(
            text=render([*own, *stored]),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    def own(self) -> list[Family]:
        """The figures this process keeps (counters and gauges in memory)."""
        families: list[Family] = []

        def metric(name: str, kind: str, help_: str, samples: Iterable[tuple[str, float]]) -> None:
            families.append(Family(name, kind, help_, list(samples)))

        metric(
            "tierid_http_requests_total",
            "counter",
            "HTTP requests served.",
            [("", self.counters.requests)],
        )
        if self.mirror is not None:
            m = self.mirror
            metric(
                "tierid_mirror_connected",
                "gauge",
                "1 while the primary answers.",
                [("", int(m.connected))],
            )
            metric(
                "tierid_mirror_applied_seq",
                "gauge",
                "Last change of the primary's log applied here.",
                [("", m.applied_seq)],
            )
            metric(
                "tierid_mirror_lag",
                "gauge",
                "Changes of the primary's log not applied here yet.",
                [("", max(0, m.primary_seq - m.applied_seq))],
            )
        if self.cache is not None:
            s = self.cache.stats
            metric(
                "tierid_cache_hits_total",
                "counter",
                "Answers served from cache.",
                [
                    ('{level="l1",kind="record"}', s.hits),
                    ('{level="l1",kind="notfound"}', s.negative_hits),
                ],
            )
            metric(
                "tierid_cache_misses_total",
                "counter",
                "Lookups not answered from cache.",
                [('{level="l1"}', s.misses)],
            )
            metric(
                "tierid_cache_l2_hits_total",
                "counter",
                "L1 misses answered from Redis.",
                [('{level="l2"}', s.l2_hits)],
            )
            metric(
                "tierid_cache_stale_answers_total",
                "counter",
                "Expired answers served because no upstream server answered.",
                [("", s.stale_answers)],
            )
            metric(
                "tierid_cache_shared_misses_total",
                "counter",
                "Misses that waited for another request's upstream query.",
                [("", s.shared_misses)],
            )
            metric(
                "tierid_cache_prefetches_total",
                "counter",
                "Background refreshes of hot entries.",
                [("", s.prefetches)],
            )
            metric(
                "tierid_cache_bypassed_total",
                "counter",
                "Authoritative or authenticated lookups that skipped the cache.",
                [("", s.bypassed)],
            )
            metric(
                "tierid_cache_entries",
                "gauge",
                "Entries in the L1 cache.",
                [('{level="l1"}', len(self.cache.l1))],
            )
            metric(
                "tierid_cache_bytes",
                "gauge",
                "Estimated bytes in the L1 cache.",
                [('{level="l1"}', self.cache.l1.bytes)],
            )
        if self.shared is not None:
            r = self.shared.stats
            metric(
                "tierid_redis_errors_total",
                "counter",
                "Redis calls that failed or timed out (lookups went on without it).",
                [("", r.errors)],
            )
            metric(
                "tierid_redis_batches_total",
                "counter",
                "MGET round trips (one per tick).",
                [("", r.batches)],
            )
            metric(
                "tierid_redis_invalidations_total",
                "counter",
                "Invalidation messages applied.",
                [("", r.invalidations)],
            )
            metric(
                "tierid_redis_up", "gauge", "1 while Redis is in use.", [("", int(self.shared.up))]
            )
        if self.walker is not None:
            servers = list(self.walker.upstream.stats.endpoints.values())
            now = self.walker.upstream.clock()
            metric(
                "tierid_upstream_queries_total",
                "counter",
                "Queries sent to other nodes.",
                [(f'{{server="{_escape(e.url)}"}}', e.queries) for e in servers],
            )
            metric(
                "tierid_upstream_failures_total",
                "counter",
                "Queries to each upstream server that failed (no answer, or not a valid one).",
                [(f'{{server="{_escape(e.url)}"}}', e.errors) for e in servers],
            )
            metric(
                "tierid_upstream_up",
                "gauge",
                "1 while an upstream server is in use, 0 while it is being backed off.",
                [(f'{{server="{_escape(e.url)}"}}', int(e.up(now))) for e in servers],
            )
            metric(
                "tierid_upstream_latency_ms",
                "gauge",
                "Smoothed response time of each upstream server.",
                [
                    (f'{{server="{_escape(e.url)}"}}', e.latency_ms)
                    for e in servers
                    if e.latency_ms is not None
                ],
            )
        if self.dns is not None:
            counts = self.dns.counters()
            for field, help_ in _DNS_COUNTERS.items():
                metric(f"tierid_dns_{field}_total", "counter", help_, [("", counts[field])])
        if self.limiter is not None:
            metric(
                "tierid_rate_limited_total",
                "counter",
                "Requests held back because their address was over its rate limit (every face).",
                [("", self.limiter.stats.limited)],
            )
        if self.native is not None:
            counts = self.native.counters()
            for field, help_ in _HANDLE_COUNTERS.items():
                metric(f"tierid_handle_{field}_total", "counter", help_, [("", counts[field])])
        return families
