"""Deciding, for a lookup, whether this node answers it or refers the client down a tier.

A node answers ``P/S`` when ``P`` is homed here. Otherwise the prefix records it keeps are
the delegation map: ``0.NA/P`` with HS_SITE values (a child this node delegated) gives
RC 303 with those sites; an ancestor ``0.NA/Q`` with HS_SITE.PREFIX values (Q's derived
prefixes are served there) gives RC 303 with those. Prefix records ``0.NA/P`` are answered
here when stored here or when an ancestor of ``P`` is homed here and nothing below it is
delegated. A node never proxies: the client (the resolver) follows the referral.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.storage.base import ReadTxn
from resolver.errors import HandleNotFound, NotResponsible
from resolver.handle import (
    check_prefix,
    is_prefix_record,
    normalise,
    parent_prefix,
    parse,
    prefix_record,
)
from resolver.values import HS_SITE, HS_SITE_PREFIX, HandleValue


@dataclass(frozen=True, slots=True)
class Referral:
    """Go to these sites; ``handle`` is the prefix record the site values come from."""

    handle: str
    values: tuple[HandleValue, ...]


def _sites(txn: ReadTxn, prefix: str, site_type: str) -> Referral | None:
    record = txn.get(normalise(prefix_record(prefix)))
    if record is None:
        return None
    values = tuple(v for v in record.values if v.public and v.type.upper() == site_type)
    return Referral(record.handle, values) if values else None


def route(txn: ReadTxn, handle: str) -> Referral | None:
    """None if this node answers ``handle`` itself, else where to go instead.

    :raises NotResponsible: nothing here knows the prefix (RC 301).
    :raises HandleNotFound: the prefix falls under one homed here but was never registered.
    """
    prefix, suffix = parse(handle)
    if is_prefix_record(prefix):
        check_prefix(suffix)  # a prefix record must name a valid prefix
        if txn.is_homed(normalise(suffix)) or txn.get(normalise(handle)) is not None:
            return None
        wanted, start = suffix, parent_prefix(suffix)
    else:
        if txn.is_homed(normalise(prefix)):
            return None
        referral = _sites(txn, prefix, HS_SITE)
        if referral is not None:
            return referral
        wanted, start = prefix, parent_prefix(prefix)
    ancestor = start
    while ancestor is not None:
        if txn.is_homed(normalise(ancestor)):
            if is_prefix_record(prefix):
                return None  # ours to answer (not found, unless created meanwhile)
            raise HandleNotFound(
                f"prefix {wanted} is not registered under {ancestor}", handle=handle
            )
        referral = _sites(txn, ancestor, HS_SITE_PREFIX)
        if referral is not None:
            return referral
        ancestor = parent_prefix(ancestor)
    raise NotResponsible(f"prefix {wanted} is not served by this node", handle=handle)
