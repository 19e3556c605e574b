"""From what a scanner or camera read to what to look up: a tierid identifier, or a GS1 key
(GTIN with its qualifiers) to resolve through the bindings (:mod:`resolver.gs1.bindings`).

Accepted, in the order tried: scanner data with a symbology identifier (``]Q3...``,
``]Q1https://...``); AI data with a leading FNC1 (GS, or ``\\xe8`` as some decoders send it,
or ``<GS>`` as text); bracketed text ``(01)...(21)...``; GS1 Digital Link URIs; URLs that
carry an identifier (``https://host/api/handles/88.1/X``, ``https://host/88.1/X``); bare
identifiers; bare GTINs; and AI data whose separators a scanner dropped. When dropped
separators make the data readable in more than one way, the error lists the readings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from resolver.errors import InvalidHandle
from resolver.gs1 import digital_link, scan_data
from resolver.gs1.ai_data import (
    GS,
    Element,
    Gs1DataError,
    bracketed,
    check_associations,
    parse_bracketed,
    parse_element_string,
    readings,
)
from resolver.gs1.dictionary import table
from resolver.gs1.keys import Gs1Key, InvalidGs1Key, gtin14, is_primary_key
from resolver.handle import parse as parse_handle

_FNC1_AS_SENT = ("\x1d", "\xe8")
_GTIN = re.compile(r"[0-9]{8}|[0-9]{12,14}")
_HANDLE_PATH = re.compile(r"/(?:api/handles/)?([0-9A-Za-z][^/]*/.+)")
_TRAILING_SLASH = re.compile(r"^([^?#]*[^/?#])/+(?=$|[?#])")
#: what scanners are set to send after a code (Enter, Tab)
_SCANNER_SUFFIXES = "\r\n\t"


class AmbiguousScan(Gs1DataError):
    """Data without FNC1 separators that reads more than one way; ``candidates`` lists the
    readings in bracketed form."""

    def __init__(self, candidates: list[str]) -> None:
        super().__init__(
            "separators are missing and the data reads more than one way: " + "; ".join(candidates)
        )
        self.candidates = candidates

    @property
    def details(self) -> dict[str, list[str]]:
        return {"candidates": self.candidates}


@dataclass
class Reading:
    """What a scan names: ``handle`` for an identifier, else the GS1 ``key`` (primary key and
    qualifiers) among the GS1 ``elements``."""

    source: str
    handle: str | None = None
    key: Gs1Key | None = None
    elements: list[Element] = field(default_factory=list)
    symbology: str | None = None
    #: the host a scanned URL named: an app can warn when a code points somewhere unexpected
    host: str | None = None

    def to_json(self) -> dict:
        out: dict = {"from": self.source}
        if self.symbology:
            out["symbology"] = self.symbology
        if self.host:
            out["host"] = self.host
        if self.handle:
            out["handle"] = self.handle
        if self.elements:
            out["gs1"] = bracketed(self.elements)
        if self.key:
            out["key"] = self.key.path
        return out


def _from_elements(source: str, elements: list[Element]) -> Reading:
    check_associations(elements)
    primary = next((e for e in elements if is_primary_key(e.ai)), None)
    if primary is None:
        found = ", ".join(f"({e.ai})" for e in elements)
        raise Gs1DataError(f"no GS1 primary key (such as a GTIN) to resolve among {found}")
    allowed = {q for order in table()[primary.ai].dl_qualifiers or () for q in order}
    qualifiers = {e.ai: e.value for e in elements if e.ai in allowed}
    return Reading(source, key=Gs1Key.of(primary.ai, primary.value, qualifiers), elements=elements)


def _from_url(text: str) -> Reading:
    try:  # a trailing "/" on its path, as the Digital Link face reads it
        link = digital_link.parse(_TRAILING_SLASH.sub(r"\1", text, count=1))
    except Gs1DataError as not_a_link:
        try:
            parts = urlsplit(text)
        except ValueError:  # e.g. an unclosed IPv6 host: "https://[::1/..."
            raise not_a_link from None
        found = _HANDLE_PATH.fullmatch(parts.path)
        # a path starting with a key AI (/01/...) is a Digital Link with an error, not an
        # identifier: its error is the answer
        if found is None or is_primary_key(found.group(1).split("/")[0]):
            raise not_a_link from None
        handle = unquote(found.group(1))
        parse_handle(handle)
        return Reading("url", handle=handle, host=parts.hostname)
    reading = _from_elements("digital-link", link.elements)
    reading.host = urlsplit(text).hostname
    return reading


def _from_digits(text: str) -> Reading:
    """AI data without any separator: fine when only one reading exists."""
    found = readings(text)
    if not found:
        return _from_elements("element-string", parse_element_string(text))
    if len(found) > 1:
        raise AmbiguousScan([bracketed(r) for r in found])
    return _from_elements("element-string", found[0])


def read(raw: str) -> Reading:
    """:raises InvalidHandle: (Gs1DataError, AmbiguousScan) naming what could not be read."""
    text = raw.strip(_SCANNER_SUFFIXES).replace("<GS>", GS)
    if not text:
        raise Gs1DataError("the scan is empty")
    if text.startswith("]"):
        scan = scan_data.parse(text)
        if scan.text is not None:  # read once: a symbology identifier inside is plain text
            reading = _read_unmarked(scan.text)
        elif scan.gtin is not None:
            reading = _from_elements("ean", [Element("01", scan.gtin), *scan.elements])
        else:
            reading = _from_elements("element-string", scan.elements)
        reading.symbology = scan.symbology
        return reading
    return _read_unmarked(text)


def _read_unmarked(text: str) -> Reading:
    """What scanned text without a symbology identifier names."""
    if text.startswith(_FNC1_AS_SENT):
        return _from_elements("element-string", parse_element_string(text[1:]))
    if text.startswith("("):
        return _from_elements("bracketed", parse_bracketed(text))
    if text.lower().startswith(("http://", "https://")):
        return _from_url(text)
    not_a_gtin = None
    if _GTIN.fullmatch(text):
        try:
            gtin = gtin14(text)
        except InvalidGs1Key as err:
            not_a_gtin = err  # maybe AI data
        else:
            return Reading("gtin", key=Gs1Key("01", gtin), elements=[Element("01", gtin)])
    if "/" in text:
        try:
            parse_handle(text)
        except InvalidHandle:
            pass
        else:
            return Reading("identifier", handle=text)
    if text.isascii() and text[:2].isdigit():
        try:
            return _from_digits(text)
        except Gs1DataError:
            if not_a_gtin is not None:  # a GTIN's length, unreadable as AI data: its check
                raise not_a_gtin from None  # digit is the likelier fault
            raise
    raise Gs1DataError(f"{text[:40]!r} is neither an identifier nor GS1 data")
