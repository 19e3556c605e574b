"""Reading a bulk write's values: pure-Python twin of ``ext/_cells.pyx``.

- A CSV row is ``handle`` then ``index,type,data`` groups of strings; each group is the
  value :func:`resolver.json_values.value_from_text` makes of it (string data, the default
  TTL and permissions), and a group of three empty cells is padding (spreadsheets pad rows).
- A JSON item's ``values`` (a JSON Lines import, ``POST /api/batch``) are each what
  :func:`resolver.json_values.value_from_json` makes of them.

A bulk import reads millions of rows, which is why a compiled twin exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from resolver.errors import ProtocolError
from resolver.json_values import value_from_json, value_from_text
from resolver.values import HandleValue


def values_from_cells(cells: Sequence[str], max_data_bytes: int) -> tuple[HandleValue, ...]:
    """The values of a row whose first cell is the handle.

    :raises ProtocolError: the cells after the handle are not whole groups of three.
    :raises InvalidValue: a group is not a valid value (the first such group).
    """
    if (len(cells) - 1) % 3:
        raise ProtocolError(f"{len(cells)} columns: expected handle, then index,type,data groups")
    return tuple(
        [
            value_from_text(cells[n], cells[n + 1], cells[n + 2], max_data_bytes=max_data_bytes)
            for n in range(1, len(cells), 3)
            if cells[n] or cells[n + 1] or cells[n + 2]
        ]
    )


def values_from_json(raw: list[Any], max_data_bytes: int) -> tuple[HandleValue, ...]:
    """The values of a JSON list, in its order.

    :raises InvalidValue: a value is not valid (the first such value).
    """
    return tuple([value_from_json(v, max_data_bytes=max_data_bytes) for v in raw])
