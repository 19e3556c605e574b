"""Write-time checks of metadata templates (the model is :mod:`resolver.templates`): a
template record's new version keeps every item of the old one, and a record registered
against a template (value 1000) fits it. The template must be published and stored here."""

from __future__ import annotations

from collections.abc import Sequence

from registry.storage.base import ReadTxn, StoredRecord
from resolver.errors import InvalidValue
from resolver.handle import normalise
from resolver.templates import (
    REF_INDEX,
    REF_TYPE,
    VERSION_INDEX,
    VERSION_TYPE,
    Template,
    template_in,
)
from resolver.values import HandleValue


class TemplateChecks:
    """Write-time checks of template records and of records registered against one, with
    the parsed templates remembered by their record (a bulk import checks millions of rows
    against one template)."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[tuple[HandleValue, ...], Template]] = {}

    def _template(self, txn: ReadTxn, ref: str) -> Template:
        key = normalise(ref)
        record: StoredRecord | None = txn.get(key)
        if record is None:
            raise InvalidValue(f"template {ref} is not registered on this node")
        known = self._parsed.get(key)
        if known is not None and known[0] == record.values:
            return known[1]
        template = template_in(record.values)
        if template is None:
            raise InvalidValue(f"{ref} is not a template")
        if len(self._parsed) > 1000:
            self._parsed.clear()
        self._parsed[key] = (record.values, template)
        return template

    def check(
        self,
        txn: ReadTxn,
        values: Sequence[HandleValue],
        existing: StoredRecord | None,
    ) -> None:
        """:raises InvalidValue: the values break a template, or a template record's new
        version drops or renames an item of the old."""
        new = template_in(values)
        old = template_in(existing.values) if existing is not None else None
        if old is not None:
            if new is None:  # else its items could be dropped in two steps
                raise InvalidValue("a template record keeps its template; withdraw it instead")
            old.check_successor(new)
        ref = next((v for v in values if v.index == REF_INDEX), None)
        if ref is None:
            return
        if ref.type.upper() != REF_TYPE:
            raise InvalidValue(f"value {REF_INDEX} is reserved for the template (type TEMPLATE)")
        handle = ref.data.decode("utf-8", "replace")
        template = self._template(txn, handle)
        if template.status != "published":
            raise InvalidValue(f"template {handle} is {template.status}, not published")
        version = next((v for v in values if v.index == VERSION_INDEX), None)
        if version is not None and (
            version.type.upper() != VERSION_TYPE
            or version.data.decode("utf-8", "replace") != template.version
        ):
            raise InvalidValue(f"value {VERSION_INDEX} must be TEMPLATE.VERSION {template.version}")
        template.check_record(values)
