"""The authority node's core: authoritative answers and writes for the prefixes homed here.

A handle ``P/S`` is answered here only if prefix ``P`` is homed here; a prefix record
``0.NA/P`` if ``P`` or one of its ancestors is homed here (a node keeps the delegation
records of the tiers below it). Anything else is RC 301 (not responsible).

Each write is one store transaction: it reads the current record, checks permissions,
validates, and writes, so a failed write leaves nothing behind. Whole-record writes are
planned first (:meth:`Authority.plan_put`, :meth:`Authority.plan_delete`) and then applied,
so a single write and a batch of them go through the same checks.
"""

from __future__ import annotations

import operator
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from registry.auth import verify_challenge, verify_secret
from registry.batch import (
    BatchItem,
    BatchRejected,
    ItemResult,
    Outcome,
    PlannedWrite,
    PutOp,
    apply,
    changed_keys,
    content,
    run_batch,
    same_values,
)
from registry.permissions import Authorizer, governing_handle
from registry.quotas import Quotas
from registry.referrals import route
from registry.storage.base import Change, ReadTxn, Store, StoredRecord, WriteTxn
from registry.templates import TemplateChecks
from resolver.codes import ResponseCode
from resolver.errors import (
    AuthenticationNeeded,
    HandleAlreadyExists,
    HandleNotFound,
    InsufficientPermissions,
    InvalidHandle,
    InvalidValue,
    NotResponsible,
    ServerReadOnly,
    ValueAlreadyExists,
    ValuesNotFound,
)
from resolver.handle import (
    NA_PREFIX,
    check_prefix,
    is_prefix_record,
    normalise,
    parent_prefix,
    parse,
    prefix_record,
)
from resolver.hdl_types import ChallengeAnswer
from resolver.message import Answer, Credentials, Identity, Query
from resolver.typed_data import AdminPerm as P
from resolver.values import ADMIN_READ, HS_ADMIN, HandleValue, select

_T = TypeVar("_T")
_BY_INDEX = operator.attrgetter("index")
#: how old the in-memory copy of the homed prefixes may be (see :meth:`Authority.may_know`)
HOMED_REFRESH_S = 1.0


@dataclass(frozen=True, slots=True)
class RecordLimits:
    """Bounds on what one record may hold (config section ``[limits]``)."""

    max_values: int = 1000
    max_value_bytes: int = 65_536


@dataclass(frozen=True, slots=True)
class WriteResult:
    handle: str
    created: bool


@dataclass(frozen=True, slots=True)
class HandleList:
    total: int
    handles: list[str]


def _actor(identity: Identity | None) -> str | None:
    return str(identity) if identity else None


def _governed(
    txn: ReadTxn, handle: str, record: StoredRecord | None
) -> Iterator[StoredRecord | None]:
    """The records whose HS_ADMIN values grant rights on ``handle``: its own, then its
    governing record, read only if needed (never for a server admin)."""
    yield record
    governing = governing_handle(handle)
    if governing:
        yield txn.get(normalise(governing))


#: what changing a record's values takes, one of
_VALUE_CHANGES = (
    P.ADD_VALUE,
    P.MODIFY_VALUE,
    P.REMOVE_VALUE,
    P.ADD_ADMIN,
    P.MODIFY_ADMIN,
    P.REMOVE_ADMIN,
)


def _perm_for(value: HandleValue, admin: P, other: P) -> P:
    return admin if value.type.upper() == HS_ADMIN else other


