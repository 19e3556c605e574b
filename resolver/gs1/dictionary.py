"""GS1's Barcode Syntax Dictionary, read at import from the copy shipped in ``data/``.

Every Application Identifier (AI) it lists becomes an :class:`AiEntry`: how its value is
built (components with a character set, a length and linters), whether it ends without an
FNC1 separator (predefined length), whether it may be a Digital Link query attribute, which
AIs it requires or excludes, and, for a Digital Link primary key, its qualifier sequences.
The file's own header documents the format; the parser below follows it line by line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

#: the implicit character-set linter of each component type
CHARSET_LINTER = {"N": "csetnumeric", "X": "cset82", "Y": "cset39", "Z": "cset64"}

_COMPONENT = re.compile(r"(\[)?([NXYZ])(\.\.)?([0-9]+)(\])?((?:,[a-z0-9]+)*)")


@dataclass(frozen=True)
class Component:
    """One part of an AI's value: ``N6``, ``X..20``, ``[N4]`` with its linters."""

    charset: str
    min_length: int
    max_length: int
    optional: bool
    linters: tuple[str, ...]


@dataclass(frozen=True)
class AiEntry:
    ai: str
    title: str
    #: ``*``: the value has a predefined length and needs no FNC1 after it
    predefined_length: bool
    #: ``?``: may appear as a Digital Link query attribute
    dl_attribute: bool
    components: tuple[Component, ...]
    #: each ``req=`` key: alternatives, each a group of AI patterns that must all be present
    requires: tuple[tuple[tuple[str, ...], ...], ...]
    #: AI patterns that must not appear with it (``n`` matches any digit)
    excludes: tuple[str, ...]
    #: None unless a Digital Link primary key; else its qualifier sequences (alternatives)
    dl_qualifiers: tuple[tuple[str, ...], ...] | None

    @property
    def max_length(self) -> int:
        return sum(c.max_length for c in self.components)

    @property
    def fixed_length(self) -> int | None:
        """The value's length when no component varies or is optional."""
        if any(c.optional or c.min_length != c.max_length for c in self.components):
            return None
        return self.max_length


def _component(token: str) -> Component:
    m = _COMPONENT.fullmatch(token)
    if m is None or bool(m.group(1)) != bool(m.group(5)):
        raise ValueError(f"bad component {token!r}")
    length = int(m.group(4))
    linters = tuple(x for x in m.group(6).split(",") if x)
    return Component(
        charset=m.group(2),
        min_length=1 if m.group(3) else length,
        max_length=length,
        optional=bool(m.group(1)),
        linters=(CHARSET_LINTER[m.group(2)], *linters),
    )


def _entries(line: str) -> list[AiEntry]:
    body, _, title = line.partition("#")
    fields = body.split()
    ais, fields = fields[0], fields[1:]
    flags = ""
    if fields and fields[0][0] not in "NXYZ[":
        flags, fields = fields[0], fields[1:]
    components: list[Component] = []
    while fields and fields[0][0] in "NXYZ[":
        components.append(_component(fields.pop(0)))
    requires, excludes, qualifiers = [], [], None
    for attribute in fields:
        key, _, value = attribute.partition("=")
        if key == "req":
            requires.append(tuple(tuple(group.split("+")) for group in value.split(",")))
        elif key == "ex":
            excludes.extend(value.split(","))
        elif key == "dlpkey":
            qualifiers = tuple(tuple(s.split(",")) if s else () for s in value.split("|"))
    first, _, last = ais.partition("-")
    numbers = range(int(first), int(last or first) + 1)
    return [
        AiEntry(
            ai=str(n).zfill(len(first)),
            title=title.strip(),
            predefined_length="*" in flags,
            dl_attribute="?" in flags,
            components=tuple(components),
            requires=tuple(requires),
            excludes=tuple(excludes),
            dl_qualifiers=qualifiers,
        )
        for n in numbers
    ]


@cache
def table() -> dict[str, AiEntry]:
    """Every AI of the dictionary by its digits."""
    text = resources.files("resolver.gs1").joinpath("data/gs1-syntax-dictionary.txt")
    out: dict[str, AiEntry] = {}
    for line in text.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            for entry in _entries(line):
                out[entry.ai] = entry
    return out


def lookup(data: str) -> AiEntry | None:
    """The AI ``data`` starts with (AIs are prefix-free, so at most one matches)."""
    entries = table()
    for size in (2, 3, 4):
        entry = entries.get(data[:size])
        if entry is not None and len(data) >= size:
            return entry
    return None


def matches(pattern: str, ai: str) -> bool:
    """An association pattern such as ``35nn`` or ``01`` against an AI."""
    return len(pattern) == len(ai) and all(p in ("n", a) for p, a in zip(pattern, ai, strict=True))
