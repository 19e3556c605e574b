"""Decides once whether the compiled twins may be used.

``TIERID_NO_EXTENSIONS=1`` forces the pure-Python twins; ``TIERID_REQUIRE_EXTENSIONS=1``
turns a missing compiled module into an import error instead of a silent fallback.
Only this module (and ``setup.py``) reads these variables.
"""

import os
import platform

NO_EXTENSIONS: bool = bool(os.environ.get("TIERID_NO_EXTENSIONS")) or (
    platform.python_implementation() != "CPython"
)
REQUIRE_EXTENSIONS: bool = bool(os.environ.get("TIERID_REQUIRE_EXTENSIONS"))
