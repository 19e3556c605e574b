"""Bringing a prefix up on a fresh node, before anyone can authenticate to it.

``bootstrap_prefix`` writes the prefix record ``0.NA/<prefix>`` straight into the store:
an HS_ADMIN value naming ``300:0.NA/<prefix>`` with every permission, that identity's
HS_SECKEY (not publicly readable), and optionally the HS_SITE saying where the prefix is
served. It also homes the prefix. This is what ``tierid init`` and the demo do; after it,
everything goes through authenticated writes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from registry.storage.base import Store, StoredRecord, WriteTxn
from resolver.handle import check_prefix, normalise, prefix_record
from resolver.typed_data import (
    ALL_ADMIN_PERMS,
    PROTO_HTTP,
    PROTO_HTTPS,
    PROTO_TCP,
    PROTO_UDP,
    AdminRef,
    Interface,
    Server,
    SiteInfo,
)
from resolver.values import (
    ADMIN_READ,
    ADMIN_WRITE,
    HS_ADMIN,
    HS_SECKEY,
    HS_SITE,
    HS_SITE_PREFIX,
    HandleValue,
)

ADMIN_INDEX = 300


def http_site(
    host: str, port: int, *, https: bool = False, primary: bool = True, handle_port: int = 0
) -> SiteInfo:
    """A one-server site reachable over the HTTP(S) API (query and admin) and, with
    ``handle_port``, the binary protocol there too (TCP query and admin, UDP query)."""
    interfaces = [Interface(3, PROTO_HTTPS if https else PROTO_HTTP, port)]
    if handle_port:
        interfaces = [Interface(3, PROTO_TCP, handle_port), Interface(2, PROTO_UDP, handle_port)]
        interfaces.append(Interface(3, PROTO_HTTPS if https else PROTO_HTTP, port))
    return SiteInfo(primary=primary, servers=(Server(1, host, b"", tuple(interfaces)),))


def prefix_record_values(
    prefix: str, secret: bytes | None, sites: Sequence[SiteInfo] = ()
) -> list[HandleValue]:
    """The values of ``0.NA/<prefix>``: HS_SITE (indexes 1...) and HS_SITE.PREFIX (11...)
    for each site, HS_ADMIN naming ``300:0.NA/<prefix>``, and, when the admin's identity
    lives in this record, its HS_SECKEY (not publicly readable). A parent tier that only
    delegates leaves the secret out: the child authenticates on its own node."""
    na = prefix_record(prefix)
    values = [HandleValue(1 + i, HS_SITE, s.to_wire()) for i, s in enumerate(sites)]
    values += [HandleValue(11 + i, HS_SITE_PREFIX, s.to_wire()) for i, s in enumerate(sites)]
    values.append(HandleValue(100, HS_ADMIN, AdminRef(na, ADMIN_INDEX, ALL_ADMIN_PERMS).to_wire()))
    if secret is not None:
        values.append(
            HandleValue(ADMIN_INDEX, HS_SECKEY, secret, permissions=ADMIN_READ | ADMIN_WRITE)
        )
    return values


async def bootstrap_prefix(
    store: Store,
    prefix: str,
    secret: bytes,
    sites: Sequence[SiteInfo] = (),
    *,
    replace: bool = False,
) -> bool:
    """Create ``0.NA/<prefix>`` with its admin identity and home the prefix.

    :returns: False if the record already existed and ``replace`` was not asked.
    """
    check_prefix(prefix)
    na = prefix_record(prefix)
    now = int(time.time())

    def run(txn: WriteTxn) -> bool:
        if not txn.is_homed(normalise(prefix)):
            txn.home(normalise(prefix), prefix)
        existing = txn.get(normalise(na))
        if existing is not None and not replace:
            return False
        values = tuple(v.stamped(now) for v in prefix_record_values(prefix, secret, sites))
        txn.put(normalise(na), StoredRecord(na, values), "0.NA", created=existing is None)
        return True

    return await store.write(run, actor="bootstrap")
