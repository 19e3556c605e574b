"""GS1 keys as tierid finds them: GTIN check digits, company-prefix candidates, and the
identifier suffixes that bind a GTIN (and its qualifiers) to an enterprise's records.

How a GS1 key reaches a record (README, "GS1 keys"):

1. The index prefix (``[resolver] gs1_index``, ``88.gs1`` in the demo) holds one record per
   GS1 Company Prefix, ``88.gs1/<gcp>``, whose ``GS1.PREFIX`` value names the tierid prefix of
   the enterprise that owns the GCP. GCPs are prefix-free, so at most one of the 4- to 12-digit
   leading runs of a GTIN (after its indicator digit) has such a record.
2. That enterprise binds keys with ordinary records under its own prefix, named like GS1
   Digital Link paths: ``<prefix>/01/<gtin14>`` for a product, ``.../10/<lot>`` and
   ``.../21/<serial>`` below it, qualifiers in the order the GS1 syntax dictionary gives for
   AI 01 (22, 10, 21). A binding's values are the answer itself, or an ``HS_ALIAS`` to the
   identifier, or a ``GS1.RULE`` template such as ``88.118.8/{01}-{21}`` that builds it.
3. A finer key that is not bound walks up: serial, then lot, then the GTIN.
"""

from __future__ import annotations

import re

from resolver.errors import InvalidHandle

#: AI 01's Digital Link qualifiers, in path order (gs1-syntax-dictionary: dlpkey=22,10,21)
GTIN_QUALIFIERS = ("22", "10", "21")
_DIGITS = re.compile(r"[0-9]+")


class InvalidGs1Key(InvalidHandle):
    """A GS1 key that fails its syntax or check digit."""

    def __init__(self, message: str) -> None:
        super().__init__("gs1-key", message)


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for ``body`` (the digits before it)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin14(text: str) -> str:
    """A GTIN-8, -12, -13 or -14 as 14 digits, its check digit verified.

    :raises InvalidGs1Key: naming what is wrong.
    """
    if not _DIGITS.fullmatch(text) or len(text) not in (8, 12, 13, 14):
        raise InvalidGs1Key(f"GTIN {text!r} must be 8, 12, 13 or 14 digits")
    padded = text.zfill(14)
    expected = check_digit(padded[:-1])
    if int(padded[-1]) != expected:
        raise InvalidGs1Key(f"GTIN {text}: check digit is {padded[-1]}, expected {expected}")
    return padded


def gcp_candidates(gtin: str) -> list[str]:
    """The company prefixes a GTIN-14 may carry: 4 to 12 digits after the indicator."""
    return [gtin[1 : 1 + n] for n in range(4, 13)]


def binding_suffix(gtin: str, qualifiers: dict[str, str]) -> str:
    """``01/<gtin>[/22/..][/10/..][/21/..]``: the suffix a binding is registered under."""
    unknown = set(qualifiers) - set(GTIN_QUALIFIERS)
    if unknown:
        raise InvalidGs1Key(f"AI {', '.join(sorted(unknown))} cannot qualify a GTIN")
    path = f"01/{gtin}"
    for ai in GTIN_QUALIFIERS:
        if ai in qualifiers:
            path += f"/{ai}/{qualifiers[ai]}"
    return path


def walk_up(gtin: str, qualifiers: dict[str, str]) -> list[str]:
    """Binding suffixes from the finest to the GTIN alone (serial, then lot, then CPV)."""
    kept = dict(qualifiers)
    suffixes = [binding_suffix(gtin, kept)]
    for ai in reversed(GTIN_QUALIFIERS):
        if ai in kept:
            del kept[ai]
            suffixes.append(binding_suffix(gtin, kept))
    return suffixes


def apply_rule(template: str, gtin: str, qualifiers: dict[str, str]) -> str | None:
    """Fill ``{01}``, ``{10}``, ``{21}``, ``{22}`` in a ``GS1.RULE`` template, or None when
    it needs a qualifier the key does not have."""
    values = {"01": gtin, **qualifiers}
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        value = values.get(match.group(1))
        if value is None:
            missing = True
            return ""
        return value

    built = re.sub(r"\{([0-9]{2,4})\}", fill, template)
    return None if missing else built
