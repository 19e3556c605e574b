"""The SNMS-compatible API (registry/snms.py): its pure parts (cipher, tokens, the status
mapping), then a real node answering the documented requests (tests/snms_fixtures, copied
from teleinfo-dev/id-guide), each result checked against what tierid's own API shows."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from registry.snms import (
    KEY_FILE,
    NotLoggedIn,
    cipher_days,
    cipher_password,
    issue_token,
    token_identity,
    token_proof,
)
from registry.snms_codec import status_of
from resolver.errors import (
    AuthenticationFailed,
    AuthenticationNeeded,
    HandleAlreadyExists,
    HandleNotFound,
    InsufficientPermissions,
    InvalidAdmin,
    InvalidValue,
    NotResponsible,
    RegistrationLimit,
    ServerReadOnly,
    TieridError,
)
from resolver.message import Identity
from tests.conftest import MOTORS, MOTORS_ADMIN, PUMPS, PUMPS_ADMIN, NodeProcess

FIXTURES = Path(__file__).parent / "snms_fixtures"
TEMPLATE = "/snms/api/v5/template"
DATA = "/identityv2/data"
OK = {"message": "success", "status": 1, "data": True}


def fixture(name: str, replace: dict[str, str] | None = None) -> Any:
    """A documented example, with its prefixes (or other text) replaced in the given order."""
    text = (FIXTURES / name).read_text("utf-8")
    for documented, ours in (replace or {}).items():
        text = text.replace(documented, ours)
    return json.loads(text)


# --- no node -------------------------------------------------------------------------------


def test_cipher_password_is_the_documented_one() -> None:
    # the documented value is for "123456" (the doc's note says "12345": see the README there)
    assert cipher_password(b"123456", "2019-08-15") == fixture("cipher_request.json")["password"]


def test_cipher_days_are_today_in_utc_and_in_china() -> None:
    evening = datetime(2026, 11, 28, 20, 0, tzinfo=UTC).timestamp()
    assert cipher_days(evening) == ("2026-11-28", "2026-11-29")
    assert cipher_days(datetime(2026, 11, 28, 12, 0, tzinfo=UTC).timestamp()) == ("2026-11-28",)


def test_tokens_expire_and_belong_to_their_key() -> None:
    me, key = Identity("0.NA/88.118.8", 300), b"k" * 64
    token = issue_token(me, key, 1000.0, 86400, "print")
    assert token_identity(token, key, 1000.0 + 86399) == (me, "print")
    # what a token says of its key is keyed: a bare hash of a secret lets readers guess at it
    assert token_proof(key, "p") not in ("p", None, token_proof(b"y" * 64, "p"))
    for bad_key, now in ((key, 1000.0 + 86400), (b"x" * 64, 1001.0)):
        with pytest.raises(NotLoggedIn):
            token_identity(token, bad_key, now)
    with pytest.raises(NotLoggedIn):
        token_identity("not.a.token", key, 1001.0)


def test_every_tierid_error_gets_a_documented_status() -> None:
    documented = {int(code) for code in fixture("status_codes.json")}
    cases: list[tuple[TieridError, int]] = [
        (AuthenticationNeeded(), -1),
        (NotLoggedIn(), -1),
        (InsufficientPermissions(), -3),
        (InvalidAdmin(), -3),
        (HandleNotFound(), -2),
        (HandleAlreadyExists(), -2),
        (InvalidValue(), -2),
        (NotResponsible(), -2),
        (AuthenticationFailed(), -2),  # a wrong password is -2, as documented
        (RegistrationLimit(), -2),
        (TieridError(), -4),
        (ServerReadOnly(), -4),
    ]
    for err, status in cases:
        assert (type(err).__name__, status_of(err)) == (type(err).__name__, status)
        assert status in documented


# --- a real node ---------------------------------------------------------------------------


def _token(node: NodeProcess, path: str = "/identity/token", **body: str) -> dict:
    r = requests.post(node.url + path, json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _login(node: NodeProcess, user: str = PUMPS_ADMIN, secret: str = "pump-secret") -> Any:
    answer = _token(node, username=user, password=secret)
    assert answer["status"] == 1, answer
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {answer['data']['token']}"
    return s


def _call(s: Any, node: NodeProcess, method: str, path: str, **kw: Any) -> dict:
    r = s.request(method, node.url + path, timeout=30, **kw)
    assert r.status_code == 200, r.text  # SNMS answers 200 with the status in the body
    return r.json()


def _stored(node: NodeProcess, handle: str) -> dict[int, tuple[str, str]] | None:
    """The record as tierid's own API shows it, by index; None when there is none."""
    r = node.session().get(node.api(handle))
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return {v["index"]: (v["type"], v["data"]["value"]) for v in r.json()["values"]}


