"""Metadata templates: the model's own rules, then a real node checking records against them
at write time (single writes, bulk import with --template, the template's lifecycle)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from resolver.client import Client
from resolver.errors import InvalidValue
from resolver.templates import Item, Template
from resolver.values import HandleValue
from tests.conftest import PUMPS, PUMPS_ADMIN, NodeProcess, tierid_cli

PUMP = {
    "name": "pump",
    "version": "2",
    "description": "Centrifugal pumps",
    "industry": {"category": "C", "specific": "34", "trade": "344", "subclass": "3444"},
    "items": [
        {"key": "MODEL", "name": "型号", "index": 2001, "required": True, "maxLength": 16},
        {"key": "PRODUCTION_DATE", "name": "生产日期", "index": 2002, "type": "date"},
        {"key": "FLOW", "name": "Flow m3/h", "index": 2003, "type": "number"},
        {"key": "MANUAL", "name": "Manual", "index": 2004, "type": "url"},
        {"key": "REF.MOTOR", "name": "Motor", "index": 2005, "type": "identifier"},
    ],
}
REF = f"{PUMPS}/TEMPLATE/pump/2"


def _v(index: int, vtype: str, text: str) -> HandleValue:
    return HandleValue(index, vtype, text.encode())


# --- the model ----------------------------------------------------------------------------


BAD_TEMPLATES = {
    "index-below-2000": {"items": [{"key": "A", "index": 1999}]},
    "unknown-type": {"items": [{"key": "A", "index": 2000, "type": "blob"}]},
    "same-index": {"items": [{"key": "A", "index": 2000}, {"key": "B", "index": 2000}]},
    "same-key": {"items": [{"key": "A", "index": 2000}, {"key": "a", "index": 2001}]},
    "lengths": {"items": [{"key": "A", "index": 2000, "minLength": 5, "maxLength": 4}]},
    "key-not-a-type": {"items": [{"key": "1A", "index": 2000}]},
    "industry-chain": {"industry": {"category": "C", "specific": "34", "trade": "351"}},
    "industry-gap": {"industry": {"category": "C", "trade": "344"}},
    "status": {"status": "live"},
    "name": {"name": "a/b"},
}


@pytest.mark.parametrize("change", BAD_TEMPLATES.values(), ids=BAD_TEMPLATES.keys())
def test_malformed_templates_are_refused(change: dict) -> None:
    with pytest.raises(InvalidValue):
        Template.from_json({**PUMP, **change})


ITEM_CASES = [
    ("number", "12.5", True),
    ("number", "1e3", False),
    ("date", "2024-02-29", True),
    ("date", "2023-02-29", False),
    ("date", "29.02.2024", False),
    ("url", "https://pumps.example.cn/m.pdf", True),
    ("url", "ftp://x/y", False),
    ("identifier", "88.118.9/MOTOR-1", True),
    ("identifier", "not an identifier", False),
]


@pytest.mark.parametrize(("kind", "text", "fits"), ITEM_CASES)
def test_item_types(kind: str, text: str, fits: bool) -> None:
    item = Item("X", "x", 2000, kind)
    if fits:
        item.check(_v(2000, "X", text))
    else:
        with pytest.raises(InvalidValue):
            item.check(_v(2000, "X", text))


def test_records_must_fit_the_template() -> None:
    pump = Template.from_json({**PUMP, "status": "published"})
    good = [_v(1, "URL", "https://x"), _v(2001, "MODEL", "CP-200"), _v(2003, "FLOW", "40")]
    pump.check_record(good)
    for bad in (
        [_v(2003, "FLOW", "40")],  # MODEL is required
        [_v(2001, "MODEL", "X" * 17)],  # longer than 16
        [_v(2001, "SERIES", "CP")],  # index 2001 is MODEL
        [_v(2001, "MODEL", "CP"), _v(2099, "COLOR", "red")],  # not an item
    ):
        with pytest.raises(InvalidValue):
            pump.check_record(bad)


def test_items_are_disabled_never_removed() -> None:
    old = Template.from_json(PUMP)
    disabled = json.loads(json.dumps(PUMP))
    disabled["items"][2]["enabled"] = False
    old.check_successor(Template.from_json(disabled))
    dropped = {**PUMP, "items": PUMP["items"][:-1]}
    renamed = json.loads(json.dumps(PUMP))
    renamed["items"][0]["key"] = "SERIES"
    for new in (dropped, renamed):
        with pytest.raises(InvalidValue):
            old.check_successor(Template.from_json(new))
    with pytest.raises(InvalidValue):
        Template.from_json(disabled).check_record([_v(2001, "MODEL", "CP"), _v(2003, "FLOW", "1")])


# --- a real node ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    n = NodeProcess(tmp_path_factory.mktemp("node"))
    try:
        n.create_enterprise(PUMPS, b"pump-secret")
        yield n
    finally:
        n.stop()


@pytest.fixture(scope="module")
def login(node: NodeProcess, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    secret = tmp_path_factory.mktemp("secret") / "pumps.secret"
    secret.write_bytes(b"pump-secret")
    return ("--node", node.url, "--auth", PUMPS_ADMIN, "--secret-file", str(secret))


def _record(**values: str) -> list[dict]:
    indexes = {"MODEL": 2001, "PRODUCTION_DATE": 2002, "FLOW": 2003, "TEMPLATE": 1000}
    return [{"index": indexes[k], "type": k, "data": v} for k, v in values.items()]


def test_a_template_from_draft_to_withdrawn(
    node: NodeProcess, login: tuple[str, ...], tmp_path: Path
) -> None:
    spec = tmp_path / "pump.json"
    spec.write_text(json.dumps(PUMP, ensure_ascii=False))
    assert tierid_cli("template", "put", str(spec), "--prefix", PUMPS, *login).stdout.startswith(
        f"created {REF}"
    )
    pumps = node.session(PUMPS_ADMIN)
    draft = pumps.put(node.api(f"{PUMPS}/T-1"), json=_record(MODEL="CP-200", TEMPLATE=REF))
    assert (draft.status_code, draft.json()["responseCode"]) == (400, 202)
    assert "draft" in draft.json()["message"]

    tierid_cli("template", "publish", PUMPS, "pump", "2", *login)
    ok = pumps.put(node.api(f"{PUMPS}/T-1"), json=_record(MODEL="CP-200", TEMPLATE=REF))
    assert ok.status_code == 201, ok.text
    page = node.session().get(f"{node.url}/{PUMPS}/T-1", params={"noredirect": ""}).text
    assert "<dt>型号</dt><dd>CP-200</dd>" in page  # the item's name, not its type
    missing = pumps.put(node.api(f"{PUMPS}/T-2"), json=_record(FLOW="40", TEMPLATE=REF))
    assert missing.json()["responseCode"] == 202 and "型号" in missing.json()["message"]
    bad_date = _record(MODEL="CP", PRODUCTION_DATE="2024-13-01", TEMPLATE=REF)
    assert pumps.put(node.api(f"{PUMPS}/T-3"), json=bad_date).json()["responseCode"] == 202
    # adding a value later is checked too, against the record it makes
    added = pumps.put(
        node.api(f"{PUMPS}/T-1"),
        params={"index": "2003"},
        json=[{"index": 2003, "type": "FLOW", "data": "fast"}],
    )
    assert added.json()["responseCode"] == 202

    shown = tierid_cli("template", "show", PUMPS, "pump", "2", *login).stdout
    assert "生产日期" in shown and "published" in shown

    dropped = {**PUMP, "status": "published", "items": PUMP["items"][:2]}
    spec.write_text(json.dumps(dropped))
    refused = tierid_cli("template", "put", str(spec), "--prefix", PUMPS, *login, check=False)
    assert refused.returncode == 1 and "cannot be removed" in refused.stderr

    tierid_cli("template", "withdraw", PUMPS, "pump", "2", *login)
    late = pumps.put(node.api(f"{PUMPS}/T-4"), json=_record(MODEL="CP-200", TEMPLATE=REF))
    assert late.json()["responseCode"] == 202 and "withdrawn" in late.json()["message"]
    # a template only moves forward: withdrawn stays withdrawn
    again = tierid_cli("template", "publish", PUMPS, "pump", "2", *login, check=False)
    assert again.returncode == 1 and "cannot become published" in again.stderr


def test_a_template_keeps_its_order_its_values_and_its_fields(
    node: NodeProcess, login: tuple[str, ...], tmp_path: Path
) -> None:
    """Publishing went back to draft by a second ``put`` (refusing every record using it),
    publishing or withdrawing replaced the whole record (other values lost), and a misspelt
    field ("requried") was dropped without a word."""
    spec = tmp_path / "keep.json"
    spec.write_text(json.dumps({**PUMP, "name": "keep", "status": "draft"}, ensure_ascii=False))
    tierid_cli("template", "put", str(spec), "--prefix", PUMPS, *login)
    ref = f"{PUMPS}/TEMPLATE/keep/2"
    pumps = node.session(PUMPS_ADMIN)
    note = [{"index": 2, "type": "DESC", "data": "kept by the publisher"}]
    assert pumps.put(node.api(ref), params={"index": "2"}, json=note).status_code in (200, 201)
    tierid_cli("template", "publish", PUMPS, "keep", "2", *login)
    values = {v["index"]: v for v in pumps.get(node.api(ref)).json()["values"]}
    assert set(values) == {1, 2} and '"published"' in values[1]["data"]["value"]
    back = tierid_cli("template", "put", str(spec), "--prefix", PUMPS, *login, check=False)
    assert back.returncode == 1 and "cannot become draft" in back.stderr
    typo = {**PUMP, "name": "typo", "items": [{"key": "MODEL", "index": 2001, "requried": True}]}
    spec.write_text(json.dumps(typo))
    refused = tierid_cli("template", "put", str(spec), "--prefix", PUMPS, *login, check=False)
    assert refused.returncode == 1 and "requried" in refused.stderr
    # the record cannot drop its template value either (its items would go with it)
    gone = pumps.put(node.api(ref), json=note)
    assert gone.json()["responseCode"] == 202 and "keeps its template" in gone.json()["message"]


def test_import_registers_rows_against_a_template(
    node: NodeProcess, login: tuple[str, ...], tmp_path: Path
) -> None:
    rows = tmp_path / "pumps.csv"
    with rows.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow([f"{PUMPS}/IMP-1", 2001, "MODEL", "CP-200", 2003, "FLOW", "40"])
        out.writerow([f"{PUMPS}/IMP-2", 2003, "FLOW", "40"])  # no MODEL
        out.writerow([f"{PUMPS}/IMP-3", 2001, "MODEL", "CP-300"])
    # a misspelt template rejects every row; fixing the option is another import, not
    # "already imported"
    done = tierid_cli("import", str(rows), "--template", "pmup/2", *login, check=False)
    assert "3 rows: 0 created, 0 replaced, 0 skipped (unchanged), 3 rejected" in done.stdout
    spec = tmp_path / "pump3.json"  # pump/2 was withdrawn above
    spec.write_text(json.dumps({**PUMP, "version": "3", "status": "draft"}, ensure_ascii=False))
    tierid_cli("template", "put", str(spec), "--prefix", PUMPS, *login)
    tierid_cli("template", "publish", PUMPS, "pump", "3", *login)
    done = tierid_cli("import", str(rows), "--template", "pump/3", *login, check=False)
    with (tmp_path / "pumps.csv.results.csv").open() as f:
        outcome = {r["handle"]: r for r in csv.DictReader(f)}
    assert outcome[f"{PUMPS}/IMP-1"]["result"] == "created", (done.stdout, done.stderr)
    assert outcome[f"{PUMPS}/IMP-3"]["result"] == "created"
    rejected = outcome[f"{PUMPS}/IMP-2"]
    assert (rejected["result"], rejected["code"]) == ("rejected", "202")
    assert "型号" in rejected["reason"]
    stored = node.session().get(node.api(f"{PUMPS}/IMP-1")).json()["values"]
    assert {v["index"]: v["data"]["value"] for v in stored}[1000] == f"{PUMPS}/TEMPLATE/pump/3"
    assert {v["index"]: v["data"]["value"] for v in stored}[1001] == "3"


# --- item names in the JSON API (?itemNames=true) ------------------------------------------

VALVE = {
    "name": "valve",
    "version": "1",
    "status": "published",
    "items": [
        {"key": "MODEL", "name": "型号", "index": 2001},
        {"key": "FLOW", "name": "Flow m3/h", "index": 2003, "type": "number"},
    ],
}


def _publish(node: NodeProcess, template: dict) -> str:
    """Store a published template record directly (the CLI's ``template put`` + ``publish``)."""
    ref = f"{PUMPS}/TEMPLATE/{template['name']}/{template['version']}"
    value = {"index": 1, "type": "TIERID.TEMPLATE", "data": json.dumps(template)}
    r = node.session(PUMPS_ADMIN).put(node.api(ref), json=[value])
    assert r.status_code in (200, 201), r.text
    return ref


def _valve(node: NodeProcess, handle: str, ref: str) -> None:
    values = [
        {"index": 1, "type": "URL", "data": "https://valves.example.cn/v"},
        {"index": 100, "type": "DESC", "data": "Gate valve"},
        {"index": 1000, "type": "TEMPLATE", "data": ref},
        {"index": 2001, "type": "MODEL", "data": "GV-50"},
        {"index": 2003, "type": "FLOW", "data": "12"},
    ]
    r = node.session(PUMPS_ADMIN).put(node.api(handle), json=values)
    assert r.status_code == 201, r.text


def _items(url: str) -> dict[int, dict | None]:
    body = requests.get(url, params={"itemNames": "true"}, timeout=10).json()
    return {v["index"]: v.get("item") for v in body["values"]}


def _without_items(body: dict) -> dict:
    return {**body, "values": [{k: x for k, x in v.items() if k != "item"} for v in body["values"]]}


@pytest.fixture(scope="module")
def resolver(node: NodeProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    n = NodeProcess(tmp_path_factory.mktemp("resolver"), prefix=None, roots=[node.url])
    try:
        yield n
    finally:
        n.stop()


def test_the_json_api_names_values_by_template_items(node: NodeProcess) -> None:
    _valve(node, f"{PUMPS}/V-1", _publish(node, VALVE))
    url = node.api(f"{PUMPS}/V-1")
    plain = requests.get(url, timeout=10)
    named = requests.get(url, params={"itemNames": "true"}, timeout=10)
    assert all("item" not in v for v in plain.json()["values"])  # Handle.Net's shape
    assert _without_items(named.json()) == plain.json()
    assert {v["index"]: v.get("item") for v in named.json()["values"]} == {
        1: None,  # the record's own values are not the template's
        100: None,
        1000: None,
        2001: {"key": "MODEL", "name": "型号"},
        2003: {"key": "FLOW", "name": "Flow m3/h"},
    }
    assert requests.get(url, timeout=10).content == plain.content
    for chosen in ({"index": "2001"}, {"type": "MODEL"}):  # the template value not among them
        one = requests.get(url, params={"itemNames": "true", **chosen}, timeout=10).json()
        assert [v.get("item") for v in one["values"]] == [{"key": "MODEL", "name": "型号"}]
    with Client(node.url) as c:
        assert c.resolve(f"{PUMPS}/V-1", item_names=True)["values"] == named.json()["values"]
        assert c.resolve(f"{PUMPS}/V-1")["values"] == plain.json()["values"]


def test_item_names_without_a_readable_template_leave_values_alone(node: NodeProcess) -> None:
    plain = [{"index": 1, "type": "URL", "data": "https://valves.example.cn/p"}]
    admin = node.session(PUMPS_ADMIN)
    assert admin.put(node.api(f"{PUMPS}/V-PLAIN"), json=plain).status_code == 201
    assert set(_items(node.api(f"{PUMPS}/V-PLAIN")).values()) == {None}
    # the template record is deleted after the record was registered against it
    gone = _publish(node, {**VALVE, "name": "valve-gone"})
    _valve(node, f"{PUMPS}/V-GONE", gone)
    assert admin.delete(node.api(gone)).status_code == 200
    assert requests.get(node.api(gone), timeout=10).status_code == 404
    before = requests.get(node.api(f"{PUMPS}/V-GONE"), timeout=10).json()
    after = requests.get(node.api(f"{PUMPS}/V-GONE"), params={"itemNames": ""}, timeout=10)
    assert after.status_code == 200 and after.json() == before


def test_a_resolver_names_values_by_template_items(
    node: NodeProcess, resolver: NodeProcess
) -> None:
    _valve(node, f"{PUMPS}/V-RES", _publish(node, VALVE))
    url = resolver.api(f"{PUMPS}/V-RES")
    plain = requests.get(url, timeout=10).json()  # a miss, then a cached answer
    assert requests.get(url, timeout=10).json() == plain
    assert all("item" not in v for v in plain["values"])
    items = _items(url)
    assert items[2001] == {"key": "MODEL", "name": "型号"} and items[100] is None
