"""The embedded store: SQLite in WAL mode.

One writer thread owns the only write connection, so writes are serialised without locks
and never block the event loop; readers use their own connections on a small thread pool
and see the last committed state (WAL snapshots). ``synchronous=FULL`` makes a commit
durable before the write is acknowledged, so an acknowledged write survives ``kill -9``
and power loss alike.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import msgpack

from registry.storage.base import Change, ReadTxn, Session, StoredRecord, WriteTxn
from resolver.values import HandleValue

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS handles (
    key        TEXT PRIMARY KEY,   -- ASCII upper-cased identifier: the matching key
    handle     TEXT NOT NULL,      -- spelling at creation
    prefix_key TEXT NOT NULL,      -- upper-cased prefix, for listing
    record     BLOB NOT NULL       -- msgpack list of value tuples
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS handles_by_prefix ON handles(prefix_key, key);
CREATE TABLE IF NOT EXISTS record_counts (
    prefix_key TEXT PRIMARY KEY,
    records    INTEGER NOT NULL    -- rows of handles with this prefix_key, kept by triggers
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS record_counted AFTER INSERT ON handles BEGIN
    INSERT INTO record_counts (prefix_key, records) VALUES (new.prefix_key, 1)
    ON CONFLICT(prefix_key) DO UPDATE SET records = records + 1;
END;
CREATE TRIGGER IF NOT EXISTS record_uncounted AFTER DELETE ON handles BEGIN
    UPDATE record_counts SET records = records - 1 WHERE prefix_key = old.prefix_key;
END;
CREATE TABLE IF NOT EXISTS changes (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    op     TEXT NOT NULL,
    key    TEXT NOT NULL,
    handle TEXT NOT NULL,
    record BLOB,                   -- values after the change; NULL for delete/unhome
    actor  TEXT
);
CREATE TABLE IF NOT EXISTS homed (
    prefix_key TEXT PRIMARY KEY,
    prefix     TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quota_usage (
    principal TEXT NOT NULL,       -- index:handle
    day       TEXT NOT NULL,       -- UTC date, YYYY-MM-DD
    kind      TEXT NOT NULL,       -- requests | registrations | prefixes
    used      INTEGER NOT NULL,
    PRIMARY KEY (principal, day, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
    id       TEXT PRIMARY KEY,     -- what the client quotes (Authorization: Handle sessionId)
    nonce    BLOB NOT NULL,        -- the challenge it signs
    identity TEXT,                 -- index:handle once proven; NULL while the challenge waits
    expires  REAL NOT NULL,        -- unix seconds
    key_print TEXT,                -- registry.auth.key_print of the key that proved it
    client    TEXT                 -- the address that opened it
) WITHOUT ROWID;
"""
#: columns added to a table after stores were made with it: (table, column, definition)
_ADDED_COLUMNS = (("sessions", "key_print", "TEXT"), ("sessions", "client", "TEXT"))


_packers = threading.local()

#: a record to put, packed: key, handle, prefix key, ``pack_values`` blob, created (or replaced)
PackedPut = tuple[str, str, str, bytes, bool]


def pack_values(values: Sequence[HandleValue]) -> bytes:
    """A record's values as a msgpack array of arrays (a value is a tuple of its fields).
    Each thread keeps one packer (``packb`` makes one per call, half the cost of packing)."""
    packer = getattr(_packers, "packer", None)
    if packer is None:
        packer = _packers.packer = msgpack.Packer(use_bin_type=True)
    return packer.pack(values)


def pack_puts(rows: Sequence[tuple[str, StoredRecord, str, bool]]) -> list[PackedPut]:
    """``put_many``'s rows with their values packed."""
    return [
        (key, record.handle, prefix_key, pack_values(record.values), created)
        for key, record, prefix_key, created in rows
    ]


def unpack_values(blob: bytes) -> tuple[HandleValue, ...]:
    return tuple(HandleValue.from_tuple(t) for t in msgpack.unpackb(blob, raw=False))


#: rows per multi-row INSERT: 100 rows of at most 6 columns stay under 999 parameters, the
#: limit of SQLite before 3.32
ROWS_PER_INSERT = 100


def _insert_many(conn: sqlite3.Connection, head: str, tail: str, rows: Sequence[tuple]) -> None:
    """``head VALUES (...), (...) tail`` for ``rows``, 100 to a statement: a bulk import's
    rows go in at 40% less per row than ``executemany``, which steps SQLite once a row."""
    if not rows:
        return
    one = f"({', '.join('?' * len(rows[0]))})"
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        conn.execute(
            f"{head} VALUES {', '.join([one] * len(chunk))} {tail}",
            [field for row in chunk for field in row],
        )


