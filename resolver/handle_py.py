"""Identifier syntax: the pure-Python twin of ``ext/_handle.pyx``.

An identifier is ``prefix "/" suffix``. The prefix is dot-separated segments of ASCII
``[0-9A-Za-z-_]``; the suffix is any UTF-8 text without control characters and may
itself contain ``/``. Limits: the whole identifier 255 UTF-8 bytes, the prefix 64.

Both twins check the rules in the same order and raise the same :class:`InvalidHandle`
(same ``rule``, same message), so callers and tests cannot tell them apart.
"""

from resolver.errors import InvalidHandle

MAX_HANDLE_BYTES = 255
MAX_PREFIX_BYTES = 64

_PREFIX_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_")
_ASCII_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}


def parse(text: str) -> tuple[str, str]:
    """Validate an identifier and split it at the first ``/``.

    :returns: ``(prefix, suffix)`` in the caller's spelling.
    :raises InvalidHandle: naming the first rule that fails.
    :raises TypeError: if ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise TypeError("handle must be str")
    slash = text.find("/")
    if slash < 0:
        raise InvalidHandle("missing-slash", "identifier has no '/' between prefix and suffix")
    if slash == 0:
        raise InvalidHandle("empty-prefix", "identifier has an empty prefix")
    segment_start = True
    for i in range(slash):
        ch = text[i]
        if ch == ".":
            if segment_start:
                raise InvalidHandle("empty-segment", f"empty prefix segment at position {i}")
            segment_start = True
        elif ch in _PREFIX_CHARS:
            segment_start = False
        else:
            raise InvalidHandle(
                "bad-prefix-char", f"bad character {ch!r} at position {i} in prefix"
            )
    if segment_start:
        raise InvalidHandle("empty-segment", f"empty prefix segment at position {slash}")
    if slash > MAX_PREFIX_BYTES:
        raise InvalidHandle(
            "prefix-too-long", f"prefix is {slash} bytes, more than {MAX_PREFIX_BYTES}"
        )
    length = len(text)
    if slash + 1 == length:
        raise InvalidHandle("empty-suffix", "identifier has an empty suffix")
    nbytes = slash + 1
    for i in range(slash + 1, length):
        cp = ord(text[i])
        if cp < 0x20 or 0x7F <= cp <= 0x9F:
            raise InvalidHandle(
                "control-char", f"control character U+{cp:04X} at position {i} in suffix"
            )
        if 0xD800 <= cp <= 0xDFFF:
            raise InvalidHandle(
                "not-unicode", f"lone surrogate U+{cp:04X} at position {i} in suffix"
            )
        nbytes += 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4
    if nbytes > MAX_HANDLE_BYTES:
        raise InvalidHandle(
            "too-long", f"identifier is {nbytes} bytes, more than {MAX_HANDLE_BYTES}"
        )
    return text[:slash], text[slash + 1 :]


def normalise(text: str) -> str:
    """The matching key: ASCII letters upper-cased, everything else unchanged."""
    if not isinstance(text, str):
        raise TypeError("handle must be str")
    if text.isascii():
        return text.upper()
    return text.translate(_ASCII_UPPER)
