"""Bulk import into the embedded SQLite store, against a plain ``executemany`` of the same
rows into the same schema, in the same run:

1. Rate: ``tierid import FILE --store S`` as users run it (a process of its own: reading
   the CSV, checking every row through the authority, the change log, checkpoints and the
   per-row result file), against sqlite3 ``executemany`` of the same records (csv.reader,
   msgpack, the same two tables, transactions of 5000 rows, ``synchronous=FULL``); rounds
   alternate, best of each; records of one value (URL) and of two (URL, MODEL). The
   import plans in a second process (``tierid.import_planner``), so it uses both cores
   where the baseline uses one.
2. Scale: a 1M-row import of two-value records: wall time and peak memory (ru_maxrss of
   the importing process and of its planner process).

Usage: python bench/bulk_import.py [--rows 200000] [--big 1000000] [--rounds 3] [--readme]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.readme import write_block  # noqa: E402
from registry.bootstrap import bootstrap_prefix  # noqa: E402
from registry.storage.sqlite import SQLiteStore  # noqa: E402
from resolver.values import DEFAULT_PERMISSIONS, DEFAULT_TTL  # noqa: E402

PREFIX = "88.118.8"
BATCH = 5000

#: runs the CLI in this launcher's process, then reports its peak RSS and its planner's
LAUNCHER = (
    "import resource, sys\n"
    "from tierid.cli import main\n"
    "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
    "peaks = [resource.getrusage(who).ru_maxrss for who in "
    "(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]\n"
    "print('maxrss', *peaks, file=sys.stderr)\n"
)


def write_csv(path: Path, rows: int, values: int) -> None:
    """Product records: a URL at index 1 and, with ``values=2``, a MODEL at 2000."""
    with open(path, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(("handle", *(("index", "type", "data") * values)))
        for i in range(rows):
            link = (1, "URL", f"https://pumps.example.cn/p/PUMP-{i:08d}")
            model = (2000, "MODEL", "CP-200")
            out.writerow((f"{PREFIX}/PUMP-{i:08d}", *link, *(model if values == 2 else ())))


def fresh_store(path: Path, *, homed: bool) -> None:
    """A store file with the schema (and, for the import, the prefix homed)."""

    async def make() -> None:
        store = SQLiteStore(path)
        await store.open()
        if homed:
            await bootstrap_prefix(store, PREFIX, b"bench-secret")
        await store.close()

    asyncio.run(make())


def baseline(source: Path, store: Path) -> float:
    """Rows/s of a plain executemany of the same records into the same tables."""
    conn = sqlite3.connect(store, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    now = int(time.time())
    started = time.perf_counter()
    count = 0
    with open(source, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        while chunk := [row for _, row in zip(range(BATCH), reader, strict=False)]:
            records = []
            for handle, *cells in chunk:
                values = [
                    [int(i), t, d.encode(), DEFAULT_TTL, 0, now, DEFAULT_PERMISSIONS, []]
                    for i, t, d in zip(cells[::3], cells[1::3], cells[2::3], strict=True)
                ]
                blob = msgpack.packb(values, use_bin_type=True)
                records.append((handle.upper(), handle, PREFIX, blob))
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO handles (key, handle, prefix_key, record) VALUES (?, ?, ?, ?)",
                records,
            )
            conn.executemany(
                "INSERT INTO changes (at, op, key, handle, record, actor) "
                "VALUES (?, 'create', ?, ?, ?, 'bench')",
                [(now, key, handle, blob) for key, handle, _, blob in records],
            )
            conn.execute("COMMIT")
            count += len(chunk)
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


def tierid_import(source: Path, store: Path) -> tuple[float, list[int]]:
    """Wall seconds of ``tierid import`` and the peak RSS (KiB) of its process and of its
    planner process."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, "import", str(source), "--store", str(store)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    elapsed = time.perf_counter() - started
    assert " 0 rejected" in done.stdout, done.stdout
    return elapsed, [int(kib) for kib in done.stderr.rsplit("maxrss", 1)[1].split()]


def rates(work: Path, rows: int, values: int, rounds: int) -> tuple[float, float]:
    """Best rows/s of the plain executemany and of ``tierid import``, rounds alternating."""
    source = work / f"rows{values}.csv"
    write_csv(source, rows, values)
    plain, imported = 0.0, 0.0
    for n in range(rounds):
        fresh_store(work / f"plain{values}-{n}.sqlite3", homed=False)
        plain = max(plain, baseline(source, work / f"plain{values}-{n}.sqlite3"))
        fresh_store(work / f"import{values}-{n}.sqlite3", homed=True)
        seconds, _ = tierid_import(source, work / f"import{values}-{n}.sqlite3")
        imported = max(imported, rows / seconds)
    return plain, imported


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000, help="rows of the rate rounds")
    ap.add_argument("--big", type=int, default=1_000_000, help="rows of the scale run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--readme", action="store_true", help="write the results into README.md")
    args = ap.parse_args()
    table = "| what | figure | vs baseline |\n|---|---:|---:|\n"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for values, shape in ((1, "one value (URL)"), (2, "two values (URL, MODEL)")):
            plain, imported = rates(work, args.rows, values, args.rounds)
            table += (
                f"| {shape}: plain sqlite3 executemany, same rows and schema (baseline) "
                f"| {plain:,.0f} rows/s | 100% |\n"
                f"| {shape}: tierid import --store | {imported:,.0f} rows/s "
                f"| {imported / plain:.0%} |\n"
            )
        write_csv(work / "big.csv", args.big, 2)
        fresh_store(work / "big.sqlite3", homed=True)
        seconds, peak = tierid_import(work / "big.csv", work / "big.sqlite3")
    table += (
        f"| {args.big:,} two-value rows: wall time | {seconds:.1f} s "
        f"({args.big / seconds:,.0f} rows/s) | |\n"
        f"| {args.big:,} two-value rows: peak memory (ru_maxrss) | {peak[0] / 1024:,.0f} MB "
        f"+ planner {peak[1] / 1024:,.0f} MB | |\n"
    )
    note = (
        f"Target: >= 50k identifiers/s. Measured {time.strftime('%Y-%m-%d')} with `make bench`: "
        f"{args.rows:,}-row CSV files, {args.rounds} rounds (best), transactions of "
        f"{BATCH:,} rows, synchronous=FULL; the import's wall time includes starting the "
        "process and hashing the file.\n"
    )
    print(table + "\n" + note)
    if args.readme:
        write_block("bulk_import", table + "\n" + note)


if __name__ == "__main__":
    main()
