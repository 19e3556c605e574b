"""Resolving a GS1 key (a GTIN, SSCC, GLN, GIAI... and its qualifiers) to the records bound
to it, through the same lookups (walk and caches) as any identifier. The binding scheme is
described in :mod:`resolver.gs1.keys`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from resolver.aliases import follow_aliases
from resolver.errors import HandleNotFound
from resolver.gs1.keys import Gs1Key, apply_rule
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


@dataclass(frozen=True)
class Bound:
    """One bound level of a key: ``level`` is the (walked-up) key that has a binding,
    ``handle`` the identifier answered for (the binding, or what its rule or alias names)."""

    level: Gs1Key
    handle: str
    answer: Answer


class Gs1Resolver:
    """GS1 keys to records through the company prefix index at ``index_prefix`` (empty: this
    node resolves no GS1 keys, and says so)."""

    def __init__(self, resolve: Resolve, index_prefix: str) -> None:
        self.resolve = resolve
        self.index_prefix = index_prefix

    async def enterprise_prefix(self, key: Gs1Key) -> str:
        """The tierid prefix of the enterprise owning the key's company prefix.

        :raises HandleNotFound: no GCP of the key is in the index, or there is no index.
        """
        if not self.index_prefix:
            raise HandleNotFound("GS1 keys are not resolved here ([resolver] gs1_index)")
        found = await asyncio.gather(*(self._indexed(gcp) for gcp in key.company_prefixes()))
        for prefix in found:
            if prefix:
                return prefix
        raise HandleNotFound(
            f"no enterprise has registered the company prefix of ({key.ai}) {key.value}"
        )

    async def _indexed(self, gcp: str) -> str | None:
        try:
            answer = await self.resolve(Query(f"{self.index_prefix}/{gcp}"))
        except HandleNotFound:
            return None
        return _text_of(answer.values, GS1_PREFIX)

    async def _bound(self, prefix: str, level: Gs1Key, key: Gs1Key, aliases: bool) -> list[Bound]:
        """The level's binding, finest first: the record its ``GS1.RULE`` builds from the
        whole ``key`` (when that record exists), then the binding itself; aliases followed
        if asked."""
        handle = f"{prefix}/{level.path}"
        try:
            answers = [(handle, await self.resolve(Query(handle)))]
        except HandleNotFound:
            return []
        rule = _text_of(answers[0][1].values, GS1_RULE)
        target = apply_rule(rule, key) if rule else None
        if target is not None:
            with contextlib.suppress(HandleNotFound):
                answers.insert(0, (target, await self.resolve(Query(target))))
        bound = []
        for name, answer in answers:
            if aliases:
                answer = await follow_aliases(self.resolve, answer, Query(name))
                name = answer.handle
            bound.append(Bound(level, name, answer))
        return bound

    async def levels(self, key: Gs1Key, *, aliases: bool = True) -> list[Bound]:
        """Every bound level of the key, finest first (a rule's record, serial, lot,
        variant, GTIN), each binding's ``HS_ALIAS`` followed unless ``aliases`` is false
        (the DNS face shows an alias as a rule of its own).

        :raises HandleNotFound: nothing is bound to the key or any coarser level.
        """
        prefix = await self.enterprise_prefix(key)
        found = await asyncio.gather(
            *(self._bound(prefix, lv, key, aliases) for lv in key.walk_up())
        )
        bound = [b for level in found for b in level]
        if not bound:
            raise HandleNotFound(f"nothing is bound to ({key.ai}) {key.value} under {prefix}")
        return bound

    async def resolve_key(self, key: Gs1Key, *, aliases: bool = True) -> Bound:
        """The finest bound level of the key. :raises HandleNotFound: nothing is bound."""
        return (await self.levels(key, aliases=aliases))[0]
