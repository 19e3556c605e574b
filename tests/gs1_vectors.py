"""GS1's syntax-engine test vectors, as extracted into the steering repository's
``shared/vectors/gs1`` (its README says where each came from). They stay there, not in this
repository: it is looked for beside the checkout's parents, or at ``$TIERID_GS1_VECTORS``.
Cases are dicts, each with an ``id`` naming its upstream source line."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest


def _folder() -> Path | None:
    if os.environ.get("TIERID_GS1_VECTORS"):
        return Path(os.environ["TIERID_GS1_VECTORS"])
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "vectors" / "gs1"
        if candidate.is_dir():
            return candidate
    return None


@cache
def vectors(name: str) -> list[dict]:
    folder = _folder()
    if folder is None:
        return [pytest.param({}, id=name, marks=pytest.mark.skip(reason="no GS1 vectors found"))]
    cases = []
    # split on newlines only: some inputs hold U+0085, which str.splitlines() breaks at
    for line in (folder / f"{name}.jsonl").read_text(encoding="utf-8").split("\n"):
        if line:
            case = json.loads(line)
            case["id"] = case["source"].rsplit("/", 1)[-1]
            cases.append(case)
    return cases
