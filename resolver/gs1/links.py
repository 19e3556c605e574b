"""The links a GS1 Digital Link resolver serves for a key, kept as ``GS1.LINK`` values of
the records the key is bound to (README, "Digital Link resolver").

A ``GS1.LINK`` value's data is a JSON object::

    {"linkType": "gs1:pip", "href": "https://example.com/p/{01}?lot={10}",
     "title": "Product information", "type": "text/html", "hreflang": ["en"],
     "context": ["consumer"], "default": true}

``linkType`` is a GS1 Web Vocabulary term as a CURIE (``gs1:pip``), a bare name (``pip``) or
a full URI; ``href`` may hold ``{AI}`` placeholders filled from the request's key (a link
whose placeholder the request lacks does not apply); ``default`` marks the default link
(several: language or context variants, GS1's ``defaultLinkMulti``).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from resolver.errors import InvalidValue
from resolver.gs1.keys import fill_ais
from resolver.values import HandleValue

GS1_LINK = "GS1.LINK"
GS1_VOC = "https://gs1.org/voc/"
DEFAULT_LINK = GS1_VOC + "defaultLink"
DEFAULT_LINK_MULTI = GS1_VOC + "defaultLinkMulti"
PIP = GS1_VOC + "pip"
#: namespaces a link type may be written in; GS1 has published its vocabulary under each
_GS1_SPELLINGS = ("https://gs1.org/voc/", "http://gs1.org/voc/", "https://ref.gs1.org/voc/")
_PREFIXES = {"gs1:": GS1_VOC, "schema:": "https://schema.org/"}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,99}")
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", re.IGNORECASE)
_MAX_TEXT = 2000


def link_type_uri(text: str) -> str | None:
    """A link type as its full URI (``gs1:pip``, ``pip`` and the vocabulary's other
    spellings are the same type), or None when it is not one."""
    text = text.strip()
    for spelling in _GS1_SPELLINGS:
        if text.startswith(spelling) and _NAME.fullmatch(text[len(spelling) :]):
            return GS1_VOC + text[len(spelling) :]
    for prefix, namespace in _PREFIXES.items():
        if text.startswith(prefix) and _NAME.fullmatch(text[len(prefix) :]):
            return namespace + text[len(prefix) :]
    if _NAME.fullmatch(text):
        return GS1_VOC + text
    if text.startswith(("https://", "http://")) and " " not in text:
        return text
    return None


def curie(uri: str) -> str:
    """``https://gs1.org/voc/pip`` as ``gs1:pip``; other URIs unchanged."""
    for prefix, namespace in _PREFIXES.items():
        if uri.startswith(namespace):
            return prefix + uri[len(namespace) :]
    return uri


@dataclass(frozen=True)
class Link:
    link_type: str
    href: str
    title: str
    media_type: str | None = None
    hreflang: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    default: bool = False

    @classmethod
    def from_json(cls, obj: Any) -> Link:
        """:raises InvalidValue: naming the field at fault."""
        if not isinstance(obj, dict):
            raise InvalidValue("a GS1.LINK value is a JSON object")
        link_type = link_type_uri(_text(obj, "linkType"))
        if link_type is None:
            raise InvalidValue("GS1.LINK linkType is not a link type (gs1:pip, pip or a URI)")
        href = _text(obj, "href")
        if not href.startswith(("https://", "http://")) or any(c in href for c in ' <>"\n'):
            raise InvalidValue("GS1.LINK href is not an http(s) URL")
        media_type = obj.get("type")
        if media_type is not None and not (
            isinstance(media_type, str) and _MEDIA_TYPE.fullmatch(media_type)
        ):
            raise InvalidValue("GS1.LINK type is not a media type such as text/html")
        default = obj.get("default", False)
        if not isinstance(default, bool):
            raise InvalidValue("GS1.LINK default is true or false")
        return cls(
            link_type=link_type,
            href=href,
            title=_text(obj, "title"),
            media_type=media_type,
            hreflang=_tags(obj, "hreflang", _LANGUAGE),
            context=_tags(obj, "context", _NAME),
            default=default,
        )

    @classmethod
    def from_value(cls, value: HandleValue) -> Link:
        """:raises InvalidValue: the value's data is not a GS1.LINK object."""
        try:
            obj = json.loads(value.data)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise InvalidValue(f"GS1.LINK value {value.index} is not JSON") from None
        return cls.from_json(obj)

    def filled(self, fields: dict[str, str]) -> Link | None:
        """The link with ``{AI}`` placeholders in its href filled (percent-encoded) from
        ``fields``, or None when it names an AI they lack."""
        href = fill_ais(self.href, fields, lambda value: quote(value, safe=""))
        return None if href is None else replace(self, href=href)

    def target(self) -> dict[str, Any]:
        """The RFC 9264 target object, as GS1's linkset schema has it."""
        out: dict[str, Any] = {"href": self.href, "title": self.title}
        if self.media_type:
            out["type"] = self.media_type
        if self.hreflang:
            out["hreflang"] = list(self.hreflang)
        if self.context:
            out["context"] = list(self.context)
        return out

    @property
    def metadata(self) -> tuple[Any, ...]:
        """What a request can tell variants apart by; links sharing it are equal choices."""
        return (self.link_type, self.media_type, self.hreflang, self.context)


def _text(obj: dict[str, Any], name: str) -> str:
    text = obj.get(name)
    if not isinstance(text, str) or not text.strip() or len(text) > _MAX_TEXT:
        raise InvalidValue(f"GS1.LINK {name} must be a non-empty string")
    return text.strip()


def _tags(obj: dict[str, Any], name: str, syntax: re.Pattern[str]) -> tuple[str, ...]:
    tags = obj.get(name, [])
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(
        isinstance(t, str) and syntax.fullmatch(t) for t in tags
    ):
        raise InvalidValue(f"GS1.LINK {name} is a list of tags")
    return tuple(t for t in tags if t.lower() != "und")


def links_of(values: list[HandleValue]) -> list[Link]:
    """The record's links; a GS1.LINK value that is not a valid link is left out rather than
    failing the request (values are not yet checked when they are registered)."""
    links: list[Link] = []
    for v in values:
        if v.type.upper() == GS1_LINK:
            with contextlib.suppress(InvalidValue):
                links.append(Link.from_value(v))
    return links
