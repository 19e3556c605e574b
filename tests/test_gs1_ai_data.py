"""AI data against GS1's own syntax-engine vectors (``shared/vectors/gs1``): unbracketed
element strings, bracketed text, per-AI linters and association rules. Vectors that need an
option tierid does not offer (unknown AIs accepted) are run with the rules that do not
depend on it, as the README's pass counts say."""

from __future__ import annotations

import pytest

from resolver.gs1 import ai_data, digital_link, scan_data
from resolver.gs1.ai_data import (
    Element,
    Gs1DataError,
    bracketed,
    check_associations,
    element_string,
    parse_bracketed,
    parse_element_string,
)
from resolver.gs1.digital_link import Options
from resolver.gs1.scan_data import ScanData
from tests.gs1_vectors import vectors


def _elements(text: str) -> list[Element]:
    return parse_element_string(text[1:], separator="^")


@pytest.mark.parametrize("case", vectors("element_string_validate"), ids=lambda c: c["id"])
def test_element_strings(case: dict) -> None:
    if case["ok"]:
        elements = _elements(case["input"])
        assert parse_element_string(element_string(elements)) == elements
    else:
        with pytest.raises(Gs1DataError):
            _elements(case["input"]) if case["input"] else parse_element_string("")


@pytest.mark.parametrize("case", vectors("bracketed_ai_to_element_string"), ids=lambda c: c["id"])
def test_bracketed_text(case: dict) -> None:
    if case["ok"]:
        elements = parse_bracketed(case["input"])
        assert "^" + element_string(elements, "^") == case["expect"]
        assert parse_bracketed(bracketed(elements)) == elements
    else:
        with pytest.raises(Gs1DataError):
            parse_bracketed(case["input"])


@pytest.mark.parametrize("case", vectors("ai_linter"), ids=lambda c: c["id"])
def test_each_ai_runs_its_linters(case: dict) -> None:
    if case["ok"]:
        parse_bracketed(case["input"])
    else:
        with pytest.raises(Gs1DataError) as caught:
            parse_bracketed(case["input"])
        assert caught.value.code == case["expect_linter"]


@pytest.mark.parametrize("case", vectors("ai_association_validate"), ids=lambda c: c["id"])
def test_association_rules(case: dict) -> None:
    permit = case.get("options", {}).get("permit_unknown_ais", False)
    elements = parse_bracketed(case["input"], permit_unknown_ais=permit)
    if case["ok"]:
        check_associations(elements)
    else:
        with pytest.raises(Gs1DataError):
            check_associations(elements)


def test_an_error_names_the_ai_and_marks_the_bad_character() -> None:
    with pytest.raises(Gs1DataError) as caught:
        parse_bracketed("(01)12345678901231(00)123456789012345670")
    assert caught.value.ai == "00" and caught.value.markup == "12345678901234567*0*"
    assert caught.value.rule == "gs1-key"


def _options(case: dict) -> Options:
    flags = case.get("options", {})
    return Options(
        permit_zero_suppressed_gtin=flags.get("permit_zero_suppressed_gtin_in_dl_uris", False),
        permit_convenience_alphas=flags.get("permit_convenience_alphas", False),
        # the engine accepts an unknown AI in the query only with both switches set
        permit_unknown_ais=flags.get("permit_unknown_ais", False)
        and not flags.get("validate_unknown_ai_not_dl_attr", True),
    )


@pytest.mark.parametrize("case", vectors("dl_uri_to_element_string"), ids=lambda c: c["id"])
def test_digital_link_uris(case: dict) -> None:
    if case["ok"]:
        link = digital_link.parse(case["input"], _options(case))
        assert "^" + element_string(link.elements, "^") == case["expect"]
    else:
        with pytest.raises(Gs1DataError):
            digital_link.parse(case["input"], _options(case))


@pytest.mark.parametrize("case", vectors("element_string_to_dl_uri"), ids=lambda c: c["id"])
def test_digital_link_uris_built_from_ai_data(case: dict) -> None:
    options = _options(case)
    if case["ok"]:
        elements = parse_bracketed(case["input"], permit_unknown_ais=options.permit_unknown_ais)
        uri = digital_link.to_uri(elements, case["stem"], options)
        assert uri == case["expect"]
        assert set(digital_link.parse(uri, options).elements) == set(elements)  # round trip
    else:
        with pytest.raises(Gs1DataError):
            elements = parse_bracketed(case["input"], permit_unknown_ais=options.permit_unknown_ais)
            digital_link.to_uri(elements, case["stem"], options)


@pytest.mark.parametrize("case", vectors("uri_unescape"), ids=lambda c: c["id"])
def test_uri_unescaping(case: dict) -> None:
    for query, expect in ((False, case["expect_path"]), (True, case["expect_query"])):
        if expect.isascii():
            assert digital_link._decoded(case["input"], query=query) == expect
        else:  # the engine's byte-for-byte %FF: not UTF-8, and in no AI's character set
            with pytest.raises(Gs1DataError, match="not UTF-8"):
                digital_link._decoded(case["input"], query=query)


@pytest.mark.parametrize("case", vectors("uri_escape"), ids=lambda c: c["id"])
def test_uri_escaping(case: dict) -> None:
    assert digital_link.uri_escape(case["input"], query=False) == case["expect_path"]
    assert digital_link.uri_escape(case["input"], query=True) == case["expect_query"]


def _engine_form(scan: ScanData) -> str:
    """The syntax engine's notation of a scan: ``^`` AI data, escaped plain text, digits."""
    ai_data = "^" + element_string(scan.elements, "^") if scan.elements else ""
    if scan.text is not None:
        return scan.text.replace("^", "\\^")
    if scan.gtin is not None:
        digits = scan.gtin.lstrip("0").zfill(13 if scan.symbology == "EAN13" else 8)
        return digits + ("|" + ai_data if ai_data else "")
    return ai_data


@pytest.mark.parametrize("case", vectors("scan_data_to_element_string"), ids=lambda c: c["id"])
def test_scanner_data(case: dict) -> None:
    if case["ok"]:
        scan = scan_data.parse(case["input"])
        assert scan.symbology.startswith(case["symbology"].split("_")[0])
        assert _engine_form(scan) == case["expect"]
    else:
        with pytest.raises(Gs1DataError):
            scan_data.parse(case["input"])


@pytest.mark.parametrize(
    "data",
    [
        "10" * 31 + "#",  # nothing parses to the end: took 16 s, each dead end tried again
        "10" * 31,  # every split parses, none keeps the association rules
        "10" * 4000,  # deeper than Python's recursion
        "21" + "9" * 8000,
    ],
)
def test_reading_without_separators_is_bounded(data: str, monkeypatch) -> None:
    """However the data splits, a reading tries at most MAX_READING_STEPS field values and
    answers readings or a clear error."""
    calls = []
    real = ai_data.check_value

    def counted(entry, value):
        calls.append(1)
        return real(entry, value)

    monkeypatch.setattr(ai_data, "check_value", counted)
    try:
        ai_data.readings(data)
    except Gs1DataError as exc:
        assert "separators" in exc.message or "elements" in exc.message
    assert len(calls) <= ai_data.MAX_READING_STEPS


def test_a_reading_needing_many_steps_is_still_found() -> None:
    """The bounds leave real scans alone: a GTIN, dates, a lot and a serial, unseparated."""
    found = ai_data.readings("010690555010001617261231" + "11250101" + "10ABC")
    assert [[(e.ai, e.value) for e in r] for r in found] == [
        [("01", "06905550100016"), ("17", "261231"), ("11", "250101"), ("10", "ABC")]
    ]
