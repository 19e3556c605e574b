"""Identifiers as DNS names, and back: the DNS face's one naming rule.

``88.118.8/PUMP-000123`` is ``PUMP-000123.8.118.88.<zone>``: the prefix segments reversed
one label each (as ORS reverses OID arcs, so a zone cut can follow a prefix delegation),
the suffix in front of them.

The suffix takes one of two forms, and the first label says which:

- **plain**, one label: the suffix itself when it is 1-63 characters of ``A-Z a-z 0-9 - _``
  and its third and fourth characters are not ``--`` (reserved, as IDNA reserves them);
- **encoded**, ``k`` labels: the first starts ``x<k>--``, and the labels together carry the
  unpadded base32 of the suffix's UTF-8 bytes (RFC 4648, matched case-insensitively). Any
  suffix fits this form (``/``, ``.``, ``:``, spaces, any script, and case, which the plain
  form keeps only as the client spelled it), up to the 255-byte limit of a DNS name.

So the mapping is reversible and total on names: every name under the zone is either the
name of exactly one identifier or no identifier at all. Going the other way, a long suffix
or a prefix segment over 63 bytes can make an identifier too long to name in DNS
(:class:`NotNameable`).

GS1 keys have names of their own under ``gtin.<zone>``, as GS1 ONS 2.0 writes them: the
indicator digit, then the next twelve digits reversed, one label each, the check digit
left out (GTIN 00614141322602 is ``0.0.6.2.2.3.1.4.1.4.1.6.0.gtin.<zone>``). So no
identifier whose prefix starts with the segment ``gtin`` has a DNS name.
"""

from __future__ import annotations

import base64
import binascii
import re

import dns.name

from resolver.errors import InvalidHandle
from resolver.gs1.keys import InvalidGs1Key, check_digit
from resolver.handle import parse

_PLAIN = re.compile(r"[A-Za-z0-9_-]{1,63}")
_PLAIN_BYTES = re.compile(rb"[A-Za-z0-9_-]{1,63}")
_ENCODED_HEAD = re.compile(rb"[xX]([1-9])--")
_FIRST_CHUNK = 63 - len("x1--")
_GTIN_LABEL = b"gtin"


class NotNameable(InvalidHandle):
    """The identifier is valid but does not fit in a DNS name."""

    def __init__(self, message: str, *, handle: str | None = None) -> None:
        super().__init__("not-nameable", message, handle=handle)


def name_for(handle: str, zone: dns.name.Name) -> dns.name.Name:
    """The DNS name of an identifier under ``zone``.

    :raises InvalidHandle: the identifier is malformed, or (:class:`NotNameable`) too long
        for a DNS name.
    """
    prefix, suffix = parse(handle)
    segments = prefix.split(".")
    if segments[0].lower() == "gtin":
        raise NotNameable("prefixes starting with 'gtin' are kept for GS1 keys", handle=handle)
    if any(len(s) > 63 for s in segments):
        raise NotNameable("a prefix segment is longer than a DNS label (63 bytes)", handle=handle)
    if _PLAIN.fullmatch(suffix) and suffix[2:4] != "--":
        suffix_labels = [suffix.encode("ascii")]
    else:
        suffix_labels = _encoded(suffix, handle)
    labels = suffix_labels + [s.encode("ascii") for s in reversed(segments)]
    try:
        return dns.name.Name(labels + list(zone.labels))
    except dns.name.NameTooLong:
        raise NotNameable(
            "the identifier is too long for a DNS name (255 bytes)", handle=handle
        ) from None


def _encoded(suffix: str, handle: str) -> list[bytes]:
    data = base64.b32encode(suffix.encode("utf-8")).rstrip(b"=").lower()
    chunks = [data[:_FIRST_CHUNK]]
    chunks += [data[i : i + 63] for i in range(_FIRST_CHUNK, len(data), 63)]
    if len(chunks) > 9:
        raise NotNameable("the suffix is too long for a DNS name", handle=handle)
    chunks[0] = b"x%d--" % len(chunks) + chunks[0]
    return chunks


def handle_for(name: dns.name.Name, zone: dns.name.Name) -> str:
    """The identifier that a name under ``zone`` stands for.

    :raises InvalidHandle: the name is the zone itself or names no identifier.
    """
    labels = name.relativize(zone).labels if name.is_subdomain(zone) else ()
    if not labels or name == zone:
        raise InvalidHandle("not-an-identifier", f"{name} is not an identifier's name")
    head = _ENCODED_HEAD.match(labels[0])
    if head is None:
        if not _PLAIN_BYTES.fullmatch(labels[0]) or labels[0][2:4] == b"--":
            raise InvalidHandle("not-an-identifier", f"{labels[0]!r} is not a suffix label")
        count = 1
        suffix = labels[0].decode("ascii")
    else:
        count = int(head.group(1))
        suffix = _decoded(b"".join(labels[:count])[head.end() :], labels[0])
    prefix_labels = labels[count:]
    if prefix_labels and prefix_labels[-1].lower() == _GTIN_LABEL:
        raise InvalidHandle("not-an-identifier", f"{name} is a GS1 key's name")
    if not prefix_labels:
        raise InvalidHandle("not-an-identifier", f"{name} has no prefix labels")
    if not all(_PLAIN_BYTES.fullmatch(label) for label in prefix_labels):
        raise InvalidHandle("not-an-identifier", f"{name} has a label that is no prefix segment")
    prefix = ".".join(label.decode("ascii") for label in reversed(prefix_labels))
    handle = f"{prefix}/{suffix}"
    parse(handle)
    return handle


def _decoded(data: bytes, first: bytes) -> str:
    padded = data + b"=" * (-len(data) % 8)
    try:
        return base64.b32decode(padded, casefold=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidHandle(
            "not-an-identifier", f"{first!r}: the encoded suffix is not base32 of UTF-8"
        ) from None


def gtin_name(gtin: str, zone: dns.name.Name) -> dns.name.Name:
    """The ONS-style name of a GTIN-14 (see the module docstring)."""
    digits = [gtin[0], *reversed(gtin[1:13])]
    return dns.name.Name([d.encode() for d in digits] + [_GTIN_LABEL, *zone.labels])


def gtin_of(name: dns.name.Name, zone: dns.name.Name) -> str | None:
    """The GTIN-14 a name under ``gtin.<zone>`` stands for, or None for other names.

    :raises InvalidGs1Key: the name is under ``gtin.<zone>`` but is no GTIN's name.
    """
    if not name.is_subdomain(zone) or name == zone:
        return None
    labels = name.relativize(zone).labels
    if labels[-1].lower() != _GTIN_LABEL:
        return None
    digits = labels[:-1]
    if len(digits) != 13 or not all(len(d) == 1 and d.isdigit() for d in digits):
        raise InvalidGs1Key(f"{name}: a GTIN's name has 13 one-digit labels before 'gtin'")
    body = (digits[0] + b"".join(reversed(digits[1:]))).decode()
    return body + str(check_digit(body))
