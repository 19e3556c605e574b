"""Bulk import: a CSV or JSON Lines file (``tierid.rows``) streamed into a store or a node
in batches, with a result per row, idempotent re-runs and resumption after an interruption.

Every row is an upsert (or a create, with ``op="create"``), so importing a file again
changes nothing: its rows come back ``skipped`` (unchanged).

How resumption stays exact: the import is known by a hash of the file's content and the
op. After each batch a checkpoint (byte offset and line reached, size of the results file,
counts) is stored in the same transaction as the batch's rows (``StoreSink``: the store's
``meta`` table), and the batch's results are appended and synced to the results file
before that commit. After a kill the store holds exactly the batches before the
checkpoint, so the import goes on from its offset and the results file is cut back to the
size the checkpoint names: no row is written twice or left out. Through a node
(``NodeSink``) the checkpoint can only follow the node's answer, so the batch in flight at
an interruption is sent again; the node then reports its rows as ``skipped`` (unchanged).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import os
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from registry.authority import Authority, RecordLimits
from registry.batch import BatchItem, ItemResult, Op, Outcome, changed_keys, run_batch
from registry.batch import counts as tally
from registry.permissions import Authorizer
from registry.storage.sqlite import SQLiteStore, SQLiteWriter
from resolver.errors import BodyTooLarge, error_for
from resolver.json_values import value_to_json
from resolver.message import Identity
from tierid.import_planner import PlannedBatch, apply_packed, planned_batches, still_valid
from tierid.rows import Counts, Reading, Row, csv_bytes, render_results

if TYPE_CHECKING:
    from resolver.http_client import HandleHttpClient

RESULT_COLUMNS = ("line", "handle", "result", "code", "reason")


@dataclass(frozen=True)
class Checkpoint:
    """How far an import got, stored with the rows it covers."""

    offset: int = 0  # bytes of the input done
    lines: int = 0  # lines of the input done
    results: int = 0  # bytes of the results file that go with them
    counts: dict[str, int] = field(default_factory=lambda: tally(()))
    done: bool = False

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    def to_text(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        return cls(**json.loads(text))


Record = Callable[[Sequence[ItemResult]], Checkpoint]


Progress = Callable[[Checkpoint], None]


class Sink(Protocol):
    """Where batches go, and where their checkpoint is kept."""

    async def load(self, key: str) -> Checkpoint | None: ...

    async def write(self, key: str, items: Sequence[BatchItem], record: Record) -> None:
        """Write a batch; ``record`` takes its results and returns the checkpoint to keep."""

    async def write_all(self, job: Import, start: Checkpoint, progress: Progress) -> None:
        """Write the batches of ``job``'s file from ``start`` on, telling ``progress`` the
        checkpoint after each (through :meth:`write`, or a way of the sink's own)."""

    async def save(self, key: str, checkpoint: Checkpoint) -> None: ...


class StoreSink:
    """Straight into a local store, through the authority's checks and the change log;
    each batch is one transaction holding its rows and its checkpoint."""

    def __init__(
        self,
        store: SQLiteStore,
        limits: RecordLimits,
        actor: str,
        notify: Callable[[list[str]], Awaitable[Any]] | None = None,
        *,
        planner: bool = False,
    ) -> None:
        """Whoever may open the store file may write anything in it, so the import runs
        as a server admin named ``actor`` (what the change log records). ``notify`` is told
        the keys each batch changed, as the node's own writes tell its shared cache. With
        ``planner``, a second process reads and plans the batches
        (:mod:`tierid.import_planner`)."""
        self.store = store
        self.limits = limits
        self.actor = actor
        self.notify = notify
        self.planner = planner
        self.identity = Identity(actor, 0)
        self.authority = Authority(store, Authorizer([self.identity]), limits)

    async def load(self, key: str) -> Checkpoint | None:
        text = await self.store.read(lambda txn: txn.get_meta(key))
        return None if text is None else Checkpoint.from_text(text)

    async def write(self, key: str, items: Sequence[BatchItem], record: Record) -> None:
        def run(txn: SQLiteWriter) -> list[str]:
            return self._commit(txn, key, items, record)

        await self._notify(await self.store.write(run, actor=self.actor))

    def _commit(
        self, txn: SQLiteWriter, key: str, items: Sequence[BatchItem], record: Record
    ) -> list[str]:
        """Plan and apply a batch in ``txn`` with its checkpoint; the keys it changed."""
        results = run_batch(self.authority, txn, items, self.identity, atomic=False)
        txn.set_meta(key, record(results).to_text())
        return changed_keys(results)

    async def write_all(self, job: Import, start: Checkpoint, progress: Progress) -> None:
        if not self.planner:
            await job.write_batches(self, start, progress)
            return
        planner = planned_batches(
            self.store.path, job.reading, self.actor, self.limits, start.offset, start.lines
        )
        async with planner as batches:
            async for batch in batches:
                await job.settle(asyncio.ensure_future(self._write_planned(job, batch)), progress)

    async def _write_planned(self, job: Import, batch: PlannedBatch) -> None:
        """Commit a planned batch as it was planned if it still holds, or plan it again."""

        def run(txn: SQLiteWriter) -> list[str]:
            if not still_valid(txn, batch):
                rows = job.reading.reread(batch.start, batch.start_lines, batch.end)
                return self._commit(txn, job.key, [r.item for r in rows], partial(job.record, rows))
            apply_packed(txn, batch)
            checkpoint = job.record_rendered(batch.end, batch.lines, batch.results, batch.counts)
            txn.set_meta(job.key, checkpoint.to_text())
            return batch.changed_keys()

        await self._notify(await self.store.write(run, actor=self.actor))

    async def _notify(self, keys: list[str]) -> None:
        if self.notify is not None:
            await self.notify(keys)

    async def save(self, key: str, checkpoint: Checkpoint) -> None:
        await self.store.write(lambda txn: txn.set_meta(key, checkpoint.to_text()), self.actor)


class NodeSink:
    """Through a node's ``POST /api/batch`` (not atomic); the checkpoint lives in a file."""

    def __init__(self, client: HandleHttpClient, state: Path) -> None:
        self.client = client
        self.state = state

    async def load(self, key: str) -> Checkpoint | None:
        """The checkpoint of this file's import into this node, if that was the last one."""
        if not self.state.exists():
            return None
        saved = json.loads(self.state.read_text("utf-8"))
        key, node, identity = self._whose(key)
        saved.setdefault("as", identity)  # written before checkpoints named who imported
        if (saved["key"], saved["node"], saved["as"]) != (key, node, identity):
            return None  # another file, node or identity (rows refused to one may pass)
        return Checkpoint.from_text(saved["checkpoint"])

    def _whose(self, key: str) -> tuple[str, str, str | None]:
        return key, self.client.base_url, self.client.identity

    async def write(self, key: str, items: Sequence[BatchItem], record: Record) -> None:
        sent = [i for i in items if i.error is None]
        answered: Iterator[ItemResult] = iter(())
        if sent:
            body = [
                {"handle": i.handle, "values": [value_to_json(v) for v in i.values]} for i in sent
            ]
            answered = iter(await self._send(sent[0].op, body))
        results = [
            ItemResult(i.handle, Outcome.REJECTED, i.error) if i.error else next(answered)
            for i in items
        ]
        await self.save(key, record(results))

    async def _send(self, op: Op, body: list[dict[str, Any]]) -> list[ItemResult]:
        """The node's result for each item of ``body``, in order. A batch over the node's
        body limit (413) goes again in halves, down to single items; an item too big on
        its own is rejected with the node's reason."""
        try:
            answer = await self.client.batch(op, body, atomic=False)
        except BodyTooLarge as err:
            if len(body) == 1:
                return [ItemResult(body[0]["handle"], Outcome.REJECTED, err)]
            half = len(body) // 2
            return await self._send(op, body[:half]) + await self._send(op, body[half:])
        return [_result_from_json(r) for r in answer["items"]]

    async def write_all(self, job: Import, start: Checkpoint, progress: Progress) -> None:
        await job.write_batches(self, start, progress)

    async def save(self, key: str, checkpoint: Checkpoint) -> None:
        saved = dict(zip(("key", "node", "as"), self._whose(key), strict=True))
        saved["checkpoint"] = checkpoint.to_text()
        _replace_durably(self.state, json.dumps(saved))


def _result_from_json(obj: dict[str, Any]) -> ItemResult:
    outcome = Outcome(obj["result"])
    error = None
    if outcome is Outcome.REJECTED:
        error = error_for(obj["responseCode"], obj.get("message", ""), obj["handle"])
    return ItemResult(obj["handle"], outcome, error)


def _replace_durably(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


#: objects allocated between young-generation collections while importing (Python's is 700)
BULK_GC_THRESHOLD = 100_000


@contextlib.contextmanager
def bulk_gc() -> Iterator[None]:
    """The garbage collector tuned for an import process: a batch keeps thousands of rows,
    values and plans alive until it commits, and with the default threshold the collector
    walks them again and again (an import ran 12% faster without that). Everything loaded
    at startup is frozen out of collections; reference counting still frees every row."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(BULK_GC_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def import_key(reading: Reading) -> str:
    """What an import is known by: what decides its rows' outcomes besides the store (the
    op, the template, whether prefix records may be written: a run that changes one is
    another import, and rows the first refused may pass) and the SHA-256 of the file."""
    digest = hashlib.sha256()
    with open(reading.path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    template = f"template={'/'.join(reading.template)}:" if reading.template else ""
    prefixes = "prefix-records:" if reading.prefix_records else ""
    return f"import:{reading.op}:{template}{prefixes}{digest.hexdigest()}"


@dataclass(frozen=True)
class Summary:
    checkpoint: Checkpoint  # the whole file's, over every run
    this_run: dict[str, int]
    resumed_from: int  # line the run started after (0: from the start)
    already_done: bool = False
    results_short: bool = False  # the results file had lost lines a checkpoint names

    @property
    def changed(self) -> int:
        return sum(self.this_run[o.value] for o in Outcome if o.changes)


#: told the checkpoint and the rows of this run after each batch
RunProgress = Callable[[Checkpoint, int], None]


class Import:
    """One file into one sink (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        fmt: str,
        op: Op,
        results: Path,
        *,
        batch_size: int,
        max_data_bytes: int,
        template: tuple[str, str] | None = None,
        prefix_records: bool = False,
    ) -> None:
        """``template`` (name, version) registers every row against that template of its
        prefix (values 1000 and 1001), unless the row names one itself; rows that write
        prefix records (``0.NA/...``) are rejected unless ``prefix_records``."""
        self.reading = Reading(path, fmt, op, max_data_bytes, batch_size, template, prefix_records)
        self.results_path = results
        self.key = import_key(self.reading)

    async def run(self, sink: Sink, *, restart: bool, progress: RunProgress) -> Summary:
        """Import what the checkpoint does not cover yet (everything with ``restart``);
        ``progress`` is told the checkpoint and the rows of this run after each batch."""
        start = None if restart else await sink.load(self.key)
        if start is not None and start.done:
            return Summary(start, tally(()), start.lines, already_done=True)
        start = start or Checkpoint()
        short = self._open_results(start)
        self.state = start
        progress(start, 0)
        try:
            await sink.write_all(self, start, lambda cp: progress(cp, cp.rows - start.rows))
        finally:
            self.results.close()
        self.state = replace(self.state, done=True)
        await sink.save(self.key, self.state)
        this_run = {k: v - start.counts[k] for k, v in self.state.counts.items()}
        return Summary(self.state, this_run, start.lines, results_short=short)

    async def write_batches(self, sink: Sink, start: Checkpoint, progress: Progress) -> None:
        """Read the file in this process, one batch after another, into ``sink.write``:
        reading the next batch while a store writes gains nothing measurable (both are
        Python work under one GIL; :mod:`tierid.import_planner` uses a second process)."""
        with self.reading.batches(start.offset, start.lines) as read:
            for batch in read:
                write = sink.write(self.key, [r.item for r in batch], partial(self.record, batch))
                await self.settle(asyncio.ensure_future(write), progress)

    async def settle(self, pending: asyncio.Future[Any], progress: Progress) -> None:
        """Wait for a batch; when the import is stopped (Ctrl-C), let the batch in flight
        finish first, so that it is committed with its results or not at all."""
        try:
            await asyncio.shield(pending)
        except asyncio.CancelledError:
            await pending
            raise
        progress(self.state)

    def _open_results(self, start: Checkpoint) -> bool:
        """Open the results file where ``start`` left it; True if it had lost lines."""
        if start.results == 0:
            self.results = open(self.results_path, "wb")  # noqa: SIM115
            self._append(csv_bytes([RESULT_COLUMNS]))
            return False
        self.results = open(self.results_path, "r+b" if self.results_path.exists() else "wb")  # noqa: SIM115
        size = self.results.seek(0, os.SEEK_END)
        if size > start.results:
            self.results.truncate(start.results)
            self.results.seek(start.results)
        return size < start.results

    def _append(self, text: bytes) -> None:
        self.results.write(text)
        self.results.flush()
        os.fsync(self.results.fileno())

    def record(self, rows: Sequence[Row], results: Sequence[ItemResult]) -> Checkpoint:
        """Append a batch's results (synced) and return the checkpoint that covers it."""
        return self.record_rendered(rows[-1].end, rows[-1].lines, *render_results(rows, results))

    def record_rendered(self, end: int, lines: int, text: bytes, counts: Counts) -> Checkpoint:
        """:meth:`record` for results already rendered (by the planner process)."""
        self._append(text)
        total = dict(self.state.counts)
        for outcome, n in counts.items():
            total[outcome] += n
        self.state = Checkpoint(end, lines, self.results.tell(), total)
        return self.state