#: how long a new store waits for another process switching the same file to WAL
WAL_SWITCH_WAIT_S = 30.0


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """``PRAGMA journal_mode = WAL``, waiting for another process doing the same: two HTTP
    workers opening a new store at once saw "database is locked" at once, the busy timeout
    not applied to the switch."""
    deadline = time.monotonic() + WAL_SWITCH_WAIT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _statements(script: str) -> Iterator[str]:
    """The statements of ``script`` one at a time (``executescript`` would commit first, and
    a trigger's body holds semicolons of its own)."""
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return row.fetchone() is not None


class SQLiteReader:
    """ReadTxn over one connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def get(self, key: str) -> StoredRecord | None:
        row = self.conn.execute(
            "SELECT handle, record FROM handles WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else StoredRecord(row[0], unpack_values(row[1]))

    def get_many(self, keys: Sequence[str]) -> dict[str, StoredRecord]:
        """The records stored under ``keys`` (absent ones left out), one query per 500
        keys: a batch reads its records at a fraction of the cost of one query each."""
        out = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            rows = self.conn.execute(
                "SELECT key, handle, record FROM handles "
                f"WHERE key IN ({','.join('?' * len(part))})",
                part,
            )
            out.update((r[0], StoredRecord(r[1], unpack_values(r[2]))) for r in rows)
        return out

    def list_handles(self, prefix_key: str, offset: int, limit: int) -> list[str]:
        rows = self.conn.execute(
            "SELECT handle FROM handles WHERE prefix_key = ? ORDER BY key LIMIT ? OFFSET ?",
            (prefix_key, limit, offset),
        )
        return [r[0] for r in rows]

    def count_handles(self, prefix_key: str) -> int:
        row = self.conn.execute(
            "SELECT records FROM record_counts WHERE prefix_key = ?", (prefix_key,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def count_records(self) -> int:
        row = self.conn.execute("SELECT coalesce(sum(records), 0) FROM record_counts").fetchone()
        return int(row[0])

    def homed_prefixes(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT prefix FROM homed ORDER BY prefix_key")]

    def is_homed(self, prefix_key: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM homed WHERE prefix_key = ?", (prefix_key,))
        return row.fetchone() is not None

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def get_session(self, session_id: str) -> Session | None:
        row = self.conn.execute(
            "SELECT nonce, identity, expires, key_print FROM sessions WHERE id = ?",
            (session_id,),
        ).fetchone()
        return None if row is None else Session(bytes(row[0]), row[1], float(row[2]), row[3])

    def audit(
        self, prefix_key: str, since: int, until: int, limit: int
    ) -> list[tuple[Change, tuple[HandleValue, ...] | None]]:
        """Changes to records under a prefix (its own handles, its prefix record, and those
        of the prefixes below it) made from ``since`` to ``until`` (unix seconds), oldest
        first, each with the values the record held before it (None: it did not exist, or
        the change that made it was pruned from the log). One pass over the log: the values
        before come from the earlier changes of the same key. Keys are compared as ranges,
        since ``_`` in a prefix would be a wildcard to LIKE."""
        na = "0.NA/" + prefix_key
        rows = self.conn.execute(
            "SELECT seq, at, op, key, handle, record, actor FROM changes "
            "WHERE at <= ? AND op IN ('create', 'update', 'delete') AND ("
            " (key >= ? AND key < ?) OR key = ? OR (key >= ? AND key < ?)) ORDER BY seq",
            (until, prefix_key + ".", prefix_key + "0", na, na + ".", na + "/"),
        )
        last: dict[str, bytes | None] = {}
        out: list[tuple[Change, tuple[HandleValue, ...] | None]] = []
        for seq, at, op, key, handle, blob, actor in rows:
            if at >= since:
                values = None if blob is None else unpack_values(blob)
                before = last.get(key)
                change = Change(seq, at, op, key, handle, values, actor)
                out.append((change, None if before is None else unpack_values(before)))
                if len(out) >= limit:
                    break
            last[key] = blob
        return out

    def seq_range(self) -> tuple[int, int]:
        """(oldest, newest) sequence numbers still in the change log; (0, 0) when empty."""
        # two subqueries: one SELECT of both min() and max() scans the whole log (132 ms at
        # 1M entries, once per batch of a bulk import's planner and per mirror poll)
        row = self.conn.execute(
            "SELECT (SELECT min(seq) FROM changes), (SELECT max(seq) FROM changes)"
        ).fetchone()
        return int(row[0] or 0), int(row[1] or 0)

    def dump(self) -> tuple[list[tuple[str, str]], list[tuple[str, str, str, bytes]]]:
        """Every homed prefix and every record (raw), for a mirror's full copy."""
        homed = [(r[0], r[1]) for r in self.conn.execute("SELECT prefix_key, prefix FROM homed")]
        rows = self.conn.execute("SELECT key, handle, prefix_key, record FROM handles ORDER BY key")
        return homed, [(r[0], r[1], r[2], r[3]) for r in rows]


