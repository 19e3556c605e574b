"""GS1 Digital Link URIs (uncompressed), parsed as strictly as GS1's syntax engine:
``scheme://host[/stem]/{key AI}/{key}[/{qualifier AI}/{value}]*[?{attribute AI}={value}&...]``.

The primary key is the rightmost key AI of the path whose following segments are its
qualifiers, in one of the orders the Syntax Dictionary gives (``dlpkey=22,10,21|235``).
Query parameters named by digits must be AIs allowed as Digital Link attributes, once each,
never a qualifier that belongs in the path; other parameters (``linkType``) are passed over.
Values are percent-decoded (``+`` is a space in the query only) and validated like any AI
data, as are the associations of the whole message. Legacy forms (zero-suppressed GTINs,
convenience alphas such as ``/gtin/``) are accepted only when asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from resolver.gs1.ai_data import Element, Gs1DataError, check_associations, check_value
from resolver.gs1.dictionary import AiEntry, table
from resolver.gs1.keys import is_primary_key

_SCHEME = re.compile(r"(https?|HTTPS?)://")
_HOST = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=-]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?")
_PATH = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*")
_QUERY = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*")
#: the path words DL 1.2 allowed for AIs (removed in DL 1.3, accepted only on request)
CONVENIENCE_ALPHAS = {
    "gtin": "01", "itip": "8006", "cpv": "22", "lot": "10", "ser": "21", "sscc": "00",
    "gln": "414", "glnx": "254", "grai": "8003", "giai": "8004", "gsrn": "8018",
    "gsrnp": "8017", "gdti": "253", "gcn": "255", "gmn": "8013", "cpid": "8010",
    "cpsn": "8011", "srin": "8019", "tpx": "235", "payTo": "415", "ginc": "401",
    "gsin": "402",
}  # fmt: skip


@dataclass(frozen=True)
class Options:
    permit_zero_suppressed_gtin: bool = False
    permit_convenience_alphas: bool = False
    permit_unknown_ais: bool = False


@dataclass
class DigitalLink:
    """A parsed URI: ``stem`` is everything before the key (scheme, host, any path stem)."""

    stem: str
    key: Element
    qualifiers: list[Element]
    attributes: list[Element]
    #: query parameters that are not AIs (``linkType``, ``context``...), in order
    other: list[tuple[str, str]] = field(default_factory=list)

    @property
    def elements(self) -> list[Element]:
        return [self.key, *self.qualifiers, *self.attributes]


def _decoded(text: str, *, query: bool) -> str:
    """Percent-decoded as UTF-8. GS1's engine decodes bytes one to one, so ``%FF`` is a
    character there; no AI's character set admits one, so it is an error here.

    :raises Gs1DataError:
    """
    try:
        value = unquote(text.replace("+", " ") if query else text, errors="strict")
    except UnicodeDecodeError:
        raise Gs1DataError(f"{text!r}: a percent-escape is not UTF-8") from None
    if "\x00" in value:
        raise Gs1DataError(f"{text!r}: NUL is not allowed")
    return value


def _key_value(entry: AiEntry, value: str, options: Options) -> str:
    if (
        entry.ai == "01"
        and options.permit_zero_suppressed_gtin
        and len(value) in (8, 12, 13)
        and value.isdigit()
    ):
        value = value.zfill(14)
    check_value(entry, value)
    return value


def _path_ai(segment: str, options: Options) -> str | None:
    if options.permit_convenience_alphas and segment in CONVENIENCE_ALPHAS:
        return CONVENIENCE_ALPHAS[segment]
    return segment if segment in table() else None


def _find_key(segments: list[str], options: Options) -> int:
    """Index of the primary key's AI: walk left over qualifier pairs to the rightmost key."""
    i = len(segments) - 2
    while i >= 0:
        ai = _path_ai(segments[i], options)
        if ai is None:
            break
        if table()[ai].dl_qualifiers is not None:
            return i
        i -= 2
    raise Gs1DataError("no GS1 primary key (such as /01/<GTIN>) at the end of the path")


def _path_qualifiers(key: AiEntry, qualifiers: list[str]) -> set[str]:
    """The AIs that may qualify the key in this path (they belong in the path, never in
    the query). :raises Gs1DataError: the path follows none of the key's orders."""
    assert key.dl_qualifiers is not None
    fitting = [
        s
        for s in key.dl_qualifiers
        if all(q in s for q in qualifiers)
        and [s.index(q) for q in qualifiers] == sorted({s.index(q) for q in qualifiers})
    ]
    if not fitting:
        allowed = " or ".join("/".join(s) or "none" for s in key.dl_qualifiers)
        raise Gs1DataError(
            f"qualifiers {'/'.join(qualifiers)} do not follow ({key.ai})'s order ({allowed})",
            ai=key.ai,
        )
    return {q for s in fitting for q in s}


