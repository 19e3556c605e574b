"""Handle.Net's JSON form of values (REST API), in both directions.

Output follows Handle.Net exactly: ``data`` as ``{"format", "value"}`` with ``admin``,
``vlist``, ``site`` and ``key`` for structured types, else ``string`` for text and
``base64`` for binary; ``permissions`` only when not ``"1110"``; ``timestamp`` as ISO-8601
UTC. Input is as lenient as Handle.Net's (a bare string as data, ``hex``, an admin index as
a string) and as strict as it should be about everything else.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from datetime import UTC, datetime
from typing import Any

from resolver import values as hv
from resolver.errors import InvalidValue, ProtocolError
from resolver.numbers import is_decimal
from resolver.typed_data import AdminRef, SiteInfo, VList, pubkey_from_jwk, pubkey_to_json, unb64

MAX_TYPE_LENGTH = 128
MAX_TTL = 0x7FFFFFFF
#: largest value (and reference) index: Handle.Net's are Java ints
MAX_INDEX = 0x7FFFFFFF
MAX_UNIX_TIME = 0xFFFFFFFF
MAX_REFERENCES = 64

_STRUCTURED: dict[str, type[AdminRef] | type[VList] | type[SiteInfo]] = {
    "admin": AdminRef,
    "vlist": VList,
    "site": SiteInfo,
}


@functools.lru_cache(maxsize=4096)
def iso_time(ts: int) -> str:
    """ISO-8601 UTC without fractions; cached because a record's values share timestamps."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f]")


def _looks_binary(data: bytes) -> bool:
    """Not UTF-8, or holding control characters other than tab, CR and LF."""
    if _CONTROL_BYTES.search(data):
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _structured_kind(value_type: str) -> str | None:
    t = value_type.upper()
    if t == hv.HS_ADMIN:
        return "admin"
    if t == hv.HS_VLIST:
        return "vlist"
    if t.startswith(hv.HS_SITE):
        return "site"
    if t == hv.HS_PUBKEY:
        return "key"
    return None


def data_to_json(value_type: str, data: bytes) -> dict[str, Any]:
    kind = _structured_kind(value_type)
    if kind == "key":
        return pubkey_to_json(data)
    if kind is not None:
        try:
            return {"format": kind, "value": _STRUCTURED[kind].from_wire(data).to_json()}
        except ProtocolError:
            pass  # stored bytes that do not decode are shown as they are
    if _looks_binary(data):
        return {"format": "base64", "value": base64.b64encode(data).decode("ascii")}
    return {"format": "string", "value": data.decode("utf-8")}


def utf8(text: str, what: str) -> bytes:
    """``text`` in UTF-8. JSON can escape a lone surrogate (``"\\ud800"``), which no
    encoding can carry.

    :raises InvalidValue: naming ``what``.
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = ord(text[exc.start])
        raise InvalidValue(f"{what} holds a lone surrogate (U+{bad:04X}), not Unicode") from exc


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def check_unicode(raw: bytes, obj: Any) -> None:
    """Refuse a decoded JSON document whose text (``raw``) escaped a lone surrogate
    somewhere: Python decodes it into a string that nothing can encode again. Only a text
    holding a surrogate escape at all (pairs are how ASCII-only JSON writes emoji) is walked.

    :raises InvalidValue: naming the first such string.
    """
    if not _SURROGATE_ESCAPE.search(raw):
        return
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            utf8(item, "the request body")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def data_from_json(obj: Any) -> bytes:
    if isinstance(obj, str):
        return utf8(obj, "data")
    if not isinstance(obj, dict) or "format" not in obj:
        raise InvalidValue("data must be a string or {format, value}")
    fmt, val = obj["format"], obj.get("value")
    if not isinstance(fmt, str):
        raise InvalidValue('data format must be a string such as "string" or "hex"')
    if fmt == "string":
        if not isinstance(val, str):
            raise InvalidValue("string data must have a string value")
        return utf8(val, "data")
    if fmt == "base64":
        return unb64(val, "base64 data")
    if fmt == "hex":
        if not isinstance(val, str):
            raise InvalidValue("hex data must have a string value")
        try:
            return binascii.unhexlify(val.strip())
        except (binascii.Error, ValueError) as exc:
            raise InvalidValue("hex data is not valid hex") from exc
    if fmt == "key":
        return pubkey_from_jwk(val)
    if fmt in _STRUCTURED:
        structured = _STRUCTURED[fmt].from_json(val)
        try:
            return structured.to_wire()
        except UnicodeEncodeError as exc:
            raise InvalidValue(f"{fmt} data holds a lone surrogate, not Unicode") from exc
    raise InvalidValue(f"unknown data format {fmt!r}")


def permissions_to_json(perms: int) -> str:
    return format(perms & 0x0F, "04b")


def permissions_from_json(obj: Any) -> int:
    """Four chars adminRead adminWrite publicRead publicWrite, read from the right; ``*`` all."""
    if obj == "*":
        return 0x0F
    if not isinstance(obj, str) or not 0 < len(obj) <= 4 or set(obj) - {"0", "1"}:
        raise InvalidValue('permissions must be up to four bits such as "1110"')
    return int(obj, 2)


def value_to_json(v: hv.HandleValue) -> dict[str, Any]:
    out: dict[str, Any] = {"index": v.index, "type": v.type, "data": data_to_json(v.type, v.data)}
    if v.permissions != hv.DEFAULT_PERMISSIONS:
        out["permissions"] = permissions_to_json(v.permissions)
    out["ttl"] = iso_time(v.ttl) if v.ttl_type == hv.TTL_ABSOLUTE else v.ttl
    if v.timestamp:
        out["timestamp"] = iso_time(v.timestamp)
    if v.references:
        out["references"] = [{"handle": h, "index": i} for h, i in v.references]
    return out


def _ttl_from_json(obj: Any) -> tuple[int, int]:
    if obj is None:
        return hv.DEFAULT_TTL, hv.TTL_RELATIVE
    if isinstance(obj, str) and not is_decimal(obj.strip()):
        return unix_time(obj, "ttl"), hv.TTL_ABSOLUTE
    if isinstance(obj, bool) or not isinstance(obj, int | str):
        raise InvalidValue("ttl must be seconds or an ISO-8601 time")
    ttl = int(obj)
    if not 0 <= ttl <= MAX_TTL:
        raise InvalidValue(f"ttl must be from 0 to {MAX_TTL}")
    return ttl, hv.TTL_RELATIVE


def unix_time(text: str, what: str) -> int:
    """An ISO-8601 time as unix seconds, within what the wire's unsigned int4 can carry.

    :raises InvalidValue: naming ``what``.
    """
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidValue(f"{what} must be seconds or an ISO-8601 time") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = int(when.timestamp())
    if not 0 <= seconds <= MAX_UNIX_TIME:
        raise InvalidValue(f"{what} must be between 1970 and 2106")
    return seconds


def check_type(index: int, vtype: Any) -> None:
    """Check a value's type name, whichever face the value came through.

    :raises InvalidValue: empty, longer than :data:`MAX_TYPE_LENGTH` bytes, not a string, or
        holding a control character.
    """
    if (
        not isinstance(vtype, str)
        or not vtype
        or len(utf8(vtype, f"value {index}: type")) > MAX_TYPE_LENGTH
    ):
        raise InvalidValue(f"value {index}: type must be a string of 1 to {MAX_TYPE_LENGTH} bytes")
    if _CONTROL_CHARS.search(vtype):
        raise InvalidValue(f"value {index}: type contains a control character")


def _index_from(obj: Any) -> int:
    """A value's index: an integer, or a string of ASCII digits, from 1 to 2^31 - 1."""
    if isinstance(obj, str) and is_decimal(obj.strip()):
        obj = int(obj)
    if isinstance(obj, bool) or not isinstance(obj, int) or not 0 < obj <= MAX_INDEX:
        raise InvalidValue(f"value index must be an integer from 1 to {MAX_INDEX}")
    return obj


