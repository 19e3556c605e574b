"""Metadata templates: what a product record of an enterprise must hold (the model and its
rules; the registry checks writes against them in ``registry/templates.py``).

A template is itself a record, ``<prefix>/TEMPLATE/<name>/<version>``, whose value of type
``TIERID.TEMPLATE`` (index 1) is the template as JSON::

    {"name": "pump", "version": "2", "status": "published", "description": "...",
     "industry": {"category": "C", "specific": "34", "trade": "344", "subclass": "3444"},
     "items": [{"key": "MODEL", "name": "型号", "index": 2001, "required": true,
                "type": "string", "minLength": 1, "maxLength": 64, "enabled": true}]}

so templates replicate to mirrors, are cached, audited and permissioned like any record (the
prefix's admins write them). ``industry`` is the GB/T 4754 classification, four levels each
extending the one before. Item types: ``string``, ``number``, ``date`` (YYYY-MM-DD), ``url``
(http or https) and ``identifier`` (a valid identifier, e.g. a linked part). Items are
disabled, never deleted: a new version of the template record keeps every item of the old
one, with the same index and key. ``status`` goes draft -> published -> withdrawn.

A record is registered against a template by its value 1000 (type ``TEMPLATE``, the template
record's handle) and optionally 1001 (``TEMPLATE.VERSION``, which must then match). The
template must be published and stored on the same node. Every enabled item must be present
if required, at its index with its key as type, and its data must be of the item's type and
length; values from index 2000 up must be enabled items of the template. Values below 2000
(URL, HS_ADMIN, ...) are the record's own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from resolver.errors import InvalidHandle, InvalidValue
from resolver.handle import normalise, parse
from resolver.values import HandleValue

TEMPLATE_TYPE = "TIERID.TEMPLATE"
REF_INDEX, REF_TYPE = 1000, "TEMPLATE"
VERSION_INDEX, VERSION_TYPE = 1001, "TEMPLATE.VERSION"
FIRST_ITEM_INDEX = 2000
ITEM_TYPES = ("string", "number", "date", "url", "identifier")
STATUSES = ("draft", "published", "withdrawn")
#: what a template's status may become (a template only moves forward)
_NEXT_STATUS = {
    "draft": ("draft", "published"),
    "published": ("published", "withdrawn"),
    "withdrawn": ("withdrawn",),
}
_ITEM_FIELDS = frozenset(
    ("key", "name", "index", "type", "required", "minLength", "maxLength", "enabled")
)
_TEMPLATE_FIELDS = frozenset(("name", "version", "status", "description", "industry", "items"))
MAX_ITEMS = 500
MAX_LENGTH = 4000

_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_NAME_PART = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_NUMBER = re.compile(r"-?\d+(\.\d+)?", re.ASCII)  # not full-width or Arabic-Indic digits
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INDUSTRY = (
    ("category", r"[A-T]"),
    ("specific", r"\d{2}"),
    ("trade", r"\d{3}"),
    ("subclass", r"\d{4}"),
)


def template_handle(prefix: str, name: str, version: str) -> str:
    """The record a template version lives in."""
    return f"{prefix}/TEMPLATE/{name}/{version}"


def reference_values(handle: str, name: str, version: str) -> tuple[HandleValue, HandleValue]:
    """Values 1000 and 1001 that register ``handle`` against its prefix's template."""
    prefix, _ = parse(handle)
    ref = template_handle(prefix, name, version).encode("utf-8")
    return (
        HandleValue(REF_INDEX, REF_TYPE, ref),
        HandleValue(VERSION_INDEX, VERSION_TYPE, version.encode("utf-8")),
    )


def _known_fields(obj: dict[str, Any], known: frozenset[str], what: str) -> None:
    """:raises InvalidValue: ``obj`` has a field ``known`` lacks (a misspelt "required" would
    otherwise be dropped without a word, and the template would not ask for it)."""
    unknown = sorted(set(obj) - known)
    if unknown:
        raise InvalidValue(f"unknown {what} field(s): {', '.join(map(str, unknown))}")


def _field(obj: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = obj.get(name, default)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidValue(f"template field {name!r} must be a {kind.__name__}")
    return value


@dataclass(frozen=True, slots=True)
class Item:
    key: str
    name: str
    index: int
    type: str = "string"
    required: bool = False
    min_length: int = 0
    max_length: int = MAX_LENGTH
    enabled: bool = True

    @classmethod
    def from_json(cls, obj: Any) -> Item:
        if not isinstance(obj, dict):
            raise InvalidValue("each template item must be an object")
        _known_fields(obj, _ITEM_FIELDS, "template item")
        key = _field(obj, "key", str)
        if not _KEY.fullmatch(key):
            raise InvalidValue(f"item key {key!r} must be a value type name (letters first)")
        item = cls(
            key,
            _field(obj, "name", str, key),
            _field(obj, "index", int),
            _field(obj, "type", str, "string"),
            _field(obj, "required", bool, False),
            _field(obj, "minLength", int, 0),
            _field(obj, "maxLength", int, MAX_LENGTH),
            _field(obj, "enabled", bool, True),
        )
        if not FIRST_ITEM_INDEX <= item.index <= 0x7FFFFFFF:
            raise InvalidValue(f"item {key}: index must be {FIRST_ITEM_INDEX} or more")
        if item.type not in ITEM_TYPES:
            raise InvalidValue(f"item {key}: type must be one of {', '.join(ITEM_TYPES)}")
        if not 0 <= item.min_length <= item.max_length <= MAX_LENGTH:
            raise InvalidValue(f"item {key}: need 0 <= minLength <= maxLength <= {MAX_LENGTH}")
        if not item.name or len(item.name) > 64:
            raise InvalidValue(f"item {key}: name must be 1 to 64 characters")
        return item

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "index": self.index,
            "type": self.type,
            "required": self.required,
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "enabled": self.enabled,
        }

    def check(self, value: HandleValue) -> None:
        """:raises InvalidValue: the value is not this item's type, type name or length."""
        where = f"value {value.index} ({self.name})"
        if normalise(value.type) != normalise(self.key):
            raise InvalidValue(f"{where}: type must be {self.key}, not {value.type}")
        try:
            text = value.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidValue(f"{where}: data must be UTF-8 text") from exc
        if not self.min_length <= len(text) <= self.max_length:
            raise InvalidValue(
                f"{where}: {len(text)} characters, not {self.min_length} to {self.max_length}"
            )
        if not _TYPE_CHECKS[self.type](text):
            raise InvalidValue(f"{where}: {text!r} is not a {self.type}")


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _is_identifier(text: str) -> bool:
    try:
        parse(text)
    except InvalidHandle:
        return False
    return True


