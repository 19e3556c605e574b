"""Writing a benchmark's results into README.md between its markers
(``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def rate_table(unit: str, against: str, rows: list[tuple[str, float]], baseline: float) -> str:
    """A Markdown table of rates, each also as a share of ``baseline``."""
    head = f"| what | {unit} | vs {against} |\n|---|---:|---:|\n"
    return head + "".join(
        f"| {name} | {rate:,.0f} | {rate / baseline:.0%} |\n" for name, rate in rows
    )


def write_block(name: str, text: str) -> None:
    mark = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
    readme = README.read_text()
    if not mark.search(readme):
        sys.exit(f"README.md has no bench:{name} markers")
    README.write_text(mark.sub(lambda m: m.group(1) + text + m.group(2), readme))
