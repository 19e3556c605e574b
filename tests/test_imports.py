"""Every module imports on its own (no cycles), and dependencies point one way:
``tierid -> registry -> resolver``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for pkg in ("resolver", "registry", "tierid")
    for p in (ROOT / pkg).rglob("*.py")
    if p.name != "__main__.py"
)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone(module: str) -> None:
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, cwd=ROOT)


@pytest.mark.parametrize(
    ("package", "forbidden"), [("resolver", ("registry", "tierid")), ("registry", ("tierid",))]
)
def test_dependencies_point_one_way(package: str, forbidden: tuple[str, ...]) -> None:
    code = (
        "import sys, pkgutil, importlib, " + package + "\n"
        f"for m in pkgutil.walk_packages({package}.__path__, '{package}.'):\n"
        "    importlib.import_module(m.name)\n"
        f"bad = sorted(n for n in sys.modules if n.split('.')[0] in {forbidden!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == ""