def _item(name: str, id_type: str, index: int | None, max_length: int = 64) -> dict:
    """An item in the documented shape (template_create_v5.json's)."""
    item = fixture("template_create_v5.json")["items"][0]
    item.update(name=name, idType=id_type, metadata={**item["metadata"], "maxLength": max_length})
    if index is None:
        del item["idIndex"]
    else:
        item["idIndex"] = index
    return item


def _template(s: Any, node: NodeProcess, version: str, items: list[dict]) -> dict:
    body = fixture("template_create_v5.json", {"88.101.5": PUMPS})
    body.update(version=version, items=items)
    return _call(s, node, "POST", TEMPLATE, json=body)


def _value(index: int, vtype: str, text: str) -> dict:
    return {"data": {"format": "string", "value": text}, "auth": "", "index": index, "type": vtype}


def test_login_plain_and_cipher(node: NodeProcess) -> None:
    body = {**fixture("token_request.json"), "username": PUMPS_ADMIN, "password": "pump-secret"}
    answer = _token(node, **body)
    assert (answer.keys(), answer["status"]) == (fixture("token_response.json").keys(), 1)
    token = answer["data"]["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert (claims["sub"], claims["exp"] - claims["iat"]) == (PUMPS_ADMIN, 86400)
    key_file = node.root / "data" / KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    me, _ = token_identity(token, key_file.read_bytes().strip(), time.time())
    assert me == Identity(f"0.NA/{PUMPS}", 300)

    bare = _token(node, username=f"0.NA/{PUMPS}", password="pump-secret")  # a bare handle
    assert jwt.decode(bare["data"]["token"], options={"verify_signature": False})["sub"] == (
        PUMPS_ADMIN
    )
    wrong = _token(node, username=PUMPS_ADMIN, password="pump-secreT")
    assert wrong.keys() == fixture("token_error.json").keys()
    assert (wrong["status"], wrong["data"]) == (-2, None)
    assert _token(node, username="admin", password="******")["status"] == -2
    # a lone surrogate (valid JSON, no Unicode): a clear refusal, not a server error
    refused = _token(node, username=PUMPS_ADMIN, password="pump-\ud800")
    assert refused["status"] == -2 and "lone surrogate" in refused["message"]

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    cipher = _token(
        node,
        "/identity/token/v1",
        username=PUMPS_ADMIN,
        password=cipher_password(b"pump-secret", today),
    )
    assert cipher["status"] == 1, cipher
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {cipher['data']['token']}"
    detail = _call(s, node, "GET", f"{DATA}/detail", params={"handle": f"0.NA/{PUMPS}"})
    assert detail["status"] == 1, detail
    stale = cipher_password(b"pump-secret", "2019-08-15")
    assert _token(node, "/identity/token/v1", username=PUMPS_ADMIN, password=stale)["status"] == -2
    plain = _token(node, "/identity/token/v1", username=PUMPS_ADMIN, password="pump-secret")
    assert plain["status"] == -2

    # a key stored hashed (SHA-1 hex, as CNRI's tools store it): plain login works, the
    # cipher cannot be checked and says why
    hashed = hashlib.sha1(b"s3cret").hexdigest()
    user = f"{PUMPS}/HASHED-USER"
    r = node.session(PUMPS_ADMIN).put(
        node.api(user),
        json=[{"index": 300, "type": "HS_SECKEY", "data": hashed, "permissions": "1100"}],
    )
    assert r.status_code == 201, r.text
    assert _token(node, username=f"300:{user}", password="s3cret")["status"] == 1
    refused = _token(
        node,
        "/identity/token/v1",
        username=f"300:{user}",
        password=cipher_password(b"s3cret", today),
    )
    assert refused["status"] == -2 and "stored hashed" in refused["message"]


def test_bad_or_expired_tokens_are_not_logged_in(node: NodeProcess) -> None:
    issued = _login(node).headers["Authorization"].split()[1]  # the node's key exists now
    key = (node.root / "data" / KEY_FILE).read_bytes().strip()
    now = int(time.time())
    proof = jwt.decode(issued, options={"verify_signature": False})["kp"]

    def detail(header: str | None) -> int:
        s = requests.Session()
        if header is not None:
            s.headers["Authorization"] = header
        return _call(s, node, "GET", f"{DATA}/detail", params={"handle": f"0.NA/{PUMPS}"})["status"]

    def signed(exp: int, signing_key: bytes, kp: str | None = proof) -> str:
        claims = {"sub": PUMPS_ADMIN, "aud": "snms", "iat": now - 90_000, "exp": exp, "kp": kp}
        return "Bearer " + jwt.encode(claims, signing_key, algorithm="HS256")

    assert detail(signed(now + 60, key)) == 1  # the control: a good token works
    assert detail(signed(now + 60, key, kp=None)) == -1  # no print of the key it proved
    assert detail(None) == -1
    assert detail("Bearer garbage") == -1
    assert detail(signed(now - 1, key)) == -1  # expired
    assert detail(signed(now + 60, b"another-node-key" * 4)) == -1
    assert detail("Basic " + "MzAwOjAuTkEvODguMTE4Ljg6cHVtcC1zZWNyZXQ=") == -1


def test_changing_the_secret_revokes_the_tokens_it_issued(node: NodeProcess) -> None:
    """A token issued before its identity's secret was changed used to work for its whole
    24 hours: it holds only while the key it was proven with is unchanged."""
    admin = node.create_enterprise("88.118.66", b"old-secret")
    old = _login(node, admin, "old-secret")
    handle = "0.NA/88.118.66"
    assert _call(old, node, "GET", f"{DATA}/detail", params={"handle": handle})["status"] == 1
    seckey = [{"index": 300, "type": "HS_SECKEY", "data": "new-secret", "permissions": "1100"}]
    r = node.session(admin).put(node.api(handle), params={"index": "300"}, json=seckey)
    assert r.status_code == 200, r.text
    answer = _call(old, node, "GET", f"{DATA}/detail", params={"handle": handle})
    assert answer["status"] == -1 and "changed" in answer["message"]
    new = _login(node, admin, "new-secret")
    assert _call(new, node, "GET", f"{DATA}/detail", params={"handle": handle})["status"] == 1


def test_no_permission_on_a_siblings_prefix(node: NodeProcess) -> None:
    pumps, motors = _login(node), _login(node, MOTORS_ADMIN, "motor-secret")
    motors_template = fixture("template_create_v5.json", {"88.101.5": MOTORS})
    motors_template.update(version="perm-1", items=[_item("名称", "name", 2000)])
    assert _call(motors, node, "POST", TEMPLATE, json=motors_template) == OK
    theirs = fixture("data_create.json", {"88.1021.150": MOTORS, '"1.0"': '"perm-1"'})
    assert _call(pumps, node, "POST", DATA, json=theirs)["status"] == -3
    assert _stored(node, theirs["handle"]) is None
    body = fixture("template_create_v5.json", {"88.101.5": MOTORS})
    assert _call(pumps, node, "POST", TEMPLATE, json=body)["status"] == -3
    assert _stored(node, f"{MOTORS}/TEMPLATE/snms/1.0.0") is None
    batch = _call(pumps, node, "POST", f"{DATA}/batchCreate", json=[theirs])
    assert [i["code"] for i in batch["data"]] == [-3]

    motors_record = f"{MOTORS}/M-1"
    r = node.session(MOTORS_ADMIN).put(node.api(motors_record), json=[_value(1, "URL", "x")])
    assert r.status_code == 201, r.text
    gone = _call(pumps, node, "DELETE", DATA, json={"handle": motors_record})
    assert gone["status"] == -3
    assert _stored(node, motors_record) == {1: ("URL", "x")}


def test_create_read_update_delete(node: NodeProcess) -> None:
    pumps = _login(node)
    assert _template(pumps, node, "1.0", [_item("名称", "name", 2000)]) == OK
    body = fixture("data_create.json", {"88.1021.150": PUMPS})
    handle = body["handle"]
    assert _call(pumps, node, "POST", DATA, json=body) == OK
    ref = f"{PUMPS}/TEMPLATE/snms/1.0"
    assert _stored(node, handle) == {
        1000: ("TEMPLATE", ref),
        1001: ("TEMPLATE.VERSION", "1.0"),
        2000: ("name", "小型机械01"),
    }

    detail = _call(pumps, node, "GET", f"{DATA}/detail", params={"handle": handle})
    documented = fixture("data_detail.json")
    assert (detail["status"], detail["data"].keys()) == (1, documented["data"].keys())
    assert (detail["data"]["prefix"], detail["data"]["templateVersion"]) == (PUMPS, "1.0")
    shown = {v["index"]: v for v in detail["data"]["value"]}
    assert all(v.keys() == documented["data"]["value"][0].keys() for v in shown.values())
    assert (shown[1000]["type"], shown[1000]["data"]["value"]) == ("TEMPLATE_ID", ref)
    assert (shown[1001]["type"], shown[1001]["data"]) == (
        "TEMPLATE",
        {"format": "string", "value": "1.0"},
    )
    missing = _call(pumps, node, "GET", f"{DATA}/detail")
    assert missing.keys() == fixture("data_detail_error.json").keys() and missing["status"] == -2

    again = _call(pumps, node, "POST", DATA, json=body)
    assert again["status"] == -2 and "exists" in again["message"]
    reserved = {
        **body,
        "handle": f"{PUMPS}/xx003",
        "value": [*body["value"], _value(1001, "TEMPLATE", "1.0")],
    }
    assert _call(pumps, node, "POST", DATA, json=reserved)["status"] == -2
    assert _stored(node, f"{PUMPS}/xx003") is None

    body["value"][0]["data"]["value"] = "小型机械02"
    assert _call(pumps, node, "PUT", DATA, json=body) == OK
    assert _stored(node, handle)[2000] == ("name", "小型机械02")  # type: ignore[index]
    absent = {**body, "handle": f"{PUMPS}/never-made"}
    assert _call(pumps, node, "PUT", DATA, json=absent)["status"] == -2
    assert _stored(node, absent["handle"]) is None

    delete = fixture("data_delete.json", {"88.1021.150": PUMPS})
    assert _call(pumps, node, "DELETE", DATA, json=delete) == OK
    assert _stored(node, handle) is None
    gone = _call(pumps, node, "DELETE", DATA, json=delete)
    assert (gone.keys(), gone["status"]) == (fixture("data_delete_error.json").keys(), -2)


def test_batches_answer_per_item_as_the_store_holds(node: NodeProcess) -> None:
    pumps = _login(node)
    _template(pumps, node, "batch-1", [_item("链接", "URL", 2000), _item("链接2", "URL2", 2001)])
    items = fixture("data_batch_create.json", {"88.101.0042": PUMPS, '"1.0.0"': '"batch-1"'})
    bad = {**items[0], "handle": f"{PUMPS}/003", "value": [_value(2000, "WRONG", "www.005.com")]}
    first = _call(pumps, node, "POST", f"{DATA}/batchCreate", json=[*items, bad])
    assert first["status"] == 1
    documented = fixture("data_batch_create_response.json")["data"][0].keys()
    assert all(documented <= r.keys() for r in first["data"])
    assert [(r["handle"], r["code"]) for r in first["data"]] == [
        (f"{PUMPS}/001", 1),
        (f"{PUMPS}/002", 1),
        (f"{PUMPS}/003", -2),
    ]
    assert "URL" in first["data"][2]["msg"]
    assert _stored(node, f"{PUMPS}/001")[2001] == ("URL2", "www.002.com")  # type: ignore[index]
    assert _stored(node, f"{PUMPS}/002") is not None and _stored(node, f"{PUMPS}/003") is None

    # sent again: the documented answer to a repeated batch, "already exists"
    again = _call(pumps, node, "POST", f"{DATA}/batchCreate", json=[*items, bad])
    assert [r["code"] for r in again["data"]] == [-2, -2, -2]
    assert "exists" in again["data"][0]["msg"]

    changed = json.loads(json.dumps(items[0]))
    changed["value"][0]["data"]["value"] = "www.009.com"
    update = _call(
        pumps,
        node,
        "PUT",
        f"{DATA}/batchUpdate",
        json=[changed, {**changed, "handle": f"{PUMPS}/never-made"}],
    )
    assert [r["code"] for r in update["data"]] == [1, -2]
    assert _stored(node, f"{PUMPS}/001")[2000] == ("URL", "www.009.com")  # type: ignore[index]
    assert _stored(node, f"{PUMPS}/never-made") is None

    names = {"86.709.612/cc1": f"{PUMPS}/002", "86.709.612/cc": f"{PUMPS}/001"}
    handles = fixture("data_batch_delete.json", names)
    deleted = _call(pumps, node, "DELETE", f"{DATA}/batchDelete", json=handles)
    documented_delete = fixture("data_batch_delete_response.json", names)
    assert deleted == documented_delete
    assert _stored(node, f"{PUMPS}/001") is None and _stored(node, f"{PUMPS}/002") is None
    twice = _call(pumps, node, "DELETE", f"{DATA}/batchDelete", json=handles)
    assert [r["code"] for r in twice["data"]] == [-2, -2]

    too_many = _call(pumps, node, "DELETE", f"{DATA}/batchDelete", json=[f"{PUMPS}/x"] * 2001)
    assert too_many["status"] == -2 and "2000" in too_many["message"]


def test_documented_template_then_data_registered_against_it(node: NodeProcess) -> None:
    pumps = _login(node)
    body = fixture("template_create_v5.json", {"88.101.5": PUMPS})
    assert _call(pumps, node, "POST", TEMPLATE, json=body) == fixture("template_answer.json")
    record = f"{PUMPS}/TEMPLATE/snms/1.0.0"
    stored = node.session().get(node.api(record)).json()["values"]
    by_index = {v["index"]: v for v in stored}
    assert by_index[2]["type"] == "SNMS.TEMPLATE.TYPE" and by_index[2]["data"]["value"] == "1"
    ours = json.loads(by_index[1]["data"]["value"])
    assert by_index[1]["type"] == "TIERID.TEMPLATE" and ours["status"] == "published"
    assert ours["industry"] == {
        "category": "A",
        "specific": "01",
        "trade": "011",
        "subclass": "0111",
    }
    assert ours["items"] == [
        {
            "key": "ip",
            "name": "e1",
            "index": 2000,
            "type": "string",
            "required": False,
            "minLength": 1,
            "maxLength": 10,
            "enabled": True,
        }
    ]

    query = {"prefix": PUMPS, "version": "1.0.0"}
    got = _call(pumps, node, "GET", TEMPLATE, params=query)
    documented = fixture("template_detail_v5.json")["data"]
    assert got["data"].keys() == (documented.keys() - {"id"}) | {"handle"}
    assert got["data"]["handle"] == record and got["data"]["type"] == 1
    assert [got["data"][k] for k in ("industryCategory", "industryTrade")] == ["A", "011"]
    (item,) = got["data"]["items"]
    assert item.keys() == documented["items"][0].keys() | {"idIndex"}
    assert (item["idIndex"], item["state"], item["metadata"]) == (
        2000,
        1,
        body["items"][0]["metadata"],
    )
    assert _call(pumps, node, "GET", "/snms/api/v3/template", params=query)["data"] == got["data"]
    absent = _call(pumps, node, "GET", TEMPLATE, params={**query, "version": "9.9"})
    assert absent["status"] == -2
    assert _call(pumps, node, "POST", TEMPLATE, json=body)["status"] == -2  # exists

    def register(suffix: str, *values: dict, version: str = "1.0.0") -> int:
        data = {"handle": f"{PUMPS}/{suffix}", "templateVersion": version, "value": list(values)}
        return _call(pumps, node, "POST", DATA, json=data)["status"]

    assert register("ip-1", _value(2000, "ip", "10.0.0.1")) == 1
    assert _stored(node, f"{PUMPS}/ip-1") == {
        1000: ("TEMPLATE", record),
        1001: ("TEMPLATE.VERSION", "1.0.0"),
        2000: ("ip", "10.0.0.1"),
    }
    assert register("ip-2", _value(2000, "name", "10.0.0.2")) == -2  # not the item's type
    assert register("ip-3", _value(2000, "ip", "10.0.0.1000")) == -2  # longer than 10
    assert register("ip-4", _value(2000, "ip", "10.0.0.4"), _value(2001, "mac", "x")) == -2
    assert register("ip-5", _value(2000, "ip", "10.0.0.5"), version="9.9") == -2
    for n in range(2, 6):
        assert _stored(node, f"{PUMPS}/ip-{n}") is None


def test_template_items_are_disabled_never_deleted(node: NodeProcess) -> None:
    pumps = _login(node)
    version = "upd-1"
    items = [_item("e1", "ip", 2000), _item("e2", "mac", 2001)]
    assert _template(pumps, node, version, items) == OK
    record = f"{PUMPS}/TEMPLATE/snms/{version}"

    def stored_items() -> list[tuple[str, int, bool]]:
        template = json.loads(_stored(node, record)[1][1])  # type: ignore[index]
        return [(i["key"], i["index"], i["enabled"]) for i in template["items"]]

    update = fixture("template_update_v5.json", {"88.101.5": PUMPS})
    update["version"] = version
    update["items"] = [{**update["items"][0], "idIndex": 2000}]  # item "mac" left out
    refused = _call(pumps, node, "PUT", TEMPLATE, json=update)
    assert refused["status"] == -2 and "cannot be removed" in refused["message"]
    assert stored_items() == [("ip", 2000, True), ("mac", 2001, True)]

    update["items"] = [
        {**update["items"][0]},
        {**_item("e2", "mac", 2001), "state": 0},
        _item("e3", "sn", None),  # no idIndex: a new item
    ]
    assert _call(pumps, node, "PUT", TEMPLATE, json=update) == OK
    assert stored_items() == [("ip", 2000, True), ("mac", 2001, False), ("sn", 2002, True)]
    got = _call(pumps, node, "GET", TEMPLATE, params={"prefix": PUMPS, "version": version})
    assert [(i["idType"], i["state"]) for i in got["data"]["items"]] == [
        ("ip", 1),
        ("mac", 0),
        ("sn", 1),
    ]
    data = {"handle": f"{PUMPS}/u-1", "templateVersion": version}
    with_mac = {**data, "value": [_value(2000, "ip", "1.2.3.4"), _value(2001, "mac", "aa")]}
    assert _call(pumps, node, "POST", DATA, json=with_mac)["status"] == -2  # disabled item
    with_sn = {**data, "value": [_value(2000, "ip", "1.2.3.4"), _value(2002, "sn", "S1")]}
    assert _call(pumps, node, "POST", DATA, json=with_sn) == OK

    update["items"][1] = {**_item("e2", "mac2", 2001), "state": 0}  # renamed: refused
    assert _call(pumps, node, "PUT", TEMPLATE, json=update)["status"] == -2
    assert stored_items()[1] == ("mac", 2001, False)

    delete = fixture("template_delete_v5.json", {"88.101.0042": PUMPS, "1.0.1": version})
    assert _call(pumps, node, "DELETE", TEMPLATE, json=delete) == OK
    assert _stored(node, record) is None
    assert _call(pumps, node, "GET", TEMPLATE, params=delete)["status"] == -2


def test_worker_processes_share_the_token_key(tmp_path: Path) -> None:
    n = NodeProcess(tmp_path, http_options="workers = 2")
    try:
        tokens = []
        for _ in range(6):  # new connections, spread over both workers by the kernel
            answer = _token(n, username=n.operator, password="operator-secret")
            assert answer["status"] == 1, answer
            tokens.append(answer["data"]["token"])
        for token in tokens * 2:
            r = requests.get(
                f"{n.url}{DATA}/detail",
                params={"handle": "0.NA/88.118"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert r.json()["status"] == 1, r.text
        assert [p.name for p in (tmp_path / "data").glob("*snms*")] == [KEY_FILE]
    finally:
        n.stop()
