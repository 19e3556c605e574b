"""Small server-rendered HTML pages for people (web proxy): a record, an error, the index.
No external assets; everything user-supplied is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from urllib.parse import quote

from resolver.json_values import data_to_json, iso_time
from resolver.values import HandleValue

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;padding:1rem;max-width:56rem;margin:auto;color:#1b1b1b}
h1{font-size:1.3rem;word-break:break-all}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem;border-bottom:1px solid #ddd;vertical-align:top;
word-break:break-word}
th{background:#f3f3f3}.muted{color:#666;font-size:.85rem}code{font-size:.9rem}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _href(handle: str) -> str:
    return "/" + quote(handle, safe="/:@!$&'()*+,;=-._~") + "?noredirect"


def _api_href(handle: str) -> str:
    return "/api/handles/" + quote(handle, safe="/")


def _data_cell(v: HandleValue) -> str:
    shown = data_to_json(v.type, v.data)
    if shown["format"] != "string":
        code = escape(str(shown["value"]))
        return f"<code>{code}</code> <span class=muted>({shown['format']})</span>"
    text = shown["value"]
    if v.type.upper().startswith("URL") and text.lower().startswith(("http://", "https://")):
        return f'<a href="{escape(text, quote=True)}" rel="noopener nofollow">{escape(text)}</a>'
    if v.type.upper() == "HS_ALIAS" or v.type.upper().startswith("REF"):
        return f'<a href="{escape(_href(text), quote=True)}">{escape(text)}</a>'
    return escape(text)


def record_page(handle: str, values: Sequence[HandleValue]) -> str:
    rows = "".join(
        f"<tr><td>{v.index}</td><td>{escape(v.type)}</td><td>{_data_cell(v)}</td>"
        f"<td class=muted>{iso_time(v.timestamp) if v.timestamp else ''}</td></tr>"
        for v in values
    )
    body = (
        f"<h1>{escape(handle)}</h1>"
        "<table><tr><th>Index</th><th>Type</th><th>Data</th><th>Updated</th></tr>"
        f"{rows}</table>"
        f'<p class=muted><a href="{escape(_api_href(handle), quote=True)}">JSON</a></p>'
    )
    return _page(handle, body)


def error_page(title: str, message: str) -> str:
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>")


def index_page() -> str:
    body = (
        "<h1>tierid</h1><p>Identifier resolution. Open <code>/&lt;identifier&gt;</code> to be "
        "redirected, add <code>?noredirect</code> to see the record, or use the JSON API at "
        "<code>/api/handles/&lt;identifier&gt;</code>.</p>"
    )
    return _page("tierid", body)
