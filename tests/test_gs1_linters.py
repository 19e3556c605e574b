"""GS1's component linters against GS1's own unit-test vectors
(``shared/vectors/gs1/component_linter.jsonl``, from gs1/gs1-syntax-dictionary ``src/lint_*.c``).

GS1's tests of the GCP lookup hook build the C library with a mock service: a global result
(valid / invalid prefix / offline) that takes effect once a countdown of successful lookups
has run out. The vectors that expect GS1_LINTER_INVALID_GCP_PREFIX or
GS1_LINTER_GCP_DATASOURCE_OFFLINE from that hook are run here with the same mock installed,
its countdown set so that the last lookup a value makes is the one that fails (in every such
vector the marked span is the last GCP in the value).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from resolver.gs1.dictionary import table
from resolver.gs1.linters import LINTERS, GcpStatus, LintError, set_gcp_lookup
from tests.gs1_vectors import vectors

_HOOK_ERRORS = {
    "GS1_LINTER_INVALID_GCP_PREFIX": GcpStatus.INVALID,
    "GS1_LINTER_GCP_DATASOURCE_OFFLINE": GcpStatus.OFFLINE,
}


def _cases() -> list:
    return [
        case if "linter" not in case else pytest.param(case, id=f"{case['linter']}-{case['id']}")
        for case in vectors("component_linter")
    ]


class MockGcpService:
    """GS1's unit-test GCP lookup: ``countdown`` lookups succeed, then ``result`` holds."""

    def __init__(self, result: GcpStatus, countdown: int = 0) -> None:
        self.result = result
        self.countdown = countdown
        self.calls = 0

    def __call__(self, data: str) -> GcpStatus:
        self.calls += 1
        if self.countdown > 0:
            self.countdown -= 1
            return GcpStatus.VALID
        return self.result


@pytest.fixture
def no_gcp_lookup() -> Iterator[None]:
    """Starts without a GCP lookup hook and puts back whatever was installed."""
    previous = set_gcp_lookup(None)
    yield
    set_gcp_lookup(previous)


def _lint(case: dict) -> LintError | None:
    linter = LINTERS[case["linter"]]
    status = _HOOK_ERRORS.get(case.get("expect_error", ""))
    # a value that fails without a hook is at fault regardless of any lookup service
    if status is not None and linter(case["input"]) is None:
        probe = MockGcpService(GcpStatus.VALID)
        set_gcp_lookup(probe)
        assert linter(case["input"]) is None, "the value must pass with a valid GCP"
        set_gcp_lookup(MockGcpService(status, countdown=probe.calls - 1))
    return linter(case["input"])


@pytest.mark.usefixtures("no_gcp_lookup")
@pytest.mark.parametrize("case", _cases())
def test_component_linter(case: dict) -> None:
    found = _lint(case)
    if case["ok"]:
        assert found is None, found and found.markup(case["input"])
    else:
        assert found is not None
        assert (found.code, found.markup(case["input"])) == (
            case["expect_error"],
            case["error_markup"],
        )


def test_hook_defaults_to_shape_check_only(no_gcp_lookup: None) -> None:
    assert LINTERS["gcppos1"]("1234567") is None
    assert LINTERS["gcppos2"]("I1234567") is None
    set_gcp_lookup(MockGcpService(GcpStatus.INVALID))
    assert LINTERS["gcppos2"]("I1234567") == LintError("GS1_LINTER_INVALID_GCP_PREFIX", 1, 7)


def test_markup_of_empty_span() -> None:
    assert LintError("X", 3, 0).markup("abcdef") == "abc**def"
    assert LintError("X", 0, 0).markup("") == "**"


def test_every_dictionary_linter_is_known() -> None:
    named = {n for entry in table().values() for c in entry.components for n in c.linters}
    assert len(named) > 25
    assert named <= LINTERS.keys(), sorted(named - LINTERS.keys())
