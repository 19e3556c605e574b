"""A record's public values as DNS data: NAPTR, URI and TXT (the DNS face's answer model).

- **NAPTR** (RFC 3403, as ONS and ORS use it): one per URL value (types ``URL`` and
  ``URL.*``, and ``EMAIL`` as ``mailto:``), flag ``U``, service ``hdl+<type>`` in lower case
  (``hdl+url``, ``hdl+url.manual``), regexp ``!^.*$!<url>!``; an ``HS_ALIAS`` value is a
  non-terminal rule (empty flag, service ``hdl+alias``) whose replacement is the alias
  target's DNS name. Order is 100; preference is the value's index, so a client picking the
  most preferred rule gets the record's main URL.
- **URI** (RFC 7553): one per URL value, priority = the value's index, weight 1.
- **TXT**: one per value, ``"<index> <type>=<data>"`` (RFC 1464 style), or
  ``"<index> <type>;base64=<data>"`` when the data is not printable UTF-8; longer than 255
  bytes, it is split into several strings that the client joins.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Sequence

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.ANY.URI import URI
from dns.rdtypes.IN.NAPTR import NAPTR

from resolver.handle import normalise
from resolver.values import HS_ALIAS, HandleValue

IN = dns.rdataclass.IN
#: the types a name of an identifier can have data for
TYPES = (dns.rdatatype.NAPTR, dns.rdatatype.URI, dns.rdatatype.TXT)
_NAPTR_ORDER = 100
#: candidate regexp delimiters (RFC 3402 section 3.2): the first one absent from the URL
_DELIMITERS = "!#|~%^"


def url_of(value: HandleValue) -> str | None:
    """The URI a value points to, or None if it is not a URL value."""
    kind = normalise(value.type)
    if kind != "URL" and not kind.startswith("URL.") and kind != "EMAIL":
        return None
    try:
        text = value.data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if kind == "EMAIL" and not text.lower().startswith("mailto:"):
        text = "mailto:" + text
    return text or None


def _regexp(url: str) -> bytes:
    """``!^.*$!<url>!`` with a delimiter the URL lacks; backslashes (and the delimiter, when
    every candidate occurs) escaped as the substitution syntax needs."""
    delim = next((d for d in _DELIMITERS if d not in url), "!")
    body = url.replace("\\", "\\\\").replace(delim, "\\" + delim)
    return f"{delim}^.*${delim}{body}{delim}".encode()


def _preference(index: int) -> int:
    return max(0, min(index, 0xFFFF))


def naptr(
    values: Sequence[HandleValue], alias_name: Callable[[str], dns.name.Name | None]
) -> Iterator[dns.rdata.Rdata]:
    """NAPTR rules; ``alias_name`` maps an alias target to its DNS name (None: not nameable)."""
    for v in values:
        url = url_of(v)
        if url is not None:
            service = ("hdl+" + v.type.lower()).encode()
            yield NAPTR(
                IN,
                dns.rdatatype.NAPTR,
                _NAPTR_ORDER,
                _preference(v.index),
                b"U",
                service,
                _regexp(url),
                dns.name.root,
            )
        elif normalise(v.type) == HS_ALIAS:
            target = alias_name(v.data.decode("utf-8", "replace"))
            if target is not None:
                yield NAPTR(
                    IN,
                    dns.rdatatype.NAPTR,
                    _NAPTR_ORDER,
                    _preference(v.index),
                    b"",
                    b"hdl+alias",
                    b"",
                    target,
                )


def uri(values: Sequence[HandleValue]) -> Iterator[dns.rdata.Rdata]:
    for v in values:
        url = url_of(v)
        if url is not None:
            yield URI(IN, dns.rdatatype.URI, _preference(v.index), 1, url.encode())


def _printable(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None


def txt(values: Sequence[HandleValue]) -> Iterator[dns.rdata.Rdata]:
    for v in values:
        text = _printable(v.data)
        if text is not None:
            line = f"{v.index} {v.type}={text}".encode()
        else:
            line = f"{v.index} {v.type};base64=".encode() + base64.b64encode(v.data)
        yield TXT(IN, dns.rdatatype.TXT, [line[i : i + 255] for i in range(0, len(line), 255)])


def rdatas(
    rdtype: int,
    values: Sequence[HandleValue],
    alias_name: Callable[[str], dns.name.Name | None],
) -> list[dns.rdata.Rdata]:
    """The data of one type (one of :data:`TYPES`) for a record's values."""
    if rdtype == dns.rdatatype.NAPTR:
        return list(naptr(values, alias_name))
    if rdtype == dns.rdatatype.URI:
        return list(uri(values))
    return list(txt(values))
