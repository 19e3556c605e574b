"""The Handle.Net-compatible HTTP API of a real node process, over real sockets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from resolver.faces.http_common import Counters, Edge, unknown_endpoint
from tests.conftest import MOTORS_ADMIN, PUMPS_ADMIN, NodeProcess
from tests.test_handle import AWKWARD_SUFFIXES
from tierid.app import make_app
from tierid.config import from_mapping

ADMIN_VALUE = {
    "index": 100,
    "type": "HS_ADMIN",
    "data": {
        "format": "admin",
        "value": {"handle": "0.NA/88.118.8", "index": 300, "permissions": "011111111111"},
    },
}


def record(url: str = "https://pumps.example/p", **extra: str) -> list[dict]:
    values = [{"index": 1, "type": "URL", "data": url}, ADMIN_VALUE]
    values += [{"index": 2000 + i, "type": k, "data": v} for i, (k, v) in enumerate(extra.items())]
    return values


@pytest.fixture(scope="module")
def pumps(node: NodeProcess) -> requests.Session:
    return node.session(PUMPS_ADMIN)


def test_create_read_replace_delete(node: NodeProcess, pumps: requests.Session) -> None:
    url = node.api("88.118.8/PUMP-1")
    r = pumps.put(url, json=record(MODEL="CP-200"))
    assert (r.status_code, r.json()) == (201, {"responseCode": 1, "handle": "88.118.8/PUMP-1"})
    got = requests.get(url).json()
    assert got["responseCode"] == 1 and got["handle"] == "88.118.8/PUMP-1"
    assert [v["index"] for v in got["values"]] == [1, 100, 2000]
    assert all(v["timestamp"].endswith("Z") for v in got["values"])

    r = pumps.put(url, json=record("https://pumps.example/v2"))  # overwrite defaults to true
    assert (r.status_code, r.json()["responseCode"]) == (200, 1)
    assert [v["index"] for v in requests.get(url).json()["values"]] == [1, 100]

    r = pumps.put(url, json=record(), params={"overwrite": "false"})
    assert (r.status_code, r.json()["responseCode"]) == (409, 101)

    assert pumps.delete(url).json() == {"responseCode": 1, "handle": "88.118.8/PUMP-1"}
    r = requests.get(url)
    assert (r.status_code, r.json()["responseCode"]) == (404, 100)


def test_case_insensitive_matching_echoes_the_callers_spelling(
    node: NodeProcess, pumps: requests.Session
) -> None:
    assert pumps.put(node.api("88.118.8/Mixed-Case"), json=record()).status_code == 201
    r = requests.get(node.api("88.118.8/mIXED-cASE"))
    assert r.json()["handle"] == "88.118.8/mIXED-cASE"
    r = pumps.put(node.api("88.118.8/MIXED-CASE"), json=record(), params={"overwrite": "false"})
    assert (r.status_code, r.json()["responseCode"]) == (409, 101)
    listing = pumps.get(f"{node.url}/api/handles", params={"prefix": "88.118.8"}).json()
    assert "88.118.8/Mixed-Case" in listing["handles"]
    assert [h.upper() for h in listing["handles"]].count("88.118.8/MIXED-CASE") == 1


@pytest.mark.parametrize("suffix", AWKWARD_SUFFIXES)
def test_awkward_suffixes_survive_every_route(
    node: NodeProcess, pumps: requests.Session, suffix: str
) -> None:
    handle = f"88.118.8/{suffix}"
    url = node.api(handle)
    assert pumps.put(url, json=record(f"https://pumps.example/{len(suffix)}")).status_code == 201
    got = requests.get(url).json()
    assert got["handle"] == handle
    assert got["values"][0]["data"]["value"] == f"https://pumps.example/{len(suffix)}"
    proxy = node.url + url[len(node.url) + len("/api/handles") :]
    redirect = requests.get(proxy, allow_redirects=False)
    assert redirect.status_code == 302
    assert redirect.headers["Location"] == f"https://pumps.example/{len(suffix)}"
    page = requests.get(proxy, params={"noredirect": ""})
    assert page.status_code == 200 and "<table>" in page.text
    listing = pumps.get(f"{node.url}/api/handles", params={"prefix": "88.118.8"}).json()
    assert handle in listing["handles"]
    assert pumps.delete(url).status_code == 200
    assert requests.get(url).status_code == 404


def test_percent_2f_is_decoded_once_after_routing(
    node: NodeProcess, pumps: requests.Session
) -> None:
    assert (
        pumps.put(f"{node.url}/api/handles/88.118.8/a%2Fb%252F", json=record()).status_code == 201
    )
    got = requests.get(node.api("88.118.8/a/b%2F")).json()
    assert got["handle"] == "88.118.8/a/b%2F"


def test_type_and_index_filters(node: NodeProcess, pumps: requests.Session) -> None:
    url = node.api("88.118.8/FILTER")
    values = record(MODEL="CP-200") + [{"index": 3, "type": "URL.MANUAL", "data": "https://m"}]
    pumps.put(url, json=values)
    types = lambda **p: [v["index"] for v in requests.get(url, params=p).json()["values"]]  # noqa: E731
    assert types(type="URL") == [1]
    assert types(type="url.") == [1, 3]
    assert types(type="MODEL", index="100") == [100, 2000]
    r = requests.get(url, params={"type": "NOPE"})
    assert (r.status_code, r.json()) == (
        200,
        {"responseCode": 200, "handle": "88.118.8/FILTER", "values": []},
    )
    r = requests.get(url, params=[("index", "1"), ("index", "3")])
    assert [v["index"] for v in r.json()["values"]] == [1, 3]


def test_add_replace_and_remove_single_values(node: NodeProcess, pumps: requests.Session) -> None:
    url = node.api("88.118.8/VALUES")
    pumps.put(url, json=record())
    r = pumps.put(url, params={"index": "2"}, json=[{"index": 2, "type": "DESC", "data": "new"}])
    assert (r.status_code, r.json()["responseCode"]) == (201, 1)
    r = pumps.put(
        url, params={"index": "2"}, json=[{"index": 2, "type": "DESC", "data": "changed"}]
    )
    assert (r.status_code, r.json()["responseCode"]) == (200, 1)
    r = pumps.put(
        url,
        params={"index": "2", "overwrite": "false"},
        json=[{"index": 2, "type": "DESC", "data": "again"}],
    )
    assert (r.status_code, r.json()["responseCode"]) == (409, 201)
    r = pumps.put(url, params={"index": "7"}, json=[{"index": 2, "type": "DESC", "data": "x"}])
    assert (r.status_code, r.json()["responseCode"]) == (400, 202)
    r = pumps.put(
        url, params={"index": "various"}, json={"index": 9, "type": "DESC", "data": "one"}
    )
    assert r.status_code == 201
    assert (
        requests.get(url, params={"index": "2"}).json()["values"][0]["data"]["value"] == "changed"
    )
    r = pumps.delete(url, params={"index": "2"})
    assert (r.status_code, r.json()["responseCode"]) == (200, 1)
    r = pumps.delete(url, params={"index": "2"})
    assert (r.status_code, r.json()["responseCode"]) == (400, 200)
    r = pumps.put(
        node.api("88.118.8/NO-SUCH"),
        params={"index": "2"},
        json=[{"index": 2, "type": "D", "data": "x"}],
    )
    assert (r.status_code, r.json()["responseCode"]) == (404, 100)


def test_values_wrapper_and_single_value_bodies(node: NodeProcess, pumps: requests.Session) -> None:
    url = node.api("88.118.8/WRAPPED")
    r = pumps.put(url, json={"handle": "88.118.8/wrapped", "values": record()})
    assert r.status_code == 201
    r = pumps.put(url, json={"handle": "88.118.8/OTHER", "values": record()})
    assert (r.status_code, r.json()["responseCode"]) == (400, 4)


def test_mint_new_suffix(node: NodeProcess, pumps: requests.Session) -> None:
    r = pumps.put(node.api("88.118.8/AUTO-"), params={"mintNewSuffix": "true"}, json=record())
    assert r.status_code == 201
    minted = r.json()["handle"]
    assert minted.startswith("88.118.8/AUTO-") and len(minted) == len("88.118.8/AUTO-") + 36
    assert requests.get(node.api(minted)).json()["responseCode"] == 1


def test_listing_pages_and_prefixes(node: NodeProcess, pumps: requests.Session) -> None:
    for i in range(5):
        pumps.put(node.api(f"88.118.8/LIST-{i}"), json=record())
    full = pumps.get(f"{node.url}/api/handles", params={"prefix": "88.118.8"}).json()
    total = int(full["totalCount"])
    assert total == len(full["handles"]) >= 5
    page = pumps.get(
        f"{node.url}/api/handles", params={"prefix": "0.NA/88.118.8", "page": "1", "pageSize": "2"}
    ).json()
    assert page["totalCount"] == str(total) and page["page"] == 1 and page["pageSize"] == 2
    assert page["handles"] == full["handles"][2:4]
    count_only = pumps.get(
        f"{node.url}/api/handles", params={"prefix": "88.118.8", "page": "0", "pageSize": "0"}
    ).json()
    assert count_only["handles"] == [] and count_only["totalCount"] == str(total)
    r = requests.get(f"{node.url}/api/handles", params={"prefix": "88.118.8"})
    assert (r.status_code, r.json()["responseCode"]) == (401, 402)
    motors = node.session(MOTORS_ADMIN)
    r = motors.get(f"{node.url}/api/handles", params={"prefix": "88.118.8"})
    assert (r.status_code, r.json()["responseCode"]) == (403, 401)
    prefixes = requests.get(f"{node.url}/api/prefixes").json()
    assert {"88.118", "88.118.8", "88.118.9"} <= set(prefixes["prefixes"])


def test_not_homed_prefix_is_rc_301(node: NodeProcess, pumps: requests.Session) -> None:
    r = requests.get(node.api("99.1/X"))
    assert (r.status_code, r.json()["responseCode"]) == (400, 301)
    r = pumps.put(node.api("99.1/X"), json=record())
    assert (r.status_code, r.json()["responseCode"]) == (400, 301)


@pytest.mark.parametrize(
    ("path", "rule"),
    [("88.118.8", "no '/'"), ("88..1/x", "empty prefix segment"), ("88.118.8/a%01b", "control")],
)
def test_malformed_identifiers(
    node: NodeProcess, pumps: requests.Session, path: str, rule: str
) -> None:
    for r in (
        requests.get(f"{node.url}/api/handles/{path}"),
        pumps.put(f"{node.url}/api/handles/{path}", json=record()),
    ):
        assert (r.status_code, r.json()["responseCode"]) == (400, 102)
        assert rule in r.json()["message"]
    r = requests.get(f"{node.url}/api/handles/88.118.8/%C3%28")
    assert (r.status_code, r.json()["responseCode"]) == (400, 102)


def test_bad_bodies_write_nothing(node: NodeProcess, pumps: requests.Session) -> None:
    url = node.api("88.118.8/BAD-BODY")
    cases = [
        (dict(data="{not json", headers={"Content-Type": "application/json"}), 400, 4),
        (dict(data="[]", headers={"Content-Type": "text/plain"}), 400, 4),
        (dict(json={"no": "values"}), 400, 4),
        (dict(json=[{"index": 1, "type": "URL"}]), 400, 202),
        (dict(json=record() + [{"index": -5, "type": "X", "data": "y"}]), 400, 202),
        (dict(json=record() + [{"index": 1, "type": "X", "data": "dup"}]), 409, 201),
        (dict(json=[{"index": i, "type": "X", "data": "v"} for i in range(1, 60)]), 400, 202),
        (dict(json=[{"index": 1, "type": "X", "data": "v" * 5000}]), 400, 202),
        (dict(json=[{"index": 1, "type": "X", "data": {"format": []}}]), 400, 202),
        (dict(json=[{"index": 1, "type": "X", "data": {"format": {}}}]), 400, 202),
        (  # a reference index must fit the wire's int4 (2^32 was stored, then never served)
            dict(json=[{"index": 1, "type": "X", "data": "v", "references": [ref(2**32)]}]),
            400,
            202,
        ),
        (dict(json=[{"index": 1, "type": "X", "data": "v", "references": [ref(2**64)]}]), 400, 202),
        (
            dict(data=b"[" + b" " * 70_000 + b"]", headers={"Content-Type": "application/json"}),
            413,
            4,
        ),
    ]
    for kwargs, status, rc in cases:
        r = pumps.put(url, **kwargs)
        assert (r.status_code, r.json()["responseCode"]) == (status, rc), (kwargs.keys(), r.text)
        assert r.json()["message"]
    assert requests.get(url).status_code == 404
    # a body that is not what its Content-Encoding says: 400, and the next request is answered
    for encoding in ("gzip", "deflate"):
        with node.session(PUMPS_ADMIN) as session:
            r = session.put(
                url,
                data=json.dumps(record()),
                headers={"Content-Type": "application/json", "Content-Encoding": encoding},
            )
            assert (r.status_code, r.json()["responseCode"]) == (400, 4), r.text
            assert session.get(url).status_code == 404


def ref(index: int) -> dict:
    return {"handle": "88.118.8/OTHER", "index": index}


def test_the_largest_reference_index_is_stored_and_served(
    node: NodeProcess, pumps: requests.Session
) -> None:
    values = [{"index": 1, "type": "X", "data": "v", "references": [ref(2**31 - 1)]}]
    assert pumps.put(node.api("88.118.8/FAR-REF"), json=values).status_code == 201
    got = requests.get(node.api("88.118.8/FAR-REF")).json()["values"][0]["references"]
    assert got == [ref(2**31 - 1)]


def test_credentials_that_are_not_ascii_are_refused(node: NodeProcess) -> None:
    """aiohttp hands header bytes that are not UTF-8 on as lone surrogates, which failed deep
    in the session lookup (500) before they were refused at the header."""
    for header in (b"Handle sessionId=\xff\xfe", b"Basic \xff\xfe", "Basic Zm9vOmLDpHI=é".encode()):
        r = requests.get(node.api("88.118.8/ANY"), headers={"Authorization": header})
        assert (r.status_code, r.json()["responseCode"]) == (403, 403), (header, r.text)


def test_an_answer_to_no_challenge_asks_to_authenticate_again(node: NodeProcess) -> None:
    r = requests.put(f"{node.url}/api/sessions/this", json={"sessionId": "no-such-session"})
    assert (r.status_code, r.json()["responseCode"]) == (401, 405), r.text
    r = requests.get(
        node.api("88.118.8/ANY"),
        headers={"Authorization": 'Handle sessionId="x", signature="AAAA"'},
    )
    assert (r.status_code, r.json()["responseCode"]) == (401, 405), r.text


def test_a_prefix_holds_no_slash(node: NodeProcess, pumps: requests.Session) -> None:
    op = node.session(node.operator)
    for r in (
        op.post(f"{node.url}/api/prefixes/88.118.8/x"),
        pumps.get(f"{node.url}/api/handles", params={"prefix": "88.118.8/zz"}),
    ):
        assert (r.status_code, r.json()["responseCode"]) == (400, 102), r.text
    assert "88.118.8/x" not in op.get(f"{node.url}/api/prefixes").text


def test_unknown_endpoints_and_methods_answer_json(node: NodeProcess) -> None:
    r = requests.get(f"{node.url}/api/nothing-here")
    assert r.status_code == 404
    assert r.json() == {
        "responseCode": 4,
        "message": "Unknown HTTP API endpoint GET /api/nothing-here",
    }
    r = requests.patch(node.api("88.118.8/X"))
    assert r.status_code == 404 and r.json()["responseCode"] == 4
    r = requests.get(f"{node.url}/api/handles")
    assert (r.status_code, r.json()["responseCode"]) == (400, 4)
    for method, path in (("POST", "/some/page"), ("DELETE", "/"), ("PUT", "/metrics")):
        r = requests.request(method, node.url + path)
        assert r.status_code == 405, (method, path, r.text)
        assert r.json() == {"responseCode": 4, "message": f"Method {method} not allowed on {path}"}


def test_every_route_is_behind_the_edge(tmp_path: Path) -> None:
    """Counting, rate limits, CORS and error answers wrap each handler (no middleware):
    a route registered without :func:`add_route` would skip them."""
    config = from_mapping(
        {"node": {"data_dir": "data"}, "resolver": {"enabled": True, "roots": ["http://x"]}},
        tmp_path,
    )
    routes = list(make_app(config).router.routes())
    assert len(routes) > 30
    edge_code = Edge(Counters(), None).wrap(unknown_endpoint, cors=True).__code__
    unwrapped = [r for r in routes if getattr(r.handler, "__code__", None) is not edge_code]
    assert not unwrapped


def test_web_proxy_redirect_alias_and_pages(node: NodeProcess, pumps: requests.Session) -> None:
    pumps.put(node.api("88.118.8/TARGET"), json=record("https://pumps.example/target"))
    pumps.put(
        node.api("88.118.8/ALIAS"),
        json=[{"index": 1, "type": "HS_ALIAS", "data": "88.118.8/TARGET"}],
    )
    pumps.put(
        node.api("88.118.8/LOOP-A"),
        json=[{"index": 1, "type": "HS_ALIAS", "data": "88.118.8/LOOP-B"}],
    )
    pumps.put(
        node.api("88.118.8/LOOP-B"),
        json=[{"index": 1, "type": "HS_ALIAS", "data": "88.118.8/LOOP-A"}],
    )
    pumps.put(
        node.api("88.118.8/NO-URL"), json=[{"index": 2, "type": "DESC", "data": "<b>bold</b>"}]
    )
    r = requests.get(f"{node.url}/88.118.8/ALIAS", allow_redirects=False)
    assert (r.status_code, r.headers["Location"]) == (302, "https://pumps.example/target")
    r = requests.get(
        f"{node.url}/hdl:88.118.8/TARGET", params={"urlappend": "?lang=zh"}, allow_redirects=False
    )
    assert r.headers["Location"] == "https://pumps.example/target?lang=zh"
    r = requests.get(f"{node.url}/88.118.8/LOOP-A", allow_redirects=False)
    # a loop in the data, not a failure of the server: 508 Loop Detected
    assert r.status_code == 508 and "text/html" in r.headers["Content-Type"] and "alias" in r.text
    r = requests.get(f"{node.url}/88.118.8/NO-URL", allow_redirects=False)
    assert r.status_code == 200 and "&lt;b&gt;bold&lt;/b&gt;" in r.text and "<b>bold" not in r.text
    r = requests.get(f"{node.url}/88.118.8/MISSING")
    assert r.status_code == 404 and "Not found" in r.text
    assert "tierid" in requests.get(node.url + "/").text


def test_head_answers_as_get_without_a_body(node: NodeProcess, pumps: requests.Session) -> None:
    pumps.put(node.api("88.118.8/HEADED"), json=record("https://pumps.example/headed"))
    got = requests.get(node.api("88.118.8/HEADED"))
    head = requests.head(node.api("88.118.8/HEADED"))
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["Content-Length"] == str(len(got.content))
    assert head.headers["Access-Control-Allow-Origin"] == "*"
    assert requests.head(node.api("88.118.8/NO-SUCH")).status_code == 404
    proxied = requests.head(f"{node.url}/88.118.8/HEADED", allow_redirects=False)
    assert (proxied.status_code, proxied.headers["Location"]) == (
        302,
        "https://pumps.example/headed",
    )


def test_cors_header_on_api(node: NodeProcess) -> None:
    r = requests.get(node.api("88.118.8/ANY"))
    assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_a_browser_preflight_for_an_authenticated_write_is_allowed(node: NodeProcess) -> None:
    """A page of another origin PUTting with Authorization asks first (OPTIONS): the answer
    must name the method and the Authorization header, or the browser never sends the PUT."""
    r = requests.options(
        node.api("88.118.8/PREFLIGHT"),
        headers={
            "Origin": "https://erp.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert (r.status_code, r.content) == (204, b"")
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    methods = {m.strip() for m in r.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "PUT", "DELETE", "POST"} <= methods
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert requests.get(node.api("88.118.8/PREFLIGHT")).status_code == 404  # nothing written


def test_pretty_output_is_the_same_json(node: NodeProcess, pumps: requests.Session) -> None:
    pumps.put(node.api("88.118.8/PRETTY"), json=record())
    plain = requests.get(node.api("88.118.8/PRETTY"))
    pretty = requests.get(node.api("88.118.8/PRETTY"), params={"pretty": ""})
    assert "\n" in pretty.text and json.loads(pretty.text) == plain.json()


def test_hostile_numbers_and_nesting_are_clear_errors(
    node: NodeProcess, pumps: requests.Session
) -> None:
    url = node.api("88.118.8/HOSTILE")
    cases = [
        (dict(json=[{"index": "²", "type": "URL", "data": "x"}]), 400, 202),
        (dict(json=[{"index": 1, "type": "URL", "data": "x", "ttl": "²"}]), 400, 202),
        (
            dict(
                json=[{"index": 1, "type": "URL", "data": "x", "ttl": "9999-12-31T23:59:59-14:00"}]
            ),
            400,
            202,
        ),
        (dict(data="[" * 50_000, headers={"Content-Type": "application/json"}), 400, 4),
        (  # valid JSON holding a lone surrogate, which no store can encode
            dict(
                data='[{"index": 1, "type": "URL", "data": "x\\ud800"}]',
                headers={"Content-Type": "application/json"},
            ),
            400,
            202,
        ),
    ]
    for kwargs, status, rc in cases:
        r = pumps.put(url, **kwargs)
        assert (r.status_code, r.json()["responseCode"]) == (status, rc), r.text
    assert requests.get(url).status_code == 404
    for params in ({"index": "²"}, {"index": "9" * 40}):
        r = requests.get(node.api("88.118.8/ANY"), params=params)
        assert (r.status_code, r.json()["responseCode"]) == (400, 4)
    r = pumps.get(
        f"{node.url}/api/handles", params={"prefix": "88.118.8", "page": "0", "pageSize": "9" * 20}
    )
    assert (r.status_code, r.json()["responseCode"]) == (400, 4)


def test_a_mirror_ahead_of_the_log_is_told_to_take_a_full_copy(node: NodeProcess) -> None:
    import msgpack

    op = node.session(node.operator)
    body = msgpack.unpackb(op.get(f"{node.url}/api/changes", params={"since": "1000000"}).content)
    assert body["dump"] is True
    r = requests.get(f"{node.url}/api/changes")
    assert (r.status_code, r.json()["responseCode"]) == (401, 402)


def test_record_pages_link_only_to_records(node: NodeProcess, pumps: requests.Session) -> None:
    """A reference that is no identifier (``//evil.example/x``) is shown, not linked: its link
    ``///evil.example/x`` took browsers to that site. A dotted one links to itself."""
    pumps.put(node.api("88.118.8/A/../B"), json=record("https://pumps.example/dotted"))
    refs = [
        {"index": 2005, "type": "REF.MOTOR", "data": "//evil.example/x"},
        {"index": 2006, "type": "REF.PART", "data": "88.118.8/A/../B"},
    ]
    pumps.put(node.api("88.118.8/LINKS"), json=[*record(), *refs])
    page = requests.get(f"{node.url}/88.118.8/LINKS", params={"noredirect": ""}).text
    assert "evil.example" in page and 'href="//' not in page and 'href="///' not in page
    href = re.search(r'href="(/88\.118\.8/A/[^"]+)"', page).group(1).replace("&amp;", "&")
    followed = requests.get(node.url + href.split("?")[0], allow_redirects=False)
    assert followed.headers["Location"] == "https://pumps.example/dotted"
    own = requests.get(node.url + href).text  # its page's JSON link keeps the dots too
    assert 'href="/api/handles/88.118.8/A/%2E%2E/B"' in own
