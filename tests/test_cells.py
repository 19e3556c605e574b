"""An import row's cells read into values: both twins, and the JSON reading they must equal."""

from __future__ import annotations

import importlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver import _compat
from resolver.errors import InvalidValue, ProtocolError
from resolver.json_values import value_from_json, value_from_text
from resolver.values import HandleValue
from tests.conftest import _twins

MAX = 32


@pytest.fixture(params=_twins("resolver._cells", "resolver.cells_py"))
def cells_impl(request: pytest.FixtureRequest):
    """Each twin of the cell reader: compiled (``c``) and pure Python (``py``)."""
    return importlib.import_module(request.param)


def _outcome(read, *args, **kwargs):
    try:
        return read(*args, **kwargs)
    except (InvalidValue, ProtocolError) as err:
        return type(err).__name__, err.message


def test_groups_become_values_and_padding_is_skipped(cells_impl) -> None:
    row = ["88.118.8/P-1", "1", "URL", "https://x.cn/p/1", "", "", "", " 2000 ", "MODEL", "CP-200"]
    assert cells_impl.values_from_cells(row, MAX) == (
        HandleValue(1, "URL", b"https://x.cn/p/1"),
        HandleValue(2000, "MODEL", b"CP-200"),
    )
    assert cells_impl.values_from_cells(["88.118.8/P-1"], MAX) == ()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["h", "1", "URL"], "3 columns: expected handle, then index,type,data groups"),
        (["h", "0", "URL", "x"], "value index must be an integer from 1 to 2147483647"),
        (["h", "2147483648", "URL", "x"], "value index must be an integer from 1 to 2147483647"),
        (["h", "１", "URL", "x"], "value index must be an integer from 1 to 2147483647"),
        (["h", "1", "", "x"], "value 1: type must be a string of 1 to 128 bytes"),
        (["h", "1", "U\tRL", "x"], "value 1: type contains a control character"),
        (["h", "1", "URL", "x" * 33], "value 1: data is 33 bytes, more than 32"),
        (["h", "1", "URL", "é" * 17], "value 1: data is 34 bytes, more than 32"),
        (
            ["h", "1", "URL", "a\ud800"],
            "value 1 (URL): data holds a lone surrogate (U+D800), not Unicode",
        ),
    ],
)
def test_bad_groups_are_refused_with_the_same_words(cells_impl, row, message: str) -> None:
    with pytest.raises((InvalidValue, ProtocolError)) as info:
        cells_impl.values_from_cells(row, MAX)
    assert info.value.message == message


INDEXES = st.one_of(
    st.sampled_from(["1", " 2000 ", "0", "007", "2147483647", "2147483648", "00000000001"]),
    st.sampled_from(["１", "1.0", "-1", "+1", "1_0", "", "99999999999"]),
    st.text(max_size=6),
)
#: text as JSON decodes it: any code point, lone surrogates included
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
TYPES = st.one_of(
    st.sampled_from(["URL", "", "X" * 128, "X" * 129, "MO\tDEL", "\x7f", "型号", "é" * 64]),
    st.text(max_size=8),
)
GROUPS = st.lists(st.tuples(INDEXES, TYPES, TEXT), max_size=4)


@settings(max_examples=500, deadline=None)
@given(GROUPS)
def test_a_group_reads_as_json_reads_the_same_strings(groups) -> None:
    """Each group is what the JSON reading makes of ``{"index", "type", "data"}``: same
    value, or the same refusal."""
    for index, vtype, data in groups:
        json_value = {"index": index, "type": vtype, "data": data}
        assert _outcome(value_from_text, index, vtype, data, max_data_bytes=MAX) == _outcome(
            value_from_json, json_value, max_data_bytes=MAX
        )


@pytest.mark.skipif(_compat.NO_EXTENSIONS, reason="compiled twin disabled")
@settings(max_examples=1000, deadline=None)
@given(GROUPS, st.integers(0, 2))
def test_twins_agree_on_any_row(groups, extra: int) -> None:
    row = ["88.118.8/P", *(cell for group in groups for cell in group), *([""] * extra)]
    c = importlib.import_module("resolver._cells")
    py = importlib.import_module("resolver.cells_py")
    assert _outcome(c.values_from_cells, row, MAX) == _outcome(py.values_from_cells, row, MAX)


JSON_VALUES = st.one_of(
    st.fixed_dictionaries(  # the shape the compiled twin builds itself
        {
            "index": st.one_of(st.integers(-2, 2**31 + 1), st.booleans(), INDEXES),
            "type": TYPES,
            "data": st.one_of(TEXT, st.just({"format": "string", "value": "x"})),
        }
    ),
    st.fixed_dictionaries(
        {"index": st.integers(1, 3000), "type": TYPES, "data": TEXT},
        optional={
            "ttl": st.one_of(st.integers(-1, 90000), st.just("2030-01-01T00:00:00Z")),
            "permissions": st.sampled_from(["1110", "1111", "12", "*"]),
            "references": st.just([{"handle": "88/x", "index": 1}]),
            "timestamp": st.just("2020-01-01T00:00:00Z"),
        },
    ),
    st.sampled_from([None, [], "x", {"index": 1, "type": "URL"}]),
)


def test_json_values_become_values(cells_impl) -> None:
    raw = [
        {"type": "URL", "index": 1, "data": "https://x.cn/p/1"},
        {"index": 2000, "type": "MODEL", "data": "CP-200", "ttl": 60},
    ]
    assert cells_impl.values_from_json(raw, MAX) == (
        HandleValue(1, "URL", b"https://x.cn/p/1"),
        HandleValue(2000, "MODEL", b"CP-200", ttl=60),
    )
    assert cells_impl.values_from_json([], MAX) == ()


@pytest.mark.skipif(_compat.NO_EXTENSIONS, reason="compiled twin disabled")
@settings(max_examples=1000, deadline=None)
@given(st.lists(JSON_VALUES, max_size=4))
def test_twins_agree_on_any_json_values(raw) -> None:
    c = importlib.import_module("resolver._cells")
    py = importlib.import_module("resolver.cells_py")
    assert _outcome(c.values_from_json, raw, MAX) == _outcome(py.values_from_json, raw, MAX)
