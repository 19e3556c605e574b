"""The value model and its two encodings (binary data and Handle.Net JSON), checked
against the real global root records shipped with Handle.Net."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resolver import wirebase as wb
from resolver.errors import InvalidValue, ProtocolError
from resolver.json_values import data_from_json, data_to_json, value_from_json, value_to_json
from resolver.typed_data import AdminRef, SiteInfo, VList, admin_perms_from_json
from resolver.values import HandleValue, first_url, select, type_matches

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "handle"
needs_vectors = pytest.mark.skipif(
    not VECTORS.exists(), reason="shared/vectors not beside the checkout"
)


def _root_info_values() -> list[tuple[str, bytes]]:
    data = (VECTORS / "root_info.bin").read_bytes()
    r = wb.Reader(data)
    assert r.u32() == len(data) - 4
    out = []
    for _ in range(r.u32()):
        r.u32(), r.u32(), r.u8(), r.u32(), r.u8()
        vtype, vdata = r.utf8(), r.byte_array()
        for _ in range(r.u32()):
            r.utf8(), r.u32()
        out.append((vtype, vdata))
    r.expect_end()
    return out


@needs_vectors
def test_root_info_structured_values_round_trip_byte_for_byte() -> None:
    kinds = set()
    for vtype, data in _root_info_values():
        shown = data_to_json(vtype, data)
        if shown["format"] in ("admin", "site", "key"):
            kinds.add(shown["format"])
            assert data_from_json(shown) == data, vtype
    assert kinds == {"admin", "site", "key"}


@needs_vectors
def test_bootstrap_json_sites_encode_and_decode_identically() -> None:
    records = json.loads((VECTORS / "bootstrap_handles.json").read_text())["handles"]
    seen = 0
    for record in records.values():
        for value in record["values"]:
            if value["data"]["format"] in ("site", "admin", "key"):
                binary = data_from_json(value["data"])
                assert data_to_json(value["type"], binary) == value["data"]
                seen += 1
    assert seen > 20


@needs_vectors
def test_root_info_sites_match_bootstrap_json() -> None:
    """The binary GHR site (serial 15, CNRI) shows as the JSON Handle.Net ships."""
    ghr = json.loads((VECTORS / "bootstrap_handles.json").read_text())["handles"]["0.NA/0.NA"]
    json_sites = {
        v["data"]["value"]["servers"][0]["address"]: v["data"]["value"]
        for v in ghr["values"]
        if v["type"] == "HS_SITE"
    }
    binary_sites = [SiteInfo.from_wire(d) for t, d in _root_info_values() if t == "HS_SITE"]
    matched = [s for s in binary_sites if s.servers[0].address in json_sites]
    assert matched
    for site in matched:
        assert site.to_json() == json_sites[site.servers[0].address]


def test_value_json_shapes_follow_handle_net() -> None:
    v = HandleValue(1, "URL", b"https://example.org/x", timestamp=1_000_000_000)
    assert value_to_json(v) == {
        "index": 1,
        "type": "URL",
        "data": {"format": "string", "value": "https://example.org/x"},
        "ttl": 86400,
        "timestamp": "2001-09-09T01:46:40Z",
    }
    private = HandleValue(300, "HS_SECKEY", b"s", permissions=0x0C, references=(("88/x", 1),))
    out = value_to_json(private)
    assert out["permissions"] == "1100" and "timestamp" not in out
    assert out["references"] == [{"handle": "88/x", "index": 1}]
    assert value_to_json(HandleValue(2, "BIN", b"\x00\x01"))["data"] == {
        "format": "base64",
        "value": "AAE=",
    }


def test_lenient_input_as_pyhandle_sends_it() -> None:
    admin = value_from_json(
        {
            "index": "100",
            "type": "HS_ADMIN",
            "data": {
                "format": "admin",
                "value": {"index": "200", "handle": "0.NA/88.118.8", "permissions": "011111110011"},
            },
        },
        max_data_bytes=1024,
    )
    assert AdminRef.from_wire(admin.data) == AdminRef("0.NA/88.118.8", 200, 0x7F3)
    bare = value_from_json({"index": 1, "type": "URL", "data": "http://x"}, max_data_bytes=1024)
    assert bare.data == b"http://x"
    hexed = value_from_json(
        {"index": 2, "type": "X", "data": {"format": "hex", "value": "00ff"}}, max_data_bytes=1024
    )
    assert hexed.data == b"\x00\xff"


def test_vlist_round_trip() -> None:
    group = VList((("0.NA/88.118.8", 300), ("88.118.8/OPS", 301)))
    assert VList.from_wire(group.to_wire()) == group
    assert VList.from_json(group.to_json()) == group


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"type": "URL", "data": "x"}, "index"),
        ({"index": 0, "type": "URL", "data": "x"}, "index"),
        ({"index": 2**31, "type": "URL", "data": "x"}, "index"),
        ({"index": 1, "data": "x"}, "type"),
        ({"index": 1, "type": "URL"}, "missing data"),
        ({"index": 1, "type": "URL", "data": 5}, "data must be"),
        ({"index": 1, "type": "URL", "data": {"format": "base64", "value": "!!"}}, "base64"),
        (
            {"index": 1, "type": "URL", "data": {"format": "nope", "value": ""}},
            "unknown data format",
        ),
        ({"index": 1, "type": "URL", "data": "x", "ttl": -1}, "ttl"),
        ({"index": 1, "type": "URL", "data": "x", "permissions": "12"}, "permissions"),
        (
            {"index": 1, "type": "HS_ADMIN", "data": {"format": "admin", "value": {"index": 1}}},
            "admin handle",
        ),
        (
            {"index": 1, "type": "HS_SITE", "data": {"format": "site", "value": {"servers": []}}},
            "server",
        ),
        ({"index": 1, "type": "X", "data": "x" * 2000}, "more than"),
        ({"index": 1, "type": "URL", "data": "a\ud800"}, "lone surrogate (U+D800)"),
        ({"index": 1, "type": "U\udc00", "data": "x"}, "type holds a lone surrogate"),
        (
            {"index": 1, "type": "URL", "data": "x", "references": [{"handle": "\ud800"}]},
            "reference holds a lone surrogate",
        ),
        (
            {
                "index": 1,
                "type": "HS_VLIST",
                "data": {"format": "vlist", "value": [{"handle": "\ud800", "index": 1}]},
            },
            "lone surrogate",
        ),
        ("not an object", "JSON object"),
    ],
)
def test_bad_values_are_rejected_with_the_field_named(raw, needle: str) -> None:
    with pytest.raises(InvalidValue) as info:
        value_from_json(raw, max_data_bytes=1024)
    assert needle in info.value.message


def test_admin_permission_forms() -> None:
    assert admin_perms_from_json("011111110011") == 0x7F3
    assert admin_perms_from_json(True) == 0xFFF
    assert admin_perms_from_json(["add_handle", "read_value"]) == 0x401
    with pytest.raises(InvalidValue):
        admin_perms_from_json("2")


def test_truncated_binary_data_is_a_protocol_error() -> None:
    data = AdminRef("0.NA/88", 300, 0xFFF).to_wire()
    with pytest.raises(ProtocolError):
        AdminRef.from_wire(data[:-3])
    with pytest.raises(ProtocolError):
        VList.from_wire(b"\xff\xff\xff\xff")
    # undecodable structured data is shown as base64 rather than failing the read
    assert data_to_json("HS_ADMIN", b"\x01")["format"] == "base64"


def test_type_filters_and_url_choice() -> None:
    values = [
        HandleValue(1, "URL.MANUAL", b"https://m"),
        HandleValue(2, "url", b"https://main"),
        HandleValue(3, "DESC", b"d"),
    ]
    assert type_matches("URL.MANUAL", "URL.") and type_matches("URL", "url.")
    assert not type_matches("URLX", "URL.") and not type_matches("URL.MANUAL", "URL")
    assert [v.index for v in select(values, ("URL",))] == [2]
    assert [v.index for v in select(values, ("URL.",))] == [1, 2]
    assert [v.index for v in select(values, ("DESC",), (1,))] == [1, 3]
    assert first_url(values) == "https://main"
    assert first_url(values[:1]) == "https://m"