class Authority:
    """Terminal stage for the prefixes homed on this node."""

    def __init__(
        self,
        store: Store,
        authorizer: Authorizer,
        limits: RecordLimits = RecordLimits(),
        clock: Callable[[], float] = time.time,
        read_only: str | None = None,
        notify: Callable[[list[str]], Awaitable[None]] | None = None,
        quotas: Quotas | None = None,
    ) -> None:
        """``read_only`` (a mirror) is the reason every write is refused with RC 7;
        ``notify`` is told the keys of every committed change (cache invalidation);
        ``quotas`` charges each write to its principal inside the write's transaction."""
        self.quotas = quotas
        self.templates = TemplateChecks()
        self.notify = notify
        self._homed: frozenset[str] = frozenset()
        self._homed_read_at = float("-inf")
        self.store = store
        self.authorizer = authorizer
        self.limits = limits
        self.clock = clock
        self.read_only = read_only

    async def _committed(self, result: WriteResult) -> WriteResult:
        if self.notify is not None:
            await self.notify([normalise(result.handle)])
        return result

    def _writable(self, identity: Identity | None, handle: str | None) -> None:
        """What is checked before anything else about a write: that this node takes writes
        (not a mirror) and that the writer is authenticated. Handle.Net challenges an
        administrative request before it reads it; checked later, an anonymous write that
        changed nothing was let through (and its answer told whether a private value held
        what was sent), and refusals named existing private indexes."""
        if self.read_only:
            raise ServerReadOnly(self.read_only)
        if identity is None:
            raise AuthenticationNeeded(handle=handle)

    def _metered(
        self, identity: Identity | None, handles: Sequence[str], run: Callable[[WriteTxn], _T]
    ) -> Callable[[WriteTxn], _T]:
        """``run``, then the write's charge to its principal's quotas (which may refuse it,
        rolling the whole transaction back)."""
        quotas = self.quotas
        if quotas is None:
            return run

        def metered(txn: WriteTxn) -> _T:
            result = run(txn)
            quotas.charge(txn, identity, handles)
            return result

        return metered

    # --- shared checks ---------------------------------------------------------------------

    @staticmethod
    def _responsible(txn: ReadTxn, handle: str) -> tuple[str, str]:
        """``handle``'s prefix and its key, if this node answers for it.

        :raises InvalidHandle, NotResponsible:
        """
        prefix, suffix = parse(handle)
        prefix_key = normalise(prefix)
        if prefix_key == NA_PREFIX:
            check_prefix(suffix)  # a prefix record names a valid prefix
            candidate: str | None = suffix
            while candidate is not None:
                if txn.is_homed(normalise(candidate)):
                    return prefix, prefix_key
                candidate = parent_prefix(candidate)
        elif txn.is_homed(prefix_key):
            return prefix, prefix_key
        raise NotResponsible(f"prefix {prefix} is not homed on this server", handle=handle)

    def _require(
        self,
        txn: ReadTxn,
        identity: Identity | None,
        perm: P,
        handle: str,
        record: StoredRecord | None,
    ) -> None:
        if identity is None:
            raise AuthenticationNeeded(handle=handle)
        if not self.authorizer.allowed(txn, identity, perm, _governed(txn, handle, record)):
            raise InsufficientPermissions(
                f"{identity} lacks {perm.name} on {handle}", handle=handle
            )

    def _require_some_change(
        self, txn: ReadTxn, identity: Identity | None, handle: str, existing: StoredRecord
    ) -> None:
        """Checked before a change of values looks at which indexes exist: that the writer may
        change this record at all (else which private indexes exist would show in the
        refusals of someone who may not)."""
        assert identity is not None  # _writable came first
        governed = list(_governed(txn, handle, existing))  # read by each check below
        if not any(self.authorizer.allowed(txn, identity, p, governed) for p in _VALUE_CHANGES):
            raise InsufficientPermissions(f"{identity} may not change {handle}", handle=handle)

    def _check_values(self, handle: str, values: Sequence[HandleValue]) -> None:
        seen: set[int] = set()
        for v in values:
            if v.index in seen:
                raise ValueAlreadyExists(f"index {v.index} appears twice", handle=handle)
            seen.add(v.index)
            if len(v.data) > self.limits.max_value_bytes:
                raise InvalidValue(
                    f"value {v.index} is {len(v.data)} bytes, "
                    f"more than {self.limits.max_value_bytes}",
                    handle=handle,
                )
        if len(values) > self.limits.max_values:
            raise InvalidValue(
                f"{len(values)} values, more than the limit of {self.limits.max_values}",
                handle=handle,
            )

    # --- reads -----------------------------------------------------------------------------

    async def authenticate(self, creds: Credentials) -> Identity:
        """:raises AuthenticationFailed: if the secret does not match."""
        return await self.store.read(lambda txn: verify_secret(txn, creds))

    async def verify_challenge(
        self, answer: ChallengeAnswer, nonce: bytes, digest: bytes
    ) -> Identity:
        """The identity a binary client's answer to our challenge proves.

        :raises AuthenticationFailed: if it proves none.
        """
        return await self.store.read(lambda txn: verify_challenge(txn, answer, nonce, digest))

    async def resolve(self, query: Query) -> Answer:
        """Authoritative resolution.

        :raises InvalidHandle, NotResponsible, HandleNotFound, AuthenticationNeeded:
        """

        def run(txn: ReadTxn) -> Answer:
            referral = route(txn, query.handle)
            if referral is not None:
                return Answer(
                    query.handle,
                    list(referral.values),
                    ResponseCode.PREFIX_REFERRAL,
                    referral.handle,
                )
            record = txn.get(normalise(query.handle))
            if record is None:
                raise HandleNotFound(handle=query.handle)
            chosen = select(record.values, query.types, query.indexes)
            if any(not v.public for v in chosen):
                if query.public_only:
                    chosen = [v for v in chosen if v.public]
                elif query.identity is None:
                    raise AuthenticationNeeded(
                        "authentication needed to read restricted values", handle=query.handle
                    )
                else:
                    chosen = self._readable(txn, query.identity, query.handle, record, chosen)
            if not chosen and record.values:
                return Answer(query.handle, [], ResponseCode.VALUES_NOT_FOUND)
            return Answer(query.handle, chosen)

        return await self.store.read(run)

    def _readable(
        self,
        txn: ReadTxn,
        identity: Identity,
        handle: str,
        record: StoredRecord | None,
        values: Sequence[HandleValue],
    ) -> list[HandleValue]:
        """Those of ``values`` (of ``handle``, now ``record``) that ``identity`` may read:
        the public ones, and those admins may read when it holds READ_VALUE on the record."""
        if all(v.public for v in values):
            return list(values)
        may_read = self.authorizer.allowed(
            txn, identity, P.READ_VALUE, _governed(txn, handle, record)
        )
        return [v for v in values if v.public or (may_read and v.permissions & ADMIN_READ)]

    async def may_know(self, handle: str) -> bool:
        """Whether the store can say anything about ``handle``: its prefix (for a prefix
        record, the prefix it names) or an ancestor is homed here. A resolver asks this
        before going to the store, so lookups a node cannot answer cost no store read. The
        homed set is read again at most once a second (another worker process may have
        homed a prefix), and at once after a home or unhome here.

        :raises InvalidHandle:
        """
        prefix, suffix = parse(handle)
        if time.monotonic() - self._homed_read_at >= HOMED_REFRESH_S:
            homed = await self.homed()
            self._homed = frozenset(normalise(p) for p in homed)
            self._homed_read_at = time.monotonic()
        candidate: str | None = normalise(suffix if is_prefix_record(prefix) else prefix)
        while candidate is not None:
            if candidate in self._homed:
                return True
            candidate = parent_prefix(candidate)
        return False

    async def list_handles(
        self, prefix: str, identity: Identity | None, page: int, page_size: int
    ) -> HandleList:
        """Handles under ``prefix`` (``88.118.8`` or ``0.NA/88.118.8``); needs LIST_HANDLES.

        ``page_size < 0`` lists everything; ``page_size == 0`` only counts.
        """
        bare = prefix[5:] if normalise(prefix).startswith("0.NA/") else prefix
        try:
            check_prefix(bare)
        except InvalidHandle as exc:
            raise InvalidHandle(exc.rule, f"invalid prefix: {exc.message}") from exc
        na = prefix_record(bare)

        def run(txn: ReadTxn) -> HandleList:
            self._responsible(txn, f"{bare}/x")
            self._require(txn, identity, P.LIST_HANDLES, na, txn.get(normalise(na)))
            key = normalise(bare)
            total = txn.count_handles(key)
            if page_size < 0:
                return HandleList(total, txn.list_handles(key, 0, total))
            return HandleList(total, txn.list_handles(key, page * page_size, page_size))

        return await self.store.read(run)

    async def audit(
        self, prefix: str, identity: Identity | None, since: int, until: int, limit: int
    ) -> list[tuple[Change, tuple[HandleValue, ...] | None]]:
        """Who changed what under ``prefix`` (its records and its sub-prefixes'), from
        ``since`` to ``until``, with the values before and after each change. It needs
        LIST_HANDLES and READ_VALUE on the prefix record; a value without PUBLIC_READ is
        shown only to whom a read of its record would show it (a parent tier governs an
        enterprise's prefix record, not its records' private values).

        :raises InvalidHandle, AuthenticationNeeded, InsufficientPermissions:
        """
        try:
            check_prefix(prefix)
        except InvalidHandle as exc:
            raise InvalidHandle(exc.rule, f"invalid prefix: {exc.message}") from exc
        na = prefix_record(prefix)

        def run(txn: ReadTxn) -> list[tuple[Change, tuple[HandleValue, ...] | None]]:
            record = txn.get(normalise(na))
            self._require(txn, identity, P.LIST_HANDLES, na, record)
            self._require(txn, identity, P.READ_VALUE, na, record)
            assert identity is not None  # _require came first
            entries = txn.audit(normalise(prefix), since, until, limit)
            return [self._as_readable(txn, identity, *entry) for entry in entries]

        return await self.store.read(run)

    def _as_readable(
        self,
        txn: ReadTxn,
        identity: Identity,
        change: Change,
        before: tuple[HandleValue, ...] | None,
    ) -> tuple[Change, tuple[HandleValue, ...] | None]:
        """An audit entry with the values ``identity`` may not read of its record left out."""
        if all(v.public for v in (*(change.values or ()), *(before or ()))):
            return change, before
        current = txn.get(change.key)
        if change.values is not None:
            after = self._readable(txn, identity, change.handle, current, change.values)
            change = replace(change, values=tuple(after))
        if before is not None:
            before = tuple(self._readable(txn, identity, change.handle, current, before))
        return change, before

    async def homed(self) -> list[str]:
        return await self.store.read(lambda txn: txn.homed_prefixes())

    # --- writes ----------------------------------------------------------------------------

    def _stamp(self, values: Sequence[HandleValue]) -> list[HandleValue]:
        now = int(self.clock())
        return sorted([v.stamped(now) for v in values], key=_BY_INDEX)

    def plan_put(
        self,
        txn: ReadTxn,
        handle: str,
        values: Sequence[HandleValue],
        identity: Identity | None,
        *,
        op: PutOp,
        idempotent: bool,
    ) -> PlannedWrite:
        """Check creating or replacing ``handle`` with ``values``; nothing is written yet.

        ``op`` says what may happen: ``create`` (the record must not exist), ``update`` (it
        must) or ``upsert`` (either). With ``idempotent`` (batches), a record already holding
        exactly ``values`` is left alone (``Outcome.UNCHANGED``), so a retried batch changes
        nothing; saying so needs what changing it would, asked in the same order whatever it
        holds, so that no answer is an oracle for private values. Single writes rewrite it
        (new timestamps), as Handle.Net does.

        :raises InvalidHandle, InvalidValue, NotResponsible, HandleNotFound,
            HandleAlreadyExists, AuthenticationNeeded, InsufficientPermissions:
        """
        self._check_values(handle, values)
        _, prefix_key = self._responsible(txn, handle)
        key = normalise(handle)
        existing = txn.get(key)
        self.templates.check(txn, values, existing)
        add = P.ADD_NA if prefix_key == NA_PREFIX else P.ADD_HANDLE
        if existing is None:
            if op == "update":
                raise HandleNotFound(handle=handle)
            self._require(txn, identity, add, handle, None)
            record = StoredRecord(handle, tuple(self._stamp(values)))
            return PlannedWrite(key, handle, prefix_key, record, Outcome.CREATED)
        if op == "create" and not idempotent:  # whether a handle exists is no secret
            raise HandleAlreadyExists(handle=handle)
        self._require_some_change(txn, identity, handle, existing)
        self._require_diff(txn, identity, handle, existing, values, replace_all=True)
        if idempotent and same_values(existing.values, values):
            return PlannedWrite(key, existing.handle, prefix_key, None, Outcome.UNCHANGED)
        if op == "create":
            raise HandleAlreadyExists(handle=handle)
        record = StoredRecord(existing.handle, tuple(self._stamp(values)))
        return PlannedWrite(key, existing.handle, prefix_key, record, Outcome.REPLACED)

    def plan_delete(
        self, txn: ReadTxn, handle: str, identity: Identity | None, *, idempotent: bool
    ) -> PlannedWrite:
        """Check deleting a whole record (allowed even if its prefix is no longer homed, as
        CNRI does). With ``idempotent``, a record that is already gone is ``UNCHANGED``.

        :raises InvalidHandle, HandleNotFound, AuthenticationNeeded, InsufficientPermissions:
        """
        prefix, _ = parse(handle)
        key, prefix_key = normalise(handle), normalise(prefix)
        existing = txn.get(key)
        perm = P.DELETE_NA if is_prefix_record(prefix) else P.DELETE_HANDLE
        if existing is None:
            if not idempotent:
                raise HandleNotFound(handle=handle)
            self._require(txn, identity, perm, handle, None)
            return PlannedWrite(key, handle, prefix_key, None, Outcome.UNCHANGED)
        self._require(txn, identity, perm, handle, existing)
        return PlannedWrite(key, existing.handle, prefix_key, None, Outcome.DELETED)

    async def create(
        self,
        handle: str,
        values: Sequence[HandleValue],
        identity: Identity | None,
        *,
        overwrite: bool,
        mint: bool = False,
    ) -> WriteResult:
        """Create a record, or replace it whole when ``overwrite`` (PUT without ``index``).

        With ``mint`` the handle is a stem to which a fresh UUID is appended.
        """
        self._writable(identity, handle)

        def run(txn: WriteTxn) -> WriteResult:
            target = handle
            if mint:
                target = f"{handle}{uuid.uuid4()}"
                while txn.get(normalise(target)) is not None:
                    target = f"{handle}{uuid.uuid4()}"
            op: PutOp = "upsert" if overwrite else "create"
            planned = self.plan_put(txn, target, values, identity, op=op, idempotent=False)
            apply(txn, [planned])
            return WriteResult(target, planned.outcome is Outcome.CREATED)

        run = self._metered(identity, [handle], run)
        return await self._committed(await self.store.write(run, actor=_actor(identity)))

    async def batch(
        self, items: Sequence[BatchItem], identity: Identity | None, *, atomic: bool
    ) -> list[ItemResult]:
        """Check every item, then commit the batch in one transaction (see
        :func:`registry.batch.run_batch` for what ``atomic`` means).

        :raises ServerReadOnly: on a mirror.
        :raises BatchRejected: when ``atomic`` and an item was rejected (nothing committed).
        """
        self._writable(identity, None)
        run = self._metered(
            identity,
            [item.handle for item in items],
            lambda txn: run_batch(self, txn, items, identity, atomic=atomic),
        )
        results = await self.store.write(run, actor=_actor(identity))
        if self.notify is not None:
            await self.notify(changed_keys(results))
        if atomic and any(r.error for r in results):
            raise BatchRejected(results)
        return results

    def _require_diff(
        self,
        txn: ReadTxn,
        identity: Identity | None,
        handle: str,
        existing: StoredRecord,
        values: Sequence[HandleValue],
        *,
        replace_all: bool,
    ) -> None:
        """Check the permissions a change of values needs (add, modify, remove; admin or not)."""
        old = existing.by_index()
        new_indexes = {v.index for v in values}
        needed: set[P] = set()
        for v in values:
            prev = old.get(v.index)
            if prev is None:
                needed.add(_perm_for(v, P.ADD_ADMIN, P.ADD_VALUE))
            elif content(prev) != content(v):
                needed.add(_perm_for(prev, P.MODIFY_ADMIN, P.MODIFY_VALUE))
                if (prev.type.upper() == HS_ADMIN) != (v.type.upper() == HS_ADMIN):
                    needed.add(_perm_for(v, P.MODIFY_ADMIN, P.MODIFY_VALUE))
        if replace_all:
            for index, prev in old.items():
                if index not in new_indexes:
                    needed.add(_perm_for(prev, P.REMOVE_ADMIN, P.REMOVE_VALUE))
        if not needed:  # a change to nothing needs what a change would: no oracle, no log entry
            needed = {_perm_for(v, P.MODIFY_ADMIN, P.MODIFY_VALUE) for v in values}
            needed = needed or {P.MODIFY_VALUE}
        for perm in sorted(needed):
            self._require(txn, identity, perm, handle, existing)

    async def _update_values(
        self,
        handle: str,
        identity: Identity | None,
        change: Callable[[WriteTxn, StoredRecord], tuple[list[HandleValue], bool]],
    ) -> WriteResult:
        """Read, check and rewrite an existing record's values in one transaction.

        ``change`` checks permissions and returns the new values and whether nothing
        existing was overwritten.
        """
        self._writable(identity, handle)

        def run(txn: WriteTxn) -> WriteResult:
            _, prefix_key = self._responsible(txn, handle)
            key = normalise(handle)
            existing = txn.get(key)
            if existing is None:
                raise HandleNotFound(handle=handle)
            values, fresh = change(txn, existing)
            self.templates.check(txn, values, existing)
            record = StoredRecord(existing.handle, tuple(values))
            txn.put(key, record, prefix_key, created=False)
            return WriteResult(existing.handle, fresh)

        run = self._metered(identity, [handle], run)
        return await self._committed(await self.store.write(run, actor=_actor(identity)))

    async def put_values(
        self,
        handle: str,
        values: Sequence[HandleValue],
        identity: Identity | None,
        *,
        overwrite: bool,
        existing_only: bool = False,
    ) -> WriteResult:
        """Add values, or replace those at the same index when ``overwrite`` (PUT ?index=).
        With ``existing_only`` every index must exist already (else RC 200, nothing
        changed), as the binary protocol's MODIFY_VALUE asks."""

        def change(txn: WriteTxn, existing: StoredRecord) -> tuple[list[HandleValue], bool]:
            self._require_some_change(txn, identity, handle, existing)
            self._check_values(handle, values)
            current = existing.by_index()
            if existing_only:
                missing = [v.index for v in values if v.index not in current]
                if missing:
                    raise ValuesNotFound(f"no value at index {missing[0]}", handle=handle)
            clashes = [v.index for v in values if v.index in current]
            if clashes and not overwrite:
                raise ValueAlreadyExists(f"index {clashes[0]} already exists", handle=handle)
            self._require_diff(txn, identity, handle, existing, values, replace_all=False)
            for v in self._stamp(values):
                current[v.index] = v
            if len(current) > self.limits.max_values:
                raise InvalidValue(
                    f"record would hold {len(current)} values, more than {self.limits.max_values}",
                    handle=handle,
                )
            return sorted(current.values(), key=lambda v: v.index), not clashes

        return await self._update_values(handle, identity, change)

    async def remove_values(
        self, handle: str, indexes: Sequence[int], identity: Identity | None
    ) -> WriteResult:
        """Remove the values at ``indexes``; all must exist (else RC 200, nothing removed)."""

        def change(txn: WriteTxn, existing: StoredRecord) -> tuple[list[HandleValue], bool]:
            self._require_some_change(txn, identity, handle, existing)
            current = existing.by_index()
            missing = [i for i in indexes if i not in current]
            if missing:
                raise ValuesNotFound(f"no value at index {missing[0]}", handle=handle)
            perms = {_perm_for(current[i], P.REMOVE_ADMIN, P.REMOVE_VALUE) for i in indexes}
            for perm in perms or {P.REMOVE_VALUE}:  # removing nothing: as removing something
                self._require(txn, identity, perm, handle, existing)
            return [v for v in existing.values if v.index not in set(indexes)], False

        return await self._update_values(handle, identity, change)

    async def delete(self, handle: str, identity: Identity | None) -> WriteResult:
        """Delete a whole record (see :meth:`plan_delete`)."""
        self._writable(identity, handle)

        def run(txn: WriteTxn) -> WriteResult:
            planned = self.plan_delete(txn, handle, identity, idempotent=False)
            apply(txn, [planned])
            return WriteResult(planned.handle, False)

        run = self._metered(identity, [handle], run)
        return await self._committed(await self.store.write(run, actor=_actor(identity)))

    async def home_configured(self, prefixes: Sequence[str]) -> None:
        """Home the prefixes a node's configuration lists (Handle.Net's auto-homed prefixes)."""
        for prefix in prefixes:
            check_prefix(prefix)

        def run(txn: WriteTxn) -> None:
            for prefix in prefixes:
                if not txn.is_homed(normalise(prefix)):
                    txn.home(normalise(prefix), prefix)

        await self.store.write(run, actor="config")
        self._homed_read_at = float("-inf")

    async def home(self, prefix: str, identity: Identity | None) -> None:
        """Home a prefix here (server admins only, as HOME_NA on Handle.Net)."""
        self._writable(identity, None)
        check_prefix(prefix)
        self._require_server_admin(identity, prefix)
        await self.store.write(lambda txn: txn.home(normalise(prefix), prefix), actor=str(identity))
        self._homed_read_at = float("-inf")

    async def unhome(self, prefix: str, identity: Identity | None) -> None:
        self._writable(identity, None)
        check_prefix(prefix)
        self._require_server_admin(identity, prefix)

        def run(txn: WriteTxn) -> None:
            if not txn.is_homed(normalise(prefix)):
                raise NotResponsible(f"prefix {prefix} is not homed on this server")
            txn.unhome(normalise(prefix))

        await self.store.write(run, actor=str(identity))
        self._homed_read_at = float("-inf")

    def _require_server_admin(self, identity: Identity | None, prefix: str) -> None:
        if identity is None:
            raise AuthenticationNeeded()
        if not self.authorizer.is_server_admin(identity):
            raise InsufficientPermissions(f"{identity} is not a server admin; cannot home {prefix}")