class SQLiteWriter(SQLiteReader):
    """WriteTxn: every mutation also appends to the change log."""

    def __init__(self, conn: sqlite3.Connection, actor: str | None) -> None:
        super().__init__(conn)
        self.actor = actor
        self.now = int(time.time())
        #: records created in this transaction, and how many of them are prefix records
        self.created = 0
        self.created_prefixes = 0

    def _log(self, op: str, key: str, handle: str, blob: bytes | None) -> None:
        self.conn.execute(
            "INSERT INTO changes (at, op, key, handle, record, actor) VALUES (?, ?, ?, ?, ?, ?)",
            (self.now, op, key, handle, blob, self.actor),
        )

    def put(self, key: str, record: StoredRecord, prefix_key: str, *, created: bool) -> None:
        self.put_many([(key, record, prefix_key, created)])

    def put_many(self, rows: Sequence[tuple[str, StoredRecord, str, bool]]) -> None:
        """One statement per table for all ``rows`` (bulk import's rate rests on it)."""
        self.put_packed(pack_puts(rows))

    def put_packed(self, rows: Sequence[PackedPut]) -> None:
        """``put_many`` of records already packed (``pack_values``), as a bulk import's
        planner process hands them over."""
        handles, log = [], []
        for key, handle, prefix_key, blob, created in rows:
            handles.append((key, handle, prefix_key, blob))
            if created:
                self.created += 1
                self.created_prefixes += key.startswith("0.NA/")
            log.append((self.now, "create" if created else "update", key, handle, blob, self.actor))
        _insert_many(
            self.conn,
            "INSERT INTO handles (key, handle, prefix_key, record)",
            "ON CONFLICT(key) DO UPDATE SET record = excluded.record",
            handles,
        )
        _insert_many(self.conn, "INSERT INTO changes (at, op, key, handle, record, actor)", "", log)

    def put_copy(self, rows: Sequence[tuple[str, str, str, bytes]]) -> None:
        """A full copy's records (key, handle, prefix key, ``pack_values`` blob), into a store
        just cleared: not logged one by one, as the ``reset`` logged by :meth:`clear` before
        them already tells whoever follows this log to take a full copy (a mirror's log grew
        by a record's size for every record of every copy it took)."""
        _insert_many(self.conn, "INSERT INTO handles (key, handle, prefix_key, record)", "", rows)

    def changed_since(self, seq: int) -> set[str] | None:
        """The keys of the records and homed prefixes changed after change ``seq``; None
        when the log cannot say (entries after ``seq`` were pruned, or the store was reset)."""
        first = self.conn.execute("SELECT min(seq) FROM changes WHERE seq > ?", (seq,))
        oldest = first.fetchone()[0]
        if oldest is None:
            return set()
        if oldest != seq + 1:  # sequence numbers leave no gaps; pruning cut the log short
            return None
        keys = set()
        for op, key in self.conn.execute("SELECT op, key FROM changes WHERE seq > ?", (seq,)):
            if op == "reset":
                return None
            keys.add(key)
        return keys

    def delete(self, key: str, handle: str) -> None:
        self.conn.execute("DELETE FROM handles WHERE key = ?", (key,))
        self._log("delete", key, handle, None)

    def home(self, prefix_key: str, prefix: str) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO homed (prefix_key, prefix) VALUES (?, ?)", (prefix_key, prefix)
        )
        self._log("home", prefix_key, prefix, None)

    def unhome(self, prefix_key: str) -> None:
        self.conn.execute("DELETE FROM homed WHERE prefix_key = ?", (prefix_key,))
        self._log("unhome", prefix_key, prefix_key, None)

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def use_quota(self, principal: str, day: str, kind: str, amount: int) -> int:
        """Count ``amount`` more of ``kind`` for a principal on a day (earlier days are
        forgotten). :returns: the day's total so far."""
        self.conn.execute("DELETE FROM quota_usage WHERE day < ?", (day,))
        row = self.conn.execute(
            "INSERT INTO quota_usage (principal, day, kind, used) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(principal, day, kind) DO UPDATE SET used = used + excluded.used "
            "RETURNING used",
            (principal, day, kind, amount),
        ).fetchone()
        return int(row[0])

    def open_session(
        self, session_id: str, nonce: bytes, expires: float, now: float, client: str
    ) -> tuple[int, int]:
        """Add a session waiting for its challenge's answer (expired ones are pruned
        first). :returns: how many sessions are waiting now, in all and opened by ``client``."""
        self.conn.execute("DELETE FROM sessions WHERE expires < ?", (now,))
        self.conn.execute(
            "INSERT INTO sessions (id, nonce, identity, expires, client) VALUES (?, ?, NULL, ?, ?)",
            (session_id, nonce, expires, client),
        )
        row = self.conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE client = ?) FROM sessions "
            "WHERE identity IS NULL",
            (client,),
        ).fetchone()
        return int(row[0]), int(row[1])

    def prove_session(
        self, session_id: str, identity: str, key_print: str | None, expires: float, now: float
    ) -> bool:
        """Mark a waiting, unexpired session as proven by ``identity`` with the key whose
        print is ``key_print``; False if it was not waiting."""
        cursor = self.conn.execute(
            "UPDATE sessions SET identity = ?, key_print = ?, expires = ? "
            "WHERE id = ? AND identity IS NULL AND expires >= ?",
            (identity, key_print, expires, session_id, now),
        )
        return cursor.rowcount == 1

    def close_session(self, session_id: str) -> None:
        self.conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def clear(self) -> None:
        """Forget every record and homed prefix (a mirror about to load a full copy)."""
        self.conn.execute("DELETE FROM handles")
        self.conn.execute("DELETE FROM homed")
        self._log("reset", "", "", None)


