"""GS1 AI data: element strings as barcodes carry them, bracketed text ``(01)...(10)...``,
and their validation against the Syntax Dictionary.

A value is checked component by component (character set, length, each linter), then the
whole message by the association rules: an AI repeated with another value, mutually
exclusive AIs (``ex=``), missing required AIs (``req=``), and a digital signature (8030)
without a serialised key. Errors are :class:`Gs1DataError`, naming the AI, the rule and,
for a linter, the offending characters (``1234567*3*``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from resolver.gs1.dictionary import AiEntry, lookup, matches, table
from resolver.gs1.keys import InvalidGs1Key
from resolver.gs1.linters import LINTERS

#: FNC1 as scanners transmit it between fields (ASCII GS)
GS = "\x1d"
#: keys whose serial component is optional, but required next to a digital signature (8030)
_SERIALISABLE_KEYS = ("253", "255", "8003")


class Gs1DataError(InvalidGs1Key):
    """Invalid GS1 AI data. ``ai`` is the element at fault (None for the message as a
    whole), ``code`` GS1's name for a linter's verdict, ``markup`` the value with the bad
    part between asterisks."""

    def __init__(
        self, message: str, *, ai: str | None = None, code: str = "", markup: str = ""
    ) -> None:
        super().__init__(message)
        self.ai = ai
        self.code = code
        self.markup = markup

    @property
    def details(self) -> dict[str, str]:
        """What error bodies add to the message (:func:`resolver.errors.to_json`)."""
        named = {"ai": self.ai, "linter": self.code, "markup": self.markup}
        return {k: v for k, v in named.items() if v}


@dataclass(frozen=True)
class Element:
    ai: str
    value: str

    @property
    def entry(self) -> AiEntry | None:
        """Its dictionary entry; None for an unknown AI (accepted only when asked to)."""
        return table().get(self.ai)


def check_value(entry: AiEntry, value: str) -> None:
    """Apply the entry's components to ``value``: each consumes its length in turn;
    optional ones may be left out once the value is used up.

    :raises Gs1DataError:
    """
    if not value:
        raise Gs1DataError(f"AI ({entry.ai}) has no data", ai=entry.ai)
    if len(value) > entry.max_length:
        raise Gs1DataError(
            f"AI ({entry.ai}) data is {len(value)} characters, at most {entry.max_length}",
            ai=entry.ai,
        )
    pos = 0
    for component in entry.components:
        rest = len(value) - pos
        if rest == 0 and component.optional:
            break
        if rest < component.min_length:
            raise Gs1DataError(f"AI ({entry.ai}) data is too short", ai=entry.ai)
        part = value[pos : pos + min(rest, component.max_length)]
        for name in component.linters:
            error = LINTERS[name](part)
            if error is not None:
                marked = value[:pos] + error.markup(part) + value[pos + len(part) :]
                raise Gs1DataError(
                    f"AI ({entry.ai}): {error.code} at {marked}",
                    ai=entry.ai,
                    code=error.code,
                    markup=marked,
                )
        pos += len(part)
    if pos < len(value):
        raise Gs1DataError(f"AI ({entry.ai}) data is too long", ai=entry.ai)


def parse_element_string(
    data: str, separator: str = GS, *, permit_unknown_ais: bool = False
) -> list[Element]:
    """Elements of unbracketed AI data (what follows a barcode's leading FNC1), with
    ``separator`` standing for FNC1 after a variable-length field. An unknown AI is an
    error, or with ``permit_unknown_ais`` a two-digit AI whose value runs to the next FNC1.

    :raises Gs1DataError:
    """
    if not data:
        raise Gs1DataError("no AI data")
    elements: list[Element] = []
    pos = 0
    while pos < len(data):
        entry = lookup(data[pos : pos + 4])
        if entry is None and not (permit_unknown_ais and data[pos : pos + 2].isdigit()):
            shown = data[pos : pos + 4]
            raise Gs1DataError(f"no AI starts with {shown!r} at position {pos}")
        ai = entry.ai if entry else data[pos : pos + 2]
        pos += len(ai)
        size = entry.fixed_length if entry and entry.predefined_length else None
        if size is not None:
            value = data[pos : pos + size]
            if len(value) < size:
                raise Gs1DataError(f"AI ({ai}) data is too short", ai=ai)
        else:
            end = data.find(separator, pos)
            value = data[pos : len(data) if end < 0 else end]
        if entry is not None:
            check_value(entry, value)
        elif not value:
            raise Gs1DataError(f"AI ({ai}) has no data", ai=ai)
        elements.append(Element(ai, value))
        pos += len(value)
        if data.startswith(separator, pos):
            pos += len(separator)
            if pos == len(data) and size is not None:
                raise Gs1DataError(f"FNC1 after the last AI ({ai}) ends nothing")
    return elements


def parse_bracketed(text: str, *, permit_unknown_ais: bool = False) -> list[Element]:
    """Elements of ``(01)12345678901231(10)ABC``; ``\\(`` is a literal parenthesis.

    :raises Gs1DataError:
    """
    elements: list[Element] = []
    pos = 0
    if not text.startswith("("):
        raise Gs1DataError("bracketed AI data starts with '('")
    while pos < len(text):
        close = text.find(")", pos)
        ai = text[pos + 1 : close] if close > 0 else ""
        if not (2 <= len(ai) <= 4 and ai.isascii() and ai.isdigit()):
            raise Gs1DataError(f"no AI in brackets at position {pos}")
        entry = table().get(ai)
        if entry is None and not permit_unknown_ais:
            raise Gs1DataError(f"({ai}) is not a known AI", ai=ai)
        value, pos = _bracketed_value(text, close + 1)
        if entry is not None:
            check_value(entry, value)
        elif not value:
            raise Gs1DataError(f"AI ({ai}) has no data", ai=ai)
        elements.append(Element(ai, value))
    return elements


def _bracketed_value(text: str, pos: int) -> tuple[str, int]:
    out = []
    while pos < len(text) and text[pos] != "(":
        if text.startswith("\\(", pos):
            out.append("(")
            pos += 2
        else:
            out.append(text[pos])
            pos += 1
    return "".join(out), pos


def element_string(elements: Iterable[Element], separator: str = GS) -> str:
    """The unbracketed form: FNC1 after each variable-length field but the last."""
    out = []
    items = list(elements)
    for i, e in enumerate(items):
        out.append(e.ai + e.value)
        entry = e.entry
        if i < len(items) - 1 and not (entry and entry.predefined_length):
            out.append(separator)
    return "".join(out)


def bracketed(elements: Iterable[Element]) -> str:
    """``(01)12345678901231(10)ABC``, a literal ``(`` escaped."""
    return "".join(f"({e.ai}){e.value.replace('(', chr(92) + '(')}" for e in elements)


def check_associations(elements: list[Element]) -> None:
    """The message-level rules of the dictionary (see the module docstring).

    :raises Gs1DataError:
    """
    seen: dict[str, str] = {}
    for e in elements:
        if seen.setdefault(e.ai, e.value) != e.value:
            raise Gs1DataError(f"AI ({e.ai}) appears with different values", ai=e.ai)
    present = list(seen)
    for ai in present:
        entry = table().get(ai)
        if entry is None:
            continue
        for pattern in entry.excludes:
            clash = next((o for o in present if o != ai and matches(pattern, o)), None)
            if clash is not None:
                raise Gs1DataError(f"AI ({ai}) cannot appear with ({clash})", ai=ai)
        for alternatives in entry.requires:
            if not any(
                all(any(matches(p, o) for o in present if o != ai) for p in group)
                for group in alternatives
            ):
                wanted = " or ".join("+".join(f"({p})" for p in g) for g in alternatives)
                raise Gs1DataError(f"AI ({ai}) requires {wanted}", ai=ai)
    if "8030" in seen:
        for key in _SERIALISABLE_KEYS:
            mandatory = sum(c.max_length for c in table()[key].components if not c.optional)
            if key in seen and len(seen[key]) <= mandatory:
                raise Gs1DataError(
                    f"a digital signature (8030) needs ({key}) with its serial component",
                    ai=key,
                )


#: most field values a reading without separators may try before it gives up: each split
#: point multiplies the ways to read the rest, and a scan is read on the event loop
MAX_READING_STEPS = 5_000
#: most elements a reading may hold (a GS1-128 symbol holds 48 characters in all)
MAX_READING_ELEMENTS = 64


def readings(data: str, limit: int = 8) -> list[list[Element]]:
    """Every valid reading (at most ``limit``) of AI data whose FNC1 separators a scanner
    dropped: a variable-length field may end at any point that lets the rest parse and the
    whole message keep the association rules.

    A position from which nothing parses to the end is remembered and not tried again, and
    at most :data:`MAX_READING_STEPS` field values are tried in all, so the work is bounded
    whatever the data (without both, 63 digits took 16 s).

    :raises Gs1DataError: when the data has too many ways to be split to try them all.
    """
    found: list[list[Element]] = []
    dead: set[int] = set()  # positions from which no split reaches the end
    steps = 0

    def walk(pos: int, taken: list[Element]) -> bool:
        """Try every split from ``pos``; :returns: whether one reached the end."""
        nonlocal steps
        if pos == len(data):
            try:
                check_associations(taken)
            except Gs1DataError:
                return True
            found.append(list(taken))
            return True
        if len(taken) == MAX_READING_ELEMENTS:
            raise Gs1DataError(f"AI data of more than {MAX_READING_ELEMENTS} elements")
        entry = lookup(data[pos : pos + 4])
        if entry is None:
            return False
        start = pos + len(entry.ai)
        size = entry.fixed_length if entry.predefined_length else None
        longest = min(len(data), start + entry.max_length)
        reached = False
        for end in [start + size] if size else range(start + 1, longest + 1):
            if len(found) >= limit:
                return True
            if end in dead:
                continue
            steps += 1
            if steps > MAX_READING_STEPS:
                raise Gs1DataError(
                    "the FNC1 separators are missing and the data splits too many ways to "
                    "read; scan it again, or send it with its separators"
                )
            try:
                check_value(entry, data[start:end])
            except Gs1DataError:
                continue
            taken.append(Element(entry.ai, data[start:end]))
            if walk(end, taken):
                reached = True
            else:
                dead.add(end)
            taken.pop()
        return reached

    walk(0, [])
    return found
