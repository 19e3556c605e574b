"""Decides once whether the compiled twins may be used.

``TIERID_NO_EXTENSIONS=1`` forces the pure-Python twins; ``TIERID_REQUIRE_EXTENSIONS=1``
turns a missing compiled module into an import error instead of a silent fallback.
Only this module (and ``setup.py``) reads these variables. :func:`load_twin` is how every
selector module (``resolver/handle.py``, ``lru.py``, ``dns_hot.py``, ``hdl_codec.py``) picks.
"""

import importlib
import os
import platform
from types import ModuleType

NO_EXTENSIONS: bool = bool(os.environ.get("TIERID_NO_EXTENSIONS")) or (
    platform.python_implementation() != "CPython"
)
REQUIRE_EXTENSIONS: bool = bool(os.environ.get("TIERID_REQUIRE_EXTENSIONS"))


def load_twin(compiled: str, python: str) -> tuple[ModuleType, str]:
    """The compiled module and ``"c"``, or its pure-Python twin and ``"py"`` when extensions
    are disabled or (unless required) not built."""
    if not NO_EXTENSIONS:
        try:
            return importlib.import_module(compiled), "c"
        except ImportError:
            if REQUIRE_EXTENSIONS:
                raise
    return importlib.import_module(python), "py"
