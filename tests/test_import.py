"""``tierid import``: CSV and JSON Lines into a store (straight) or through a node's batch
API, a result per row, re-runs that change nothing, and an import killed mid-way that
resumes without duplicates or gaps. Every import is a real ``tierid`` process."""

from __future__ import annotations

import asyncio
import csv
import gc
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from registry.bootstrap import bootstrap_prefix
from registry.storage.sqlite import SQLiteStore
from resolver.codes import ResponseCode as RC
from tests.conftest import MOTORS_ADMIN, PUMPS, PUMPS_ADMIN, NodeProcess, RedisServer, tierid_cli
from tierid.importer import BULK_GC_THRESHOLD, bulk_gc


def make_store(path: Path) -> Path:
    """A store file with PUMPS homed (as ``tierid init`` leaves it)."""

    async def make() -> None:
        store = SQLiteStore(path)
        await store.open()
        await bootstrap_prefix(store, PUMPS, b"pump-secret")
        await store.close()

    asyncio.run(make())
    return path


def write_rows(path: Path, count: int, url: str = "https://pumps.example/p/") -> Path:
    with open(path, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(("handle", "index", "type", "data"))
        out.writerows((f"{PUMPS}/P-{i:06d}", 1, "URL", f"{url}{i}") for i in range(count))
    return path


def run_import(source: Path, *args: str) -> subprocess.CompletedProcess:
    return tierid_cli("import", str(source), *args, timeout=120)


def query(store: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(store) as conn:
        return conn.execute(sql).fetchall()


def records(store: Path) -> dict[str, bytes]:
    return dict(query(store, f"SELECT handle, record FROM handles WHERE prefix_key = '{PUMPS}'"))


def last_seq(store: Path) -> int:
    return int(query(store, "SELECT max(seq) FROM changes")[0][0])


def checkpoint(store: Path) -> dict[str, Any] | None:
    rows = query(store, "SELECT value FROM meta WHERE key LIKE 'import:%'")
    return json.loads(rows[0][0]) if rows else None


def results(source: Path) -> list[list[str]]:
    with open(source.with_name(source.name + ".results.csv"), newline="") as f:
        header, *lines = list(csv.reader(f))
    assert header == ["line", "handle", "result", "code", "reason"]
    return lines


def interrupted(source: Path, store: Path, sig: int, after_rows: int, *args: str) -> int:
    """Start an import, send ``sig`` once ``after_rows`` rows are committed; its exit code."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tierid", "import", str(source), "--store", str(store), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while (cp := checkpoint(store)) is None or sum(cp["counts"].values()) < after_rows:
        assert proc.poll() is None, "the import ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert sig == signal.SIGKILL or b"Traceback" not in err, err.decode()
    return proc.returncode


def assert_resumed_exactly(source: Path, store: Path, rows: int) -> None:
    """The interrupted import left exactly its checkpointed rows; resuming completes the
    file: every row once in the store, the change log and the results file."""
    cp = checkpoint(store)
    assert cp is not None and not cp["done"]
    assert 0 < len(records(store)) == cp["counts"]["created"] < rows
    out = run_import(source, "--store", str(store)).stdout
    assert f"resumed after line {cp['lines']:,}" in out
    assert f"{rows:,} rows: {rows:,} created, 0 replaced" in out
    assert len(records(store)) == rows
    log = query(
        store,
        f"SELECT count(*), count(DISTINCT key), min(actor) FROM changes WHERE key LIKE '{PUMPS}/%'",
    )
    assert log[0][:2] == (rows, rows) and log[0][2].startswith("import:")
    lines = results(source)
    assert [int(line[0]) for line in lines] == list(range(2, rows + 2))
    assert {line[2] for line in lines} == {"created"}


def test_a_killed_import_of_200k_rows_resumes_without_duplicates_or_gaps(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store.sqlite3")
    source = write_rows(tmp_path / "rows.csv", 200_000)
    assert interrupted(source, store, signal.SIGKILL, 30_000) == -signal.SIGKILL
    assert_resumed_exactly(source, store, 200_000)

    seq = last_seq(store)
    out = run_import(source, "--store", str(store)).stdout
    assert "already imported (200,000 rows); nothing to do, nothing changed" in out
    assert last_seq(store) == seq


def test_ctrl_c_stops_an_import_after_the_batch_in_flight(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store.sqlite3")
    source = write_rows(tmp_path / "rows.csv", 30_000)
    assert interrupted(source, store, signal.SIGINT, 3_000, "--batch-size", "500") == 130
    assert_resumed_exactly(source, store, 30_000)


def test_a_second_run_changes_nothing_and_says_so(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store.sqlite3")
    source = write_rows(tmp_path / "rows.csv", 1000)
    assert "1,000 rows: 1,000 created" in run_import(source, "--store", str(store)).stdout
    seq, before = last_seq(store), records(store)

    out = run_import(source, "--store", str(store), "--restart").stdout
    assert "1,000 rows: 0 created, 0 replaced, 1,000 skipped (unchanged), 0 rejected" in out
    assert out.splitlines()[0].endswith("; nothing changed")
    assert {line[2] for line in results(source)} == {"skipped"}
    assert (last_seq(store), records(store)) == (seq, before)

    # another file: one row differs, so exactly one record is replaced
    changed = tmp_path / "changed.csv"
    changed.write_text(source.read_text().replace("/p/7\n", "/p/seven\n"))
    out = run_import(changed, "--store", str(store)).stdout
    assert "1,000 rows: 0 created, 1 replaced, 999 skipped (unchanged)" in out
    assert last_seq(store) == seq + 1


def test_no_overwrite_rejects_rows_that_would_change_a_record(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store.sqlite3")
    run_import(write_rows(tmp_path / "v1.csv", 10), "--store", str(store))
    v2 = write_rows(tmp_path / "v2.csv", 12, url="https://pumps.example/v2/")
    out = run_import(v2, "--store", str(store), "--no-overwrite").stdout
    assert "12 rows: 2 created, 0 replaced, 0 skipped (unchanged), 10 rejected" in out
    assert {(line[2], line[3]) for line in results(v2)[:10]} == {
        ("rejected", str(int(RC.HANDLE_ALREADY_EXISTS)))
    }


def test_malformed_csv_rows_are_rejected_with_their_reason(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store.sqlite3")
    source = tmp_path / "bad.csv"
    source.write_bytes(
        b"\xef\xbb\xbfhandle,index,type,data\n"  # a spreadsheet's BOM and header
        b"88.118.8/A,1,URL,https://a\n"
        b"88.118.8/B,1,URL\n"
        b"88.118.8/C,x,URL,https://c\n"
        b"no-slash,1,URL,https://d\n"
        b"88.999/E,1,URL,https://e\n"
        b"\n"
        b'88.118.8/F,1,URL,"two\nlines",,,\n'
        b"88.118.8/A,1,URL,https://a/again\n"
        b"88.118.8/G,1,URL,\xff\xfe\n"
        b'88.118.8/H,1,URL,"never closed\n'
    )
    out = run_import(source, "--store", str(store)).stdout
    assert "9 rows: 2 created, 1 replaced, 0 skipped (unchanged), 6 rejected" in out
    bad = str(int(RC.PROTOCOL_ERROR))
    got = [(int(line[0]), line[1], line[2], line[3]) for line in results(source)]
    assert got == [
        (2, f"{PUMPS}/A", "created", ""),
        (3, f"{PUMPS}/B", "rejected", bad),
        (4, f"{PUMPS}/C", "rejected", str(int(RC.INVALID_VALUE))),
        (5, "no-slash", "rejected", str(int(RC.INVALID_HANDLE))),
        (6, "88.999/E", "rejected", str(int(RC.SERVER_NOT_RESP))),
        (8, f"{PUMPS}/F", "created", ""),
        (10, f"{PUMPS}/A", "replaced", ""),  # rows of one identifier apply in file order
        (11, f"{PUMPS}/G", "rejected", bad),
        (12, "", "rejected", bad),
    ]
    reasons = [line[4] for line in results(source)]
    assert "expected handle, then index,type,data groups" in reasons[1]
    assert "row is not valid UTF-8" in reasons[7] and "not valid CSV" in reasons[8]
    assert sorted(records(store)) == [f"{PUMPS}/A", f"{PUMPS}/F"]


def test_malformed_json_lines_are_rejected_with_their_reason(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store.sqlite3")
    good = {"handle": f"{PUMPS}/J1", "values": [{"index": 1, "type": "URL", "data": "https://j"}]}
    source = tmp_path / "bad.jsonl"
    source.write_bytes(
        b"\n".join(
            [
                json.dumps(good).encode(),
                b"not json",
                b"[1]",
                b'{"values": []}',
                b"",
                json.dumps({"handle": f"{PUMPS}/J2", "values": {}}).encode(),
                json.dumps({"handle": f"{PUMPS}/J3", "values": [{"index": 0}]}).encode(),
                b"\xff",
                # valid JSON, but a lone surrogate no encoding can store
                b'{"handle": "88.118.8/J4", "values": [{"index": 1, "type": "URL", '
                b'"data": "https://j/\\ud800"}]}',
            ]
        )
        + b"\n"
    )
    out = run_import(source, "--store", str(store)).stdout
    assert "8 rows: 1 created, 0 replaced, 0 skipped (unchanged), 7 rejected" in out
    got = [(int(line[0]), line[2], line[4]) for line in results(source)]
    assert [g[:2] for g in got] == [
        (1, "created"),
        *((n, "rejected") for n in (2, 3, 4, 6, 7, 8, 9)),
    ]
    assert "not valid JSON" in got[1][2] and "JSON object" in got[2][2]
    assert '"handle"' in got[3][2] and '"values" must be a list' in got[4][2]
    assert "value index must be" in got[5][2] and "not valid JSON" in got[6][2]
    assert "lone surrogate (U+D800)" in got[7][2]
    assert list(records(store)) == [f"{PUMPS}/J1"]


def test_import_through_a_node(node: NodeProcess, tmp_path: Path) -> None:
    secret = tmp_path / "pumps.secret"
    secret.write_bytes(node.secrets[PUMPS_ADMIN])
    source = tmp_path / "rows.jsonl"
    rows = [
        {"handle": f"{PUMPS}/NODE-{i}", "values": [{"index": 1, "type": "URL", "data": f"u{i}"}]}
        for i in range(5)
    ]
    rows.append({"handle": "88.118.9/NOT-MINE", "values": []})
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    auth = ("--node", node.url, "--auth", PUMPS_ADMIN, "--secret-file", str(secret))

    out = run_import(source, *auth, "--batch-size", "2").stdout
    assert "6 rows: 5 created, 0 replaced, 0 skipped (unchanged), 1 rejected" in out
    assert results(source)[5][2:4] == ["rejected", str(int(RC.INSUFFICIENT_PERMISSIONS))]
    got = requests.get(node.api(f"{PUMPS}/NODE-3")).json()
    assert got["values"][0]["data"]["value"] == "u3"

    assert "already imported (6 rows)" in run_import(source, *auth).stdout
    out = run_import(source, *auth, "--restart").stdout
    assert "6 rows: 0 created, 0 replaced, 5 skipped (unchanged), 1 rejected" in out


def test_a_batch_over_the_nodes_body_limit_goes_in_smaller_ones(
    node: NodeProcess, tmp_path: Path
) -> None:
    """1,000 rows (about 100 KB) against the test node's 64 KiB body limit: the batch is
    split until the node takes it, where the import used to stop at the first batch."""
    secret = tmp_path / "pumps.secret"
    secret.write_bytes(node.secrets[PUMPS_ADMIN])
    source = write_rows(tmp_path / "big.csv", 1500, url="https://pumps.example/split/" + "x" * 40)
    auth = ("--node", node.url, "--auth", PUMPS_ADMIN, "--secret-file", str(secret))
    out = run_import(source, *auth, "--batch-size", "1000").stdout
    assert "1,500 rows: 1,500 created" in out
    got = requests.get(node.api(f"{PUMPS}/P-001499")).json()
    assert got["values"][0]["data"]["value"].endswith("x" * 40 + "1499")


def test_a_run_as_another_identity_is_another_import(node: NodeProcess, tmp_path: Path) -> None:
    """Rows refused to one identity may pass for another: its checkpoint is not reused."""
    source = tmp_path / "rows.jsonl"
    row = {"handle": f"{PUMPS}/WHO-1", "values": [{"index": 1, "type": "URL", "data": "u"}]}
    source.write_text(json.dumps(row) + "\n")
    logins = {}
    for identity in (MOTORS_ADMIN, PUMPS_ADMIN):
        secret = tmp_path / f"{identity[-1]}.secret"
        secret.write_bytes(node.secrets[identity])
        logins[identity] = ("--node", node.url, "--auth", identity, "--secret-file", str(secret))
    out = run_import(source, *logins[MOTORS_ADMIN]).stdout
    assert "1 rows: 0 created, 0 replaced, 0 skipped (unchanged), 1 rejected" in out
    out = run_import(source, *logins[PUMPS_ADMIN]).stdout
    assert "1 rows: 1 created" in out


def test_prefix_records_are_written_only_when_asked(tmp_path: Path) -> None:
    """A stray 0.NA/ row replaced a prefix's record (its admin values with it) and locked
    its operators out: such rows now need --prefix-records."""
    store = make_store(tmp_path / "store.sqlite3")
    source = tmp_path / "rows.csv"
    source.write_text(
        f"0.NA/{PUMPS},1,URL,https://x.example/hijack\n"
        f"0.na/{PUMPS}.1,1,URL,https://sub.example\n"
        f"{PUMPS}/P-1,1,URL,https://pumps.example/p/1\n"
    )
    out = run_import(source, "--store", str(store)).stdout
    assert "3 rows: 1 created, 0 replaced, 0 skipped (unchanged), 2 rejected" in out
    assert [line[2:4] for line in results(source)[:2]] == [["rejected", "5"]] * 2
    admin_values = query(store, f"SELECT record FROM handles WHERE key = '0.NA/{PUMPS}'")
    assert b"hijack" not in admin_values[0][0]
    out = run_import(source, "--store", str(store), "--prefix-records").stdout
    assert "1 created, 1 replaced, 1 skipped (unchanged), 0 rejected" in out


def test_results_naming_the_input_are_refused(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store.sqlite3")
    source = write_rows(tmp_path / "rows.csv", 3)
    before = source.read_bytes()
    done = tierid_cli(
        "import", str(source), "--store", str(store), "--results", str(source), check=False
    )
    assert done.returncode == 2 and "--results names the file being imported" in done.stderr
    assert source.read_bytes() == before and records(store) == {}


def test_the_format_comes_from_the_name_or_is_given(tmp_path: Path) -> None:
    source = tmp_path / "rows.txt"
    source.write_text("")
    done = tierid_cli("import", str(source), "--store", str(tmp_path / "x"), check=False)
    assert done.returncode == 2
    done = tierid_cli(
        "import", str(source), "--store", str(make_store(tmp_path / "s")), check=False
    )
    assert done.returncode == 2 and "give --format" in done.stderr


def test_an_import_into_a_nodes_store_tells_its_shared_cache(tmp_path: Path) -> None:
    """Resolvers sharing the node's Redis forget what an import changed (a cached "not
    found", here), as they do after the node's own writes."""
    server = RedisServer(tmp_path)
    try:
        make_store(tmp_path / "data" / "tierid.sqlite3")
        config = tmp_path / "node.toml"
        config.write_text(
            f'[node]\ndata_dir = "data"\nprefixes = ["{PUMPS}"]\n\n'
            f'[cache]\nredis_url = "{server.url}"\n'
        )
        client = redis.Redis(port=server.port)
        client.set(f"tierid:a:{PUMPS}/P-000003", b"not found")
        subscriber = client.pubsub()
        subscriber.subscribe("tierid:invalidate")
        run_import(write_rows(tmp_path / "rows.csv", 5), "--config", str(config))
        assert client.get(f"tierid:a:{PUMPS}/P-000003") is None
        told = [m["data"] for m in iter(lambda: subscriber.get_message(timeout=2), None)]
        assert told[1:] == [f"{PUMPS}/P-{i:06d}".encode() for i in range(5)]
    finally:
        server.stop()


def test_the_import_collector_tuning_is_undone_afterwards() -> None:
    """``bulk_gc`` raises the young generation's threshold and freezes what is loaded, for
    the import only; the process gets its collector back as it was, even after an error."""
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), bulk_gc():
        assert gc.get_threshold()[0] == BULK_GC_THRESHOLD
        assert gc.get_freeze_count() > 0
        raise RuntimeError("an import that fails")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
