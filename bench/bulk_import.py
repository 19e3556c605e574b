"""Bulk import into the embedded SQLite store, against a plain ``executemany`` of the same
rows into the same schema, in the same run:

1. Rate: ``tierid import FILE --store S`` as users run it (a process of its own: reading
   the CSV, checking every row through the authority, the change log, checkpoints and the
   per-row result file), against sqlite3 ``executemany`` of the same records (csv.reader,
   msgpack, the same two tables, transactions of 5000 rows, ``synchronous=FULL``); rounds
   alternate, best of each.
2. Scale: a 1M-row import's wall time and peak memory (ru_maxrss) of the importing
   process and of its reading helper.

Rows are product records of two values (URL at 1, MODEL at 2000).

Usage: python bench/bulk_import.py [--rows 300000] [--big 1000000] [--rounds 3] [--readme]
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

#: runs the CLI in this launcher's process, then reports its and its children's peak RSS
LAUNCHER = (
    "import resource, sys\n"
    "from tierid.cli import main\n"
    "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
    "own, helper = (resource.getrusage(w).ru_maxrss for w in "
    "(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))\n"
    "print('maxrss', own, helper, file=sys.stderr)\n"
)


def write_csv(path: Path, rows: int) -> None:
    with open(path, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(("handle", "index", "type", "data", "index", "type", "data"))
        for i in range(rows):
            link = f"https://pumps.example.cn/p/PUMP-{i:08d}"
            out.writerow((f"{PREFIX}/PUMP-{i:08d}", 1, "URL", link, 2000, "MODEL", "CP-200"))


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
            for handle, i1, t1, d1, i2, t2, d2 in chunk:
                values = [
                    [int(i), t, d.encode(), DEFAULT_TTL, 0, now, DEFAULT_PERMISSIONS, []]
                    for i, t, d in ((i1, t1, d1), (i2, t2, d2))
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


def tierid_import(source: Path, store: Path) -> tuple[float, int, int]:
    """Wall seconds of ``tierid import`` and the peak RSS (KiB) of it and of its helper."""
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
    own, helper = (int(x) for x in done.stderr.rsplit("maxrss", 1)[1].split())
    return elapsed, own, helper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=300_000, help="rows of the rate rounds")
    ap.add_argument("--big", type=int, default=1_000_000, help="rows of the scale run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--readme", action="store_true", help="write the results into README.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows_csv, big_csv = work / "rows.csv", work / "big.csv"
        write_csv(rows_csv, args.rows)
        write_csv(big_csv, args.big)
        plain, imported = 0.0, 0.0
        for n in range(args.rounds):
            fresh_store(work / f"plain{n}.sqlite3", homed=False)
            plain = max(plain, baseline(rows_csv, work / f"plain{n}.sqlite3"))
            fresh_store(work / f"import{n}.sqlite3", homed=True)
            seconds, _, _ = tierid_import(rows_csv, work / f"import{n}.sqlite3")
            imported = max(imported, args.rows / seconds)
        fresh_store(work / "big.sqlite3", homed=True)
        big_seconds, own, helper = tierid_import(big_csv, work / "big.sqlite3")
    table = (
        "| what | figure | vs baseline |\n|---|---:|---:|\n"
        f"| plain sqlite3 executemany, same rows and schema (baseline) | {plain:,.0f} rows/s "
        "| 100% |\n"
        f"| tierid import --store | {imported:,.0f} rows/s | {imported / plain:.0%} |\n"
        f"| {args.big:,}-row import, wall time | {big_seconds:.1f} s "
        f"({args.big / big_seconds:,.0f} rows/s) | |\n"
        f"| {args.big:,}-row import, peak memory: importing process | {own / 1024:,.0f} MB | |\n"
        f"| {args.big:,}-row import, peak memory: reading helper | {helper / 1024:,.0f} MB | |\n"
    )
    note = (
        f"Target: >= 50k identifiers/s. Measured {time.strftime('%Y-%m-%d')} with `make bench`: "
        f"{args.rows:,}-row CSV, {args.rounds} rounds (best), two values per record, "
        f"transactions of {BATCH:,} rows, synchronous=FULL; wall times include the process "
        "start.\n"
    )
    print(table + "\n" + note)
    if args.readme:
        write_block("bulk_import", table + "\n" + note)


if __name__ == "__main__":
    main()