_TYPE_CHECKS = {
    "string": lambda _: True,
    "number": lambda text: bool(_NUMBER.fullmatch(text)),
    "date": _is_date,
    "url": _is_url,
    "identifier": _is_identifier,
}


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    version: str
    status: str
    items: tuple[Item, ...]
    description: str = ""
    industry: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_json(cls, obj: Any) -> Template:
        """:raises InvalidValue: naming what is wrong."""
        if not isinstance(obj, dict):
            raise InvalidValue("a template must be a JSON object")
        _known_fields(obj, _TEMPLATE_FIELDS, "template")
        name, version = _field(obj, "name", str), _field(obj, "version", str)
        for part in (name, version):
            if not _NAME_PART.fullmatch(part):
                raise InvalidValue(f"template name and version are [A-Za-z0-9_.-]: {part!r}")
        status = _field(obj, "status", str, "draft")
        if status not in STATUSES:
            raise InvalidValue(f"template status must be one of {', '.join(STATUSES)}")
        raw_items = _field(obj, "items", list, [])
        if len(raw_items) > MAX_ITEMS:
            raise InvalidValue(f"a template has at most {MAX_ITEMS} items")
        items = tuple(Item.from_json(i) for i in raw_items)
        for attr in ("index", "key"):
            seen = [normalise(str(getattr(i, attr))) for i in items]
            if len(set(seen)) != len(seen):
                raise InvalidValue(f"two template items have the same {attr}")
        return cls(
            name,
            version,
            status,
            items,
            _field(obj, "description", str, ""),
            _industry(obj.get("industry")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "description": self.description,
            "industry": dict(self.industry),
            "items": [i.to_json() for i in self.items],
        }

    def check_successor(self, new: Template) -> None:
        """:raises InvalidValue: ``new`` drops an item, moves or renames one, or goes back
        (draft -> published -> withdrawn: a published template back to draft would refuse
        every record registered against it)."""
        if new.status not in _NEXT_STATUS[self.status]:
            raise InvalidValue(
                f"a {self.status} template cannot become {new.status} "
                "(draft -> published -> withdrawn)"
            )
        by_index = {i.index: i for i in new.items}
        for old in self.items:
            kept = by_index.get(old.index)
            if kept is None or normalise(kept.key) != normalise(old.key):
                raise InvalidValue(
                    f"item {old.key} (index {old.index}) cannot be removed or renamed; disable it"
                )
        if (new.name, new.version) != (self.name, self.version):
            raise InvalidValue("a template's name and version do not change")

    def check_record(self, values: Sequence[HandleValue]) -> None:
        """:raises InvalidValue: a record's values do not fit this template."""
        items = {i.index: i for i in self.items}
        present = {v.index: v for v in values}
        for v in values:
            if v.index < FIRST_ITEM_INDEX:
                continue
            item = items.get(v.index)
            if item is None or not item.enabled:
                state = "not an item" if item is None else "a disabled item"
                raise InvalidValue(f"value {v.index} is {state} of template {self.name}")
            item.check(v)
        for item in self.items:
            if item.enabled and item.required and item.index not in present:
                raise InvalidValue(f"template {self.name} requires {item.name} at {item.index}")


def _industry(obj: Any) -> tuple[tuple[str, str], ...]:
    """GB/T 4754 levels, each extending the one before (C, 34, 344, 3444)."""
    if obj is None:
        return ()
    if not isinstance(obj, dict) or set(obj) - {name for name, _ in _INDUSTRY}:
        raise InvalidValue("industry holds category, specific, trade and subclass")
    out: list[tuple[str, str]] = []
    for name, pattern in _INDUSTRY:
        code = obj.get(name)
        if code is None:
            break
        if not isinstance(code, str) or not re.fullmatch(pattern, code):
            raise InvalidValue(f"industry {name} {code!r} is not a GB/T 4754 code")
        if len(out) > 1 and not code.startswith(out[-1][1]):
            raise InvalidValue(f"industry {name} {code} does not extend {out[-1][1]}")
        out.append((name, code))
    if len(out) != len(obj):
        raise InvalidValue("industry levels must be given from the category down")
    return tuple(out)


def template_in(values: Sequence[HandleValue]) -> Template | None:
    """The template a template record's values hold, if any.

    :raises InvalidValue: a TIERID.TEMPLATE value that is not a valid template.
    """
    for v in values:
        if v.type.upper() == TEMPLATE_TYPE:
            try:
                return Template.from_json(json.loads(v.data))
            except (ValueError, RecursionError) as exc:
                raise InvalidValue(f"value {v.index} is not template JSON") from exc
    return None
