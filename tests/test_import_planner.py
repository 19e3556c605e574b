"""The two-process import (``tierid.import_planner``): what it commits is what the
single-process import commits, row for row; a plan whose snapshot went stale is made again
in the committing transaction; a planner that fails stops the import with its reason.

Stores and files are real; the planner is a real spawned process."""

from __future__ import annotations

import asyncio
import csv
import multiprocessing
import sqlite3
from pathlib import Path

import msgpack
import pytest

from registry.authority import Authority, RecordLimits
from registry.permissions import Authorizer
from registry.storage.sqlite import SQLiteStore
from resolver.message import Identity
from resolver.values import HandleValue
from tests.conftest import PUMPS
from tests.test_import import make_store
from tierid.import_planner import (
    COMMITTER_SHARE,
    PlannedBatch,
    PlannerFailed,
    _plan_rows,
    planned_batches,
    still_valid,
)
from tierid.importer import Import, StoreSink
from tierid.rows import Reading


def new_store(path: Path, *, keep: int = 0) -> SQLiteStore:
    """A store with the prefix homed, pruning its change log to ``keep`` entries (0: not)."""
    return SQLiteStore(make_store(path), changelog_keep=keep)


def mixed_rows(path: Path, count: int, *, repeats: bool = True) -> Path:
    """Rows of every kind: new records, an identifier named again further on with other
    values (so in a later batch; unless not ``repeats``), rows the authority rejects
    (foreign prefix, a value too big, an index twice), and rows that cannot be read."""
    with open(path, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(("handle", "index", "type", "data"))
        for i in range(count):
            if repeats and i % 97 == 5:
                out.writerow((f"{PUMPS}/P-{i - 5:05d}", 1, "URL", f"https://again.example/{i}"))
            elif i % 89 == 7:
                out.writerow((f"99.999/P-{i:05d}", 1, "URL", "https://elsewhere.example/"))
            elif i % 83 == 3:
                out.writerow((f"{PUMPS}/P-{i:05d}", 1, "URL", "x" * 300))
            elif i % 79 == 2:
                out.writerow((f"{PUMPS}/P-{i:05d}", 1, "URL", "a", 1, "URL", "b"))
            elif i % 71 == 1:
                out.writerow((f"{PUMPS}/P-{i:05d}", "one", "URL", "https://bad.index/"))
            else:
                out.writerow((f"{PUMPS}/P-{i:05d}", 1, "URL", f"https://pumps.example/{i}"))
    return path


def import_file(
    source: Path, store: SQLiteStore, *, planner: bool, size: int, restart: bool = False
) -> str:
    """Import ``source`` (limits: 200-byte values); the results file's text."""
    results = source.with_name(f"{source.name}.{planner}.results.csv")

    async def run() -> None:
        await store.open()
        try:
            limits = RecordLimits(max_value_bytes=200)
            sink = StoreSink(store, limits, "import:test", planner=planner)
            job = Import(source, "csv", "upsert", results, batch_size=size, max_data_bytes=200)
            summary = await job.run(sink, restart=restart, progress=lambda *_: None)
            assert summary.checkpoint.done
        finally:
            await store.close()

    asyncio.run(run())
    return results.read_text("utf-8")


def stored(path: Path) -> dict[str, tuple[str, list]]:
    """Every record of the prefix, values without their timestamps."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT key, handle, record FROM handles WHERE prefix_key = ?", (PUMPS,)
        ).fetchall()
    out = {}
    for key, handle, blob in rows:
        values = [v[:5] + v[6:] for v in msgpack.unpackb(blob)]
        out[key] = (handle, values)
    return out


def logged(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT op, key FROM changes WHERE key LIKE ? ORDER BY seq", (f"{PUMPS}/%",)
        ).fetchall()


def test_two_processes_commit_what_one_commits_row_for_row(tmp_path: Path) -> None:
    source = mixed_rows(tmp_path / "rows.csv", 2_000)
    one, two = tmp_path / "one.sqlite3", tmp_path / "two.sqlite3"
    alone = import_file(source, new_store(one), planner=False, size=50)
    paired = import_file(source, new_store(two), planner=True, size=50)
    assert paired == alone
    results = list(csv.reader(alone.splitlines()))
    outcomes = {line[2] for line in results[1:]}
    assert outcomes == {"created", "replaced", "rejected"}
    assert stored(two) == stored(one) and len(stored(one)) > 1_500
    assert logged(two) == logged(one)


def test_checking_every_row_again_with_the_planner_changes_nothing(tmp_path: Path) -> None:
    source = mixed_rows(tmp_path / "rows.csv", 600, repeats=False)
    path = tmp_path / "store.sqlite3"
    store = new_store(path)
    import_file(source, store, planner=True, size=40)
    before = logged(path)
    again = import_file(source, store, planner=True, size=40, restart=True)
    lines = list(csv.reader(again.splitlines()))[1:]
    assert {line[2] for line in lines} == {"skipped", "rejected"}
    assert logged(path) == before


def planned(path: Path, rows: int) -> PlannedBatch:
    """The first batch of a file, planned on a snapshot of the store at ``path``."""
    source = mixed_rows(path.with_name("rows.csv"), rows, repeats=False)
    reading = Reading(source, "csv", "upsert", 200, rows, None)
    identity = Identity("import:test", 0)
    authority = Authority(None, Authorizer([identity]), RecordLimits())  # type: ignore[arg-type]
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        with reading.batches(0, 0) as read:
            return _plan_rows(conn, authority, identity, next(read), 0, 0)
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("write", "valid"),
    [
        ("nothing", True),
        ("another record", True),
        ("a record of the batch", False),
        ("the prefix unhomed", False),
        ("pruned past the plan", False),
    ],
)
def test_a_plan_holds_only_while_nothing_it_read_has_changed(
    tmp_path: Path, write: str, valid: bool
) -> None:
    path = tmp_path / "store.sqlite3"
    store = new_store(path, keep=1 if write == "pruned past the plan" else 0)
    batch = planned(path, 20)
    assert batch.seq is not None and len(batch.puts) > 10
    value = (HandleValue(1, "URL", b"https://meanwhile.example/"),)
    handle = {
        "another record": f"{PUMPS}/NOT-IN-THE-FILE",
        "a record of the batch": f"{PUMPS}/P-00010",
        "pruned past the plan": f"{PUMPS}/NOT-IN-THE-FILE",
    }.get(write)

    async def meanwhile() -> bool:
        await store.open()
        try:
            admin = Identity("admin", 0)
            authority = Authority(store, Authorizer([admin]))
            if handle is not None:
                await authority.create(handle, value, admin, overwrite=True)
                if write == "pruned past the plan":
                    await authority.create(f"{handle}-2", value, admin, overwrite=True)
            if write == "the prefix unhomed":
                await store.write(lambda txn: txn.unhome(PUMPS))
            return await store.write(lambda txn: still_valid(txn, batch))
        finally:
            await store.close()

    assert asyncio.run(meanwhile()) is valid


def test_a_stale_plan_is_made_again_in_the_committing_transaction(tmp_path: Path) -> None:
    """A file naming identifiers again in later batches (here: every batch but the first
    repeats the batch before), committed through the planner: each repeat is planned on
    a snapshot that does not hold the first write yet, so it must be planned again."""
    source = tmp_path / "rows.csv"
    with open(source, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        for n in range(4 * COMMITTER_SHARE):
            for i in range(10):
                out.writerow((f"{PUMPS}/R-{i}", 1, "URL", f"https://pumps.example/{n}/{i}"))
    path = tmp_path / "store.sqlite3"
    text = import_file(source, new_store(path), planner=True, size=10)
    lines = list(csv.reader(text.splitlines()))[1:]
    assert [line[2] for line in lines] == ["created"] * 10 + ["replaced"] * (len(lines) - 10)
    last = 4 * COMMITTER_SHARE - 1
    assert {h: v[0][2] for h, v in stored(path).values()} == {
        f"{PUMPS}/R-{i}": f"https://pumps.example/{last}/{i}".encode() for i in range(10)
    }


def test_a_planner_that_fails_stops_the_import_with_its_reason(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    new_store(path)
    missing = Reading(tmp_path / "gone.csv", "csv", "upsert", 200, 10, None)

    async def run() -> None:
        async with planned_batches(str(path), missing, "t", RecordLimits(), 0, 0) as batches:
            async for _ in batches:
                pass

    with pytest.raises(PlannerFailed, match="FileNotFoundError"):
        asyncio.run(run())


def test_stopping_early_stops_the_planner(tmp_path: Path) -> None:
    """The importing process stops after one batch (as on Ctrl-C): the planner is stopped
    too, not left planning the rest of the file."""
    path = tmp_path / "store.sqlite3"
    new_store(path)
    source = mixed_rows(tmp_path / "rows.csv", 5_000)
    reading = Reading(source, "csv", "upsert", 200, 10, None)

    async def run() -> object:
        async with planned_batches(str(path), reading, "t", RecordLimits(), 0, 0) as batches:
            async for batch in batches:
                return batch
        return None

    first = asyncio.run(run())
    assert isinstance(first, PlannedBatch) and first.start == 0 and first.end > 0
    assert not multiprocessing.active_children()
