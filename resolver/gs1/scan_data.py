"""What a barcode scanner transmits, read as GS1's syntax engine reads it: an ISO/IEC 15424
symbology identifier (``]Q3``, ``]d2``, ``]C1``...) telling whether the rest is GS1 AI data,
plain text (where a Digital Link URI usually is), or an EAN/UPC number; a composite
component follows a ``|``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from resolver.gs1.ai_data import GS, Element, Gs1DataError, parse_element_string
from resolver.gs1.keys import InvalidGs1Key, gtin14

#: symbology identifiers: (name, what follows): "gs1" AI data, "plain" text, "ean<n>" digits
SYMBOLOGIES = {
    "]Q1": ("QR", "plain"),
    "]Q3": ("QR", "gs1"),
    "]d1": ("DM", "plain"),
    "]d2": ("DM", "gs1"),
    "]J0": ("DotCode", "plain"),
    "]J1": ("DotCode", "gs1"),
    "]e0": ("DataBarExpanded", "gs1"),
    "]C1": ("GS1_128", "gs1"),
    "]E0": ("EAN13", "ean13"),
    "]E4": ("EAN8", "ean8"),
}
_EAN_LENGTH = {"ean13": 13, "ean8": 8}


@dataclass
class ScanData:
    """``elements`` for GS1 AI data; ``text`` for plain text; ``gtin`` for an EAN/UPC
    (as 14 digits), with a composite component's ``elements`` when one follows."""

    symbology: str
    text: str | None = None
    gtin: str | None = None
    elements: list[Element] = field(default_factory=list)


def parse(data: str) -> ScanData:
    """:raises Gs1DataError: naming what is wrong with the scan."""
    head = data[:3]
    if head not in SYMBOLOGIES:
        raise Gs1DataError(f"scan data starts with an unknown symbology identifier {head!r}")
    name, kind = SYMBOLOGIES[head]
    body = data[3:]
    if kind == "plain":
        return ScanData(name, text=body)
    if kind == "gs1":
        return ScanData(name, elements=parse_element_string(body.removeprefix(GS)))
    digits, bar, composite = body.partition("|")
    if len(digits) != _EAN_LENGTH[kind] or not digits.isascii() or not digits.isdigit():
        raise Gs1DataError(f"{name} data must be {_EAN_LENGTH[kind]} digits: {digits!r}")
    try:
        gtin = gtin14(digits)
    except InvalidGs1Key as err:
        raise Gs1DataError(err.message) from None
    scan = ScanData(name, gtin=gtin)
    if bar:
        if not composite.startswith("]e0"):
            raise Gs1DataError("a composite component starts with ]e0")
        scan.elements = parse(composite).elements
    return scan
