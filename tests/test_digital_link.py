"""The GS1 Digital Link resolver face on a resolver, against an enterprise two tiers down:
every conformance point of GS1's resolver test suite that a local run can check (the
transport ones, TLS and HTTP versions, are the deployment's), and the points where GS1's
community resolver falls short (q-values, language fallback, walk-up, all qualifiers)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.conftest import NodeProcess, gs1_federation

GTIN = "06905550100016"
BARE_GTIN = "06905550100023"  # bound, with no link and no URL
GLN = "6905550100054"
GCP = "69055501"
PREFIX = "88.120.1"
MODEL = f"{PREFIX}/01/{GTIN}"
LINKSET = "application/linkset+json"
VOC = "https://gs1.org/voc/"


def _link(link_type: str, href: str, title: str, **more: object) -> dict:
    return {"type": "GS1.LINK", "data": json.dumps({"linkType": link_type, "href": href,
                                                    "title": title, **more})}  # fmt: skip


RECORDS = {
    MODEL: [
        {"type": "DESC", "data": "Centrifugal pump CP-200"},
        {"type": "GS1.RULE", "data": f"{PREFIX}/PUMP-{{21}}"},
        _link("gs1:pip", "https://pumps.example/en/cp-200", "Product page", type="text/html",
              hreflang=["en"], default=True),
        _link("gs1:pip", "https://pumps.example/zh/cp-200", "产品页面", type="text/html",
              hreflang=["zh"], default=True),
        _link("gs1:instructions", "https://pumps.example/manuals/cp-200.pdf", "Manual",
              type="application/pdf", hreflang=["en"]),
        _link("gs1:instructions", "https://pumps.example/manuals/cp-200.html", "Manual (web)",
              type="text/html", hreflang=["en"]),
        _link("gs1:traceability", "https://trace.example/lots?gtin={01}&lot={10}", "Lot trace"),
        _link("gs1:certificationInfo", "https://cert.example/ce-1", "CE certificate"),
        _link("gs1:certificationInfo", "https://cert.example/ce-2", "CE certificate"),
        _link("gs1:serviceInfo", "https://service.example/consumer", "Help",
              context=["consumer"]),
        _link("gs1:serviceInfo", "https://service.example/repair", "Repair manual",
              context=["repairer"]),
        {"type": "GS1.LINK", "data": "not a link"},
    ],
    f"{MODEL}/10/LOT7": [
        _link("gs1:instructions", "https://pumps.example/lots/7/manual.pdf", "Lot 7 manual",
              type="application/pdf"),
    ],
    f"{PREFIX}/PUMP-000123": [
        {"type": "URL", "data": "https://pumps.example/items/000123"},
        {"type": "DESC", "data": "Pump 000123"},
    ],
    f"{PREFIX}/01/{BARE_GTIN}": [{"type": "DESC", "data": "Spare impeller"}],
    f"{PREFIX}/414/{GLN}": [{"type": "URL", "data": "https://pumps.example/sites/hefei"}],
}  # fmt: skip


@dataclass
class Resolver:
    node: NodeProcess

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(
            self.node.url + path, headers=headers, allow_redirects=False, timeout=10
        )


@pytest.fixture(scope="module")
def dl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Resolver]:
    root = tmp_path_factory.mktemp("digital-link")
    with gs1_federation(root, PREFIX, GCP, RECORDS) as (_, resolver):
        yield Resolver(resolver)


def test_the_default_link_and_language_negotiation(dl: Resolver) -> None:
    r = dl.get(f"/01/{GTIN}")
    assert r.status_code == 307 and r.headers["Location"] == "https://pumps.example/en/cp-200"
    chinese = dl.get(f"/01/{GTIN}", **{"Accept-Language": "fr;q=0.3, zh-CN, en;q=0.5"})
    assert chinese.headers["Location"] == "https://pumps.example/zh/cp-200"
    # a regional range falls back to its language; q=0 refuses a language outright
    british = dl.get(f"/01/{GTIN}", **{"Accept-Language": "zh;q=0, en-GB"})
    assert british.headers["Location"] == "https://pumps.example/en/cp-200"
    # nothing fits: the first default, never an error
    assert dl.get(f"/01/{GTIN}", **{"Accept-Language": "fr"}).status_code == 307


@pytest.mark.parametrize(
    "spelling",
    ["gs1:instructions", "instructions", f"{VOC}instructions",
     "https://ref.gs1.org/voc/instructions"],
)  # fmt: skip
def test_link_types_in_every_spelling_redirect_to_their_target(dl: Resolver, spelling: str) -> None:
    r = dl.get(f"/01/{GTIN}?linkType={spelling}", Accept="application/pdf")
    assert r.status_code == 307
    assert r.headers["Location"] == "https://pumps.example/manuals/cp-200.pdf"


def test_media_types_and_context_choose_among_variants(dl: Resolver) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    r = dl.get(f"/01/{GTIN}?linkType=gs1:instructions", Accept=browser)
    assert r.headers["Location"] == "https://pumps.example/manuals/cp-200.html"
    r = dl.get(f"/01/{GTIN}?linkType=gs1:serviceInfo&context=repairer")
    assert r.headers["Location"].startswith("https://service.example/repair?context=repairer")


def test_the_finest_level_wins_and_unknown_qualifiers_walk_up(dl: Resolver) -> None:
    lot7 = dl.get(f"/01/{GTIN}/10/LOT7?linkType=gs1:instructions")
    assert lot7.headers["Location"] == "https://pumps.example/lots/7/manual.pdf"
    lot9 = dl.get(f"/01/{GTIN}/10/LOT9?linkType=gs1:instructions", Accept="application/pdf")
    assert lot9.headers["Location"] == "https://pumps.example/manuals/cp-200.pdf"
    # a serial registered through the model's rule has its own record: its URL is the default
    item = dl.get(f"/01/{GTIN}/10/LOT7/21/000123")
    assert item.headers["Location"] == "https://pumps.example/items/000123"
    # an unknown serial is not a 404 (GS1 test suite: basicWalkUp)
    unknown = dl.get(f"/01/{GTIN}/21/999999")
    assert unknown.headers["Location"] == "https://pumps.example/en/cp-200"


def test_link_templates_take_the_requests_qualifiers(dl: Resolver) -> None:
    r = dl.get(f"/01/{GTIN}/10/LOT7?linkType=gs1:traceability")
    assert r.headers["Location"] == f"https://trace.example/lots?gtin={GTIN}&lot=LOT7"
    # without a lot the template cannot be filled: that link type is not offered
    missing = dl.get(f"/01/{GTIN}?linkType=gs1:traceability")
    assert missing.status_code == 404 and missing.json()["responseCode"] == 100
    assert 'rel="linkset"' in missing.headers["Link"]


def test_the_query_string_is_passed_on_and_merged(dl: Resolver) -> None:
    r = dl.get(f"/01/{GTIN}?foo=bar&17=261231")
    assert r.headers["Location"] == "https://pumps.example/en/cp-200?foo=bar&17=261231"
    r = dl.get(f"/01/{GTIN}/10/LOT7?linkType=gs1:traceability&foo=bar")
    assert r.headers["Location"] == f"https://trace.example/lots?gtin={GTIN}&lot=LOT7&foo=bar"


def test_linkset_by_parameter_or_accept_header(dl: Resolver) -> None:
    anchor = f"{dl.node.url}/01/{GTIN}/10/LOT7"
    for r in (
        dl.get(f"/01/{GTIN}/10/LOT7?linkType=linkset"),
        dl.get(f"/01/{GTIN}/10/LOT7?linkType=all"),
        dl.get(f"/01/{GTIN}/10/LOT7", Accept=LINKSET),
    ):
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(LINKSET)
        assert f'<{anchor}?linkType=linkset>; rel="linkset"' in r.headers["Link"]
        assert 'rel="http://www.w3.org/ns/json-ld#context"' in r.headers["Link"]
        (context,) = r.json()["linkset"]
        assert context["anchor"] == anchor
        assert context["itemDescription"] == "Centrifugal pump CP-200"
        assert context[f"{VOC}defaultLink"] == [
            {"href": "https://pumps.example/en/cp-200", "title": "Product page"}
        ]
        assert context[f"{VOC}defaultLinkMulti"][0]["hreflang"] == ["zh"]
        # the lot's own instructions hide the model's; the model's other types are merged in
        assert [t["href"] for t in context[f"{VOC}instructions"]] == [
            "https://pumps.example/lots/7/manual.pdf"
        ]
        trace = context[f"{VOC}traceability"]
        assert trace == [{"href": f"https://trace.example/lots?gtin={GTIN}&lot=LOT7",
                          "title": "Lot trace"}]  # fmt: skip
        for link_type, targets in context.items():
            if link_type.startswith(VOC):
                assert all(t["href"].startswith("https://") and t["title"] for t in targets)
    plain_json = dl.get(f"/01/{GTIN}", Accept="application/json")
    assert plain_json.headers["Content-Type"].startswith("application/json")
    json_ld = dl.get(f"/01/{GTIN}", Accept="application/ld+json").json()
    assert json_ld["@context"] == "https://ref.gs1.org/standards/resolver/linkset-context"
    # a browser that also accepts JSON at a lower q still gets the redirect (GS1 CE #97)
    browser = dl.get(f"/01/{GTIN}", Accept="text/html, application/json;q=0.9, */*;q=0.8")
    assert browser.status_code == 307


def test_every_offered_link_type_redirects_to_its_target(dl: Resolver) -> None:
    (context,) = dl.get(f"/01/{GTIN}?linkType=linkset").json()["linkset"]
    for link_type, targets in context.items():
        if not link_type.startswith(VOC) or link_type.endswith("defaultLinkMulti"):
            continue
        r = dl.get(f"/01/{GTIN}?linkType={link_type}")
        if (
            len(targets) > 1
            and len({t.get("hreflang", "") and tuple(t["hreflang"]) for t in targets}) == 1
            and "context" not in targets[0]
        ):
            continue  # identical choices: the 300 test below
        assert r.status_code == 307, (link_type, r.text)
        assert r.headers["Location"] in {t["href"] for t in targets}


def test_identical_choices_give_300_with_them(dl: Resolver) -> None:
    r = dl.get(f"/01/{GTIN}?linkType=gs1:certificationInfo")
    assert r.status_code == 300 and r.headers["Content-Type"].startswith(LINKSET)
    (context,) = r.json()["linkset"]
    hrefs = [t["href"] for t in context[f"{VOC}certificationInfo"]]
    assert hrefs == ["https://cert.example/ce-1", "https://cert.example/ce-2"]


def test_errors_are_400_or_404_never_200(dl: Resolver) -> None:
    for path in (
        f"/01/{GTIN}/foo",  # GS1 test suite: reportWith400
        f"/01/{GTIN[:-1]}7",  # check digit
        f"/01/{GTIN}/21/1/10/2",  # qualifiers out of order
        f"/01/{GTIN}?linkType=not a type",
        f"/01/{GTIN}?10=LOT7",  # a qualifier belongs in the path
    ):
        r = dl.get(path)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert r.json()["responseCode"] in (4, 102)
    absent = dl.get(f"/01/{GTIN}?linkType=gs1:recipeInfo")
    assert absent.status_code == 404
    assert dl.get("/01/04006381333931").status_code == 404  # nobody's company prefix


def test_trailing_slash_and_head_give_the_same_answer(dl: Resolver) -> None:
    plain = dl.get(f"/01/{GTIN}/10/LOT7?linkType=gs1:instructions")
    slash = dl.get(f"/01/{GTIN}/10/LOT7/?linkType=gs1:instructions")
    head = requests.head(dl.node.url + f"/01/{GTIN}/10/LOT7?linkType=gs1:instructions", timeout=10)
    assert plain.status_code == slash.status_code == head.status_code == 307
    assert plain.headers["Location"] == slash.headers["Location"] == head.headers["Location"]


def test_cors_for_get_head_and_options(dl: Resolver) -> None:
    r = requests.options(dl.node.url + f"/01/{GTIN}", timeout=10,
                         headers={"Origin": "https://app.example",
                                  "Access-Control-Request-Method": "GET"})  # fmt: skip
    assert r.status_code == 204
    assert {m.strip() for m in r.headers["Access-Control-Allow-Methods"].split(",")} == {
        "GET", "HEAD", "OPTIONS",
    }  # fmt: skip
    assert dl.get(f"/01/{GTIN}").headers["Access-Control-Allow-Origin"] == "*"


def test_other_keys_and_the_page_fallback(dl: Resolver) -> None:
    gln = dl.get(f"/414/{GLN}")
    assert gln.headers["Location"] == "https://pumps.example/sites/hefei"
    # no link and no URL: the record's own page on this resolver is the default
    bare = dl.get(f"/01/{BARE_GTIN}")
    assert bare.headers["Location"] == f"{dl.node.url}/{PREFIX}/01/{BARE_GTIN}?noredirect"
    page = requests.get(bare.headers["Location"], timeout=10)
    assert page.status_code == 200 and "Spare impeller" in page.text


def test_the_resolver_description_file(dl: Resolver) -> None:
    r = dl.get("/.well-known/gs1resolver")
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    body = r.json()
    assert body["resolverRoot"] == dl.node.url
    assert {"00", "01", "414", "8004", "8017"} <= set(body["supportedPrimaryKeys"])
    assert body["supportedLinkType"] == [{"namespace": VOC, "prefix": "gs1:"}]


def test_a_host_in_another_script_is_read_as_its_ascii_form(dl: Resolver) -> None:
    """A Host header in another script (UTF-8, as some proxies pass it) made every Digital
    Link path "bad host"; raw bytes that are no host name are a clear 400."""
    with socket.create_connection(("127.0.0.1", dl.node.port), timeout=5) as s:
        s.sendall(
            f"GET /01/{GTIN} HTTP/1.1\r\n".encode()
            + "Host: 例え.jp\r\nAccept: */*\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 307"), answer[:200]
    with socket.create_connection(("127.0.0.1", dl.node.port), timeout=5) as s:
        s.sendall(
            f"GET /01/{GTIN} HTTP/1.1\r\nHost: \xff\xfe\r\nConnection: close\r\n\r\n".encode(
                "latin-1"
            )
        )
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
