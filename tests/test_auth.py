"""Authentication (Basic with HS_SECKEY) and authorization (HS_ADMIN, HS_VLIST, the
governing prefix record) on a real node."""

from __future__ import annotations

import requests

from resolver.typed_data import VList
from tests.conftest import MOTORS_ADMIN, OPERATOR, PUMPS_ADMIN, NodeProcess
from tests.test_http_api import record


def test_unauthenticated_write_is_challenged(node: NodeProcess) -> None:
    r = requests.put(node.api("88.118.8/ANON"), json=record())
    assert (r.status_code, r.json()["responseCode"]) == (401, 402)
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    r = requests.delete(node.api("88.118.8/ANON"))
    assert r.status_code in (401, 404)


def test_a_write_that_changes_nothing_is_no_oracle_for_private_values(
    node: NodeProcess,
) -> None:
    """A write is authenticated and authorized before anything about it is looked at. An
    anonymous PUT of a private value's exact content was let through (200, and logged as a
    change) where any other content got 401: a yes/no test of private values; refusals
    also named which private indexes exist."""
    pumps, motors = node.session(PUMPS_ADMIN), node.session(MOTORS_ADMIN)
    secret = {"index": 2006, "type": "COST", "data": "4711", "permissions": "1100"}
    assert pumps.put(node.api("88.118.8/SECRET"), json=[*record(), secret]).status_code == 201
    url = node.api("88.118.8/SECRET")
    guesses = [
        ("put", {"index": "2006"}, [secret]),  # the right content
        ("put", {"index": "2006"}, [{**secret, "data": "1"}]),  # a wrong one
        ("put", {"index": "2006", "overwrite": "false"}, [secret]),  # does 2006 exist?
        ("put", {"index": "2007", "overwrite": "false"}, [{**secret, "index": 2007}]),
        ("put", {"index": "various"}, []),  # nothing at all
        ("delete", {"index": "2006"}, None),
        ("delete", {"index": "2007"}, None),
        ("put", {}, [*record(), secret]),  # the whole record, right and wrong
        ("put", {}, [*record(), {**secret, "data": "1"}]),
        ("put", {}, record()),  # does 2006 exist (removing it would take REMOVE_VALUE)?
    ]
    for session, expected in ((requests, (401, 402)), (motors, (403, 401))):
        for method, params, body in guesses:
            r = getattr(session, method)(url, params=params, json=body)
            assert (r.status_code, r.json()["responseCode"]) == expected, (method, params)
            assert "2006" not in r.text and "VALUE" not in r.text  # no permission named
        for guess in ([*record(), secret], [*record(), {**secret, "data": "1"}]):
            item = {"handle": "88.118.8/SECRET", "values": guess}
            r = session.post(
                f"{node.url}/api/batch", json={"op": "upsert", "atomic": False, "items": [item]}
            )
            if session is requests:
                assert (r.status_code, r.json()["responseCode"]) == (401, 402)
            else:  # the same refusal whatever the record holds
                assert r.json()["items"][0]["responseCode"] == 401, r.text
                assert "may not change" in r.json()["items"][0]["message"]
    audit = node.session(node.operator).get(f"{node.url}/api/audit", params={"prefix": "88.118.8"})
    ops = [e["op"] for e in audit.json()["entries"] if e["handle"] == "88.118.8/SECRET"]
    assert ops == ["create"]  # and nothing after it
    # the record's own admin may still rewrite it unchanged
    assert pumps.put(url, params={"index": "2006"}, json=[secret]).status_code == 200


def test_wrong_or_malformed_credentials_are_403(node: NodeProcess) -> None:
    from resolver.http_client import basic_header

    for header in (
        basic_header(PUMPS_ADMIN, b"wrong"),
        basic_header("300:0.NA/88.118.77", b"x"),
        basic_header("301:0.NA/88.118.8", b"pump-secret"),  # no HS_SECKEY at 301
        "Basic !!!notbase64",
        "Bearer abc",
    ):
        r = requests.put(
            node.api("88.118.8/WRONG"), json=record(), headers={"Authorization": header}
        )
        assert (r.status_code, r.json()["responseCode"]) == (403, 403), header
    assert requests.get(node.api("88.118.8/WRONG")).status_code == 404


