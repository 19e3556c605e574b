"""What every face hands to the core and gets back: the same for HTTP, binary and DNS."""

from __future__ import annotations

from dataclasses import dataclass, field

from resolver.codes import ResponseCode
from resolver.numbers import is_decimal
from resolver.values import HandleValue


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated ``index:handle``."""

    handle: str
    index: int

    def __str__(self) -> str:
        return f"{self.index}:{self.handle}"

    @classmethod
    def from_text(cls, text: str) -> Identity:
        """Parse ``300:88.118.8/ADMIN``; a missing or non-numeric index means 0 (any index)."""
        head, sep, tail = text.partition(":")
        if sep and is_decimal(head):
            return cls(tail, int(head))
        return cls(text, 0)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a client presented to prove an identity (HS_SECKEY secret, as Basic auth sends)."""

    identity: Identity
    secret: bytes


@dataclass(frozen=True, slots=True)
class Query:
    """A resolution request.

    :param handle: the identifier in the caller's spelling (echoed back).
    :param types: value types asked for (OR with ``indexes``); empty means all.
    :param public_only: only values with PUBLIC_READ.
    :param identity: the authenticated requester, needed for non-public values.
    """

    handle: str
    types: tuple[str, ...] = ()
    indexes: tuple[int, ...] = ()
    authoritative: bool = False
    public_only: bool = True
    identity: Identity | None = None


@dataclass(slots=True)
class Answer:
    handle: str
    values: list[HandleValue] = field(default_factory=list)
    rc: ResponseCode = ResponseCode.SUCCESS
    #: for a referral (RC 303): the prefix record whose site values are in ``values``
    referral: str | None = None
    #: served from cache after its TTL because no upstream server answered (RFC 8767)
    stale: bool = False
    #: seconds this answer has left in the cache that gave it (None: not from a cache, or
    #: stale); a face may keep its encoded form that long, until the cache drops the key
    cache_ttl: float | None = None
