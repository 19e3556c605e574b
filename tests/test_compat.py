"""The compiled twins are used by default, and the switch really switches."""

from __future__ import annotations

import subprocess
import sys

import resolver.cells
import resolver.dns_hot
import resolver.handle
import resolver.lru
from resolver import _compat

PROBE = (
    "import resolver.handle as h, resolver.lru as l, resolver.dns_hot as d; "
    "print(h.IMPLEMENTATION, l.IMPLEMENTATION, d.IMPLEMENTATION)"
)


def test_implementation_follows_the_switch() -> None:
    expected = "py" if _compat.NO_EXTENSIONS else "c"
    assert expected == resolver.handle.IMPLEMENTATION
    assert expected == resolver.lru.IMPLEMENTATION
    assert expected == resolver.dns_hot.IMPLEMENTATION
    assert expected == resolver.cells.IMPLEMENTATION


def _probe(env: dict[str, str]) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        check=True,
    )
    return out.stdout.split()


def test_compiled_twins_are_preferred_by_default() -> None:
    """A fresh interpreter without the switch picks the compiled modules (they were built)."""
    assert _probe({"TIERID_REQUIRE_EXTENSIONS": "1"}) == ["c", "c", "c"]


def test_no_extensions_switch_selects_python() -> None:
    assert _probe({"TIERID_NO_EXTENSIONS": "1"}) == ["py", "py", "py"]
