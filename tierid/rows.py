"""Reading import files: CSV and JSON Lines, one identifier per row or line, as batch
items with where each row starts and ends (the import's checkpoints are byte offsets).

- CSV: ``handle`` then any number of ``index,type,data`` groups (string data, default TTL
  and permissions); empty groups are ignored (spreadsheets pad rows), a first row whose
  first cell is ``handle`` is a header, and quoted fields may span lines.
- JSON Lines: ``{"handle": "88.118.8/P-1", "values": [...]}`` with values in Handle.Net's
  JSON form (what ``PUT /api/handles`` takes); blank lines are ignored.

A row that cannot be read becomes an item carrying its reason (rejected like a row the
authority refuses), never an exception.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from registry.batch import BatchItem, ItemResult, Op, Outcome, item_from_json
from resolver.cells import values_from_cells
from resolver.errors import InvalidHandle, OperationNotSupported, ProtocolError, TieridError
from resolver.handle import is_prefix_record, normalise
from resolver.templates import REF_INDEX, reference_values

FORMATS = ("csv", "jsonl")
_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def format_of(path: Path) -> str | None:
    """The format a file name says (``.csv``, ``.jsonl``, ``.ndjson``), if any."""
    return _SUFFIXES.get(path.suffix.lower())


class Row(NamedTuple):
    line: int  # where the row starts (1-based), for the results file
    end: int  # byte offset just after the row
    lines: int  # lines read up to ``end``
    item: BatchItem


def item_from_cells(cells: Sequence[str], op: Op, max_data_bytes: int) -> BatchItem:
    """A CSV row: ``handle`` then ``index,type,data`` groups (``resolver.cells``)."""
    try:
        values = values_from_cells(cells, max_data_bytes)
    except TieridError as err:
        return BatchItem(op, cells[0], error=err)
    return BatchItem(op, cells[0], values)


class _Lines:
    """A binary file's lines from ``offset``, decoded, counting bytes and lines as they go.
    ``csv.reader`` pulls exactly the lines of one record, so after each record ``end`` is
    where the next begins. ``bad`` says a line of the current record was not UTF-8."""

    def __init__(self, f: BinaryIO, offset: int, lines: int) -> None:
        self.f = f
        self.end = offset
        self.lines = lines
        self.bad = False

    def __iter__(self) -> Iterator[str]:
        for raw in self.f:
            if self.end == 0 and raw.startswith(b"\xef\xbb\xbf"):  # a spreadsheet's BOM
                raw = raw[3:]
                self.end = 3
            self.end += len(raw)
            self.lines += 1
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                self.bad = True
                yield raw.decode("utf-8", "replace")


def csv_rows(f: BinaryIO, offset: int, lines: int, op: Op, max_data_bytes: int) -> Iterator[Row]:
    """The CSV rows of ``f``, positioned at byte ``offset`` after ``lines`` lines."""
    source = _Lines(f, offset, lines)
    reader = csv.reader(source, strict=True)
    while True:
        start, source.bad = source.lines + 1, False
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            item = BatchItem(op, "", error=ProtocolError(f"not valid CSV: {err}"))
            yield Row(start, source.end, source.lines, item)
            continue
        if not cells or (start == 1 and cells[0].strip().lower() == "handle"):
            continue
        item = item_from_cells(cells, op, max_data_bytes)
        if source.bad:
            item = BatchItem(op, item.handle, error=ProtocolError("row is not valid UTF-8"))
        yield Row(start, source.end, source.lines, item)


def jsonl_rows(f: BinaryIO, offset: int, lines: int, op: Op, max_data_bytes: int) -> Iterator[Row]:
    """The JSON Lines rows of ``f``, positioned at byte ``offset`` after ``lines`` lines."""
    end = offset
    for raw in f:
        end += len(raw)
        lines += 1
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError) as err:
            item = BatchItem(op, "", error=ProtocolError(f"not valid JSON: {err}"))
        else:
            item = item_from_json(obj, op, max_data_bytes)
        yield Row(lines, end, lines, item)


READERS = {"csv": csv_rows, "jsonl": jsonl_rows}


@contextmanager
def batches(
    path: Path, fmt: str, offset: int, lines: int, op: Op, *, max_data_bytes: int, size: int
) -> Iterator[Iterator[list[Row]]]:
    """The rows of ``path`` from byte ``offset`` (``lines`` lines read before it) in lists
    of ``size``."""
    with open(path, "rb") as f:
        f.seek(offset)
        yield _batched(READERS[fmt](f, offset, lines, op, max_data_bytes), size)


def _batched(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    """Lists of at most ``size`` rows, cut before a row whose identifier the list already
    holds: a batch refuses an identifier twice, and a file's rows for one identifier are
    applied in file order (the last one wins), wherever the batches happen to end."""
    batch: list[Row] = []
    keys: set[str] = set()
    for row in rows:
        key = normalise(row.item.handle) if row.item.error is None else None
        if len(batch) == size or key in keys:
            yield batch
            batch, keys = [], set()
        batch.append(row)
        if key is not None:
            keys.add(key)
    if batch:
        yield batch


#: rows per outcome (``Outcome`` values)
Counts = dict[str, int]


class Reading(NamedTuple):
    """How an import reads its file into batches (picklable: the planner process of
    ``tierid.import_planner`` reads it too)."""

    path: Path
    fmt: str
    op: Op
    max_data_bytes: int
    size: int  # rows per batch
    template: tuple[str, str] | None  # (name, version) every row is registered against
    #: rows may write prefix records (``0.NA/...``); without it they are rejected: one stray
    #: row would replace a prefix's admin values and lock its operators out
    prefix_records: bool = False

    @contextmanager
    def batches(self, offset: int, lines: int) -> Iterator[Iterator[list[Row]]]:
        """Batches of rows from byte ``offset`` (``lines`` lines before it), each row's item
        refused if it writes a prefix record that is not allowed, else registered against
        ``template`` if one is given."""
        with batches(
            self.path,
            self.fmt,
            offset,
            lines,
            self.op,
            max_data_bytes=self.max_data_bytes,
            size=self.size,
        ) as read:
            yield (self._prepared(batch) for batch in read)

    def reread(self, offset: int, lines: int, end: int) -> list[Row]:
        """The rows of the batch that spans ``offset`` to ``end`` again.

        :raises RuntimeError: the file no longer has a row boundary at ``end``.
        """
        with self.batches(offset, lines) as read:
            rows = next(read, [])
        if not rows or rows[-1].end != end:
            raise RuntimeError(f"{self.path} changed while it was being imported")
        return rows

    def _prepared(self, batch: list[Row]) -> list[Row]:
        if self.template is None and self.prefix_records:
            return batch
        return [row._replace(item=self._prepared_item(row.item)) for row in batch]

    def _prepared_item(self, item: BatchItem) -> BatchItem:
        if item.error is not None:
            return item
        if not self.prefix_records and is_prefix_record(item.handle.partition("/")[0]):
            refused = OperationNotSupported(
                "a prefix record is imported only with --prefix-records"
            )
            return item._replace(error=refused)
        if self.template is None or any(v.index == REF_INDEX for v in item.values):
            return item
        try:
            refs = reference_values(item.handle, *self.template)
        except InvalidHandle:
            return item  # the write reports the identifier
        return item._replace(values=(*item.values, *refs))


def render_results(rows: Sequence[Row], results: Sequence[ItemResult]) -> tuple[bytes, Counts]:
    """A batch's lines of the results file, and how many rows had each outcome."""
    counts: dict[Outcome, int] = {}
    lines = []
    for row, (handle, outcome, error) in zip(rows, results, strict=True):
        counts[outcome] = counts.get(outcome, 0) + 1
        reason = (int(error.rc), error.message) if error else ("", "")
        lines.append((row.line, handle, outcome, *reason))  # the member writes as its value
    return csv_bytes(lines), {outcome.value: n for outcome, n in counts.items()}


def csv_bytes(lines: Sequence[Sequence[Any]]) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(lines)
    return text.getvalue().encode("utf-8")