def _data(index: int, vtype: str, obj: Any, max_data_bytes: int) -> bytes:
    """A value's data from its JSON form, at most ``max_data_bytes``."""
    try:
        data = data_from_json(obj)
    except InvalidValue as exc:
        raise InvalidValue(f"value {index} ({vtype}): {exc.message}") from exc
    if len(data) > max_data_bytes:
        raise InvalidValue(f"value {index}: data is {len(data)} bytes, more than {max_data_bytes}")
    return data


def value_from_text(index: str, vtype: str, data: str, *, max_data_bytes: int) -> hv.HandleValue:
    """A value given as three strings, as a CSV import's ``index,type,data`` group: string
    data, the default TTL and permissions. It is what :func:`value_from_json` makes of
    ``{"index": index, "type": vtype, "data": data}``, with the same checks and messages,
    built without the dictionary (an import reads millions).

    :raises InvalidValue: naming the offending field.
    """
    number = _index_from(index)
    check_type(number, vtype)
    return hv.HandleValue(number, vtype, _data(number, vtype, data, max_data_bytes))


def value_from_json(
    obj: Any, *, max_data_bytes: int, keep_timestamp: bool = False
) -> hv.HandleValue:
    """One value from Handle.Net JSON. Timestamps sent by clients are ignored (the server
    stamps every write) unless ``keep_timestamp``, for answers read from another node.

    :raises InvalidValue: naming the offending field.
    """
    if not isinstance(obj, dict):
        raise InvalidValue("each value must be a JSON object")
    index = _index_from(obj.get("index"))
    vtype = obj.get("type")
    check_type(index, vtype)
    if "data" not in obj:
        raise InvalidValue(f"value {index}: missing data")
    data = _data(index, vtype, obj["data"], max_data_bytes)
    ttl, ttl_type = _ttl_from_json(obj.get("ttl"))
    perms = hv.DEFAULT_PERMISSIONS  # "1110", not parsed again for every value of a bulk import
    if "permissions" in obj:
        perms = permissions_from_json(obj["permissions"])
    refs = obj.get("references", [])
    if not isinstance(refs, list) or len(refs) > MAX_REFERENCES:
        raise InvalidValue(f"value {index}: references must be a list of {{handle, index}}")
    references = []
    for ref in refs:
        if not isinstance(ref, dict) or not isinstance(ref.get("handle"), str):
            raise InvalidValue(f"value {index}: each reference needs a handle and an index")
        ref_index = ref.get("index", 0)
        if isinstance(ref_index, bool) or not isinstance(ref_index, int):
            raise InvalidValue(f"value {index}: reference index must be an integer")
        if not 0 <= ref_index <= MAX_INDEX:  # 0: the whole record; the wire holds a signed int4
            raise InvalidValue(f"value {index}: reference index must be from 0 to {MAX_INDEX}")
        utf8(ref["handle"], f"value {index}: reference")
        references.append((ref["handle"], ref_index))
    timestamp = 0
    if keep_timestamp and isinstance(obj.get("timestamp"), str):
        timestamp = unix_time(obj["timestamp"], f"value {index} timestamp")
    return hv.HandleValue(index, vtype, data, ttl, ttl_type, timestamp, perms, tuple(references))
