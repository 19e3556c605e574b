"""What a GS1 key offers once its bound levels are known: the links of each type (the
finest level that has a type wins, so a serial's own manual hides the model's), the
default link, and the choice among variants that a request's headers make.

The default link is the finest level's: its ``GS1.LINK`` values marked default, else its
URL value; a key whose levels have neither still has one, so that every scan leads
somewhere: the finest record's page on this resolver (README, "Digital Link resolver").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from resolver.gs1.bindings import Bound
from resolver.gs1.links import DEFAULT_LINK, DEFAULT_LINK_MULTI, PIP, Link, links_of
from resolver.negotiation import language_matches, media_matches, parse_ranges, prefer
from resolver.values import HandleValue, first_url

#: the JSON-LD context GS1 publishes for linksets (GS1-Conformant Resolver 1.2)
LINKSET_CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"


def _description(values: Sequence[HandleValue]) -> str | None:
    return next(
        (v.data.decode("utf-8", "replace") for v in values if v.type.upper() == "DESC"), None
    )


@dataclass
class Offer:
    """The links served for one request URI (``anchor``)."""

    anchor: str
    description: str | None
    #: link type URI -> its links, in the order the records list them
    by_type: dict[str, list[Link]] = field(default_factory=dict)
    #: the default link first, then its variants (GS1's defaultLinkMulti)
    defaults: list[Link] = field(default_factory=list)
    #: every value of every level (how long the answer may be cached depends on them)
    values: list[HandleValue] = field(default_factory=list)

    def candidates(self, link_type: str | None) -> list[Link]:
        """The links of a type (the defaults when None or gs1:defaultLink)."""
        if link_type is None or link_type in (DEFAULT_LINK, DEFAULT_LINK_MULTI):
            return list(self.defaults)
        return list(self.by_type.get(link_type, []))

    def linkset(self, links: Sequence[Link] | None = None, *, json_ld: bool = False) -> dict:
        """The RFC 9264 linkset (GS1's schema: one context object for the anchor, link
        types as full URIs, targets with href and title). ``links``: only these (a 300's
        variants) instead of everything offered."""
        context: dict[str, Any] = {"anchor": self.anchor}
        if self.description:
            context["itemDescription"] = self.description
        if links is None:
            if self.defaults:
                first = self.defaults[0]
                context[DEFAULT_LINK] = [{"href": first.href, "title": first.title}]
                if len(self.defaults) > 1:
                    context[DEFAULT_LINK_MULTI] = [d.target() for d in self.defaults[1:]]
            for link_type, typed in self.by_type.items():
                context[link_type] = [link.target() for link in typed]
        else:
            for link in links:
                context.setdefault(link.link_type, []).append(link.target())
        body: dict[str, Any] = {"linkset": [context]}
        if json_ld:
            body = {"@context": LINKSET_CONTEXT, **body}
        return body


def build_offer(
    levels: Sequence[Bound], fields: dict[str, str], anchor: str, page_url: Callable[[str], str]
) -> Offer:
    """Merge the levels (finest first) into what the request URI offers; ``fields`` (the
    request's AIs) fill link templates, ``page_url`` names a record's page here."""
    finest = levels[0]
    described = (_description(bound.answer.values) for bound in levels)
    offer = Offer(anchor, next((d for d in described if d), None))
    implicit: Link | None = None
    for bound in levels:
        values = bound.answer.values
        offer.values.extend(values)
        links = links_of(values)
        usable = [f for f in (link.filled(fields) for link in links) if f is not None]
        level_types: dict[str, list[Link]] = {}
        for link in usable:
            level_types.setdefault(link.link_type, []).append(link)
        for link_type, typed in level_types.items():
            offer.by_type.setdefault(link_type, typed)
        if offer.defaults or implicit is not None:
            continue
        offer.defaults = [link for link in usable if link.default]
        url = first_url(values)
        if not offer.defaults and url is not None:
            implicit = Link(PIP, url, _description(values) or bound.handle, default=True)
    if not offer.defaults:
        if implicit is None:
            title = offer.description or finest.handle
            implicit = Link(PIP, page_url(finest.handle), title, default=True)
        offer.defaults = [implicit]
        offer.by_type.setdefault(PIP, [implicit])
    return offer


def choose(
    links: Sequence[Link], *, context: str | None, accept: str | None, accept_language: str | None
) -> list[Link]:
    """The links that best fit the request: its ``context`` parameter, then its languages
    (q-values, ``en-GB`` falling back to ``en``, links without a language as the last
    resort), then its media types. More than one left means equal choices."""
    chosen = list(links)
    if context:
        wanted = context.lower()
        fits = [link for link in chosen if wanted in (c.lower() for c in link.context)]
        chosen = fits or [link for link in chosen if not link.context] or chosen
    languages = parse_ranges(accept_language)
    if languages:
        fits = prefer(
            chosen,
            languages,
            lambda r, link: int(any(language_matches(r, tag) for tag in link.hreflang)),
        )
        chosen = fits or [link for link in chosen if not link.hreflang] or chosen
    media = parse_ranges(accept)
    if media:
        fits = prefer(
            chosen,
            media,
            lambda r, link: media_matches(r, link.media_type or "") if link.media_type else 0,
        )
        chosen = fits or chosen
    if len({link.metadata for link in chosen}) > 1:
        chosen = chosen[:1]
    return chosen
