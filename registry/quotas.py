"""Per-principal daily quotas on writes, answered with the codes China's secondary nodes use:
603 (daily request limit), 604 (registration limit), 605 (prefix limit).

Each authenticated write request counts one request for its principal (``index:handle``);
each record it creates counts one registration, or one prefix when it is a prefix record
(``0.NA/...``). The counts are kept per UTC day in the node's store and charged inside the
write's own transaction, so a write over a limit leaves nothing behind (the count included)
and every worker process shares them. Server admins and internal writes are not counted.

Limits are ``[quotas]`` defaults, overridden per prefix (the most specific prefix above the
written handle wins), e.g. ``overrides = ["88.118.8 registrations_per_day=5000000"]``. A
limit of 0 means none. A batch is one request, whose creations all count, under the strictest
limits of its items' prefixes; a batch over a limit commits nothing, ``atomic=false`` or not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime

from registry.permissions import Authorizer
from registry.storage.base import WriteTxn
from resolver.errors import InvalidHandle, PrefixLimit, RegistrationLimit, RequestLimitDaily
from resolver.handle import check_prefix, is_prefix_record, normalise, parent_prefix, parse
from resolver.message import Identity
from resolver.numbers import is_decimal


@dataclass(frozen=True, slots=True)
class QuotaSettings:
    """Config section ``[quotas]``."""

    requests_per_day: int = 0
    registrations_per_day: int = 0
    prefixes_per_day: int = 0
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Limits:
    requests_per_day: int = 0
    registrations_per_day: int = 0
    prefixes_per_day: int = 0


_NAMES = {f.name for f in fields(Limits)}


def parse_override(text: str) -> tuple[str, dict[str, int]]:
    """``"88.118.8 registrations_per_day=100 prefixes_per_day=0"`` -> (prefix, limits).

    :raises ValueError: naming what is wrong.
    :raises InvalidHandle: the prefix is not one.
    """
    prefix, *pairs = text.split() or [""]
    check_prefix(prefix)
    limits = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in _NAMES or not is_decimal(value):
            raise ValueError(f"{pair!r}: expected one of {', '.join(sorted(_NAMES))}=N")
        limits[name] = int(value)
    if not limits:
        raise ValueError(f"{text!r} names no limit")
    return prefix, limits


class Quotas:
    """Decides which limits a write falls under and charges its principal."""

    def __init__(
        self,
        settings: QuotaSettings,
        authorizer: Authorizer,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """:raises ValueError: a malformed override."""
        self.authorizer = authorizer
        self.clock = clock
        self.defaults = Limits(
            settings.requests_per_day, settings.registrations_per_day, settings.prefixes_per_day
        )
        self.by_prefix: dict[str, Limits] = {}
        for text in settings.overrides:
            prefix, limits = parse_override(text)
            self.by_prefix[normalise(prefix)] = replace(self.defaults, **limits)

    @property
    def active(self) -> bool:
        return self.defaults != Limits() or bool(self.by_prefix)

    def limits_for(self, handles: Iterable[str]) -> Limits:
        """The limits a write about ``handles`` falls under: for each, those of the most
        specific prefix above it (for a prefix record, the prefix it is created under), else
        the defaults; for several (a batch), the strictest of them. A handle that does not
        parse creates nothing and is left out; with none left, the defaults."""
        each = [limits for h in set(handles) if (limits := self._limits_above(h)) is not None]
        if not each:
            return self.defaults
        return Limits(
            **{
                f.name: min((v for limits in each if (v := getattr(limits, f.name))), default=0)
                for f in fields(Limits)
            }
        )

    def _limits_above(self, handle: str) -> Limits | None:
        try:
            prefix, suffix = parse(handle)
        except InvalidHandle:  # the write itself reports it
            return None
        candidate = parent_prefix(suffix) if is_prefix_record(prefix) else prefix
        while candidate is not None:
            found = self.by_prefix.get(normalise(candidate))
            if found is not None:
                return found
            candidate = parent_prefix(candidate)
        return self.defaults

    def charge(self, txn: WriteTxn, identity: Identity | None, handles: Sequence[str]) -> None:
        """Count one write request by ``identity`` about ``handles`` (one, or a batch's),
        and what its transaction created.

        :raises RequestLimitDaily, RegistrationLimit, PrefixLimit: over a limit (the caller's
            transaction then rolls back).
        """
        if not self.active or identity is None or self.authorizer.is_server_admin(identity):
            return
        limits = self.limits_for(handles)
        day = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%d")
        who = str(identity)
        charges = (
            ("requests", 1, limits.requests_per_day, RequestLimitDaily),
            (
                "registrations",
                txn.created - txn.created_prefixes,
                limits.registrations_per_day,
                RegistrationLimit,
            ),
            ("prefixes", txn.created_prefixes, limits.prefixes_per_day, PrefixLimit),
        )
        for kind, amount, limit, error in charges:
            if limit and amount and txn.use_quota(who, day, kind, amount) > limit:
                message = f"{who} is over its limit of {limit} {kind} a day"
                raise error(message, handle=handles[0] if len(handles) == 1 else None)
