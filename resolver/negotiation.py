"""HTTP content negotiation as RFC 9110 section 12 describes it: ``Accept`` and
``Accept-Language`` parsed with their q-values, and choices made from them.

GS1's community resolver split these headers on commas and compared strings, so a space,
a q-value or a regional tag (``en-GB`` asking for an ``en`` page) defeated it; here every
range is weighed, ties keep the client's order, and ``q=0`` excludes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

#: longest header read (a browser's Accept is a few hundred bytes)
MAX_HEADER = 4096
#: most ranges read from one header
MAX_RANGES = 64
_Q = re.compile(r"^q=([01](?:\.[0-9]{0,3})?)$", re.IGNORECASE)


@dataclass(frozen=True)
class Range:
    """One range of a header (``text/html``, ``*/*``, ``en-gb``, ``*``), lowercased."""

    value: str
    q: float


def parse_ranges(header: str | None) -> list[Range]:
    """The header's ranges with ``q > 0``, most preferred first (stable for equal q).
    A malformed q-value counts as 1, as a lenient server should; parameters other than
    q (``level=1``) are ignored."""
    if not header:
        return []
    out: list[Range] = []
    for part in header[:MAX_HEADER].split(",")[:MAX_RANGES]:
        value, *params = (p.strip() for p in part.split(";"))
        if not value:
            continue
        q = 1.0
        for param in params:
            found = _Q.match(param.replace(" ", ""))
            if found:
                q = min(float(found.group(1)), 1.0)
        if q > 0:
            out.append(Range(value.lower(), q))
    out.sort(key=lambda r: -r.q)
    return out


def media_matches(media_range: str, media_type: str) -> int:
    """How specifically ``media_range`` matches ``media_type``: 3 exact, 2 ``type/*``,
    1 ``*/*``, 0 not at all."""
    media_type = media_type.split(";")[0].strip().lower()
    if media_range == media_type:
        return 3
    if media_range == "*/*":
        return 1
    kind, _, sub = media_range.partition("/")
    return 2 if sub == "*" and media_type.startswith(kind + "/") else 0


def language_matches(language_range: str, tag: str) -> bool:
    """RFC 4647 basic filtering, both ways: ``en`` matches ``en-GB``, and a regional range
    falls back to its language (``en-GB`` matches ``en``)."""
    tag = tag.lower()
    if language_range == "*" or language_range == tag:
        return True
    return tag.startswith(language_range + "-") or language_range.startswith(tag + "-")


def prefer(
    candidates: Sequence[T],
    ranges: Sequence[Range],
    score: Callable[[str, T], int],
) -> list[T]:
    """The candidates the most preferred range scores, keeping only the best score for
    that range. Candidates no range scores are dropped; with no ranges, all are kept."""
    if not ranges:
        return list(candidates)
    for r in ranges:
        scored = [(score(r.value, c), c) for c in candidates]
        best = max((s for s, _ in scored), default=0)
        if best > 0:
            return [c for s, c in scored if s == best]
    return []
