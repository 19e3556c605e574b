"""The CLI over the binary protocol: ``tierid keygen pubkey`` makes a key whose HS_PUBKEY value
the enterprise registers, and ``tierid register/resolve/delete --proto handle`` log in with
it by challenge-response (or with a secret) against a real node."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PUMPS, PUMPS_ADMIN, NodeProcess, tierid_cli

KEY_HOLDER = f"{PUMPS}/ADMIN-KEY"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    n = NodeProcess(tmp_path_factory.mktemp("node"), handle=True)
    try:
        n.create_enterprise(PUMPS, b"pump-secret")
        yield n
    finally:
        n.stop()


def _keygen(path: Path, key_type: str) -> dict:
    out = tierid_cli("keygen", "pubkey", "--out", str(path), "--type", key_type).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def key_identity(node: NodeProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Ed25519 key registered as ``300:88.118.8/ADMIN-KEY``, an admin of the prefix."""
    key = tmp_path_factory.mktemp("keys") / "admin.pem"
    value = _keygen(key, "ed25519")
    assert value["type"] == "HS_PUBKEY" and value["data"]["value"]["crv"] == "Ed25519"
    admin = node.session(PUMPS_ADMIN)
    admin.put(node.api(KEY_HOLDER), json=[value]).raise_for_status()
    grant = {
        "index": 101,
        "type": "HS_ADMIN",
        "data": {"format": "admin", "value": {"handle": KEY_HOLDER, "index": 300}},
    }
    r = admin.put(node.api(f"0.NA/{PUMPS}"), params={"index": "101"}, json=[grant])
    assert r.status_code in (200, 201), r.text
    return key


def _cli(node: NodeProcess, *args: str, check: bool = True):
    return tierid_cli(*args, "--node", node.hdl, check=check)


def test_register_resolve_delete_with_a_key_file(node: NodeProcess, key_identity: Path) -> None:
    login = ("--auth", f"300:{KEY_HOLDER}", "--key-file", str(key_identity))
    made = _cli(node, "register", f"{PUMPS}/CLI-1", "--url", "https://p.example.cn/1", *login)
    assert made.stdout.strip() == f"created {PUMPS}/CLI-1"
    answer = json.loads(_cli(node, "resolve", f"{PUMPS}/cli-1", "--json").stdout)
    assert answer["handle"] == f"{PUMPS}/cli-1"
    assert {v["type"]: v["data"]["value"] for v in answer["values"]}["URL"] == (
        "https://p.example.cn/1"
    )
    # the HTTP API sees the same record
    assert node.session().get(node.api(f"{PUMPS}/CLI-1")).json()["responseCode"] == 1
    assert _cli(node, "delete", f"{PUMPS}/CLI-1", *login).stdout.strip() == (
        f"deleted {PUMPS}/CLI-1"
    )
    gone = _cli(node, "resolve", f"{PUMPS}/CLI-1", check=False)
    assert gone.returncode == 1 and "(response code 100)" in gone.stderr


def test_register_with_a_secret_and_proto_handle(node: NodeProcess, tmp_path: Path) -> None:
    secret = tmp_path / "pump.secret"
    secret.write_bytes(b"pump-secret")
    made = tierid_cli(
        "register",
        f"{PUMPS}/CLI-2",
        "--proto",
        "handle",
        "--node",
        node.hdl,
        "--auth",
        PUMPS_ADMIN,
        "--secret-file",
        str(secret),
        "--value",
        "2001:MODEL=CP-200",
    )
    assert made.stdout.strip() == f"created {PUMPS}/CLI-2"
    values = node.session().get(node.api(f"{PUMPS}/CLI-2")).json()["values"]
    assert {v["type"] for v in values} == {"MODEL", "HS_ADMIN"}


def test_an_unregistered_key_is_refused_and_nothing_is_written(
    node: NodeProcess, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.pem"
    _keygen(stranger, "p256")
    login = ("--auth", f"300:{KEY_HOLDER}", "--key-file", str(stranger))
    refused = _cli(node, "register", f"{PUMPS}/CLI-3", "--url", "https://x", *login, check=False)
    assert refused.returncode == 1 and "(response code 403)" in refused.stderr
    assert node.session().get(node.api(f"{PUMPS}/CLI-3")).status_code == 404


def test_a_write_without_credentials_says_authentication_is_needed(
    node: NodeProcess, key_identity: Path
) -> None:
    refused = _cli(node, "delete", KEY_HOLDER, check=False)
    assert refused.returncode == 1 and "(response code 402)" in refused.stderr
    assert node.session().get(node.api(KEY_HOLDER)).json()["responseCode"] == 1


def test_the_http_api_logs_in_with_the_same_key_file(node: NodeProcess, key_identity: Path) -> None:
    """Without --proto handle, --key-file logs in over HTTP (POST/PUT /api/sessions)."""
    login = ("--auth", f"300:{KEY_HOLDER}", "--key-file", str(key_identity))
    made = tierid_cli(
        "register", f"{PUMPS}/CLI-HTTP", "--node", node.url, "--url", "https://p/h", *login
    )
    assert made.stdout.strip() == f"created {PUMPS}/CLI-HTTP"
    assert node.session().get(node.api(f"{PUMPS}/CLI-HTTP")).json()["responseCode"] == 1
