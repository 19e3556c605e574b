"""The Handle value model (RFC 3651 section 3.1 with CNRI's errata): a record is a list of
typed values, each with its own TTL, timestamp, permissions and references."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from resolver.handle import normalise

# Value permission bits (one byte on the wire; "1110" in JSON is the default).
ADMIN_READ = 0x08
ADMIN_WRITE = 0x04
PUBLIC_READ = 0x02
PUBLIC_WRITE = 0x01
DEFAULT_PERMISSIONS = ADMIN_READ | ADMIN_WRITE | PUBLIC_READ
DEFAULT_TTL = 86400

TTL_RELATIVE = 0
TTL_ABSOLUTE = 1

# Conventional types.
URL = "URL"
HS_ADMIN = "HS_ADMIN"
HS_VLIST = "HS_VLIST"
HS_SITE = "HS_SITE"
HS_SITE_PREFIX = "HS_SITE.PREFIX"
HS_SECKEY = "HS_SECKEY"
HS_PUBKEY = "HS_PUBKEY"
HS_ALIAS = "HS_ALIAS"

_tuple_new = tuple.__new__


class HandleValue(NamedTuple):
    """One typed value of a record. ``data`` is always the binary form.

    A named tuple, not a frozen dataclass: a bulk import builds millions (each value is
    read, then stamped), and a frozen dataclass costs three times as much to build. Being a
    tuple, it is also what the store packs (msgpack writes it as an array) as it is.
    """

    index: int
    type: str
    data: bytes
    ttl: int = DEFAULT_TTL
    ttl_type: int = TTL_RELATIVE
    timestamp: int = 0
    permissions: int = DEFAULT_PERMISSIONS
    references: tuple[tuple[str, int], ...] = ()

    @property
    def public(self) -> bool:
        return bool(self.permissions & PUBLIC_READ)

    def stamped(self, now: int) -> HandleValue:
        """The same value with the server's write time (the server owns timestamps).
        Built as a tuple: ``_replace`` costs four times as much, per value written."""
        index, vtype, data, ttl, ttl_type, _, permissions, references = self
        return _tuple_new(
            HandleValue, (index, vtype, data, ttl, ttl_type, now, permissions, references)
        )

    @classmethod
    def from_tuple(cls, t: Sequence) -> HandleValue:
        """A value from its fields in order, as the store unpacks them (lists for tuples)."""
        return cls(t[0], t[1], t[2], t[3], t[4], t[5], t[6], tuple((h, i) for h, i in t[7]))


def type_matches(value_type: str, wanted: str) -> bool:
    """Handle's type filter: exact (ASCII case-insensitive), or a trailing ``.`` asking for
    the type and its sub-types (``URL.`` matches ``URL`` and ``URL.mirror``)."""
    v = normalise(value_type)
    w = normalise(wanted)
    if w.endswith("."):
        return v == w[:-1] or v.startswith(w)
    return v == w


def select(
    values: Iterable[HandleValue], types: Sequence[str] = (), indexes: Sequence[int] = ()
) -> list[HandleValue]:
    """Values matching any requested index or type (OR), or all values when none is asked."""
    if not types and not indexes:
        return list(values)
    wanted = set(indexes)
    return [v for v in values if v.index in wanted or any(type_matches(v.type, t) for t in types)]


def first_url(values: Iterable[HandleValue]) -> str | None:
    """The redirect target: the first value of type exactly URL, else the first URL.* one."""
    ordered = list(values)
    for pick in (lambda t: normalise(t) == URL, lambda t: normalise(t).startswith("URL.")):
        for v in ordered:
            if pick(v.type):
                return v.data.decode("utf-8", "replace")
    return None


def lifetime(values: Iterable[HandleValue], now: float, cap: float) -> float:
    """How long a record may be kept: its values' smallest TTL (relative, or absolute and
    counted from ``now``), at most ``cap``, never negative."""
    ttls = [(v.ttl - now) if v.ttl_type == TTL_ABSOLUTE else v.ttl for v in values]
    return max(0.0, min([cap, *ttls]))
