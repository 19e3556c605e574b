"""The recursive resolver: walks national -> provincial -> enterprise by following
referrals, and remembers where each prefix is served.

Two maps are learnt from the answers: ``handle_sites[P]`` (the HS_SITE of ``0.NA/P``:
where handles ``P/...`` live) and ``derived_sites[Q]`` (HS_SITE.PREFIX of ``0.NA/Q``:
where prefixes below ``Q`` are registered). A lookup under a known enterprise goes straight
to it; under a known province, straight to the province. Entries expire with the TTL of
the site values (capped). A referral that names no prefix record (Handle.Net's servers send
RC 303 with an empty handle) is followed for the lookup at hand and teaches nothing. The walk
is bounded in referrals and in time; a referral that leads back to where it came from is an
error, not a hang.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from resolver.codes import ResponseCode as RC
from resolver.errors import (
    HandleNotFound,
    InvalidHandle,
    NotResponsible,
    RecursionTooDeep,
    UpstreamUnavailable,
    WalkTimeout,
)
from resolver.handle import (
    check_prefix,
    is_prefix_record,
    normalise,
    parent_prefix,
    parse,
    prefix_record,
)
from resolver.lru import SITES, LRUCache
from resolver.message import Answer, Query
from resolver.sites import endpoints_of, min_ttl
from resolver.upstream import Upstream
from resolver.values import HS_SITE, HS_SITE_PREFIX


@dataclass(frozen=True, slots=True)
class WalkSettings:
    """Config section ``[resolver]``."""

    enabled: bool = False
    roots: tuple[str, ...] = ()
    request_timeout_ms: int = 1000
    walk_timeout_ms: int = 5000
    max_referrals: int = 8
    max_site_ttl: int = 3600
    max_known_prefixes: int = 100_000
    gs1_index: str = ""
    upstream_protocol: str = "handle"


class Walker:
    """Terminal stage of a resolver node."""

    def __init__(
        self,
        upstream: Upstream,
        settings: WalkSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstream = upstream
        self.settings = settings
        self.clock = clock
        # prefix -> site answers, kept apart from records, bounded like every cache
        bound = settings.max_known_prefixes
        self.handle_sites = LRUCache(bound, bound * 1024)
        self.derived_sites = LRUCache(bound, bound * 1024)

    async def resolve(self, query: Query) -> Answer:
        """Resolve through the tiers.

        :raises WalkTimeout: the whole walk took longer than ``walk_timeout_ms``.
        :raises RecursionTooDeep: too many referrals, or a referral loop.
        :raises UpstreamUnavailable: no server of a site on the way answered.
        """
        limit = self.settings.walk_timeout_ms / 1000
        try:
            async with asyncio.timeout(limit):
                return await self._walk(query)
        except TimeoutError as exc:
            raise WalkTimeout(
                f"resolution of {query.handle} took longer than {self.settings.walk_timeout_ms} ms",
                handle=query.handle,
            ) from exc

    # --- the maps ----------------------------------------------------------------------------

    def _cached(self, table: LRUCache, prefix: str) -> list[str] | None:
        entry = table.get(normalise(prefix), self.clock())
        return None if entry is None else entry.value

    def _remember(self, table: LRUCache, prefix: str, answer: Answer) -> list[str]:
        endpoints = endpoints_of(answer.values, self.settings.upstream_protocol)
        if endpoints:
            cap = self.settings.max_site_ttl
            expires = self.clock() + min(min_ttl(answer.values, cap), cap)
            size = sum(len(e) for e in endpoints) + 64
            table.put(normalise(prefix), SITES, endpoints, None, size, expires, expires)
        return endpoints

    def _start(self, prefix: str | None) -> tuple[list[str], str | None]:
        """Where to ask about a prefix below ``prefix``: the deepest known registry (and the
        prefix it is known to serve), else the roots (None: they serve everything)."""
        while prefix is not None:
            known = self._cached(self.derived_sites, prefix)
            if known:
                return known, prefix
            prefix = parent_prefix(prefix)
        return list(self.settings.roots), None

    def cached_prefixes(self) -> dict[str, list[str]]:
        now = self.clock()
        return {e.key: e.value for e in self.handle_sites.entries() if e.expires > now}

    # --- the walk ----------------------------------------------------------------------------

    async def _walk(self, query: Query) -> Answer:
        prefix, suffix = parse(query.handle)
        if is_prefix_record(prefix):
            check_prefix(suffix)
            return await self._follow(*self._start(parent_prefix(suffix)), query, suffix)
        endpoints = self._cached(self.handle_sites, prefix)
        if endpoints is not None:
            try:
                return await self._follow(endpoints, prefix, query, prefix, handles=True)
            except (NotResponsible, RecursionTooDeep):
                # the prefix moved or was unhomed (the old node disowns it or refers back to
                # itself): forget where it was and walk again from the registries
                self.handle_sites.pop(normalise(prefix))
        na = prefix_record(prefix)
        record = await self._follow(
            *self._start(parent_prefix(prefix)), Query(na, types=(HS_SITE,)), prefix
        )
        endpoints = self._remember(self.handle_sites, prefix, record)
        if not endpoints:
            raise HandleNotFound(f"prefix {prefix} has no site to resolve it", handle=query.handle)
        return await self._follow(endpoints, prefix, query, prefix, handles=True)

    async def _follow(
        self,
        endpoints: Sequence[str],
        level: str | None,
        query: Query,
        target: str,
        *,
        handles: bool = False,
    ) -> Answer:
        """Ask ``endpoints`` and follow referrals towards ``target``, the prefix being looked
        up. The endpoints serve ``level``: its handles (``handles``: a handle site), or the
        prefixes below it (a registry; None: the roots, which serve every prefix)."""
        seen: set[tuple[frozenset[str], str]] = set()
        current = list(endpoints)
        for _ in range(self.settings.max_referrals + 1):
            step = (frozenset(current), normalise(query.handle))
            if step in seen:
                raise RecursionTooDeep(
                    f"referral loop while resolving {query.handle} (back at {sorted(current)})",
                    handle=query.handle,
                )
            seen.add(step)
            url, answer = await self.upstream.ask(current, query)
            if answer.rc != RC.PREFIX_REFERRAL:
                return answer
            if answer.referral:
                level = self._checked_referral(url, answer, level, target, handles=handles)
                current, handles = self._learn(answer, level)
            else:  # Handle.Net names no prefix: follow for this lookup only, learn nothing
                current = endpoints_of(answer.values, self.settings.upstream_protocol)
            if not current:
                raise UpstreamUnavailable(
                    f"{url} referred {query.handle} to no usable server", handle=query.handle
                )
        raise RecursionTooDeep(
            f"more than {self.settings.max_referrals} referrals for {query.handle}",
            handle=query.handle,
        )

    @staticmethod
    def _checked_referral(
        url: str, referral: Answer, level: str | None, target: str, *, handles: bool
    ) -> str:
        """The prefix a referral delegates, if the referring server may speak for it: on
        the way to ``target``, and below ``level`` when the server is a registry for the
        prefixes below it, or ``level`` itself, handles only (the prefix moved), when it is
        the site of ``level``'s handles. Anything else would let one node redirect lookups
        for prefixes it does not serve (cache poisoning), so it is refused: the site of a
        prefix's handles claimed its sub-prefixes' registry, and a registry for the prefixes
        below one claimed that prefix's own handles, before this told them apart.
        """
        try:
            na, delegated = parse(referral.referral or "")
            check_prefix(delegated)
        except InvalidHandle as exc:
            raise UpstreamUnavailable(
                f"{url} sent a referral without a valid prefix record"
            ) from exc
        key, goal = normalise(delegated), normalise(target)
        on_path = goal == key or goal.startswith(key + ".")
        if handles:
            speaks = key == normalise(level or "") and not _names_registry(referral)
        else:
            speaks = level is None or key.startswith(normalise(level) + ".")
        if not is_prefix_record(na) or not on_path or not speaks:
            raise UpstreamUnavailable(
                f"{url} referred {target} to {referral.referral}, outside what it serves"
            )
        return delegated

    def _learn(self, referral: Answer, delegated: str) -> tuple[list[str], bool]:
        """Remember what a referral taught (which prefix is served where). :returns: the
        servers to ask next, and whether they are the site of ``delegated``'s handles
        (else its registry)."""
        if _names_registry(referral):
            return self._remember(self.derived_sites, delegated, referral), False
        return self._remember(self.handle_sites, delegated, referral), True


def _names_registry(referral: Answer) -> bool:
    """Whether a referral names a registry of prefixes (HS_SITE.PREFIX), not the site of a
    prefix's handles."""
    return any(v.type.upper() == HS_SITE_PREFIX for v in referral.values)