def parse(uri: str, options: Options = Options()) -> DigitalLink:
    """:raises Gs1DataError: naming the part of the URI at fault."""
    scheme = _SCHEME.match(uri)
    if scheme is None:
        raise Gs1DataError("a Digital Link URI starts with http:// or https://")
    rest = uri[scheme.end() :].partition("#")[0]
    rest, _, query = rest.partition("?")
    host, slash, path = rest.partition("/")
    if not host or not slash or not _HOST.fullmatch(host):
        raise Gs1DataError(f"bad host {host!r} in a Digital Link URI")
    if not _PATH.fullmatch(path) or not _QUERY.fullmatch(query):
        raise Gs1DataError("a Digital Link URI has characters that must be percent-encoded")
    if path.endswith("/"):
        raise Gs1DataError("a Digital Link path does not end with '/'")
    segments = path.split("/")
    start = _find_key(segments, options)
    key_entry = table()[_path_ai(segments[start], options) or ""]
    key, *qualifiers = [
        _path_element(segments[i], segments[i + 1], options) for i in range(start, len(segments), 2)
    ]
    in_path = _path_qualifiers(key_entry, [q.ai for q in qualifiers])
    link = DigitalLink(
        stem=uri[: scheme.end()] + host + "/" + "/".join(segments[:start]),
        key=key,
        qualifiers=qualifiers,
        attributes=[],
    )
    path_ais = {key.ai, *(q.ai for q in qualifiers)}
    for param in query.split("&"):
        name, eq, raw = param.partition("=")
        if not eq or not name.isdigit():
            if name:
                link.other.append((_decoded(name, query=True), _decoded(raw, query=True)))
            continue
        link.attributes.append(_attribute(key_entry, in_path, path_ais, name, raw, options))
        path_ais.add(name)
    check_associations(link.elements)
    return link


def _path_element(ai_segment: str, value: str, options: Options) -> Element:
    entry = table()[_path_ai(ai_segment, options) or ""]
    return Element(entry.ai, _key_value(entry, _decoded(value, query=False), options))


def _attribute(
    key: AiEntry,
    in_path: set[str],
    present: set[str],
    ai: str,
    raw: str,
    options: Options,
) -> Element:
    entry = table().get(ai)
    if ai in present:
        raise Gs1DataError(f"AI ({ai}) appears twice", ai=ai)
    if entry is None:
        if not options.permit_unknown_ais:
            raise Gs1DataError(f"?{ai}= is not a known AI", ai=ai)
    elif not entry.dl_attribute:
        raise Gs1DataError(f"AI ({ai}) is not a Digital Link attribute", ai=ai)
    elif ai in in_path:
        raise Gs1DataError(f"AI ({ai}) qualifies ({key.ai}) in the path, not the query", ai=ai)
    value = _decoded(raw, query=True)
    if entry is None:
        if not value:
            raise Gs1DataError(f"AI ({ai}) has no data", ai=ai)
        return Element(ai, value)
    return Element(ai, _key_value(entry, value, options))


#: the stem GS1 writes Digital Link URIs with when none is given
CANONICAL_STEM = "https://id.gs1.org"
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]")


def uri_escape(value: str, *, query: bool) -> str:
    """Percent-encode all but RFC 3986's unreserved characters, as GS1's engine does (a
    space is ``+`` in the query)."""
    out = []
    for char in value:
        if _UNRESERVED.fullmatch(char):
            out.append(char)
        elif char == " " and query:
            out.append("+")
        else:
            out.extend(f"%{b:02X}" for b in char.encode("utf-8"))
    return "".join(out)


def to_uri(elements: list[Element], stem: str | None = None, options: Options = Options()) -> str:
    """The Digital Link URI of AI data: the first primary key in the path with the
    qualifiers it has (in the dictionary's order), every other AI in the query (those of a
    predefined length first, then the rest, each in the order given); repeats dropped.

    :raises Gs1DataError: no primary key, qualifiers of different orders, or an AI that
        cannot be a Digital Link attribute.
    """
    check_associations(elements)
    unique: list[Element] = []
    for e in elements:
        if e not in unique:
            unique.append(e)
    key = next((e for e in unique if is_primary_key(e.ai)), None)
    if key is None:
        raise Gs1DataError("no GS1 primary key to build a Digital Link URI on")
    orders = table()[key.ai].dl_qualifiers or ()
    qualifiers = {e.ai for e in unique if e is not key and any(e.ai in s for s in orders)}
    order = next((s for s in orders if qualifiers <= set(s)), None)
    if order is None:
        raise Gs1DataError(
            f"AIs {', '.join(sorted(qualifiers))} cannot qualify ({key.ai}) together"
        )
    path = [key, *(e for q in order for e in unique if e.ai == q)]
    query = [e for e in unique if e not in path]
    for e in query:
        if e.entry is None and not options.permit_unknown_ais:
            raise Gs1DataError(f"AI ({e.ai}) is not known", ai=e.ai)
        if e.entry is not None and not e.entry.dl_attribute:
            raise Gs1DataError(f"AI ({e.ai}) is not a Digital Link attribute", ai=e.ai)
    query.sort(key=lambda e: not (e.entry is not None and e.entry.predefined_length))
    uri = (stem or CANONICAL_STEM).rstrip("/")
    uri += "".join(f"/{e.ai}/{uri_escape(e.value, query=False)}" for e in path)
    if query:
        uri += "?" + "&".join(f"{e.ai}={uri_escape(e.value, query=True)}" for e in query)
    return uri