def test_index_zero_means_any_key_index(node: NodeProcess) -> None:
    from resolver.http_client import basic_header

    header = basic_header("0.NA/88.118.8", b"pump-secret")  # no "index:" part -> index 0
    r = requests.put(
        node.api("88.118.8/ANY-INDEX"), json=record(), headers={"Authorization": header}
    )
    assert r.status_code == 201


def test_a_sibling_enterprise_cannot_touch_another_prefix(node: NodeProcess) -> None:
    pumps, motors = node.session(PUMPS_ADMIN), node.session(MOTORS_ADMIN)
    assert pumps.put(node.api("88.118.8/OWNED"), json=record()).status_code == 201
    for r in (
        motors.put(node.api("88.118.8/INTRUDER"), json=record()),
        motors.put(node.api("88.118.8/OWNED"), json=record("https://evil.example")),
        motors.put(
            node.api("88.118.8/OWNED"),
            params={"index": "5"},
            json=[{"index": 5, "type": "X", "data": "y"}],
        ),
        motors.delete(node.api("88.118.8/OWNED"), params={"index": "1"}),
        motors.delete(node.api("88.118.8/OWNED")),
        motors.put(node.api("0.NA/88.118.8"), json=record()),
    ):
        assert (r.status_code, r.json()["responseCode"]) == (403, 401), r.text
    assert (
        requests.get(node.api("88.118.8/OWNED")).json()["values"][0]["data"]["value"]
        == "https://pumps.example/p"
    )
    assert requests.get(node.api("88.118.8/INTRUDER")).status_code == 404


def test_private_values_only_for_authorized_readers(node: NodeProcess) -> None:
    pumps = node.session(PUMPS_ADMIN)
    values = record() + [{"index": 2005, "type": "COST", "data": "1830 CNY", "permissions": "1100"}]
    pumps.put(node.api("88.118.8/PRIVATE"), json=values)
    indexes = lambda r: [v["index"] for v in r.json()["values"]]  # noqa: E731
    assert indexes(requests.get(node.api("88.118.8/PRIVATE"))) == [1, 100]
    assert indexes(pumps.get(node.api("88.118.8/PRIVATE"))) == [1, 100, 2005]
    assert indexes(pumps.get(node.api("88.118.8/PRIVATE"), params={"publicOnly": "true"})) == [
        1,
        100,
    ]
    assert indexes(node.session(MOTORS_ADMIN).get(node.api("88.118.8/PRIVATE"))) == [1, 100]
    r = requests.get(node.api("88.118.8/PRIVATE"), params={"publicOnly": "false"})
    assert (r.status_code, r.json()["responseCode"]) == (401, 402)
    r = requests.get(node.api("88.118.8/PRIVATE"), params={"index": "2005"})
    assert (r.status_code, r.json()["responseCode"], r.json()["values"]) == (200, 200, [])


