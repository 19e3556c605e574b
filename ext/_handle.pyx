# cython: language_level=3, boundscheck=False, wraparound=False
"""Identifier syntax, compiled twin of ``resolver/handle_py.py`` (see its docstring).

Same rules, same order, same exceptions and messages.
"""

from resolver.errors import InvalidHandle

MAX_HANDLE_BYTES = 255
MAX_PREFIX_BYTES = 64

cdef Py_ssize_t _MAX_HANDLE = 255
cdef Py_ssize_t _MAX_PREFIX = 64


cdef inline bint _prefix_char(Py_UCS4 c):
    return (
        (c >= u'0' and c <= u'9')
        or (c >= u'A' and c <= u'Z')
        or (c >= u'a' and c <= u'z')
        or c == u'-'
        or c == u'_'
    )


def parse(text):
    if not isinstance(text, str):
        raise TypeError("handle must be str")
    cdef str s = <str>text
    cdef Py_ssize_t slash = s.find(u"/")
    cdef Py_ssize_t i, length, nbytes
    cdef Py_UCS4 ch
    cdef bint segment_start = True
    if slash < 0:
        raise InvalidHandle("missing-slash", "identifier has no '/' between prefix and suffix")
    if slash == 0:
        raise InvalidHandle("empty-prefix", "identifier has an empty prefix")
    for i in range(slash):
        ch = s[i]
        if ch == u'.':
            if segment_start:
                raise InvalidHandle("empty-segment", f"empty prefix segment at position {i}")
            segment_start = True
        elif _prefix_char(ch):
            segment_start = False
        else:
            raise InvalidHandle(
                "bad-prefix-char", f"bad character {s[i]!r} at position {i} in prefix"
            )
    if segment_start:
        raise InvalidHandle("empty-segment", f"empty prefix segment at position {slash}")
    if slash > _MAX_PREFIX:
        raise InvalidHandle(
            "prefix-too-long", f"prefix is {slash} bytes, more than {MAX_PREFIX_BYTES}"
        )
    length = len(s)
    if slash + 1 == length:
        raise InvalidHandle("empty-suffix", "identifier has an empty suffix")
    nbytes = slash + 1
    for i in range(slash + 1, length):
        ch = s[i]
        if ch < 0x20 or (0x7F <= ch <= 0x9F):
            raise InvalidHandle(
                "control-char", f"control character U+{<long>ch:04X} at position {i} in suffix"
            )
        if 0xD800 <= ch <= 0xDFFF:
            raise InvalidHandle(
                "not-unicode", f"lone surrogate U+{<long>ch:04X} at position {i} in suffix"
            )
        if ch < 0x80:
            nbytes += 1
        elif ch < 0x800:
            nbytes += 2
        elif ch < 0x10000:
            nbytes += 3
        else:
            nbytes += 4
    if nbytes > _MAX_HANDLE:
        raise InvalidHandle(
            "too-long", f"identifier is {nbytes} bytes, more than {MAX_HANDLE_BYTES}"
        )
    return s[:slash], s[slash + 1:]


def normalise(text):
    if not isinstance(text, str):
        raise TypeError("handle must be str")
    cdef str s = <str>text
    if s.isascii():
        return s.upper()
    cdef Py_ssize_t i, n = len(s)
    cdef list out = []
    cdef Py_UCS4 ch, upper
    cdef Py_ssize_t start = 0
    for i in range(n):
        ch = s[i]
        if u'a' <= ch <= u'z':
            if i > start:
                out.append(s[start:i])
            upper = <Py_UCS4>(<long>ch - 32)
            out.append(upper)
            start = i + 1
    if start < n:
        out.append(s[start:])
    return u"".join(out)
