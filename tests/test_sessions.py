"""Key login over HTTP (Handle.Net's /api/sessions and ``Authorization: Handle``) against a
real node: each key type logs in and writes; a wrong signature, a replayed answer, an
expired challenge and an ended session are refused. Signatures and MACs are computed here
with ``cryptography`` and ``hashlib``, independently of tierid's own code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterator

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from resolver.challenge import pubkey_to_wire
from resolver.json_values import data_to_json
from tests.conftest import PUMPS, PUMPS_ADMIN, NodeProcess

KEYS = {
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _sign(key, message: bytes) -> tuple[str, bytes]:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "Ed25519", key.sign(message)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "SHA-256", key.sign(message, ec.ECDSA(hashes.SHA256()))
    return "SHA-256", key.sign(message, padding.PKCS1v15(), hashes.SHA256())


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    n = NodeProcess(tmp_path_factory.mktemp("node"), extra="[sessions]\nchallenge_timeout_s = 2\n")
    try:
        n.create_enterprise(PUMPS, b"pump-secret")
        yield n
    finally:
        n.stop()


@pytest.fixture(scope="module")
def keys(node: NodeProcess) -> dict[str, object]:
    """One key of each type, each the HS_PUBKEY of ``88.118.8/KEY-<type>`` and an admin of
    the prefix (HS_ADMIN values 101...)."""
    admin = node.session(PUMPS_ADMIN)
    made = {}
    for i, (name, generate) in enumerate(KEYS.items()):
        key = generate()
        holder = f"{PUMPS}/KEY-{name}"
        value = {
            "index": 300,
            "type": "HS_PUBKEY",
            "data": data_to_json("HS_PUBKEY", pubkey_to_wire(key)),
        }
        admin.put(node.api(holder), json=[value]).raise_for_status()
        grant = {
            "index": 101 + i,
            "type": "HS_ADMIN",
            "data": {"format": "admin", "value": {"handle": holder, "index": 300}},
        }
        r = admin.put(node.api(f"0.NA/{PUMPS}"), params={"index": str(101 + i)}, json=[grant])
        assert r.status_code in (200, 201), r.text
        made[name] = key
    return made


def _open(node: NodeProcess) -> tuple[str, bytes]:
    r = requests.post(f"{node.url}/api/sessions", timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    return body["sessionId"], base64.b64decode(body["nonce"])


def _answer(session: str, nonce: bytes, key, name: str) -> dict[str, str]:
    cnonce = os.urandom(16)
    alg, signature = _sign(key, nonce + cnonce)
    return {
        "sessionId": session,
        "id": f"300:{PUMPS}/KEY-{name}",
        "type": "HS_PUBKEY",
        "cnonce": _b64(cnonce),
        "alg": alg,
        "signature": _b64(signature),
    }


def _handle_header(fields: dict[str, str]) -> dict[str, str]:
    return {"Authorization": "Handle " + ", ".join(f'{k}="{v}"' for k, v in fields.items())}


@pytest.mark.parametrize("name", list(KEYS))
def test_each_key_type_logs_in_and_writes(node: NodeProcess, keys: dict, name: str) -> None:
    session, nonce = _open(node)
    r = requests.put(
        f"{node.url}/api/sessions/this", json=_answer(session, nonce, keys[name], name), timeout=5
    )
    assert r.status_code == 200, r.text
    assert r.json()["authenticated"] is True
    assert r.json()["id"] == f"300:{PUMPS}/KEY-{name}"
    header = _handle_header({"sessionId": session})
    record = [{"index": 1, "type": "URL", "data": f"https://p.example.cn/{name}"}]
    made = requests.put(node.api(f"{PUMPS}/S-{name}"), json=record, headers=header, timeout=5)
    assert made.status_code == 201, made.text
    seen = requests.get(f"{node.url}/api/sessions/this", headers=header, timeout=5).json()
    assert seen["authenticated"] is True and seen["id"] == f"300:{PUMPS}/KEY-{name}"


def test_a_replayed_answer_is_refused(node: NodeProcess, keys: dict) -> None:
    session, nonce = _open(node)
    answer = _answer(session, nonce, keys["ed25519"], "ed25519")
    first = requests.put(f"{node.url}/api/sessions/this", json=answer, timeout=5)
    assert first.status_code == 200
    again = requests.put(f"{node.url}/api/sessions/this", json=answer, timeout=5)
    assert again.json()["responseCode"] == 405, again.text


def test_a_wrong_signature_is_refused_and_ends_the_session(node: NodeProcess, keys: dict) -> None:
    session, nonce = _open(node)
    answer = _answer(session, nonce, keys["p256"], "ed25519")  # signed with another key
    r = requests.put(f"{node.url}/api/sessions/this", json=answer, timeout=5)
    assert (r.status_code, r.json()["responseCode"]) == (403, 403), r.text
    retry = _answer(session, nonce, keys["ed25519"], "ed25519")
    late = requests.put(f"{node.url}/api/sessions/this", json=retry, timeout=5)
    assert late.json()["responseCode"] == 405
    write = requests.put(
        node.api(f"{PUMPS}/NOPE"),
        json=[],
        headers=_handle_header({"sessionId": session}),
        timeout=5,
    )
    assert write.status_code == 403
    assert node.session().get(node.api(f"{PUMPS}/NOPE")).status_code == 404


def test_an_expired_challenge_is_refused(node: NodeProcess, keys: dict) -> None:
    session, nonce = _open(node)
    time.sleep(2.5)  # the node's challenge_timeout_s is 2
    answer = _answer(session, nonce, keys["rsa"], "rsa")
    r = requests.put(f"{node.url}/api/sessions/this", json=answer, timeout=5)
    assert r.json()["responseCode"] == 405, r.text


def test_a_secret_key_answers_inline_with_pbkdf2(node: NodeProcess) -> None:
    """Handle.Net's HS_SECKEY answer in the Authorization header of the write itself."""
    session, nonce = _open(node)
    cnonce, salt = os.urandom(16), os.urandom(16)
    derived = hashlib.pbkdf2_hmac("sha1", b"pump-secret", salt, 10_000, 20)
    mac = hmac.digest(derived, nonce + cnonce, "sha1")
    fields = {
        "sessionId": session,
        "id": PUMPS_ADMIN,
        "type": "HS_SECKEY",
        "cnonce": _b64(cnonce),
        "alg": "PBKDF2-HMAC-SHA1",
        "salt": _b64(salt),
        "iterations": "10000",
        "length": "160",
        "signature": _b64(mac),
    }
    record = [{"index": 1, "type": "URL", "data": "https://p.example.cn/inline"}]
    r = requests.put(
        node.api(f"{PUMPS}/INLINE"), json=record, headers=_handle_header(fields), timeout=5
    )
    assert r.status_code == 201, r.text
    # the session authenticates from then on by its id alone
    more = requests.put(
        node.api(f"{PUMPS}/INLINE-2"),
        json=record,
        headers=_handle_header({"sessionId": session}),
        timeout=5,
    )
    assert more.status_code == 201, more.text


