# cython: language_level=3, boundscheck=False, wraparound=False
"""Reading a bulk write's values, compiled twin of ``resolver/cells_py.py`` (see its
docstring).

The common value (an index of ASCII digits or a JSON integer, a short type of printable
ASCII, text data, nothing else) is checked and built here in C; any other goes through the
twin's own :func:`resolver.json_values.value_from_text` or ``value_from_json``, so odd input
is accepted, refused and worded exactly as there.
"""

from cpython.bytes cimport PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_AsUTF8String

from resolver.errors import ProtocolError
from resolver.json_values import MAX_TYPE_LENGTH, value_from_json, value_from_text
from resolver.values import DEFAULT_PERMISSIONS, DEFAULT_TTL, TTL_RELATIVE, HandleValue

cdef object _tuple_new = tuple.__new__
cdef Py_ssize_t _MAX_TYPE = MAX_TYPE_LENGTH
cdef object _TTL = DEFAULT_TTL
cdef object _TTL_TYPE = TTL_RELATIVE
cdef object _PERMISSIONS = DEFAULT_PERMISSIONS
cdef object _NO_REFERENCES = ()


cdef long long _plain_index(str text):
    """The index an all-digit ASCII cell names (1 .. 2^31 - 1), else -1."""
    cdef Py_ssize_t n = len(text), i
    cdef long long number = 0
    cdef long c
    if n == 0 or n > 10:
        return -1
    for i in range(n):
        c = <long>(<Py_UCS4>text[i])
        if c < 48 or c > 57:
            return -1
        number = number * 10 + (c - 48)
    if number == 0 or number > 0x7FFFFFFF:
        return -1
    return number


cdef bint _plain_type(str text):
    """A type of 1 .. MAX_TYPE_LENGTH printable ASCII characters."""
    cdef Py_ssize_t n = len(text), i
    cdef long c
    if n == 0 or n > _MAX_TYPE:
        return False
    for i in range(n):
        c = <long>(<Py_UCS4>text[i])
        if c < 32 or c > 126:
            return False
    return True


def values_from_cells(list cells, Py_ssize_t max_data_bytes):
    cdef Py_ssize_t count = len(cells), n
    cdef long long number
    cdef list out = []
    if (count - 1) % 3:
        raise ProtocolError(f"{count} columns: expected handle, then index,type,data groups")
    for n in range(1, count, 3):
        index, vtype, data = cells[n], cells[n + 1], cells[n + 2]
        if not (index or vtype or data):
            continue
        number = _plain_index(index) if type(index) is str else -1
        if number < 0 or type(vtype) is not str or not _plain_type(vtype) or type(data) is not str:
            out.append(value_from_text(index, vtype, data, max_data_bytes=max_data_bytes))
            continue
        try:
            raw = PyUnicode_AsUTF8String(data)
        except UnicodeEncodeError:  # a lone surrogate: the twin's words for it
            raw = None
        if raw is None or PyBytes_GET_SIZE(raw) > max_data_bytes:
            out.append(value_from_text(index, vtype, data, max_data_bytes=max_data_bytes))
            continue
        out.append(
            _tuple_new(
                HandleValue,
                (number, vtype, raw, _TTL, _TTL_TYPE, 0, _PERMISSIONS, _NO_REFERENCES),
            )
        )
    return tuple(out)


def values_from_json(list raw, Py_ssize_t max_data_bytes):
    cdef list out = []
    cdef dict value
    for obj in raw:
        if type(obj) is dict and len(<dict>obj) == 3:
            value = <dict>obj
            index, vtype, data = value.get("index"), value.get("type"), value.get("data")
            if (
                type(index) is int
                and 0 < index <= 0x7FFFFFFF
                and type(vtype) is str
                and _plain_type(vtype)
                and type(data) is str
            ):
                try:
                    encoded = PyUnicode_AsUTF8String(data)
                except UnicodeEncodeError:  # a lone surrogate: the twin's words for it
                    encoded = None
                if encoded is not None and PyBytes_GET_SIZE(encoded) <= max_data_bytes:
                    out.append(
                        _tuple_new(
                            HandleValue,
                            (index, vtype, encoded, _TTL, _TTL_TYPE, 0, _PERMISSIONS, _NO_REFERENCES),
                        )
                    )
                    continue
        out.append(value_from_json(obj, max_data_bytes=max_data_bytes))
    return tuple(out)