class SQLiteStore:
    """The embedded default store (see module docstring)."""

    def __init__(self, path: str | Path, *, readers: int = 2, changelog_keep: int = 0) -> None:
        """``changelog_keep`` > 0 prunes the change log to that many newest entries."""
        self.path = str(path)
        self.changelog_keep = changelog_keep
        self._readers = readers
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    async def open(self) -> None:
        """Create the file and schema and start the writer and reader threads."""
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer_pool = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._reader_pool = ThreadPoolExecutor(self._readers, thread_name_prefix="sqlite-reader")
        loop = asyncio.get_running_loop()
        self._write_conn = await loop.run_in_executor(self._writer_pool, self._open_writer)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA busy_timeout = 30000")
        with self._lock:
            self._connections.append(conn)
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        conn = self._connect()
        _switch_to_wal(conn)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            counted = _has_table(conn, "record_counts")
            for statement in _statements(SCHEMA):
                conn.execute(statement)
            if not counted:  # a store made before the counts were kept: count it once
                conn.execute(
                    "INSERT INTO record_counts (prefix_key, records) "
                    "SELECT prefix_key, count(*) FROM handles GROUP BY prefix_key"
                )
            for table, column, definition in _ADDED_COLUMNS:
                if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return conn

    def _reader_conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
        return conn

    def _run_read(self, fn: Callable[[ReadTxn], T]) -> T:
        conn = self._reader_conn()
        conn.execute("BEGIN")
        try:
            return fn(SQLiteReader(conn))
        finally:
            conn.execute("COMMIT")

    def _run_write(self, fn: Callable[[WriteTxn], T], actor: str | None) -> T:
        conn = self._write_conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(SQLiteWriter(conn, actor))
            if self.changelog_keep:
                conn.execute(
                    "DELETE FROM changes WHERE seq <= (SELECT max(seq) FROM changes) - ?",
                    (self.changelog_keep,),
                )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    async def read(self, fn: Callable[[ReadTxn], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_pool, self._run_read, fn)

    async def write(self, fn: Callable[[WriteTxn], T], actor: str | None = None) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer_pool, self._run_write, fn, actor)

    def _changes(self, seq: int, limit: int) -> list[Change]:
        rows = self._reader_conn().execute(
            "SELECT seq, at, op, key, handle, record, actor FROM changes "
            "WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [
            Change(
                r[0], r[1], r[2], r[3], r[4], None if r[5] is None else unpack_values(r[5]), r[6]
            )
            for r in rows
        ]

    async def changes_since(self, seq: int, limit: int = 1000) -> list[Change]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_pool, self._changes, seq, limit)

    async def last_seq(self) -> int:
        def last(_: ReadTxn) -> int:
            row = self._reader_conn().execute("SELECT max(seq) FROM changes").fetchone()
            return int(row[0] or 0)

        return await self.read(last)

    async def close(self) -> None:
        for pool in (getattr(self, "_writer_pool", None), getattr(self, "_reader_pool", None)):
            if pool is not None:
                pool.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
