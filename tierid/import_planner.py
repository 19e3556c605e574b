"""Bulk import on two cores: a planner process reads the file and plans each batch against
a snapshot of the store while the importing process commits the batch before it.

Planning (reading rows, checking them through the authority, stamping and packing the
records, writing the result lines) is most of an import's work, and all of it is Python:
threads would take turns under one GIL, a second process runs beside the first.

Why the store still gets exactly what planning inside the write transaction would give (the
single-process import, :meth:`tierid.importer.Import.write_batches`): a planned batch
carries the change-log position its snapshot was taken at and every key its plans read
(the records themselves, their governing prefix records, templates, admin groups, homed
prefixes). The committing transaction asks the log which keys changed since that position.
If none of them was read, no plan could have come out differently, and the packed records
are written as they are; that is the usual case, since the batch before wrote other
identifiers. Otherwise (the file names an identifier again in a later batch, a node wrote
to the store meanwhile, the log was pruned past that position) the committing process
reads that batch from the file again and plans it inside its transaction.

The committing process has time to spare (writing a row costs about a third of planning
it), so the planner leaves every third batch unplanned, for it to plan in its transaction
the same way: both cores stay busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
import sqlite3
import traceback
from collections.abc import AsyncIterator, Sequence
from multiprocessing.connection import Connection
from typing import NamedTuple

from registry.authority import Authority, RecordLimits
from registry.batch import Snapshot, deletes, plan_batch, puts
from registry.permissions import Authorizer
from registry.storage.sqlite import PackedPut, SQLiteReader, SQLiteWriter, pack_puts
from resolver.message import Identity
from tierid.rows import Counts, Reading, Row, render_results

#: how long the importing process waits for the planner to stop before killing it
STOP_WAIT_S = 5.0
#: the planner leaves one batch in this many for the committing process to plan
COMMITTER_SHARE = 3


class PlannedBatch(NamedTuple):
    """One batch, planned and packed, with what it takes to check it is still valid."""

    start: int  # byte offset of the batch's first row
    start_lines: int  # lines before it
    end: int  # byte offset after its last row
    lines: int  # lines up to ``end``
    seq: int | None  # the change-log position the plans were made at; None: not planned
    keys_read: frozenset[str]  # every key the plans looked at
    puts: Sequence[PackedPut]
    deletes: Sequence[tuple[str, str]]  # (key, handle)
    results: bytes  # the batch's lines of the results file
    counts: Counts  # rows per outcome

    def changed_keys(self) -> list[str]:
        """What caches must forget once the batch is committed."""
        return [p[0] for p in self.puts] + [key for key, _ in self.deletes]


def still_valid(txn: SQLiteWriter, batch: PlannedBatch) -> bool:
    """Whether the batch was planned and no key its plans read has changed since."""
    if batch.seq is None:
        return False
    changed = txn.changed_since(batch.seq)
    return changed is not None and changed.isdisjoint(batch.keys_read)


def apply_packed(txn: SQLiteWriter, batch: PlannedBatch) -> None:
    """What :func:`registry.batch.apply` writes for the same plans."""
    for key, handle in batch.deletes:
        txn.delete(key, handle)
    txn.put_packed(batch.puts)


def _plan_rows(
    conn: sqlite3.Connection,
    authority: Authority,
    identity: Identity,
    rows: list[Row],
    offset: int,
    lines: int,
) -> PlannedBatch:
    """Plan a batch on a snapshot of the store (one read transaction), pack what it puts
    and render its results."""
    conn.execute("BEGIN")
    try:
        txn = SQLiteReader(conn)
        seq = txn.seq_range()[1]
        snapshot = Snapshot(txn)
        items = [r.item for r in rows]
        results, plans = plan_batch(authority, snapshot, items, identity, atomic=False)
    finally:
        conn.execute("COMMIT")
    packed = pack_puts(puts(plans))
    text, counts = render_results(rows, results)
    last = rows[-1]
    keys = frozenset(snapshot.keys_read())
    return PlannedBatch(
        offset, lines, last.end, last.lines, seq, keys, packed, deletes(plans), text, counts
    )


def plan_file(
    out: Connection,
    store_path: str,
    reading: Reading,
    actor: str,
    limits: RecordLimits,
    offset: int,
    lines: int,
) -> None:
    """The planner process: every batch of ``reading`` from ``offset`` on, planned and sent
    down ``out``, then None; an unexpected error is sent as its traceback (a str). It stops
    when the importing process goes away (its end of the pipe closes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the importing process's to handle
    identity = Identity(actor, 0)
    authority = Authority(None, Authorizer([identity]), limits)  # type: ignore[arg-type]
    conn = sqlite3.connect(store_path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA query_only = ON")
    try:
        with reading.batches(offset, lines) as read:
            for n, rows in enumerate(read, 1):
                last = rows[-1]
                if n % COMMITTER_SHARE == 0:
                    batch = PlannedBatch(
                        offset, lines, last.end, last.lines, None, frozenset(), (), (), b"", {}
                    )
                else:
                    batch = _plan_rows(conn, authority, identity, rows, offset, lines)
                out.send(batch)
                offset, lines = last.end, last.lines
        out.send(None)
    except (BrokenPipeError, ConnectionResetError):
        return
    except BaseException:
        with contextlib.suppress(OSError):
            out.send(traceback.format_exc())
    finally:
        conn.close()


class PlannerFailed(RuntimeError):
    """The planner process failed or died (a bug, or it was killed)."""


class _PlannerProcess:
    """A running :func:`plan_file`, and the batch on its way from it."""

    def __init__(self, args: tuple[object, ...]) -> None:
        context = multiprocessing.get_context("spawn")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(
            target=plan_file, args=(send, *args), name="tierid-import-planner", daemon=True
        )
        self._process.start()
        send.close()  # the planner holds the only writing end: its exit is our EOF
        self._loop = asyncio.get_running_loop()
        self._arriving: asyncio.Future[object] | None = None

    def _receive_next(self) -> None:
        self._arriving = self._loop.run_in_executor(None, self._receive.recv)

    async def batches(self) -> AsyncIterator[PlannedBatch]:
        self._receive_next()
        while self._arriving is not None:
            try:
                message = await self._arriving
            except EOFError:
                raise PlannerFailed("the import's planner process ended unexpectedly") from None
            finally:
                self._arriving = None
            if message is None:
                return
            if isinstance(message, str):
                raise PlannerFailed(f"the import's planner process failed:\n{message}")
            self._receive_next()  # the next batch comes while this one is committed
            assert isinstance(message, PlannedBatch)
            yield message

    async def stop(self) -> None:
        """Wait for a planner that has finished; kill one that has not (it only reads)."""
        run = self._loop.run_in_executor
        if self._arriving is not None:
            self._process.kill()
            with contextlib.suppress(EOFError, OSError):
                await self._arriving
        await run(None, self._process.join, STOP_WAIT_S)
        if self._process.is_alive():
            self._process.kill()
            await run(None, self._process.join)
        self._receive.close()


@contextlib.asynccontextmanager
async def planned_batches(
    store_path: str, reading: Reading, actor: str, limits: RecordLimits, offset: int, lines: int
) -> AsyncIterator[AsyncIterator[PlannedBatch]]:
    """Start a planner process (:func:`plan_file`) and yield its batches as they come.
    The process is spawned, not forked: this one runs threads (the store's), and a fork
    could inherit a lock one of them holds. One batch is received while another is
    committed, so the planner is never more than two or three batches ahead."""
    planner = _PlannerProcess((store_path, reading, actor, limits, offset, lines))
    try:
        yield planner.batches()
    finally:
        await planner.stop()
