"""Resolving a GS1 key (a GTIN and its qualifiers) to the record bound to it, through the
same lookups (walk and caches) as any identifier. The binding scheme is described in
:mod:`resolver.gs1.keys`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from resolver.errors import HandleNotFound
from resolver.gs1.keys import apply_rule, gcp_candidates, walk_up
from resolver.message import Answer, Query
from resolver.values import HandleValue

Resolve = Callable[[Query], Awaitable[Answer]]

GS1_PREFIX = "GS1.PREFIX"
GS1_RULE = "GS1.RULE"


def _text_of(values: list[HandleValue], value_type: str) -> str | None:
    for v in values:
        if v.type.upper() == value_type:
            return v.data.decode("utf-8", "replace").strip()
    return None


class Gs1Resolver:
    """GS1 keys to records through the company prefix index at ``index_prefix`` (empty: this
    node resolves no GS1 keys, and says so)."""

    def __init__(self, resolve: Resolve, index_prefix: str) -> None:
        self.resolve = resolve
        self.index_prefix = index_prefix

    async def enterprise_prefix(self, gtin: str) -> str:
        """The tierid prefix of the enterprise owning the GTIN's company prefix.

        :raises HandleNotFound: no GCP of the GTIN is in the index, or there is no index.
        """
        if not self.index_prefix:
            raise HandleNotFound("GS1 keys are not resolved here ([resolver] gs1_index)")
        found = await asyncio.gather(*(self._indexed(gcp) for gcp in gcp_candidates(gtin)))
        for prefix in found:
            if prefix:
                return prefix
        raise HandleNotFound(f"no enterprise has registered the company prefix of GTIN {gtin}")

    async def _indexed(self, gcp: str) -> str | None:
        try:
            answer = await self.resolve(Query(f"{self.index_prefix}/{gcp}"))
        except HandleNotFound:
            return None
        return _text_of(answer.values, GS1_PREFIX)

    async def resolve_key(self, gtin: str, qualifiers: dict[str, str]) -> tuple[str, Answer]:
        """The finest bound record for the key (walking up from serial to lot to GTIN), with
        a ``GS1.RULE`` applied when the key has what it needs.

        :returns: the identifier answered for and its answer.
        :raises HandleNotFound: nothing is bound to the GTIN.
        """
        prefix = await self.enterprise_prefix(gtin)
        for suffix in walk_up(gtin, qualifiers):
            handle = f"{prefix}/{suffix}"
            try:
                answer = await self.resolve(Query(handle))
            except HandleNotFound:
                continue
            rule = _text_of(answer.values, GS1_RULE)
            target = apply_rule(rule, gtin, qualifiers) if rule else None
            if target is not None:
                return target, await self.resolve(Query(target))
            return handle, answer
        raise HandleNotFound(f"nothing is bound to GTIN {gtin} under {prefix}")
