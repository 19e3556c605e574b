"""From HS_SITE values to the endpoints a client can query.

An endpoint is a string naming a server and how to reach it: the base URL of its HTTP(S)
API (``http://127.0.0.1:8101``), or ``hdl://host:port`` for the binary protocol over UDP
and TCP on that port (``hdl+tcp://`` where the server listens on TCP only). Each server of
a site gives one endpoint, in the protocol preferred (``handle`` or ``http``) when it offers
that one, else the other.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from resolver.errors import ProtocolError
from resolver.typed_data import (
    PROTO_HTTP,
    PROTO_HTTPS,
    PROTO_TCP,
    PROTO_UDP,
    Interface,
    Server,
    SiteInfo,
)
from resolver.values import HS_SITE, HandleValue

PROTOCOLS = ("handle", "http")


def _host(address: str) -> str:
    return f"[{address}]" if ipaddress.ip_address(address).version == 6 else address


def _usable(port: int) -> bool:
    """A port a server can listen on: an interface naming another (0, or one past 65535,
    which broke every lookup under the prefix) is passed over, as a DNS resolver passes
    over an unusable address."""
    return 0 < port < 65536


def _http(server: Server, queries: list[Interface]) -> str | None:
    for iface in queries:
        if iface.protocol in (PROTO_HTTP, PROTO_HTTPS) and _usable(iface.port):
            scheme = "https" if iface.protocol == PROTO_HTTPS else "http"
            return f"{scheme}://{_host(server.address)}:{iface.port}"
    return None


def _native(server: Server, queries: list[Interface]) -> str | None:
    udp = {i.port for i in queries if i.protocol == PROTO_UDP and _usable(i.port)}
    tcp = [i.port for i in queries if i.protocol == PROTO_TCP and _usable(i.port)]
    if not tcp:
        return None
    port = next((p for p in tcp if p in udp), tcp[0])
    scheme = "hdl" if port in udp else "hdl+tcp"
    return f"{scheme}://{_host(server.address)}:{port}"


def endpoints_of(values: Iterable[HandleValue], protocol: str = "http") -> list[str]:
    """Query endpoints of every HS_SITE / HS_SITE.PREFIX value, primary sites first,
    without duplicates, one per server in ``protocol`` where it has it. Values that do not
    decode are skipped."""
    sites = []
    for v in values:
        if not v.type.upper().startswith(HS_SITE):
            continue
        try:
            sites.append(SiteInfo.from_wire(v.data))
        except ProtocolError:
            continue
    sites.sort(key=lambda s: not s.primary)
    order = (_native, _http) if protocol == "handle" else (_http, _native)
    out: list[str] = []
    for site in sites:
        for server in site.servers:
            queries = [i for i in server.interfaces if i.query]
            endpoint = order[0](server, queries) or order[1](server, queries)
            if endpoint is not None and endpoint not in out:
                out.append(endpoint)
    return out


def min_ttl(values: Iterable[HandleValue], default: int) -> int:
    ttls = [v.ttl for v in values if v.ttl_type == 0]
    return min(ttls) if ttls else default
