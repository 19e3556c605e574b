"""The compiled twins are used by default, and the switch really switches."""

from __future__ import annotations

import subprocess
import sys

import resolver.handle
from resolver import _compat


def test_implementation_follows_the_switch() -> None:
    expected = "py" if _compat.NO_EXTENSIONS else "c"
    assert expected == resolver.handle.IMPLEMENTATION


def test_compiled_twin_is_preferred_by_default() -> None:
    """A fresh interpreter without the switch picks the compiled parser (it was built)."""
    env = {"PATH": "/usr/bin:/bin", "TIERID_REQUIRE_EXTENSIONS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", "import resolver.handle as h; print(h.IMPLEMENTATION)"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert out.stdout.strip() == "c"


def test_no_extensions_switch_selects_python() -> None:
    env = {"PATH": "/usr/bin:/bin", "TIERID_NO_EXTENSIONS": "1"}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resolver.handle as h; print(h.IMPLEMENTATION, h.parse.__module__)",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert out.stdout.split() == ["py", "resolver.handle_py"]
