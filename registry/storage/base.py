"""The store interface every backend implements.

Logic that must be atomic (read a record, check permissions, write) runs as a plain
function inside one transaction: ``await store.write(fn)`` calls ``fn(txn)`` off the event
loop, commits if it returns and rolls back if it raises. Every mutation through a
:class:`WriteTxn` appends to the change log in the same transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, TypeVar

from resolver.values import HandleValue

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as stored: the spelling it was created with, and its values in index order."""

    handle: str
    values: tuple[HandleValue, ...]

    def by_index(self) -> dict[int, HandleValue]:
        return {v.index: v for v in self.values}


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change log: the basis for mirrors, invalidation and audit."""

    seq: int
    at: int
    op: str  # "create" | "update" | "delete" | "home" | "unhome" | "reset"
    key: str
    handle: str
    values: tuple[HandleValue, ...] | None
    actor: str | None


class Session(NamedTuple):
    """An HTTP login session (:mod:`registry.sessions`)."""

    nonce: bytes  # the challenge it signs
    identity: str | None  # index:handle once proven
    expires: float  # unix seconds
    key_print: str | None  # of the key that proved it (registry.auth.key_print)


class ReadTxn(Protocol):
    def get(self, key: str) -> StoredRecord | None: ...

    def get_many(self, keys: Sequence[str]) -> dict[str, StoredRecord]: ...

    def list_handles(self, prefix_key: str, offset: int, limit: int) -> list[str]: ...

    def count_handles(self, prefix_key: str) -> int: ...

    def count_records(self) -> int: ...

    def homed_prefixes(self) -> list[str]: ...

    def is_homed(self, prefix_key: str) -> bool: ...

    def get_meta(self, key: str) -> str | None: ...

    def get_session(self, session_id: str) -> Session | None:
        """An HTTP login session."""
        ...

    def audit(
        self, prefix_key: str, since: int, until: int, limit: int
    ) -> list[tuple[Change, tuple[HandleValue, ...] | None]]:
        """Changes to records under a prefix in a time range, each with the values before."""
        ...

    def seq_range(self) -> tuple[int, int]: ...

    def dump(self) -> tuple[list[tuple[str, str]], list[tuple[str, str, str, bytes]]]: ...


class WriteTxn(ReadTxn, Protocol):
    #: records created in this transaction so far, and how many of them are prefix records
    created: int
    created_prefixes: int

    def put(self, key: str, record: StoredRecord, prefix_key: str, *, created: bool) -> None: ...

    def put_copy(self, rows: Sequence[tuple[str, str, str, bytes]]) -> None: ...

    def put_many(self, rows: Sequence[tuple[str, StoredRecord, str, bool]]) -> None:
        """``put`` for each ``(key, record, prefix_key, created)``, in order."""

    def delete(self, key: str, handle: str) -> None: ...

    def home(self, prefix_key: str, prefix: str) -> None: ...

    def unhome(self, prefix_key: str) -> None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def use_quota(self, principal: str, day: str, kind: str, amount: int) -> int: ...

    def open_session(
        self, session_id: str, nonce: bytes, expires: float, now: float, client: str
    ) -> tuple[int, int]: ...

    def prove_session(
        self, session_id: str, identity: str, key_print: str | None, expires: float, now: float
    ) -> bool: ...

    def close_session(self, session_id: str) -> None: ...

    def clear(self) -> None: ...


class Store(Protocol):
    async def open(self) -> None: ...

    async def read(self, fn: Callable[[ReadTxn], T]) -> T: ...

    async def write(self, fn: Callable[[WriteTxn], T], actor: str | None = None) -> T: ...

    async def changes_since(self, seq: int, limit: int = 1000) -> Sequence[Change]: ...

    async def last_seq(self) -> int: ...

    def close(self) -> Awaitable[None]: ...
