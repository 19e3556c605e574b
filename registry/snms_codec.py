"""The SNMS-compatible API's JSON shapes, translated to and from tierid's own model (no I/O;
the routes are :mod:`registry.snms`).

The shapes are those of Teleinfo's SNMS documentation (teleinfo-dev/id-guide,
``docs/dev-tools/snms/``): every answer is ``{"message", "status", "data"}`` with ``status``
1 ok, -1 not logged in, -2 business error (``message`` says why), -3 no permission, -4
internal error. How tierid's response codes become those statuses is :func:`status_of`, the
only place it is decided.

Identifiers: ``{"handle", "templateVersion", "value": [{"index", "type", "data": {"format",
"value"}, "auth"}]}``. ``auth`` is reserved by SNMS and ignored. ``templateVersion`` V
registers the record against template version V of its prefix: tierid's values 1000
``TEMPLATE`` = ``<prefix>/TEMPLATE/snms/<V>`` and 1001 ``TEMPLATE.VERSION`` = V, so
indexes 1000 and 1001 are not the client's to send. On reading, those two values are shown
with SNMS's type names (``TEMPLATE_ID`` and ``TEMPLATE``) and ``prefix`` is added.

Templates: SNMS keys a template by prefix + version only, so an SNMS template is tierid's
template named ``snms`` (:data:`TEMPLATE_NAME`); templates with other names are not seen
through this API. SNMS's object ``type`` (1 active identifier carrier, 2 other) has no place
in tierid's template JSON and is kept as value 2 (``SNMS.TEMPLATE.TYPE``) of the template
record. Items are ``{name, idType, idIndex, required, state (0 disabled, 1 enabled),
metadata {type, minLength, maxLength}}`` -> tierid's ``{name, key, index, required,
enabled, type, minLength, maxLength}``; tierid checks them (index 2000 or more, at most 4000
characters, items disabled but never removed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from registry.batch import ItemResult, Op, Outcome
from resolver.codes import ResponseCode as RC
from resolver.errors import InvalidValue, ProtocolError, TieridError
from resolver.handle import check_prefix, parse
from resolver.json_values import data_to_json, value_from_json
from resolver.templates import (
    FIRST_ITEM_INDEX,
    REF_INDEX,
    REF_TYPE,
    TEMPLATE_TYPE,
    VERSION_INDEX,
    VERSION_TYPE,
    Template,
    reference_values,
    template_in,
)
from resolver.values import HandleValue

OK, NOT_LOGGED_IN, BUSINESS_ERROR, NO_PERMISSION, INTERNAL_ERROR = 1, -1, -2, -3, -4

#: the tierid template name of every template written through SNMS
TEMPLATE_NAME = "snms"
#: where a template record keeps SNMS's object type (1 active carrier, 2 other)
KIND_INDEX, KIND_TYPE = 2, "SNMS.TEMPLATE.TYPE"
KINDS = (1, 2)
#: how SNMS names the template values tierid stores as TEMPLATE and TEMPLATE.VERSION
SHOWN_TYPES = {(REF_INDEX, REF_TYPE): "TEMPLATE_ID", (VERSION_INDEX, VERSION_TYPE): "TEMPLATE"}
INDUSTRY = (
    ("industryCategory", "category"),
    ("industrySpecific", "specific"),
    ("industryTrade", "trade"),
    ("industrySubclass", "subclass"),
)
_VERSION = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def status_of(err: TieridError) -> int:
    """The SNMS status for a tierid error: the one mapping every answer and batch item uses.

    Not authenticated (RC 402, 405, session codes) is -1; not allowed (RC 400, 401) is -3;
    what the server failed at (HTTP 5xx: RC 2, a mirror's RC 7, ...) is -4; everything the
    client can act on (not found, exists, invalid identifier or value, quotas, a wrong
    password, a prefix not served here) is -2 with tierid's message.
    """
    rc = int(err.rc)
    if rc in (RC.AUTHENTICATION_NEEDED, RC.AUTHEN_TIMEOUT, RC.SESSION_TIMEOUT, RC.SESSION_FAILED):
        return NOT_LOGGED_IN
    if rc in (RC.INVALID_ADMIN, RC.INSUFFICIENT_PERMISSIONS):
        return NO_PERMISSION
    if err.http_status >= 500:
        return INTERNAL_ERROR
    return BUSINESS_ERROR


def envelope(data: Any, status: int = OK, message: str = "success") -> dict[str, Any]:
    return {"message": message, "status": status, "data": data}


def error_envelope(err: TieridError) -> dict[str, Any]:
    return envelope(None, status_of(err), err.message)


def _text(obj: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = obj.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ProtocolError(f'"{name}" is required (a string)')
    return value


def _int(value: Any, name: str) -> int:
    """An integer, also as a decimal string (the documented template example sends
    ``"idIndex": "2000"``)."""
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f'"{name}" must be an integer')
    return value


def version_of(obj: dict[str, Any], name: str = "version") -> str:
    """A template version as tierid's template names allow it (also in a record handle).

    :raises ProtocolError, InvalidValue:
    """
    version = _text(obj, name)
    if not _VERSION.fullmatch(version):
        raise InvalidValue(f'"{name}" must be 1 to 64 of A-Z a-z 0-9 _ . -, not {version!r}')
    return version


def template_key(obj: Any) -> tuple[str, str]:
    """``{"prefix", "version"}``: what names an SNMS template.

    :raises ProtocolError, InvalidValue, InvalidHandle:
    """
    if not isinstance(obj, dict):
        raise ProtocolError('expected {"prefix": ..., "version": ...}')
    prefix = _text(obj, "prefix")
    check_prefix(prefix)
    return prefix, version_of(obj)


# --- identifiers ---------------------------------------------------------------------------


def record_from_json(obj: Any, max_data_bytes: int) -> tuple[str, tuple[HandleValue, ...]]:
    """``{"handle", "templateVersion", "value": [...]}`` as a handle and tierid values, the
    template's values 1000 and 1001 included.

    :raises ProtocolError, InvalidValue, InvalidHandle:
    """
    if not isinstance(obj, dict):
        raise ProtocolError("each identifier must be a JSON object")
    handle = _text(obj, "handle")
    version = version_of(obj, "templateVersion")
    raw = obj.get("value")
    if not isinstance(raw, list):
        raise ProtocolError('"value" must be a list of values')
    values = []
    for item in raw:
        if not isinstance(item, dict):
            raise InvalidValue("each value must be a JSON object")
        fields = {k: item[k] for k in ("index", "type", "data") if k in item}  # not "auth"
        value = value_from_json(fields, max_data_bytes=max_data_bytes)
        if value.index in (REF_INDEX, VERSION_INDEX):
            raise InvalidValue(
                f"index {value.index} is reserved for the template; send templateVersion"
            )
        values.append(value)
    return handle, (*values, *reference_values(handle, TEMPLATE_NAME, version))


def record_to_json(handle: str, values: Sequence[HandleValue]) -> dict[str, Any]:
    """What ``/identityv2/data/detail`` answers: the record with its ``prefix`` and
    ``templateVersion`` (value 1001), values 1000/1001 under SNMS's type names."""
    prefix, _ = parse(handle)
    version = next(
        (v.data.decode("utf-8", "replace") for v in values if v.index == VERSION_INDEX), ""
    )
    shown = [
        {
            "index": v.index,
            "type": SHOWN_TYPES.get((v.index, v.type.upper()), v.type),
            "data": data_to_json(v.type, v.data),
            "auth": "",
        }
        for v in values
    ]
    # "code" appears in the documented example (not in its field table); kept for clients
    return {
        "code": "200",
        "prefix": prefix,
        "handle": handle,
        "templateVersion": version,
        "value": shown,
    }


def item_results(op: Op, results: Sequence[ItemResult]) -> list[dict[str, Any]]:
    """A batch's result per item, ``{"handle", "msg", "code"}`` with ``code`` an SNMS
    status. A create of a record that already holds exactly those values says "already
    exists" (SNMS's documented answer to a batch sent again), a delete of a record already
    gone "not found"; an update that changes nothing is a success."""
    out = []
    for r in results:
        code, msg = OK, "success"
        if r.error is not None:
            code, msg = status_of(r.error), r.error.message
        elif r.outcome is Outcome.UNCHANGED and op == "create":
            code, msg = BUSINESS_ERROR, "Handle already exists."
        elif r.outcome is Outcome.UNCHANGED and op == "delete":
            code, msg = BUSINESS_ERROR, "Handle not found."
        out.append({"handle": r.handle, "msg": msg, "code": code})
    return out


# --- templates -----------------------------------------------------------------------------


def _item(obj: Any, index: int, old: dict[str, Any] | None) -> dict[str, Any]:
    """One SNMS item as tierid's item JSON; ``required`` and ``state`` left out keep their
    current values (SNMS: "state 不传保持状态不变")."""
    if not isinstance(obj, dict):
        raise ProtocolError("each template item must be a JSON object")
    meta = obj.get("metadata", {})
    if not isinstance(meta, dict):
        raise ProtocolError('an item\'s "metadata" must be {type, minLength, maxLength}')
    state = obj.get("state")
    if state is not None and state not in (0, 1):
        raise InvalidValue('an item\'s "state" is 0 (disabled) or 1 (enabled)')
    old = old or {}
    return {
        "key": _text(obj, "idType"),
        "name": _text(obj, "name"),
        "index": index,
        "type": meta.get("type", old.get("type", "string")),
        "required": obj.get("required", old.get("required", False)),
        "minLength": _int(meta.get("minLength", old.get("minLength", 0)), "metadata.minLength"),
        "maxLength": _int(meta.get("maxLength", old.get("maxLength", 4000)), "metadata.maxLength"),
        "enabled": old.get("enabled", True) if state is None else state == 1,
    }


def template_from_json(
    obj: Any, current: Template | None, current_kind: int | None
) -> tuple[str, Template, int]:
    """An SNMS template body (create, or update of ``current``) as its prefix, the tierid
    template and its SNMS object type. Items without ``idIndex`` are new and numbered after
    the highest index in use; a new template is published at once (SNMS has no drafts), an
    updated one keeps its status.

    :raises ProtocolError, InvalidValue:
    """
    prefix, version = template_key(obj)
    kind = obj.get("type", current_kind or 2)
    if type(kind) is not int or kind not in KINDS:  # not True, not 1.0
        raise InvalidValue('"type" is 1 (active identifier carrier) or 2 (other)')
    raw = obj.get("items")
    if not isinstance(raw, list):
        raise ProtocolError('"items" must be a list')
    old = {i.index: i.to_json() for i in current.items} if current else {}
    given = [
        _int(i["idIndex"], "idIndex")
        for i in raw
        if isinstance(i, dict) and i.get("idIndex") is not None
    ]
    next_index = max([FIRST_ITEM_INDEX - 1, *old, *given]) + 1
    items = []
    for i in raw:
        if isinstance(i, dict) and i.get("idIndex") is not None:
            index = _int(i["idIndex"], "idIndex")
        else:
            index, next_index = next_index, next_index + 1
        items.append(_item(i, index, old.get(index)))
    industry = {}
    for snms, ours in INDUSTRY:
        code = obj.get(snms)
        if code not in (None, ""):
            industry[ours] = code
    template = Template.from_json(
        {
            "name": TEMPLATE_NAME,
            "version": version,
            "status": current.status if current else "published",
            "description": _text(obj, "description", required=False),
            "industry": industry,
            "items": items,
        }
    )
    return prefix, template, kind


def template_values(template: Template, kind: int) -> list[HandleValue]:
    """The values of the template record: the template as tierid stores it, and the type."""
    text = json.dumps(template.to_json(), ensure_ascii=False)
    return [
        HandleValue(1, TEMPLATE_TYPE, text.encode("utf-8")),
        HandleValue(KIND_INDEX, KIND_TYPE, str(kind).encode("ascii")),
    ]


def template_of(values: Sequence[HandleValue]) -> tuple[Template, int] | None:
    """The template a record holds and its SNMS type (2, other, when not recorded).

    :raises InvalidValue: a template value that does not parse.
    """
    template = template_in(values)
    if template is None:
        return None
    kind = next((v.data for v in values if v.type.upper() == KIND_TYPE), b"2")
    return template, int(kind) if kind in (b"1", b"2") else 2


def template_to_json(prefix: str, handle: str, template: Template, kind: int) -> dict[str, Any]:
    """What ``GET /snms/api/v5/template`` answers (``metadataId`` is the item's index: tierid
    has no numeric ids; the SNMS database ``id`` is left out)."""
    industry = dict(template.industry)
    return {
        "prefix": prefix,
        "name": template.name,
        "version": template.version,
        **{snms: industry.get(ours, "") for snms, ours in INDUSTRY},
        "type": kind,
        "description": template.description,
        "handle": handle,
        "items": [
            {
                "name": i.name,
                "idType": i.key,
                "idIndex": i.index,
                "metadataId": i.index,
                "metadata": {"type": i.type, "minLength": i.min_length, "maxLength": i.max_length},
                "required": i.required,
                "state": 1 if i.enabled else 0,
            }
            for i in template.items
        ],
    }