def test_admin_groups_grant_exactly_their_permissions(node: NodeProcess) -> None:
    """HS_ADMIN -> 200:0.NA/88.118.8, an HS_VLIST naming 300:88.118.8/OPS (modify only)."""
    pumps = node.session(PUMPS_ADMIN)
    group = VList((("88.118.8/OPS", 300),))
    r = pumps.put(
        node.api("0.NA/88.118.8"),
        params={"index": "200"},
        json=[
            {
                "index": 200,
                "type": "HS_VLIST",
                "data": {"format": "vlist", "value": group.to_json()},
            }
        ],
    )
    assert r.status_code == 201, r.text
    r = pumps.put(
        node.api("88.118.8/OPS"),
        json=[{"index": 300, "type": "HS_SECKEY", "data": "ops-secret", "permissions": "1100"}],
    )
    assert r.status_code == 201
    node.secrets["300:88.118.8/OPS"] = b"ops-secret"
    grant = {
        "index": 101,
        "type": "HS_ADMIN",
        "data": {
            "format": "admin",
            "value": {"handle": "0.NA/88.118.8", "index": 200, "permissions": "000000010000"},
        },
    }  # MODIFY_VALUE
    assert pumps.put(node.api("88.118.8/GROUPED"), json=record() + [grant]).status_code == 201

    ops = node.session("300:88.118.8/OPS")
    r = ops.put(
        node.api("88.118.8/GROUPED"),
        params={"index": "1"},
        json=[{"index": 1, "type": "URL", "data": "https://pumps.example/moved"}],
    )
    assert (r.status_code, r.json()["responseCode"]) == (200, 1)
    r = ops.put(
        node.api("88.118.8/GROUPED"),
        params={"index": "7"},
        json=[{"index": 7, "type": "X", "data": "y"}],
    )
    assert (r.status_code, r.json()["responseCode"]) == (403, 401)  # ADD_VALUE not granted
    r = ops.delete(node.api("88.118.8/GROUPED"))
    assert (r.status_code, r.json()["responseCode"]) == (403, 401)
    assert (
        requests.get(node.api("88.118.8/GROUPED"), params={"index": "1"}).json()["values"][0][
            "data"
        ]["value"]
        == "https://pumps.example/moved"
    )


def test_parent_tier_administers_the_delegation_but_not_the_records(node: NodeProcess) -> None:
    """The enterprise delegates 88.118.8.1 to a workshop: it may edit 0.NA/88.118.8.1 (its
    delegation record) but not the workshop's records; the workshop cannot touch 88.118.8."""
    node.create_enterprise("88.118.8.1", b"workshop-secret")  # operator creates and homes it
    workshop = node.session("300:0.NA/88.118.8.1")
    owned = [
        {"index": 1, "type": "URL", "data": "https://w.example"},
        {
            "index": 100,
            "type": "HS_ADMIN",
            "data": {
                "format": "admin",
                "value": {"handle": "0.NA/88.118.8.1", "index": 300, "permissions": "011111111111"},
            },
        },
    ]
    assert workshop.put(node.api("88.118.8.1/PART-1"), json=owned).status_code == 201
    pumps = node.session(PUMPS_ADMIN)
    r = pumps.put(
        node.api("88.118.8.1/PART-1"),
        params={"index": "1"},
        json=[{"index": 1, "type": "URL", "data": "https://hijack.example"}],
    )
    assert (r.status_code, r.json()["responseCode"]) == (403, 401)
    r = pumps.put(
        node.api("0.NA/88.118.8.1"),
        params={"index": "2"},
        json=[{"index": 2, "type": "DESC", "data": "Workshop 1"}],
    )
    assert r.status_code == 201
    r = workshop.put(node.api("88.118.8/FROM-WORKSHOP"), json=owned)
    assert (r.status_code, r.json()["responseCode"]) == (403, 401)


def test_homing_needs_a_server_admin(node: NodeProcess) -> None:
    r = node.session(PUMPS_ADMIN).post(f"{node.url}/api/prefixes/88.118.77")
    assert (r.status_code, r.json()["responseCode"]) == (403, 401)
    r = node.session(OPERATOR).post(f"{node.url}/api/prefixes/88.118.77")
    assert r.status_code == 200
    assert "88.118.77" in requests.get(f"{node.url}/api/prefixes").json()["prefixes"]
    assert node.session(OPERATOR).delete(f"{node.url}/api/prefixes/88.118.77").status_code == 200
    assert "88.118.77" not in requests.get(f"{node.url}/api/prefixes").json()["prefixes"]


def test_plain_http_refuses_credentials_unless_allowed(tmp_path) -> None:
    strict = NodeProcess(tmp_path, insecure_auth=False)
    try:
        r = strict.session(OPERATOR).put(strict.api("0.NA/88.118.5"), json=record())
        assert (r.status_code, r.json()["responseCode"]) == (403, 403)
        assert "HTTPS" in r.json()["message"]
        assert requests.get(strict.api("0.NA/88.118")).json()["responseCode"] == 1
    finally:
        strict.stop()
