"""Writing a benchmark's results into README.md between its markers
(``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def write_block(name: str, text: str) -> None:
    mark = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
    readme = README.read_text()
    if not mark.search(readme):
        sys.exit(f"README.md has no bench:{name} markers")
    README.write_text(mark.sub(lambda m: m.group(1) + text + m.group(2), readme))
