"""The GS1 Digital Link resolver face (GS1-Conformant Resolver 1.2): ``/01/<gtin>[/10/<lot>]
[/21/<serial>]`` and the other primary keys, answered from the records the key is bound to.

- 307 to the default link, or to the ``linkType=`` asked for (CURIE, bare name or URI);
  404 when the key offers no link of that type, 400 for a URI that is not a valid Digital
  Link (check digits, qualifier order, attributes), a trailing slash tolerated.
- ``linkType=linkset`` (or the deprecated ``all``), or ``Accept: application/linkset+json``:
  200 with the RFC 9264 linkset, links from every level up to the primary key.
- Variants: ``context=``, ``Accept-Language`` (q-values, ``en-GB`` falls back to ``en``) and
  ``Accept`` choose among links of one type; identical choices left give 300.
- Every answer carries ``Link: <anchor?linkType=linkset>; rel="linkset"``, CORS headers for
  GET, HEAD and OPTIONS, and ``Vary``. The query string is passed on to the target.
- ``/.well-known/gs1resolver`` describes the resolver.
"""

from __future__ import annotations

from collections.abc import Callable

import yarl
from aiohttp import web

from resolver.errors import InvalidHandle, LinkTypeNotFound, TieridError
from resolver.faces.http import location, redirect_ttl
from resolver.faces.http_common import add_route, dumps, error_response
from resolver.gs1 import digital_link
from resolver.gs1.bindings import Gs1Resolver
from resolver.gs1.dictionary import table
from resolver.gs1.keys import Gs1Key
from resolver.gs1.links import GS1_VOC, Link, link_type_uri
from resolver.gs1.offer import LINKSET_CONTEXT, Offer, build_offer, choose
from resolver.http_client import path_of
from resolver.negotiation import media_matches, parse_ranges, prefer

LINKSET_TYPE = "application/linkset+json"
#: what a client may ask a linkset as, in our order of preference
_LINKSET_MEDIA = (LINKSET_TYPE, "application/json", "application/ld+json")
_ALLOW = "GET, HEAD, OPTIONS"


def primary_key_ais() -> list[str]:
    return sorted(ai for ai, entry in table().items() if entry.dl_qualifiers is not None)


def _linkset_media(accept: str | None) -> str | None:
    """The linkset media type an ``Accept`` header names before any other type it names
    (``*/*`` and ``text/html`` mean a browser or a plain client: they get the redirect)."""
    offered = (*_LINKSET_MEDIA, "text/html")
    chosen = prefer(offered, parse_ranges(accept), lambda r, t: int(media_matches(r, t) == 3))
    return chosen[0] if chosen and chosen[0] != "text/html" else None


def _passed_on(query_string: str) -> str:
    """The request's query without the resolver's own ``linkType``, as it came."""
    kept = [p for p in query_string.split("&") if p and p.split("=")[0].lower() != "linktype"]
    return "&".join(kept)


def _with_query(href: str, query: str) -> str:
    """``href`` with ``query`` appended (``&`` when it has one already; before a fragment)."""
    if not query:
        return href
    head, hash_, fragment = href.partition("#")
    joiner = "&" if "?" in head else "?"
    return f"{head}{joiner}{query}{hash_}{fragment}"


