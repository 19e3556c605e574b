"""``POST /api/scan`` on a resolver: what scanners send (symbology identifiers, GS-separated
AI data, Digital Link URIs in QR codes, URLs and bare identifiers) resolved to records held
by an enterprise node two tiers down, GS1 keys through the company prefix index and the
enterprise's bindings (walk-up, rules, aliases)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import NodeProcess, gs1_federation, tierid_cli

ITEM = "88.120.1/PUMP-000123"
MODEL_GTIN = "06905550100016"
GCP = "69055501"


@dataclass
class Nodes:
    enterprise: NodeProcess
    resolver: NodeProcess

    def scan(self, **body: str) -> tuple[int, dict]:
        r = self.resolver.session().post(self.resolver.url + "/api/scan", json=body)
        return r.status_code, r.json()


RECORDS = {
    ITEM: [{"type": "URL", "data": "https://pumps.example/p/000123"}],
    f"88.120.1/01/{MODEL_GTIN}": [
        {"type": "URL", "data": "https://pumps.example/models/CP-200"},
        {"type": "GS1.RULE", "data": "88.120.1/PUMP-{21}"},
    ],
    f"88.120.1/01/{MODEL_GTIN}/10/LOT7": [{"type": "URL", "data": "https://pumps.example/lots/7"}],
    f"88.120.1/01/{MODEL_GTIN}/10/LOT7/21/S1": [
        {"type": "URL", "data": "https://pumps.example/recalled/S1"}
    ],
    f"88.120.1/01/{MODEL_GTIN}/10/A%2FB": [
        {"type": "URL", "data": "https://pumps.example/lots/AB"}
    ],
}


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    root = tmp_path_factory.mktemp("scan")
    with gs1_federation(root, "88.120.1", GCP, RECORDS) as (enterprise, resolver):
        yield Nodes(enterprise, resolver)


def _url(body: dict) -> str:
    return next(v["data"]["value"] for v in body["values"] if v["type"] == "URL")


@pytest.mark.parametrize(
    "scanned",
    [
        f"]Q301{MODEL_GTIN}21000123",  # GS1 QR code
        f"]d201{MODEL_GTIN}10LOT9\x1d21000123",  # GS1 DataMatrix, lot unbound: walks up
        f"\x1d01{MODEL_GTIN}21000123",  # AI data with its leading FNC1
        f"(01){MODEL_GTIN}(21)000123",  # the text under the barcode
        f"]Q1https://id.example.com/01/{MODEL_GTIN}/21/000123?linkType=gs1:pip",  # DL in QR
        f"https://scan.example/api/handles/{ITEM}",  # a URL carrying the identifier
        ITEM,
    ],
)
def test_a_scan_of_the_serialised_pump_finds_its_record(nodes: Nodes, scanned: str) -> None:
    status, body = nodes.scan(scan=scanned)
    assert status == 200, body
    assert body["responseCode"] == 1 and body["handle"] == ITEM
    assert _url(body) == "https://pumps.example/p/000123"


def test_the_finest_binding_wins_and_a_model_scan_gets_the_model(nodes: Nodes) -> None:
    status, body = nodes.scan(scan=f"]C101{MODEL_GTIN}10LOT7")
    assert status == 200 and body["handle"] == f"88.120.1/01/{MODEL_GTIN}/10/LOT7"
    assert body["scan"] == {
        "from": "element-string",
        "symbology": "GS1_128",
        "gs1": f"(01){MODEL_GTIN}(10)LOT7",
        "key": f"01/{MODEL_GTIN}/10/LOT7",
    }
    status, body = nodes.scan(scan=f"]E0{MODEL_GTIN[1:]}")  # the EAN-13 on the box
    assert status == 200 and _url(body) == "https://pumps.example/models/CP-200"


def test_raw_bytes_in_base64_with_fnc1_as_0xe8(nodes: Nodes) -> None:
    raw = b"\xe801" + MODEL_GTIN.encode() + b"21000123"
    status, body = nodes.scan(base64=base64.b64encode(raw).decode())
    assert status == 200 and body["handle"] == ITEM


def test_bad_scans_get_a_precise_error(nodes: Nodes) -> None:
    status, body = nodes.scan(scan=f"(01){MODEL_GTIN[:-1]}7(21)000123")
    assert status == 400 and body["responseCode"] == 102
    assert body["ai"] == "01" and body["linter"] == "GS1_LINTER_INCORRECT_CHECK_DIGIT"
    assert body["markup"] == f"{MODEL_GTIN[:-1]}*7*"
    # a scanner that dropped the separators: two readings, both reported, none guessed
    status, body = nodes.scan(scan=f"01{MODEL_GTIN}10ABC21XYZ")
    assert status == 400 and sorted(body["candidates"]) == [
        f"(01){MODEL_GTIN}(10)ABC(21)XYZ",
        f"(01){MODEL_GTIN}(10)ABC21XYZ",
    ]
    status, body = nodes.scan(scan="(400)PO-2026-77")
    assert status == 400 and "no GS1 primary key" in body["message"]
    status, body = nodes.scan(scan="01069055501000")  # no check digit and no company
    assert status == 400
    status, body = nodes.scan(base64="***")
    assert status == 400 and body["responseCode"] == 4


def test_a_slash_in_a_value_is_part_of_the_value(nodes: Nodes) -> None:
    """Lot ``LOT7/21/S1`` (CSET 82 allows ``/``) is not lot LOT7 with serial S1: unbound, it
    walks up to the model; a bound lot with a ``/`` is found."""
    status, body = nodes.scan(scan=f"(01){MODEL_GTIN}(10)LOT7/21/S1")
    assert status == 200 and _url(body) == "https://pumps.example/models/CP-200", body
    assert body["scan"]["key"] == f"01/{MODEL_GTIN}/10/LOT7%2F21%2FS1"
    status, body = nodes.scan(scan=f"(01){MODEL_GTIN}(10)A/B")
    assert status == 200 and _url(body) == "https://pumps.example/lots/AB", body


@pytest.mark.parametrize(
    "scanned",
    [
        "]Q1" * 2000 + "88.120.1/X",  # recursed once per symbology identifier
        "https://[::1/01/06905550100016",  # urlsplit's ValueError
    ],
)
def test_malformed_scans_are_clear_errors(nodes: Nodes, scanned: str) -> None:
    status, body = nodes.scan(scan=scanned)
    assert (status, body["responseCode"]) == (400, 102), body


def test_what_scanners_and_codes_add_is_read_as_meant(nodes: Nodes) -> None:
    """A scanner's Tab suffix, a Digital Link with a trailing slash, and the host a URL
    named (an app can warn when a code points somewhere unexpected)."""
    status, body = nodes.scan(scan=f"]Q301{MODEL_GTIN}21000123\t")
    assert status == 200 and body["handle"] == ITEM, body
    status, body = nodes.scan(scan=f"https://id.example.com/01/{MODEL_GTIN}/21/000123/")
    assert status == 200 and body["handle"] == ITEM, body
    assert body["scan"]["host"] == "id.example.com"
    status, body = nodes.scan(scan=f"https://elsewhere.example/{ITEM}")
    assert status == 200 and body["scan"]["host"] == "elsewhere.example"
    status, body = nodes.scan(scan=f"https://elsewhere.example/{ITEM}/")  # another identifier
    assert status == 404, body


@pytest.mark.parametrize(
    ("scanned", "expected"),
    [("4006381333932", "check digit is 2, expected 1"), ("69055501000162", "expected 8")],
)
def test_a_gtin_with_a_wrong_check_digit_says_so(nodes: Nodes, scanned: str, expected: str) -> None:
    """Not "reads more than one way" or "no AI starts with ...": the digits have a GTIN's
    length and read as no AI data, so the check digit is what is wrong."""
    status, body = nodes.scan(scan=scanned)
    assert (status, body["responseCode"]) == (400, 102) and expected in body["message"], body


def test_an_unbound_gtin_is_not_found(nodes: Nodes) -> None:
    status, body = nodes.scan(scan="]E04006381333931")  # a company nobody registered
    assert status == 404 and body["responseCode"] == 100


def test_the_cli_sends_raw_scanner_bytes(nodes: Nodes) -> None:
    node = nodes.resolver.url
    out = tierid_cli("scan", "--escapes", rf"]d201{MODEL_GTIN}10LOT7\x1d21000123", "--node", node)
    # serial 000123 of lot LOT7: the lot's binding is the finest one there is
    assert "from: element-string" in out.stdout and "https://pumps.example/lots/7" in out.stdout
    bad = tierid_cli("scan", f"01{MODEL_GTIN}10ABC21XYZ", "--node", node, check=False)
    assert bad.returncode == 1 and "reads more than one way" in bad.stderr
    assert "Traceback" not in bad.stderr
