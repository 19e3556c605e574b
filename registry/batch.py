"""Batches of whole-record writes: every item is checked first, then the batch is committed
in one store transaction, with a result per item.

What a batch means:

- Every item is checked (identifier syntax, responsibility, permissions, value limits) by
  the same :class:`~registry.authority.Authority` code as a single write, against the store
  as it was before the batch: no item sees another's effect. An identifier may appear only
  once per batch; later occurrences are rejected (:class:`DuplicateItem`).
- ``atomic`` (the HTTP API's default): one rejected item rejects the batch. Nothing is
  committed; rejected items carry their reason and the others say ``aborted``. This is the
  safe default because a client that fixes the bad items and sends the batch again cannot
  have left half of it behind.
- not atomic (bulk import, ``"atomic": false``): the valid items are committed and the
  rejected ones are not, each result saying which.
- ``skipped`` means the store already holds what the item asks for (an identical record, or
  a deleted one already gone), so sending a batch twice changes nothing the second time.

Either way exactly what the results say is written, in the transaction that produced them.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Literal, NamedTuple, Protocol, cast

from registry.storage.base import ReadTxn, StoredRecord, WriteTxn
from resolver.cells import values_from_json
from resolver.errors import ProtocolError, TieridError
from resolver.handle import normalise
from resolver.message import Identity
from resolver.values import HandleValue

#: Items per HTTP batch, as China's secondary nodes (SNMS) accept.
MAX_ITEMS = 2000

PutOp = Literal["create", "update", "upsert"]
Op = Literal["create", "update", "upsert", "delete"]
OPS: tuple[Op, ...] = ("create", "update", "upsert", "delete")


class Outcome(StrEnum):
    """What happened to one record (the last two only in batches)."""

    CREATED = "created"
    REPLACED = "replaced"
    DELETED = "deleted"
    UNCHANGED = "skipped"
    REJECTED = "rejected"
    ABORTED = "aborted"

    @property
    def changes(self) -> bool:
        """Whether the store changed (and caches must forget the record)."""
        return self in (Outcome.CREATED, Outcome.REPLACED, Outcome.DELETED)


def content(v: HandleValue) -> tuple[Any, ...]:
    """What a value says, without the timestamp the server stamps on every write."""
    return (v.type, v.data, v.ttl, v.ttl_type, v.permissions, v.references)


def same_values(old: Sequence[HandleValue], new: Sequence[HandleValue]) -> bool:
    """Whether writing ``new`` over a record holding ``old`` would change nothing."""
    return len(old) == len(new) and {v.index: content(v) for v in old} == {
        v.index: content(v) for v in new
    }


class PlannedWrite(NamedTuple):
    """A checked change to one record, not yet applied. (Batch items and results are named
    tuples rather than dataclasses: a bulk import makes millions, at half the cost.)"""

    key: str
    handle: str
    prefix_key: str
    record: StoredRecord | None  # what is put; None for a delete or an unchanged record
    outcome: Outcome


def puts(plans: Sequence[PlannedWrite]) -> list[tuple[str, StoredRecord, str, bool]]:
    """The records ``plans`` put, as ``put_many`` takes them: key, record, prefix key,
    created (or replaced)."""
    created = Outcome.CREATED
    return [(p.key, p.record, p.prefix_key, p.outcome is created) for p in plans if p.record]


def deletes(plans: Sequence[PlannedWrite]) -> list[tuple[str, str]]:
    """The records ``plans`` delete: key and handle."""
    return [(p.key, p.handle) for p in plans if p.outcome is Outcome.DELETED]


def apply(txn: WriteTxn, plans: Sequence[PlannedWrite]) -> None:
    """Write checked changes, through the change log as every write; a batch's records go
    in one statement per table."""
    for key, handle in deletes(plans):
        txn.delete(key, handle)
    txn.put_many(puts(plans))


class Planner(Protocol):
    """What plans single writes: :class:`registry.authority.Authority`."""

    def plan_put(
        self,
        txn: ReadTxn,
        handle: str,
        values: Sequence[HandleValue],
        identity: Identity | None,
        *,
        op: PutOp,
        idempotent: bool,
    ) -> PlannedWrite: ...

    def plan_delete(
        self, txn: ReadTxn, handle: str, identity: Identity | None, *, idempotent: bool
    ) -> PlannedWrite: ...


class BatchItem(NamedTuple):
    """One item: an operation on a record, or what could not be read of it (``error``)."""

    op: Op
    handle: str
    values: tuple[HandleValue, ...] = ()
    error: TieridError | None = None


class ItemResult(NamedTuple):
    handle: str
    outcome: Outcome
    error: TieridError | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"handle", "result"}``, plus ``responseCode`` and ``message`` when rejected."""
        out: dict[str, Any] = {"handle": self.handle, "result": self.outcome.value}
        if self.error is not None:
            out["responseCode"] = int(self.error.rc)
            out["message"] = self.error.message
        elif self.outcome is Outcome.ABORTED:
            out["message"] = "not committed: another item of the batch was rejected"
        return out


def counts(results: Sequence[ItemResult]) -> dict[str, int]:
    """How many items had each outcome (every outcome named, zeros included)."""
    out = dict.fromkeys((o.value for o in Outcome), 0)
    for r in results:
        out[r.outcome.value] += 1
    return out


def changed_keys(results: Sequence[ItemResult]) -> list[str]:
    """The keys of the records a batch changed (what caches must forget)."""
    return [normalise(r.handle) for r in results if r.outcome.changes]