def test_an_ended_or_unknown_session_authenticates_nobody(node: NodeProcess, keys: dict) -> None:
    session, nonce = _open(node)
    answer = _answer(session, nonce, keys["ed25519"], "ed25519")
    assert requests.put(f"{node.url}/api/sessions/this", json=answer, timeout=5).ok
    header = _handle_header({"sessionId": session})
    ended = requests.delete(f"{node.url}/api/sessions/this", headers=header, timeout=5)
    assert ended.status_code == 204
    record = [{"index": 1, "type": "URL", "data": "https://x"}]
    after = requests.put(node.api(f"{PUMPS}/AFTER"), json=record, headers=header, timeout=5)
    assert (after.status_code, after.json()["responseCode"]) == (403, 403)
    unknown = _handle_header({"sessionId": "not-a-session"})
    r = requests.put(node.api(f"{PUMPS}/AFTER"), json=record, headers=unknown, timeout=5)
    assert r.status_code == 403
    malformed = requests.put(
        node.api(f"{PUMPS}/AFTER"), json=record, headers={"Authorization": "Handle ,,="}, timeout=5
    )
    assert malformed.status_code == 403
    assert json.loads(malformed.text)["responseCode"] == 403


def test_removing_or_replacing_a_key_ends_its_sessions(node: NodeProcess) -> None:
    """A session proven with a key used to outlive the key (removed, or its record deleted)
    for its whole 30 minutes: it holds only while the key is unchanged."""
    admin = node.session(PUMPS_ADMIN)
    holder = f"{PUMPS}/KEY-REVOKED"
    key, replacement = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()

    def pubkey(k) -> list[dict]:
        return [
            {
                "index": 300,
                "type": "HS_PUBKEY",
                "data": data_to_json("HS_PUBKEY", pubkey_to_wire(k)),
            }
        ]

    admin.put(node.api(holder), json=pubkey(key)).raise_for_status()
    grant = {
        "index": 120,
        "type": "HS_ADMIN",
        "data": {"format": "admin", "value": {"handle": holder, "index": 300}},
    }
    admin.put(node.api(f"0.NA/{PUMPS}"), params={"index": "120"}, json=[grant]).raise_for_status()
    record = [{"index": 1, "type": "URL", "data": "https://p.example.cn/r"}]
    for revoke in (
        lambda: admin.put(node.api(holder), json=pubkey(replacement)),  # replaced
        lambda: admin.delete(node.api(holder), params={"index": "300"}),  # removed
    ):
        admin.put(node.api(holder), json=pubkey(key)).raise_for_status()
        session, nonce = _open(node)
        fields = _answer(session, nonce, key, "REVOKED")
        assert requests.put(f"{node.url}/api/sessions/this", json=fields, timeout=5).ok
        header = _handle_header({"sessionId": session})
        made = requests.put(node.api(f"{PUMPS}/BY-KEY"), json=record, headers=header, timeout=5)
        assert made.status_code in (200, 201), made.text
        revoke().raise_for_status()
        refused = requests.put(node.api(f"{PUMPS}/BY-KEY"), json=record, headers=header, timeout=5)
        assert (refused.status_code, refused.json()["responseCode"]) == (403, 403), refused.text


def test_one_client_cannot_take_every_waiting_login(tmp_path) -> None:
    """Anonymous opens from one address filled the node's 10,000 waiting places, and then
    nobody could log in: one address now holds at most ``max_waiting_per_client``."""
    n = NodeProcess(tmp_path, extra="[sessions]\nmax_waiting = 20\nmax_waiting_per_client = 5\n")
    try:
        statuses = [requests.post(f"{n.url}/api/sessions", timeout=5).status_code for _ in range(8)]
        assert statuses == [200] * 5 + [503] * 3
    finally:
        n.stop()
