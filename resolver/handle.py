"""Identifier syntax: picks the compiled twin once, plus helpers for prefixes.

``parse`` and ``normalise`` come from ``resolver._handle`` (Cython) unless extensions are
disabled or unavailable, in which case ``resolver.handle_py`` serves. ``IMPLEMENTATION``
says which one is in use ("c" or "py").
"""

from __future__ import annotations

from resolver._compat import load_twin
from resolver.errors import InvalidHandle

_twin, IMPLEMENTATION = load_twin("resolver._handle", "resolver.handle_py")
MAX_HANDLE_BYTES = _twin.MAX_HANDLE_BYTES
MAX_PREFIX_BYTES = _twin.MAX_PREFIX_BYTES
normalise = _twin.normalise
parse = _twin.parse

#: The prefix of prefix records: ``0.NA/88.118`` describes prefix ``88.118``.
NA_PREFIX = "0.NA"

#: Schemes that users paste in front of identifiers (Handle.Net's proxy strips the same).
_SCHEMES = ("hdl:", "doi:", "info:hdl/", "info:doi/", "urn:hdl:", "urn:doi:")

__all__ = [
    "IMPLEMENTATION",
    "MAX_HANDLE_BYTES",
    "MAX_PREFIX_BYTES",
    "NA_PREFIX",
    "check_prefix",
    "is_prefix_record",
    "normalise",
    "parent_prefix",
    "parse",
    "prefix_record",
    "strip_scheme",
]


def check_prefix(prefix: str) -> None:
    """Check that ``prefix`` is a prefix on its own (``88.118.8``): what ``parse`` accepts
    before an identifier's first ``/``, holding no ``/`` itself.

    :raises InvalidHandle: naming the rule that fails.
    """
    if "/" in prefix:
        raise InvalidHandle("bad-prefix-char", f"a prefix cannot hold '/': {prefix!r}")
    parse(f"{prefix}/x")


def prefix_record(prefix: str) -> str:
    """The handle of the record describing ``prefix`` (``88.118`` -> ``0.NA/88.118``)."""
    return f"{NA_PREFIX}/{prefix}"


def is_prefix_record(prefix: str) -> bool:
    """Whether a parsed prefix part is the prefix-record namespace ``0.NA``."""
    return normalise(prefix) == NA_PREFIX


def parent_prefix(prefix: str) -> str | None:
    """The prefix one tier up (``88.118.8`` -> ``88.118``), or None at the top."""
    dot = prefix.rfind(".")
    return prefix[:dot] if dot > 0 else None


def strip_scheme(text: str) -> str:
    """Remove a leading ``hdl:``/``doi:``/``info:hdl/``... as a pasted identifier may have."""
    lowered = text[:9].lower()
    for scheme in _SCHEMES:
        if lowered.startswith(scheme):
            return text[len(scheme) :]
    return text