class DigitalLinkRoutes:
    """``public_url``: this resolver's root as people reach it (empty: the request's own
    scheme and host)."""

    def __init__(self, gs1: Gs1Resolver, public_url: str, name: str) -> None:
        self.gs1 = gs1
        self.public_url = public_url.rstrip("/")
        self.name = name

    def add_to(self, app: web.Application) -> None:
        keys = "|".join(primary_key_ais())
        path = f"/{{ai:(?:{keys})}}/{{tail:.+}}"
        add_route(app, "GET", path, self.resolve)
        add_route(app, "OPTIONS", path, self.options)
        add_route(app, "GET", "/.well-known/gs1resolver", self.description)
        add_route(app, "OPTIONS", "/.well-known/gs1resolver", self.options)

    def _root(self, request: web.Request) -> str:
        """``[http] public_url``, else the scheme and host the request came to (a host in
        another script as its ASCII form, ``xn--...``, as URIs write it).

        :raises InvalidHandle: a Host header that names no host.
        """
        if self.public_url:
            return self.public_url
        root = f"{request.scheme}://{request.host}"
        if root.isascii():
            return root
        try:
            return str(yarl.URL(root)).rstrip("/")
        except (UnicodeError, ValueError) as exc:
            raise InvalidHandle("host", "the Host header names no host") from exc

    @staticmethod
    def _headers(anchor: str | None, *, linkset: bool = False) -> dict[str, str]:
        headers = {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Expose-Headers": "Link, Location",
            "Vary": "Accept, Accept-Language",
        }
        links = []
        if anchor is not None:
            links.append(f'<{anchor}?linkType=linkset>; rel="linkset"; type="{LINKSET_TYPE}"')
        if linkset:
            links.append(
                f'<{LINKSET_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; '
                'type="application/ld+json"'
            )
        if links:
            headers["Link"] = ", ".join(links)
        return headers

    async def options(self, request: web.Request) -> web.Response:
        headers = self._headers(None)
        headers.update(
            {
                "Allow": _ALLOW,
                "Access-Control-Allow-Methods": _ALLOW,
                "Access-Control-Allow-Headers": "Accept, Accept-Language",
                "Access-Control-Max-Age": "86400",
            }
        )
        return web.Response(status=204, headers=headers)

    async def resolve(self, request: web.Request) -> web.Response:
        anchor = None
        try:
            key, link = self._parse(request)
            anchor = self._root(request) + key.uri_path
            offer = build_offer(
                await self.gs1.levels(key),
                {e.ai: e.value for e in link.elements},
                anchor,
                lambda handle: self._page_url(request, handle),
            )
            return self._answer(request, offer, dict((k.lower(), v) for k, v in link.other))
        except TieridError as err:
            response = error_response(err, request)
            response.headers.update(self._headers(anchor))
            return response

    def _parse(self, request: web.Request) -> tuple[Gs1Key, digital_link.DigitalLink]:
        """:raises InvalidHandle: not a valid Digital Link (a Gs1DataError names why)."""
        path = request.rel_url.raw_path.rstrip("/")
        query = request.rel_url.raw_query_string
        uri = self._root(request) + path + (f"?{query}" if query else "")
        link = digital_link.parse(uri)
        qualifiers = {q.ai: q.value for q in link.qualifiers}
        return Gs1Key.of(link.key.ai, link.key.value, qualifiers), link

    def _page_url(self, request: web.Request, handle: str) -> str:
        return f"{self._root(request)}/{path_of(handle)}?noredirect"

    def _answer(self, request: web.Request, offer: Offer, params: dict[str, str]) -> web.Response:
        wanted = params.get("linktype")
        as_linkset = _linkset_media(request.headers.get("Accept"))
        if wanted in ("linkset", "all") or (wanted is None and as_linkset):
            return self._linkset(offer, as_linkset or LINKSET_TYPE, offer.linkset)
        link_type = None
        if wanted is not None:
            link_type = link_type_uri(wanted)
            if link_type is None:
                raise InvalidHandle("linkType", f"linkType {wanted!r} is not a link type")
        candidates = offer.candidates(link_type)
        if not candidates:
            raise LinkTypeNotFound(f"{offer.anchor} offers no {wanted} link")
        chosen = choose(
            candidates,
            context=params.get("context"),
            accept=request.headers.get("Accept"),
            accept_language=request.headers.get("Accept-Language"),
        )
        if len(chosen) > 1:
            return self._linkset(
                offer, LINKSET_TYPE, lambda json_ld: offer.linkset(chosen, json_ld=json_ld), 300
            )
        return self._redirect(offer, chosen[0], _passed_on(request.rel_url.raw_query_string))

    def _linkset(
        self,
        offer: Offer,
        media_type: str,
        body: Callable[..., dict],
        status: int = 200,
    ) -> web.Response:
        json_ld = media_type == "application/ld+json"
        response = web.Response(
            status=status,
            body=dumps(body(json_ld=json_ld)),
            headers=self._headers(offer.anchor, linkset=True),
        )
        response.content_type = media_type
        return response

    def _redirect(self, offer: Offer, link: Link, query: str) -> web.Response:
        headers = self._headers(offer.anchor)
        headers["Location"] = location(_with_query(link.href, query))
        headers["Cache-Control"] = f"max-age={redirect_ttl(offer.values)}"
        return web.Response(status=307, headers=headers)

    async def description(self, request: web.Request) -> web.Response:
        """The resolver description file (GS1-Conformant Resolver 1.2, section 5)."""
        body = {
            "name": self.name,
            "resolverRoot": self._root(request),
            "supportedPrimaryKeys": primary_key_ais(),
            "supportedLinkType": [{"namespace": GS1_VOC, "prefix": "gs1:"}],
            "linkTypeDefaultCanBeLinkset": False,
            "supportsSemanticInterpretation": False,
            "validatesAIcombination": True,
            "jsonLdContextLocation": LINKSET_CONTEXT,
        }
        response = web.Response(body=dumps(body, pretty=True), headers=self._headers(None))
        response.content_type = "application/json"
        return response