class BatchTooLarge(ProtocolError):
    """Too many items in one batch."""


class DuplicateItem(ProtocolError):
    """The identifier appears more than once in the batch."""


class BatchRejected(TieridError):
    """The batch was not committed: an item was rejected.

    Its response code and HTTP status are those of the first rejected item; the error body
    carries every item's result.
    """

    def __init__(self, results: Sequence[ItemResult]) -> None:
        n, first = next((n, r) for n, r in enumerate(results) if r.error is not None)
        assert first.error is not None
        super().__init__(
            f"batch not committed: items[{n}] ({first.handle}) was rejected: {first.error.message}"
        )
        self.rc = first.error.rc
        self.results = list(results)

    @property
    def details(self) -> dict[str, Any]:
        return {
            "committed": False,
            "counts": counts(self.results),
            "items": [r.to_json() for r in self.results],
        }


def item_from_json(obj: Any, op: Op, max_data_bytes: int) -> BatchItem:
    """One item of a batch body or a JSON Lines import: ``{"handle": ..., "values": [...]}``
    with values in Handle.Net's JSON form. What cannot be read becomes an item carrying its
    error (rejected with that reason), so one bad item never fails the rest unread.
    """
    handle = obj.get("handle") if isinstance(obj, dict) else None
    shown = handle if isinstance(handle, str) else ""
    try:
        if not isinstance(obj, dict):
            raise ProtocolError("each item must be a JSON object")
        if not isinstance(handle, str):
            raise ProtocolError('an item needs "handle" (a string)')
        raw = obj.get("values", [])
        if op == "delete" and raw:
            raise ProtocolError("a delete item takes no values")
        if not isinstance(raw, list):
            raise ProtocolError('"values" must be a list of values')
        values = values_from_json(raw, max_data_bytes)
    except TieridError as err:
        return BatchItem(op, shown, error=err)
    return BatchItem(op, handle, values)


class Snapshot:
    """The read view a batch is planned on: each record and homed prefix is read from the
    store once, so items share their governing prefix record. Sound because nothing is
    written until every item has been planned. It remembers every key it was asked about
    (``keys_read``): a plan made on it stays valid while none of those keys changes."""

    def __init__(self, txn: ReadTxn) -> None:
        self._txn = txn
        self._records: dict[str, StoredRecord | None] = {}
        self._homed: dict[str, bool] = {}

    def prefetch(self, keys: Sequence[str]) -> None:
        found = self._txn.get_many(keys)
        self._records.update((key, found.get(key)) for key in keys)

    def get(self, key: str) -> StoredRecord | None:
        if key not in self._records:
            self._records[key] = self._txn.get(key)
        return self._records[key]

    def is_homed(self, prefix_key: str) -> bool:
        if prefix_key not in self._homed:
            self._homed[prefix_key] = self._txn.is_homed(prefix_key)
        return self._homed[prefix_key]

    def keys_read(self) -> set[str]:
        """The record keys and prefix keys the plans looked at (the change log names a
        homed prefix by its key, a record by its own)."""
        return {*self._records, *self._homed}


def _plan(
    planner: Planner,
    view: ReadTxn,
    item: BatchItem,
    identity: Identity | None,
    first: dict[str, int],
    n: int,
) -> PlannedWrite:
    if item.error is not None:
        raise item.error
    earlier = first.setdefault(normalise(item.handle), n)
    if earlier != n:
        raise DuplicateItem(f"{item.handle} is also items[{earlier}]", handle=item.handle)
    if item.op == "delete":
        return planner.plan_delete(view, item.handle, identity, idempotent=True)
    return planner.plan_put(view, item.handle, item.values, identity, op=item.op, idempotent=True)


def plan_batch(
    planner: Planner,
    snapshot: Snapshot,
    items: Sequence[BatchItem],
    identity: Identity | None,
    *,
    atomic: bool,
) -> tuple[list[ItemResult], list[PlannedWrite]]:
    """Plan every item on ``snapshot``: a result per item, and the plans to apply (none
    when ``atomic`` and an item was rejected)."""
    snapshot.prefetch([normalise(i.handle) for i in items if i.error is None])
    view = cast(ReadTxn, snapshot)
    first: dict[str, int] = {}
    plans: list[PlannedWrite | TieridError] = []
    for n, item in enumerate(items):
        try:
            plans.append(_plan(planner, view, item, identity, first, n))
        except TieridError as err:
            plans.append(err)
    abort = atomic and any(isinstance(p, TieridError) for p in plans)
    results = []
    for item, plan in zip(items, plans, strict=True):
        if isinstance(plan, TieridError):
            results.append(ItemResult(item.handle, Outcome.REJECTED, plan))
        else:
            results.append(ItemResult(item.handle, Outcome.ABORTED if abort else plan.outcome))
    if abort:
        return results, []
    return results, [p for p in plans if not isinstance(p, TieridError)]


def run_batch(
    planner: Planner,
    txn: WriteTxn,
    items: Sequence[BatchItem],
    identity: Identity | None,
    *,
    atomic: bool,
) -> list[ItemResult]:
    """Plan every item, then apply the valid ones (all or none when ``atomic``) in ``txn``.

    Errors of single items become their results; any other exception aborts the transaction.
    """
    results, plans = plan_batch(planner, Snapshot(txn), items, identity, atomic=atomic)
    apply(txn, plans)
    return results
