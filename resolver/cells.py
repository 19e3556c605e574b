"""Reading a bulk write's values (CSV cells, JSON lists): picks the compiled twin once
(see ``resolver/_compat.py``)."""

from __future__ import annotations

from resolver._compat import load_twin

_twin, IMPLEMENTATION = load_twin("resolver._cells", "resolver.cells_py")
values_from_cells = _twin.values_from_cells
values_from_json = _twin.values_from_json

__all__ = ["IMPLEMENTATION", "values_from_cells", "values_from_json"]
