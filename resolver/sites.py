"""From HS_SITE values to the endpoints a client can query.

This version of tierid reaches other nodes over their HTTP API, so an endpoint is the base
URL of a server's query interface over HTTP or HTTPS (``http://127.0.0.1:8101``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from resolver.errors import ProtocolError
from resolver.typed_data import SiteInfo
from resolver.values import HS_SITE, HandleValue

PROTO_HTTP, PROTO_HTTPS = 2, 3


def _host(address: str) -> str:
    return f"[{address}]" if ipaddress.ip_address(address).version == 6 else address


def endpoints_of(values: Iterable[HandleValue]) -> list[str]:
    """Query endpoints of every HS_SITE / HS_SITE.PREFIX value, primary sites first,
    without duplicates. Values that do not decode are skipped."""
    sites = []
    for v in values:
        if not v.type.upper().startswith(HS_SITE):
            continue
        try:
            sites.append(SiteInfo.from_wire(v.data))
        except ProtocolError:
            continue
    sites.sort(key=lambda s: not s.primary)
    out: list[str] = []
    for site in sites:
        for server in site.servers:
            for iface in server.interfaces:
                if iface.query and iface.protocol in (PROTO_HTTP, PROTO_HTTPS):
                    scheme = "https" if iface.protocol == PROTO_HTTPS else "http"
                    url = f"{scheme}://{_host(server.address)}:{iface.port}"
                    if url not in out:
                        out.append(url)
    return out


def min_ttl(values: Iterable[HandleValue], default: int) -> int:
    ttls = [v.ttl for v in values if v.ttl_type == 0]
    return min(ttls) if ttls else default
