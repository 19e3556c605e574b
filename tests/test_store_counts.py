"""Record counts (``/metrics``, ``tierid status``, a listing's ``totalCount``) are kept by
the store as it writes, not counted by scanning: on a node of a hundred million records a
scan per metrics scrape costs seconds."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from registry.storage.base import StoredRecord
from registry.storage.sqlite import SQLiteReader, SQLiteStore
from resolver.values import HandleValue


def _record(handle: str) -> StoredRecord:
    return StoredRecord(handle, (HandleValue(1, "URL", b"https://p.example"),))


def _rows(prefix: str, start: int, stop: int, created: bool = True) -> list[tuple]:
    return [
        (f"{prefix}/R-{i}", _record(f"{prefix}/r-{i}"), prefix, created) for i in range(start, stop)
    ]


def _counts(path: Path) -> tuple[int, int, int]:
    """All records, those under 88.1, those under 88.2 (read as a node reads them)."""
    conn = sqlite3.connect(path)
    try:
        txn = SQLiteReader(conn)
        return txn.count_records(), txn.count_handles("88.1"), txn.count_handles("88.2")
    finally:
        conn.close()


def test_every_write_path_keeps_the_counts(tmp_path) -> None:
    path = tmp_path / "s.sqlite3"

    async def run() -> None:
        store = SQLiteStore(path)
        await store.open()
        try:
            await store.write(lambda txn: txn.put_many(_rows("88.1", 0, 250) + _rows("88.2", 0, 3)))
            assert _counts(path) == (253, 250, 3)
            # replacing records (even when told they are new) adds none
            await store.write(lambda txn: txn.put_many(_rows("88.1", 0, 10, created=True)))
            await store.write(lambda txn: txn.put_many(_rows("88.1", 200, 260, created=False)))
            assert _counts(path) == (263, 260, 3)
            await store.write(lambda txn: txn.delete("88.2/R-0", "88.2/r-0"))
            assert _counts(path) == (262, 260, 2)

            def fails(txn) -> None:
                txn.put_many(_rows("88.2", 10, 20))
                txn.delete("88.1/R-0", "88.1/r-0")
                raise RuntimeError("a later check failed")

            with pytest.raises(RuntimeError):
                await store.write(fails)
            assert _counts(path) == (262, 260, 2)  # rolled back with the rows
            await store.write(lambda txn: txn.clear())
            assert _counts(path) == (0, 0, 0)
        finally:
            await store.close()

    asyncio.run(run())


def test_counts_are_read_without_scanning(tmp_path) -> None:
    path = tmp_path / "s.sqlite3"

    async def fill() -> None:
        store = SQLiteStore(path)
        await store.open()
        try:
            await store.write(lambda txn: txn.put_many(_rows("88.1", 0, 20_000)))
        finally:
            await store.close()

    asyncio.run(fill())
    conn = sqlite3.connect(path)
    steps: list[int] = []
    conn.set_progress_handler(lambda: steps.append(1), 100)  # called every 100 VM steps
    txn = SQLiteReader(conn)
    assert (txn.count_records(), txn.count_handles("88.1"), txn.count_handles("88.9")) == (
        20_000,
        20_000,
        0,
    )
    conn.close()
    assert len(steps) < 10


#: a store as tierid wrote it before it kept counts: the records table, no counts
_OLD_STORE = """
CREATE TABLE handles (
    key TEXT PRIMARY KEY, handle TEXT NOT NULL, prefix_key TEXT NOT NULL, record BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX handles_by_prefix ON handles(prefix_key, key);
"""

_OPEN_AT = """
import asyncio, sys, time
from registry.storage.sqlite import SQLiteStore
path, at = sys.argv[1], float(sys.argv[2])

async def open_close():
    store = SQLiteStore(path)
    await store.open()
    await store.close()

while time.time() < at:
    pass
asyncio.run(open_close())
"""


def test_a_store_made_before_counts_is_counted_once(tmp_path) -> None:
    """Four worker processes opening an older store together, as a multi-worker node's
    first start after an upgrade does: the store is counted once. (One transaction holds the
    check and the counting, so no two can both count; this run cannot force that race.)"""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(_OLD_STORE)
    rows = [(f"88.1/R-{i}", f"88.1/r-{i}", "88.1", b"\x90") for i in range(500)]
    conn.executemany(
        "INSERT INTO handles VALUES (?, ?, ?, ?)", rows + [("88.2/A", "88.2/a", "88.2", b"\x90")]
    )
    conn.commit()
    conn.close()
    at = time.time() + 1.5
    procs = [
        subprocess.Popen([sys.executable, "-c", _OPEN_AT, str(path), str(at)]) for _ in range(4)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0] * 4
    assert _counts(path) == (501, 500, 1)
