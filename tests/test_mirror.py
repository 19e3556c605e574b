"""Mirrors: a read-only copy that follows its primary's change log, catches up after
downtime (with a full copy when the log was pruned), and takes over reads when the
primary dies."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import NodeProcess, RedisServer, eventually, tierid_cli

PUMP = [
    {"index": 1, "type": "URL", "data": "https://pumps.example/1"},
    {"index": 2005, "type": "COST", "data": "1830 CNY", "permissions": "1100"},
]


def mirror_of(
    primary: NodeProcess, root: Path, *, poll_ms: int = 100, extra: str = "", **kwargs
) -> NodeProcess:
    (root / "primary.secret").write_bytes(primary.secrets[primary.operator])
    extra += (
        f'[mirror]\nprimary = "{primary.url}"\nidentity = "{primary.operator}"\n'
        f'secret_file = "primary.secret"\npoll_interval_ms = {poll_ms}\n'
    )
    return NodeProcess(root, prefix=None, extra=extra, **kwargs)


def test_mirror_follows_serves_reads_and_refuses_writes(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "m").mkdir()
    primary = NodeProcess(tmp_path / "p")
    mirror = mirror_of(primary, tmp_path / "m")
    try:
        pumps_admin = primary.create_enterprise("88.118.8", b"pump-secret")
        writer = primary.session(pumps_admin)
        assert writer.put(primary.api("88.118.8/PUMP-1"), json=PUMP).status_code == 201
        eventually(lambda: requests.get(mirror.api("88.118.8/PUMP-1")).status_code == 200)
        assert requests.get(mirror.api("88.118.8/PUMP-1")).json()["values"][0]["data"]["value"] == (
            "https://pumps.example/1"
        )

        # private values and the admin's key were copied: the admin reads them at the mirror
        mirror.secrets[pumps_admin] = b"pump-secret"
        full = mirror.session(pumps_admin).get(mirror.api("88.118.8/PUMP-1")).json()
        assert [v["index"] for v in full["values"]] == [1, 2005]

        r = mirror.session(pumps_admin).put(mirror.api("88.118.8/PUMP-2"), json=PUMP)
        assert (r.status_code, r.json()["responseCode"]) == (503, 7)
        assert "mirror" in r.json()["message"]

        writer.delete(primary.api("88.118.8/PUMP-1"))
        eventually(lambda: requests.get(mirror.api("88.118.8/PUMP-1")).status_code == 404)
        status = mirror.status()
        assert status["roles"][0] == "mirror" and status["mirror"]["connected"]
        eventually(lambda: mirror.status()["mirror"]["lag"] == 0)
        assert "88.118.8" in status["prefixes"]
        metrics = requests.get(f"{mirror.url}/metrics").text  # what a dashboard reads
        applied = mirror.status()["mirror"]["appliedSeq"]
        assert "tierid_mirror_connected 1" in metrics and "tierid_mirror_lag 0" in metrics
        assert f"tierid_mirror_applied_seq {applied}" in metrics
        assert applied == primary.status()["changeSeq"]

        primary.proc.send_signal(signal.SIGSTOP)  # hung, connections open: not "connected"
        try:
            eventually(lambda: not mirror.status()["mirror"]["connected"], seconds=20)
        finally:
            primary.proc.send_signal(signal.SIGCONT)
        eventually(lambda: mirror.status()["mirror"]["connected"], seconds=20)
    finally:
        mirror.stop()
        primary.stop()


def test_a_pure_resolver_is_no_authority(tmp_path: Path) -> None:
    resolver = NodeProcess(tmp_path, prefix=None, roots=["http://127.0.0.1:9"])
    try:
        assert resolver.status()["roles"] == ["resolver"]
    finally:
        resolver.stop()


@pytest.mark.parametrize("keep", [0, 5], ids=["replay-log", "full-copy"])
def test_mirror_catches_up_after_downtime(tmp_path: Path, keep: int) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "m").mkdir()
    primary = NodeProcess(tmp_path / "p", node_options=f"changelog_keep = {keep}")
    mirror = mirror_of(primary, tmp_path / "m")
    try:
        admin = primary.create_enterprise("88.118.8", b"pump-secret")
        writer = primary.session(admin)
        writer.put(primary.api("88.118.8/EARLY"), json=PUMP)
        eventually(lambda: requests.get(mirror.api("88.118.8/EARLY")).status_code == 200)

        mirror.stop()
        for i in range(30):
            writer.put(primary.api(f"88.118.8/LATE-{i}"), json=PUMP)
        writer.delete(primary.api("88.118.8/EARLY"))
        mirror.start()

        eventually(lambda: requests.get(mirror.api("88.118.8/LATE-29")).status_code == 200)
        eventually(lambda: mirror.status()["mirror"]["lag"] == 0)
        assert requests.get(mirror.api("88.118.8/EARLY")).status_code == 404
        assert all(
            requests.get(mirror.api(f"88.118.8/LATE-{i}")).status_code == 200 for i in range(30)
        )
        assert mirror.status()["records"] == primary.status()["records"]
        # with a pruned log the mirror had to take a full copy; with the whole log, it replays
        assert mirror.status()["mirror"]["fullCopies"] == (1 if keep else 0)
        if keep:  # the copy is one "reset" in the mirror's own log, not an entry per record
            assert mirror.status()["changeSeq"] < 30 < mirror.status()["records"]
    finally:
        mirror.stop()
        primary.stop()


def test_resolver_reads_through_the_mirror_when_the_primary_dies(tmp_path: Path) -> None:
    for name in ("prov", "ent", "mir", "res"):
        (tmp_path / name).mkdir()
    province = NodeProcess(tmp_path / "prov", prefix="88.118")
    enterprise = NodeProcess(tmp_path / "ent", prefix="88.118.8")
    mirror = mirror_of(enterprise, tmp_path / "mir")
    resolver = NodeProcess(tmp_path / "res", prefix=None, roots=[province.url])
    try:
        province.delegate("88.118.8", enterprise, mirrors=(mirror,))
        writer = enterprise.session(enterprise.operator)
        for i in range(3):
            assert writer.put(enterprise.api(f"88.118.8/P-{i}"), json=PUMP).status_code == 201
        eventually(lambda: requests.get(mirror.api("88.118.8/P-2")).status_code == 200)
        assert requests.get(resolver.api("88.118.8/P-0")).json()["responseCode"] == 1

        enterprise.stop(signal.SIGKILL)
        started = time.monotonic()
        for i in (1, 2):
            r = requests.get(resolver.api(f"88.118.8/P-{i}"))
            assert (r.status_code, r.json()["responseCode"]) == (200, 1)
        assert time.monotonic() - started < 3
        servers = {s["url"]: s for s in resolver.status()["resolver"]["servers"]}
        assert servers[enterprise.url]["failures"] >= 1 and not servers[enterprise.url]["up"]
        assert servers[mirror.url]["up"]
        metrics = requests.get(f"{resolver.url}/metrics").text
        assert f'tierid_upstream_up{{server="{enterprise.url}"}} 0' in metrics
        assert f'tierid_upstream_up{{server="{mirror.url}"}} 1' in metrics
        failed = re.search(
            rf'^tierid_upstream_failures_total{{server="{enterprise.url}"}} (\d+)', metrics, re.M
        )
        assert failed is not None and int(failed.group(1)) >= 1
    finally:
        for node in (resolver, mirror, enterprise, province):
            node.stop()


def test_a_change_reaches_resolvers_that_read_from_a_mirror(tmp_path: Path) -> None:
    """The primary's invalidation reaches the shared cache before its mirror has the change:
    a resolver reading from the mirror fetched the old answer again and kept it for its
    whole TTL. The mirror now invalidates what it applies, so the change arrives within a
    poll of the mirror."""
    for name in ("prov", "ent", "mir", "res"):
        (tmp_path / name).mkdir()
    redis_server = RedisServer(tmp_path)
    cache = f'[cache]\nredis_url = "{redis_server.url}"\nredis_namespace = "m"\n'
    province = NodeProcess(tmp_path / "prov", prefix="88.118")
    enterprise = NodeProcess(tmp_path / "ent", prefix="88.118.8", extra=cache)
    mirror = mirror_of(enterprise, tmp_path / "mir", poll_ms=1500, extra=cache)
    resolver = NodeProcess(tmp_path / "res", prefix=None, roots=[province.url], extra=cache)
    try:
        province.delegate("88.118.8", mirror)  # the resolvers' only way to 88.118.8
        writer = enterprise.session(enterprise.operator)
        url = enterprise.api("88.118.8/FIXED")

        def served() -> str:
            return requests.get(resolver.api("88.118.8/FIXED")).json()["values"][0]["data"]["value"]

        assert writer.put(url, json=[{**PUMP[0], "data": "https://old"}]).status_code == 201
        eventually(lambda: requests.get(mirror.api("88.118.8/FIXED")).status_code == 200)
        assert served() == "https://old"
        assert writer.put(url, json=[{**PUMP[0], "data": "https://new"}]).status_code == 200
        eventually(lambda: served() == "https://new", seconds=8)
    finally:
        for node in (resolver, mirror, enterprise, province):
            node.stop()
        redis_server.stop()


def test_an_import_into_a_mirrors_store_is_refused(tmp_path: Path) -> None:
    """It wrote records the primary never had, and the mirror served them for good."""
    (tmp_path / "ent").mkdir()
    (tmp_path / "mir").mkdir()
    enterprise = NodeProcess(tmp_path / "ent", prefix="88.118.8")
    mirror = mirror_of(enterprise, tmp_path / "mir")
    try:
        writer = enterprise.session(enterprise.operator)
        assert writer.put(enterprise.api("88.118.8/REAL"), json=PUMP).status_code == 201
        eventually(lambda: requests.get(mirror.api("88.118.8/REAL")).status_code == 200)
        rows = tmp_path / "ghost.csv"
        rows.write_text("88.118.8/GHOST,1,URL,https://ghost.example\n")
        done = tierid_cli("import", str(rows), "--config", str(mirror.config), check=False)
        assert done.returncode == 2 and "mirror" in done.stderr, done.stderr
        assert requests.get(mirror.api("88.118.8/GHOST")).status_code == 404
    finally:
        mirror.stop()
        enterprise.stop()
