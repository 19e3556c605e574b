"""GS1 keys as tierid finds them: GTIN check digits, company-prefix candidates, and the
identifier suffixes that bind a GS1 key (and its qualifiers) to an enterprise's records.

How a GS1 key reaches a record (README, "GS1 keys"):

1. The index prefix (``[resolver] gs1_index``, ``88.gs1`` in the demo) holds one record per
   GS1 Company Prefix, ``88.gs1/<gcp>``, whose ``GS1.PREFIX`` value names the tierid prefix of
   the enterprise that owns the GCP. GCPs are prefix-free, so at most one of the 4- to 12-digit
   leading runs of a key (where the syntax dictionary places the prefix: after a GTIN's
   indicator digit, at the start of a GLN or GIAI) has such a record.
2. That enterprise binds keys with ordinary records under its own prefix, named like GS1
   Digital Link paths: ``<prefix>/01/<gtin14>`` for a product, ``.../10/<lot>`` and
   ``.../21/<serial>`` below it, qualifiers in the order the GS1 syntax dictionary gives for
   the key (``dlpkey=22,10,21`` for AI 01); ``<prefix>/414/<gln>``, ``<prefix>/8004/<giai>``
   for other keys. A binding's values are the answer itself, or an ``HS_ALIAS`` to the
   identifier, or a ``GS1.RULE`` template such as ``88.118.8/{01}-{21}`` that builds it.
3. A finer key that is not bound walks up: serial, then lot, then the GTIN.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from resolver.errors import InvalidHandle
from resolver.gs1.dictionary import AiEntry, table

_DIGITS = re.compile(r"[0-9]+")
_PLACEHOLDER = re.compile(r"\{([0-9]{2,4})\}")


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


def is_primary_key(ai: str) -> bool:
    """Whether the AI is a GS1 Digital Link primary key (``dlpkey`` in the dictionary)."""
    entry = table().get(ai)
    return entry is not None and entry.dl_qualifiers is not None


def gcp_offset(entry: AiEntry) -> int:
    """Where the company prefix starts in a key's value: the dictionary marks the component
    holding it with a ``gcpposN`` linter (N = 1: at its start; 2: after an indicator or
    extension digit)."""
    offset = 0
    for component in entry.components:
        for linter in component.linters:
            if linter.startswith("gcppos"):
                return offset + int(linter[len("gcppos") :]) - 1
        offset += component.max_length
    raise InvalidGs1Key(f"({entry.ai}) is not a key that carries a company prefix")


@dataclass(frozen=True)
class Gs1Key:
    """A GS1 primary key (a Digital Link ``dlpkey`` AI such as 01, 00, 414, 8004) with the
    qualifiers that narrow it, in the order the syntax dictionary gives for that key."""

    ai: str
    value: str
    qualifiers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, ai: str, value: str, qualifiers: dict[str, str] | None = None) -> Gs1Key:
        """The key with ``qualifiers`` put in path order.

        :raises InvalidGs1Key: ``ai`` is not a primary key, or a qualifier cannot qualify it.
        """
        if not is_primary_key(ai):
            raise InvalidGs1Key(f"({ai}) is not a GS1 primary key")
        orders = table()[ai].dl_qualifiers or ()
        given = qualifiers or {}
        order = next((s for s in orders if set(given) <= set(s)), None)
        if order is None:
            allowed = " or ".join(",".join(s) for s in orders if s) or "none"
            raise InvalidGs1Key(
                f"AI {', '.join(sorted(given))} cannot qualify ({ai}) (qualifiers: {allowed})"
            )
        return cls(ai, value, tuple((q, given[q]) for q in order if q in given))

    @property
    def fields(self) -> dict[str, str]:
        """Every AI of the key and its qualifiers, by AI."""
        return {self.ai: self.value, **dict(self.qualifiers)}

    @property
    def path(self) -> str:
        """``01/<gtin>[/22/..][/10/..][/21/..]``: the suffix a binding is registered under.
        A value's ``/`` (and ``%``) is percent-encoded, so lot ``L1/21/S1`` is not read as lot
        ``L1`` with serial ``S1``."""
        pairs = ((self.ai, self.value), *self.qualifiers)
        return "/".join(
            f"{ai}/{value.replace('%', '%25').replace('/', '%2F')}" for ai, value in pairs
        )

    @property
    def uri_path(self) -> str:
        """The Digital Link path, values percent-encoded: ``/01/<gtin>/10/A%2FB``."""
        pairs = ((self.ai, self.value), *self.qualifiers)
        return "".join(f"/{ai}/{quote(value, safe='')}" for ai, value in pairs)

    def walk_up(self) -> list[Gs1Key]:
        """This key, then each coarser one down to the bare primary key (serial, then lot,
        then variant, then the GTIN)."""
        return [
            Gs1Key(self.ai, self.value, self.qualifiers[:n])
            for n in range(len(self.qualifiers), -1, -1)
        ]

    def company_prefixes(self) -> list[str]:
        """The GS1 Company Prefixes the key may carry: 4 to 12 digits from where the
        dictionary puts the prefix."""
        start = gcp_offset(table()[self.ai])
        digits = _DIGITS.match(self.value, start)
        run = digits.group() if digits else ""
        return [run[:n] for n in range(4, min(12, len(run)) + 1)]


def fill_ais(
    template: str, fields: dict[str, str], encode: Callable[[str], str] = str
) -> str | None:
    """Fill ``{01}``, ``{10}``, ``{21}``, ``{8004}``... in ``template`` from ``fields`` (each
    value passed through ``encode``), or None when it names an AI they lack."""
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        value = fields.get(match.group(1))
        if value is None:
            missing = True
            return ""
        return encode(value)

    built = _PLACEHOLDER.sub(fill, template)
    return None if missing else built


def apply_rule(template: str, key: Gs1Key) -> str | None:
    """A ``GS1.RULE`` template filled from the key, or None when it needs an AI the key
    does not have."""
    return fill_ais(template, key.fields)
