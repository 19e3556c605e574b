"""A node that answers what no node should (tests/test_hostile_upstream.py), chosen by the
identifier's suffix. Usage: python tests/hostile_upstream.py PORT"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.bootstrap import http_site
from resolver.typed_data import Interface, Server, SiteInfo

URL = {"index": 1, "type": "URL", "data": "https://x.example/ok"}


def _site(port: int) -> list[dict]:
    """Prefix 77's record: its servers are this node, after one on a port past 65535."""
    ours = http_site("127.0.0.1", port)
    liar = Server(9, "127.0.0.1", b"", (Interface(3, 2, 70000),))
    site = SiteInfo(primary=True, servers=(liar, *ours.servers))
    data = {"format": "base64", "value": base64.b64encode(site.to_wire()).decode()}
    return [{"index": 1, "type": "HS_SITE", "data": data}]  # as bytes: no port checked


def _referral(handle: str, to: str, kind: str, port: int) -> web.Response:
    """RC 303 naming ``to``, with this node as its ``kind`` site (HS_SITE[.PREFIX])."""
    site = base64.b64encode(http_site("127.0.0.1", port).to_wire()).decode()
    values = [{"index": 1, "type": kind, "data": {"format": "base64", "value": site}}]
    body = {"responseCode": 303, "handle": handle, "referralHandle": to, "values": values}
    return web.json_response(body, status=300)


#: what the node claims when asked about these (tests/test_hostile_upstream.py): delegated
#: 88.999's handles only, it claims 88.999's registry; delegated 88.998's registry only, it
#: claims 88.998's handles
_CLAIMS = {
    "88.999/X": ("0.NA/88.999", "HS_SITE.PREFIX"),
    "0.NA/88.998.7": ("0.NA/88.998", "HS_SITE"),
}


async def answer(request: web.Request) -> web.StreamResponse:
    handle = request.match_info["h"]
    prefix, _, kind = handle.partition("/")
    port = request.url.port or 80
    if handle in _CLAIMS:
        return _referral(handle, *_CLAIMS[handle], port)
    if prefix.upper() == "0.NA":
        values = _site(port)
        return web.json_response({"responseCode": 1, "handle": handle, "values": values})
    if prefix.startswith("88."):  # whatever it is asked, it answers with its own URL
        value = {**URL, "data": "https://hostile.example"}
        return web.json_response({"responseCode": 1, "handle": handle, "values": [value]})
    if kind == "huge":  # 5 MB of values
        values = [{"index": i, "type": "T", "data": "x" * 50_000} for i in range(1, 101)]
        return web.json_response({"responseCode": 1, "handle": handle, "values": values})
    if kind == "private":
        secret = {"index": 2, "type": "SECRET", "data": "s3cr3t", "permissions": "1100"}
        return web.json_response({"responseCode": 1, "handle": handle, "values": [URL, secret]})
    if kind == "redirect":
        raise web.HTTPFound(f"http://127.0.0.1:{request.url.port}/api/handles/77/private")
    if kind == "bigttl":
        value = {**URL, "ttl": "9" * 5000}
        return web.json_response({"responseCode": 1, "handle": handle, "values": [value]})
    if kind == "chatty-notfound":
        body = {"responseCode": 100, "handle": handle, "message": "M" * 100_000}
        return web.json_response(body, status=404)
    return web.json_response({"responseCode": 1, "handle": handle, "values": [URL]})


def main() -> None:
    app = web.Application()
    app.router.add_get("/api/handles/{h:.+}", answer)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
