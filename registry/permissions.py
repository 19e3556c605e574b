"""Who may do what: HS_ADMIN values, HS_VLIST groups, and the record that governs a handle.

A permission on a handle is granted by an HS_ADMIN value of the handle itself or of its
*governing record*: ``0.NA/<prefix>`` for an ordinary handle, the parent prefix record for
a prefix record (``0.NA/88.118`` governs ``0.NA/88.118.8``). Nothing is inherited further
up: a national admin cannot write an enterprise's records unless the enterprise's own
HS_ADMIN values name it. Server admins from the configuration may do everything.
"""

from __future__ import annotations

from collections.abc import Iterable

from registry.storage.base import ReadTxn, StoredRecord
from resolver.handle import is_prefix_record, normalise, parent_prefix, parse, prefix_record
from resolver.message import Identity
from resolver.typed_data import AdminPerm, AdminRef, VList
from resolver.values import HS_ADMIN, HS_VLIST, HandleValue

#: How deep HS_VLIST groups may nest before the search stops (cycles are cut as well).
MAX_GROUP_DEPTH = 8


def governing_handle(handle: str) -> str | None:
    """The prefix record whose admins also govern ``handle`` (None for a top-level prefix)."""
    prefix, suffix = parse(handle)
    if is_prefix_record(prefix):
        parent = parent_prefix(suffix)
        return None if parent is None else prefix_record(parent)
    return prefix_record(prefix)


def admin_refs(values: Iterable[HandleValue]) -> list[AdminRef]:
    refs = []
    for v in values:
        if v.type.upper() == HS_ADMIN:
            try:
                refs.append(AdminRef.from_wire(v.data))
            except Exception:
                continue
    return refs


class Authorizer:
    """Answers "may this identity do that here?" against records read in one transaction."""

    def __init__(self, server_admins: Iterable[Identity]) -> None:
        self.server_admins = {(normalise(a.handle), a.index) for a in server_admins}

    def is_server_admin(self, identity: Identity | None) -> bool:
        return identity is not None and (normalise(identity.handle), identity.index) in (
            self.server_admins
        )

    def allowed(
        self,
        txn: ReadTxn,
        identity: Identity | None,
        perm: AdminPerm,
        records: Iterable[StoredRecord | None],
    ) -> bool:
        """Whether ``identity`` holds ``perm`` through an HS_ADMIN value of any of ``records``."""
        if identity is None:
            return False
        if self.is_server_admin(identity):
            return True
        for record in records:
            if record is None:
                continue
            for ref in admin_refs(record.values):
                if ref.permissions & perm and self._member(txn, identity, ref.handle, ref.index):
                    return True
        return False

    def _member(self, txn: ReadTxn, identity: Identity, handle: str, index: int) -> bool:
        """Whether ``identity`` is ``index:handle`` or belongs to it through HS_VLIST groups."""
        seen: set[tuple[str, int]] = set()
        frontier = [(handle, index)]
        for _ in range(MAX_GROUP_DEPTH):
            next_frontier: list[tuple[str, int]] = []
            for h, i in frontier:
                key = normalise(h)
                if (key, i) in seen:
                    continue
                seen.add((key, i))
                if key == normalise(identity.handle) and i in (0, identity.index):
                    return True
                group = txn.get(key)
                if group is None:
                    continue
                for v in group.values:
                    if v.type.upper() == HS_VLIST and i in (0, v.index):
                        try:
                            next_frontier.extend(VList.from_wire(v.data).members)
                        except Exception:
                            continue
            if not next_frontier:
                return False
            frontier = next_frontier
        return False
