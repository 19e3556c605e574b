"""Small server-rendered HTML pages for people (web proxy): a record as a product page, an
error, the index. No external assets (a scanner may be offline from everything but this
resolver); everything user-supplied is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from resolver.errors import InvalidHandle
from resolver.gs1.links import GS1_LINK, Link, curie, links_of
from resolver.handle import parse
from resolver.http_client import handle_path, path_of
from resolver.json_values import data_to_json, iso_time
from resolver.templates import REF_TYPE, TEMPLATE_TYPE, VERSION_TYPE
from resolver.values import HS_ALIAS, HandleValue

_STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans",sans-serif;margin:0 auto;
padding:1rem;max-width:48rem;color:#1b1b1b;line-height:1.45;background:#fafafa}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.05rem;margin:1.4rem 0 .4rem}
.id{font-family:ui-monospace,monospace;font-size:.9rem;color:#444;word-break:break-all}
.card{background:#fff;border:1px solid #e2e2e2;border-radius:.6rem;padding:.3rem 1rem}
dl{margin:0}dl div{display:flex;flex-wrap:wrap;gap:.2rem 1rem;padding:.55rem 0;
border-bottom:1px solid #eee}dl div:last-child{border-bottom:0}
dt{flex:0 0 10rem;color:#555}dd{margin:0;flex:1 1 14rem;word-break:break-word}
ul.links{list-style:none;padding:0;margin:0}ul.links li{padding:.45rem 0}
a{color:#0b5cad}table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{text-align:left;padding:.35rem;border-bottom:1px solid #ddd;vertical-align:top;
word-break:break-word}th{background:#f3f3f3}.muted{color:#666;font-size:.85rem}
details{margin-top:1.2rem}summary{cursor:pointer;color:#444}
"""

#: values that run the system (administration, keys, sites, bindings): shown to a person
#: only in the "all values" table
_SYSTEM_TYPES = frozenset(
    {"HS_ADMIN", "HS_VLIST", "HS_SITE", "HS_SITE.PREFIX", "HS_SERV", "HS_SECKEY",
     "HS_PUBKEY", "HS_NA_DELEGATE", "GS1.RULE", "GS1.PREFIX", GS1_LINK, "DESC",
     REF_TYPE, VERSION_TYPE, TEMPLATE_TYPE}
)  # fmt: skip
_LABELS = {"URL": "Web page", HS_ALIAS: "Same as", "EMAIL": "Email"}


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _href(handle: str) -> str | None:
    """The page of another record, or None when ``handle`` is no identifier: it could name
    another site (``//evil.example/x`` made ``///evil.example/x``, which browsers follow)."""
    try:
        parse(handle)
    except InvalidHandle:
        return None
    return "/" + path_of(handle) + "?noredirect"


def label_of(value_type: str) -> str:
    """A value type as a person reads it: ``PRODUCTION_DATE`` is "Production date",
    ``REF.MOTOR`` "Motor", ``URL.MANUAL`` "Manual"."""
    upper = value_type.upper()
    if upper in _LABELS:
        return _LABELS[upper]
    head, dot, tail = value_type.partition(".")
    words = (tail if dot and head.upper() in ("REF", "URL") else value_type).replace("_", " ")
    return words[:1].upper() + words[1:].lower()


def _is_link(v: HandleValue, text: str) -> bool:
    return v.type.upper().startswith("URL") and text.lower().startswith(("http://", "https://"))


def _is_reference(v: HandleValue) -> bool:
    return v.type.upper() == HS_ALIAS or v.type.upper().startswith("REF")


def _data_cell(v: HandleValue) -> str:
    shown = data_to_json(v.type, v.data)
    if shown["format"] != "string":
        code = escape(str(shown["value"]))
        return f"<code>{code}</code> <span class=muted>({shown['format']})</span>"
    text = shown["value"]
    if _is_link(v, text):
        return f'<a href="{escape(text, quote=True)}" rel="noopener nofollow">{escape(text)}</a>'
    href = _href(text) if _is_reference(v) else None
    if href is not None:
        return f'<a href="{escape(href, quote=True)}">{escape(text)}</a>'
    return escape(text)


def _link_item(link: Link) -> str:
    about = ", ".join(x for x in (link.media_type, *link.hreflang) if x)
    note = (
        f" <span class=muted>{escape(curie(link.link_type))}{', ' if about else ''}"
        f"{escape(about)}</span>"
    )
    href = escape(link.href, quote=True)
    return f'<li><a href="{href}" rel="noopener nofollow">{escape(link.title)}</a>{note}</li>'


def record_page(
    handle: str, values: Sequence[HandleValue], names: Mapping[int, str] | None = None
) -> str:
    """The product page: the record's description as its title, its attributes by name
    (``names`` by value index: its template's item names; else a name made from the type),
    identifiers they reference as links to their own pages, its GS1 links, and every value
    in a table for the curious. What the caller may not read never reaches here."""
    names = names or {}
    title = next((v.data.decode("utf-8", "replace") for v in values if v.type.upper() == "DESC"),
                 handle)  # fmt: skip
    attributes = "".join(
        f"<div><dt>{escape(names.get(v.index) or label_of(v.type))}</dt>"
        f"<dd>{_data_cell(v)}</dd></div>"
        for v in values
        if v.type.upper() not in _SYSTEM_TYPES
    )
    links = "".join(_link_item(link) for link in links_of(list(values)))
    rows = "".join(
        f"<tr><td>{v.index}</td><td>{escape(v.type)}</td><td>{_data_cell(v)}</td>"
        f"<td class=muted>{iso_time(v.timestamp) if v.timestamp else ''}</td></tr>"
        for v in values
    )
    sections = [f"<header><h1>{escape(title)}</h1><p class=id>{escape(handle)}</p></header>"]
    if attributes:
        sections.append(f"<section class=card><dl>{attributes}</dl></section>")
    if links:
        sections.append(f"<h2>Links</h2><section class=card><ul class=links>{links}</ul></section>")
    sections.append(
        "<details><summary>All values</summary>"
        "<table><tr><th>Index</th><th>Type</th><th>Data</th><th>Updated</th></tr>"
        f"{rows}</table></details>"
        f'<p class=muted><a href="{escape(handle_path(handle), quote=True)}">JSON</a></p>'
    )
    body = "".join(sections)
    return _page(title, body)


def error_page(title: str, message: str) -> str:
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>")


def index_page() -> str:
    body = (
        "<h1>tierid</h1><p>Identifier resolution. Open <code>/&lt;identifier&gt;</code> to be "
        "redirected, add <code>?noredirect</code> to see the record, or use the JSON API at "
        "<code>/api/handles/&lt;identifier&gt;</code>.</p>"
    )
    return _page("tierid", body)
