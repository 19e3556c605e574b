"""Accept and Accept-Language weighed as RFC 9110 says, and GS1.LINK values read strictly."""

from __future__ import annotations

import json

import pytest

from resolver.errors import InvalidValue
from resolver.gs1.links import Link, curie, link_type_uri
from resolver.gs1.offer import choose
from resolver.negotiation import language_matches, media_matches, parse_ranges, prefer


def test_ranges_are_sorted_by_q_stably_and_q0_excludes() -> None:
    ranges = parse_ranges("fr;q=0.3, zh-CN ,en;q=0.5, de;q=0, es;Q=0.5, it;q=x")
    assert [(r.value, r.q) for r in ranges] == [
        ("zh-cn", 1.0), ("it", 1.0), ("en", 0.5), ("es", 0.5), ("fr", 0.3),
    ]  # fmt: skip
    assert parse_ranges(None) == parse_ranges("") == parse_ranges(" , ;q=1") == []
    assert len(parse_ranges("a," * 10_000)) == 64  # bounded


def test_language_ranges_match_both_ways() -> None:
    assert language_matches("en-gb", "en") and language_matches("en", "en-GB")
    assert language_matches("*", "zh") and not language_matches("en", "eng")


def test_media_types_prefer_the_most_specific_match() -> None:
    offered = ["application/pdf", "text/html", "text/plain"]
    assert prefer(offered, parse_ranges("text/*;q=0.9, */*;q=0.1"), media_matches) == [
        "text/html", "text/plain",
    ]  # fmt: skip
    assert prefer(offered, parse_ranges("text/plain;charset=utf-8"), media_matches) == [
        "text/plain"
    ]
    assert prefer(offered, parse_ranges("image/png"), media_matches) == []
    assert prefer(offered, [], media_matches) == offered


def _link(href: str, **more: object) -> Link:
    return Link.from_json({"linkType": "gs1:pip", "href": href, "title": "t", **more})


def test_choice_falls_back_to_links_without_a_language_then_to_all() -> None:
    en, plain = _link("https://e/en", hreflang=["en"]), _link("https://e/any")
    assert choose([en, plain], context=None, accept=None, accept_language="fr") == [plain]
    zh = _link("https://e/zh", hreflang="zh")
    assert choose([en, zh], context=None, accept=None, accept_language="fr") == [en]
    same = _link("https://e/en2", hreflang=["en"])
    assert choose([en, same], context=None, accept=None, accept_language="en") == [en, same]


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ([], "a JSON object"),
        ({"linkType": "gs1:", "href": "https://e", "title": "t"}, "linkType"),
        ({"linkType": "pip", "href": "javascript:alert(1)", "title": "t"}, "href"),
        ({"linkType": "pip", "href": "https://e", "title": ""}, "title"),
        ({"linkType": "pip", "href": "https://e", "title": "t", "type": "html"}, "type"),
        ({"linkType": "pip", "href": "https://e", "title": "t", "hreflang": ["e n"]}, "hreflang"),
        ({"linkType": "pip", "href": "https://e", "title": "t", "default": "yes"}, "default"),
    ],
)
def test_bad_links_are_rejected_naming_the_field(link: object, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        Link.from_json(link)


def test_link_types_are_one_type_in_every_spelling() -> None:
    spellings = ["gs1:pip", "pip", "https://gs1.org/voc/pip", "http://gs1.org/voc/pip",
                 "https://ref.gs1.org/voc/pip"]  # fmt: skip
    assert {link_type_uri(s) for s in spellings} == {"https://gs1.org/voc/pip"}
    assert curie("https://gs1.org/voc/pip") == "gs1:pip"
    assert link_type_uri("schema:offers") == "https://schema.org/offers"
    assert link_type_uri("not a type") is None


def test_templates_fill_percent_encoded_or_leave_the_link_out() -> None:
    link = _link("https://e/t?lot={10}")
    assert link.filled({"10": "A/B C"}).href == "https://e/t?lot=A%2FB%20C"
    assert link.filled({"01": "x"}) is None
    assert json.loads(json.dumps(link.target())) == {"href": "https://e/t?lot={10}", "title": "t"}
