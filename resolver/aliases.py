"""Following ``HS_ALIAS`` values, as Handle.Net's proxy does, for every face that shows a
person or a scanner the record an identifier stands for."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from resolver.errors import RecursionTooDeep
from resolver.message import Answer, Query
from resolver.values import HS_ALIAS

#: How many HS_ALIAS hops are followed (Handle.Net's proxy uses the same bound).
MAX_ALIAS_HOPS = 20


async def follow_aliases(
    resolve: Callable[[Query], Awaitable[Answer]], answer: Answer, query: Query
) -> Answer:
    """The answer at the end of ``answer``'s aliases, each asked like ``query`` (same
    identity and visibility).

    :raises RecursionTooDeep: more than :data:`MAX_ALIAS_HOPS` aliases.
    :raises HandleNotFound: an alias names nothing.
    """
    for _ in range(MAX_ALIAS_HOPS + 1):
        alias = next((v for v in answer.values if v.type.upper() == HS_ALIAS), None)
        if alias is None:
            return answer
        target = alias.data.decode("utf-8", "replace")
        answer = await resolve(
            Query(target, public_only=query.public_only, identity=query.identity)
        )
    raise RecursionTooDeep(f"more than {MAX_ALIAS_HOPS} aliases from {query.handle}")
