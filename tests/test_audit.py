"""The audit: every write under a prefix, from the change log, with who, when, and the values
before and after; only for the prefix's admins; over the HTTP API and ``tierid audit``."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.conftest import MOTORS, MOTORS_ADMIN, PUMPS, PUMPS_ADMIN, NodeProcess, tierid_cli

SIBLING = "88.118.80"  # shares the text "88.118.8" but is another enterprise


def _audit(node: NodeProcess, identity: str | None, **params: str) -> requests.Response:
    return node.session(identity).get(
        f"{node.url}/api/audit", params={"prefix": PUMPS, **params}, timeout=10
    )


def test_the_history_of_a_record_with_values_before_and_after(node: NodeProcess) -> None:
    pumps, motors = node.session(PUMPS_ADMIN), node.session(MOTORS_ADMIN)
    started = int(time.time())
    url = {"index": 1, "type": "URL", "data": "https://p.example.cn/a"}
    model = {"index": 2001, "type": "MODEL", "data": "CP-200"}
    pumps.put(node.api(f"{PUMPS}/AUDIT-A"), json=[url]).raise_for_status()
    pumps.put(
        node.api(f"{PUMPS}/AUDIT-A"), params={"index": "2001"}, json=[model]
    ).raise_for_status()
    pumps.delete(node.api(f"{PUMPS}/AUDIT-A")).raise_for_status()
    motors.put(node.api(f"{MOTORS}/AUDIT-M"), json=[url]).raise_for_status()
    sibling = node.create_enterprise(SIBLING, b"sibling-secret")
    node.session(sibling).put(node.api(f"{SIBLING}/AUDIT-S"), json=[url]).raise_for_status()

    r = _audit(node, PUMPS_ADMIN, since=str(started))
    assert r.status_code == 200, r.text
    entries = [e for e in r.json()["entries"] if e["handle"] == f"{PUMPS}/AUDIT-A"]
    assert [e["op"] for e in entries] == ["create", "update", "delete"]
    assert all(e["actor"] == PUMPS_ADMIN for e in entries)
    create, update, delete = entries
    assert create["before"] is None
    assert [v["index"] for v in create["after"]] == [1]
    assert [v["index"] for v in update["before"]] == [1]
    assert [v["index"] for v in update["after"]] == [1, 2001]
    assert [v["index"] for v in delete["before"]] == [1, 2001] and delete["after"] is None
    assert create["seq"] < update["seq"] < delete["seq"]
    # nothing from the sibling enterprises, though one's prefix starts with the same text
    assert all(e["handle"].startswith((f"{PUMPS}/", f"0.NA/{PUMPS}")) for e in r.json()["entries"])


def test_time_bounds_and_limit(node: NodeProcess) -> None:
    later = _audit(node, PUMPS_ADMIN, since=str(int(time.time()) + 3600))
    assert later.json()["entries"] == []
    early = _audit(node, PUMPS_ADMIN, until="1970-01-02T00:00:00Z")
    assert early.json()["entries"] == []
    one = _audit(node, PUMPS_ADMIN, limit="1")
    assert len(one.json()["entries"]) == 1
    bad = _audit(node, PUMPS_ADMIN, since="yesterday")
    assert (bad.status_code, bad.json()["responseCode"]) == (400, 4)


def test_only_the_prefix_admins_read_the_history(node: NodeProcess) -> None:
    assert _audit(node, MOTORS_ADMIN).status_code == 403
    assert _audit(node, None).status_code == 401


def test_tierid_audit_shows_what_changed(node: NodeProcess, tmp_path: Path) -> None:
    secret = tmp_path / "pumps.secret"
    secret.write_bytes(b"pump-secret")
    pumps = node.session(PUMPS_ADMIN)
    value = {"index": 1, "type": "URL", "data": "https://p.example.cn/b"}
    pumps.put(node.api(f"{PUMPS}/AUDIT-B"), json=[value]).raise_for_status()
    out = tierid_cli(
        "audit",
        "--prefix",
        PUMPS,
        "--node",
        node.url,
        "--auth",
        PUMPS_ADMIN,
        "--secret-file",
        str(secret),
    ).stdout
    row = next(line for line in out.splitlines() if f"{PUMPS}/AUDIT-B" in line)
    assert "create" in row and "+1" in row and PUMPS_ADMIN in row


def test_a_parent_tier_sees_no_private_values_in_the_history(tmp_path: Path) -> None:
    """A province's admin (not a server admin) governs its enterprises' prefix records, so
    it may read their history, but a private value there only as a read would show it:
    not at all. The history showed it whole."""
    node = NodeProcess(tmp_path, prefix="88")
    try:
        province = node.create_enterprise("88.118", b"province-secret")
        enterprise = node.create_enterprise("88.118.8", b"pump-secret")
        private = {"index": 2006, "type": "COST", "data": "4711", "permissions": "1100"}
        public = {"index": 1, "type": "URL", "data": "https://p.example.cn/s"}
        node.session(enterprise).put(
            node.api("88.118.8/SECRET"), json=[public, private]
        ).raise_for_status()

        def after(identity: str, prefix: str) -> dict[int, str]:
            r = node.session(identity).get(
                f"{node.url}/api/audit", params={"prefix": prefix}, timeout=10
            )
            assert r.status_code == 200, r.text
            (entry,) = [e for e in r.json()["entries"] if e["handle"] == "88.118.8/SECRET"]
            return {v["index"]: v["data"]["value"] for v in entry["after"]}

        assert after(enterprise, "88.118.8") == {1: public["data"], 2006: "4711"}
        assert after(province, "88.118.8") == {1: public["data"]}
        assert after(province, "88.118") == {1: public["data"]}
    finally:
        node.stop()
