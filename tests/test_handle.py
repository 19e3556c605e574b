"""Identifier syntax, run against both twins (ids ``c`` and ``py``)."""

from __future__ import annotations

import importlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver import _compat
from resolver.errors import InvalidHandle
from resolver.handle import parent_prefix, prefix_record, strip_scheme

AWKWARD_SUFFIXES = [
    "PUMP-2024-000123",
    "a<b>c",
    "semi;colon",
    "hash#tag",
    "what?q=1&x=2",
    "100%",
    "%2F-literal",
    "with space",
    "slash/inside/it",
    "colon:and:more",
    "中文标识-001",
    "emoji-🚀",
    "plus+sign",
    "quote\"and'apos",
    "tilde~back\\slash",
]


@pytest.mark.parametrize("suffix", AWKWARD_SUFFIXES)
def test_awkward_suffixes_split_at_first_slash(handle_impl, suffix: str) -> None:
    assert handle_impl.parse(f"88.118.8/{suffix}") == ("88.118.8", suffix)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("88.118.8", "missing-slash"),
        ("/PUMP", "empty-prefix"),
        (".88/x", "empty-segment"),
        ("88..118/x", "empty-segment"),
        ("88.118./x", "empty-segment"),
        ("88 118/x", "bad-prefix-char"),
        ("88.1é8/x", "bad-prefix-char"),
        ("88:1/x", "bad-prefix-char"),
        ("1" * 65 + "/x", "prefix-too-long"),
        ("88.118.8/", "empty-suffix"),
        ("88.118.8/a\tb", "control-char"),
        ("88.118.8/a\x7fb", "control-char"),
        ("88.118.8/a\x85b", "control-char"),
        ("88.118.8/a\ud800", "not-unicode"),
        ("88.118.8/" + "x" * 247, "too-long"),
        ("88.118.8/" + "é" * 124, "too-long"),
    ],
)
def test_each_rule_has_its_own_error(handle_impl, text: str, rule: str) -> None:
    with pytest.raises(InvalidHandle) as info:
        handle_impl.parse(text)
    assert info.value.rule == rule
    assert int(info.value.rc) == 102


def test_limits_are_inclusive(handle_impl) -> None:
    assert handle_impl.parse("1" * 64 + "/x")[0] == "1" * 64
    longest = "88.118.8/" + "x" * 246
    assert len(longest.encode()) == 255
    assert handle_impl.parse(longest)[1] == "x" * 246
    # multi-byte suffixes count in UTF-8 bytes, not characters
    assert handle_impl.parse("88.118.8/" + "é" * 123)


def test_prefix_segments_allow_letters_digits_dash_underscore(handle_impl) -> None:
    assert handle_impl.parse("0.NA/88.118")[0] == "0.NA"
    assert handle_impl.parse("ab-C_9.x/y")[0] == "ab-C_9.x"


def test_non_string_is_a_type_error(handle_impl) -> None:
    with pytest.raises(TypeError):
        handle_impl.parse(b"88/x")
    with pytest.raises(TypeError):
        handle_impl.normalise(None)


def test_normalise_upper_cases_ascii_only(handle_impl) -> None:
    assert handle_impl.normalise("88.118.8/pump-ä-ß") == "88.118.8/PUMP-ä-ß"
    assert handle_impl.normalise("0.na/88.abc") == "0.NA/88.ABC"


def test_helpers() -> None:
    assert prefix_record("88.118") == "0.NA/88.118"
    assert parent_prefix("88.118.8") == "88.118"
    assert parent_prefix("88") is None
    assert strip_scheme("hdl:88.1/x") == "88.1/x"
    assert strip_scheme("info:hdl/88.1/x") == "88.1/x"
    assert strip_scheme("88.1/hdl:x") == "88.1/hdl:x"


def _outcome(impl, text: str):
    try:
        return ("ok", impl.parse(text), impl.normalise(text))
    except InvalidHandle as exc:
        return ("err", exc.rule, exc.message)


@pytest.mark.skipif(_compat.NO_EXTENSIONS, reason="compiled twin disabled")
@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.from_regex(r"[0-9A-Za-z._-]{0,70}/.{0,260}", fullmatch=True),
        st.builds(lambda p, s: f"{p}/{s}", st.text("0123456789.aZ-_ é", max_size=70), st.text()),
    )
)
def test_twins_agree_on_any_input(text: str) -> None:
    c = importlib.import_module("resolver._handle")
    py = importlib.import_module("resolver.handle_py")
    assert _outcome(c, text) == _outcome(py, text)
