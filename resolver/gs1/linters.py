"""GS1's component linters: the content checks named in the Barcode Syntax Dictionary
(``N14,csum,gcppos2`` applies ``csum`` and ``gcppos2`` to a 14-digit component).

Each linter takes one component's text and returns None when it is acceptable, else a
:class:`LintError` with GS1's error name and the offending span, so that a message can show
``1234567*3*``. The rules follow GS1's reference implementation (gs1/gs1-syntax-dictionary,
``src/lint_*.c``) and its unit tests; the code tables live in :mod:`resolver.gs1.lint_tables`
and the coupon rules in :mod:`resolver.gs1.lint_coupon`.

``gcppos1`` and ``gcppos2`` can consult a GS1 Company Prefix service through
:func:`set_gcp_lookup`; without one they only check the prefix's shape.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from resolver.gs1.lint_tables import (
    CSET32,
    CSET39,
    CSET64,
    CSET82,
    CSET82_ORDER,
    ISO3166_ALPHA2,
    ISO3166_NUMERIC,
    ISO4217_NUMERIC,
    MEDIA_TYPES,
    PACKAGE_TYPES,
)

DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789ABCDEFabcdef")
_IBAN_CHARS = DIGITS | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True)
class LintError:
    """A linter's verdict: GS1's error name and the offending span of the component."""

    code: str  # GS1's error name, e.g. "GS1_LINTER_INCORRECT_CHECK_DIGIT"
    start: int  # offset of the offending span in the component
    length: int  # its length (0 allowed)

    def markup(self, value: str) -> str:
        """``value`` with the offending span between asterisks (``**`` for an empty one)."""
        end = self.start + self.length
        return f"{value[: self.start]}*{value[self.start : end]}*{value[end:]}"


Linter = Callable[[str], LintError | None]


def error(name: str, start: int, length: int) -> LintError:
    """A :class:`LintError` for ``GS1_LINTER_<name>``."""
    return LintError(f"GS1_LINTER_{name}", start, length)


def _whole(name: str, data: str) -> LintError:
    return error(name, 0, len(data))


def _first_outside(data: str, allowed: frozenset[str]) -> int | None:
    return next((i for i, c in enumerate(data) if c not in allowed), None)


def _charset(data: str, allowed: frozenset[str], name: str) -> LintError | None:
    bad = _first_outside(data, allowed)
    return None if bad is None else error(name, bad, 1)


def _digits(data: str) -> LintError | None:
    return _charset(data, DIGITS, "NON_DIGIT_CHARACTER")


def _in_table(data: str, table: frozenset[str], name: str) -> LintError | None:
    return None if data in table else _whole(name, data)


# --- character sets ------------------------------------------------------------------------


def csetnumeric(data: str) -> LintError | None:
    """Digits only (``N`` components)."""
    return _digits(data)


def cset82(data: str) -> LintError | None:
    """Characters of GS1 AI encodable character set 82 only (``X`` components)."""
    return _charset(data, CSET82, "INVALID_CSET82_CHARACTER")


def cset39(data: str) -> LintError | None:
    """Characters of GS1 AI encodable character set 39 only (``Y`` components)."""
    return _charset(data, CSET39, "INVALID_CSET39_CHARACTER")


def cset64(data: str) -> LintError | None:
    """URI-safe base64 (character set 64, ``Z`` components), optionally padded with at
    most two ``=`` to a length that is a multiple of three."""
    body = data.rstrip("=")
    pads = len(data) - len(body)
    if pads > 2 or (pads and len(data) % 3):
        return error("INVALID_CSET64_PADDING", len(body), pads)
    return _charset(body, CSET64, "INVALID_CSET64_CHARACTER")


def pcenc(data: str) -> LintError | None:
    """Every ``%`` starts a percent-encoded byte: two hexadecimal digits follow it."""
    i = data.find("%")
    while i != -1:
        if not (len(data) >= i + 3 and data[i + 1] in _HEX and data[i + 2] in _HEX):
            return error("INVALID_PERCENT_SEQUENCE", i, min(3, len(data) - i))
        i = data.find("%", i + 3)
    return None


def hasnondigit(data: str) -> LintError | None:
    """At least one character that is not a digit."""
    return _whole("REQUIRES_NON_DIGIT_CHARACTER", data) if set(data) <= DIGITS else None


def importeridx(data: str) -> LintError | None:
    """A single importer index character: a digit, a letter, ``-`` or ``_``."""
    if len(data) != 1:
        return _whole("IMPORTER_IDX_MUST_BE_ONE_CHARACTER", data)
    return _charset(data, CSET64, "INVALID_IMPORT_IDX_CHARACTER")


# --- check digits --------------------------------------------------------------------------


def check_digit(body: str) -> str:
    """GS1 mod-10 check digit for the digits ``body`` (weights 3, 1, ... from the right)."""
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return str(-total % 10)


def csum(data: str) -> LintError | None:
    """Digits ending in a correct GS1 mod-10 check digit."""
    if not data:
        return error("TOO_SHORT_FOR_CHECK_DIGIT", 0, 0)
    if bad := _digits(data):
        return bad
    if check_digit(data[:-1]) != data[-1]:
        return error("INCORRECT_CHECK_DIGIT", len(data) - 1, 1)
    return None


@cache
def _primes(count: int) -> tuple[int, ...]:
    found: list[int] = []
    n = 2
    while len(found) < count:
        if all(n % p for p in found if p * p <= n):
            found.append(n)
        n += 1
    return tuple(found)


def check_pair(body: str) -> str:
    """GS1 alphanumeric check character pair for the CSET 82 text ``body``: the character
    values weighted by increasing primes from the right, modulo 1021, split into two 5-bit
    values written in CSET 32."""
    values = [CSET82_ORDER.index(c) for c in reversed(body)]
    total = sum(v * w for v, w in zip(values, _primes(len(body)), strict=True)) % 1021
    return CSET32[total >> 5] + CSET32[total & 31]


def csumalpha(data: str) -> LintError | None:
    """CSET 82 text ending in a correct alphanumeric check character pair."""
    if len(data) < 2:
        return _whole("TOO_SHORT_FOR_CHECK_PAIR", data)
    body = data[:-2]
    if bad := cset82(body):
        return bad
    if check_pair(body) != data[-2:]:
        return error("INCORRECT_CHECK_PAIR", len(body), 2)
    return None


def iban(data: str) -> LintError | None:
    """An International Bank Account Number (ISO 13616): 11 to 34 characters, an ISO 3166
    alpha-2 country code, then digits and capitals with a correct mod-97 checksum."""
    if len(data) <= 10:
        return _whole("IBAN_TOO_SHORT", data)
    if len(data) > 34:
        return _whole("IBAN_TOO_LONG", data)
    if data[:2] not in ISO3166_ALPHA2:
        return error("ILLEGAL_IBAN_COUNTRY_CODE", 0, 2)
    bad = _first_outside(data[2:], _IBAN_CHARS)
    if bad is not None:
        return error("INVALID_IBAN_CHARACTER", bad + 2, 1)
    rotated = data[4:] + data[:4]
    if int("".join(str(int(c, 36)) for c in rotated)) % 97 != 1:
        return error("INCORRECT_IBAN_CHECKSUM", 2, 2)
    return None


# --- GS1 Company Prefix ----------------------------------------------------------------------


class GcpStatus(enum.Enum):
    """What a GS1 Company Prefix lookup service says about a candidate prefix."""

    VALID = "valid"
    INVALID = "invalid"
    #: the service is unavailable and the check should fail closed
    OFFLINE = "offline"


#: a GS1 Company Prefix lookup: given text that starts with a candidate GCP, its status
GcpLookup = Callable[[str], GcpStatus]

#: shortest GS1 Company Prefix currently allocated
GCP_MIN_LENGTH = 4

_gcp_lookup: GcpLookup | None = None


def set_gcp_lookup(lookup: GcpLookup | None) -> GcpLookup | None:
    """Install a GS1 Company Prefix lookup for ``gcppos1``/``gcppos2`` (and the coupon
    linters); None removes it, so only the prefix's shape is checked. Returns the previous
    hook. A service that should fail open must answer VALID when it is unavailable."""
    global _gcp_lookup
    previous, _gcp_lookup = _gcp_lookup, lookup
    return previous


def gcppos1(data: str) -> LintError | None:
    """Starts with a GS1 Company Prefix: at least four leading digits, and accepted by the
    lookup hook if one is installed (see :func:`set_gcp_lookup`)."""
    if len(data) < GCP_MIN_LENGTH:
        return _whole("TOO_SHORT_FOR_GCP", data)
    bad = _first_outside(data[:GCP_MIN_LENGTH], DIGITS)
    if bad is not None:
        return error("INVALID_GCP_PREFIX", bad, 1)
    if _gcp_lookup is not None:
        status = _gcp_lookup(data)
        if status is GcpStatus.OFFLINE:
            return _whole("GCP_DATASOURCE_OFFLINE", data)
        if status is not GcpStatus.VALID:
            return _whole("INVALID_GCP_PREFIX", data)
    return None


def gcppos2(data: str) -> LintError | None:
    """Starts with a GS1 Company Prefix from its second character (after, say, an
    indicator digit or extension digit)."""
    if len(data) < 2:
        return _whole("TOO_SHORT_FOR_GCP", data)
    found = gcppos1(data[1:])
    if found is None:
        return None
    return LintError(found.code, found.start + 1, found.length)


# --- code lists ------------------------------------------------------------------------------


def iso3166(data: str) -> LintError | None:
    """An ISO 3166-1 numeric (num-3) country code."""
    return _in_table(data, ISO3166_NUMERIC, "NOT_ISO3166")


def iso3166999(data: str) -> LintError | None:
    """An ISO 3166-1 numeric country code, or ``999``."""
    return None if data == "999" else _in_table(data, ISO3166_NUMERIC, "NOT_ISO3166_OR_999")


def iso3166alpha2(data: str) -> LintError | None:
    """An ISO 3166-1 alpha-2 country code."""
    return _in_table(data, ISO3166_ALPHA2, "NOT_ISO3166_ALPHA2")


def iso4217(data: str) -> LintError | None:
    """An ISO 4217 three-digit currency code."""
    return _in_table(data, ISO4217_NUMERIC, "NOT_ISO4217")


def iso5218(data: str) -> LintError | None:
    """An ISO/IEC 5218 biological sex code: 0 unknown, 1 male, 2 female, 9 not applicable."""
    return _in_table(data, frozenset("0129"), "INVALID_BIOLOGICAL_SEX_CODE")


def mediatype(data: str) -> LintError | None:
    """A two-digit AIDC media type (GS1 General Specifications)."""
    return _in_table(data, MEDIA_TYPES, "INVALID_MEDIA_TYPE")


def packagetype(data: str) -> LintError | None:
    """A code from GS1's PackageTypeCode list."""
    return _in_table(data, PACKAGE_TYPES, "INVALID_PACKAGE_TYPE")


def winding(data: str) -> LintError | None:
    """A winding direction: 0 face out, 1 face in, 9 undetermined."""
    return _in_table(data, frozenset("019"), "INVALID_WINDING_DIRECTION")


def yesno(data: str) -> LintError | None:
    """A flag: ``0`` or ``1``."""
    return _in_table(data, frozenset("01"), "NOT_ZERO_OR_ONE")


def hyphen(data: str) -> LintError | None:
    """One or more hyphens only."""
    return None if data and set(data) == {"-"} else _whole("NOT_HYPHEN", data)


# --- numbers -------------------------------------------------------------------------------


def zero(data: str) -> LintError | None:
    """One or more zeros only."""
    return None if data and set(data) == {"0"} else _whole("NOT_ZERO", data)


def nonzero(data: str) -> LintError | None:
    """Digits, not all zero (and not empty)."""
    if bad := _digits(data):
        return bad
    return None if data.strip("0") else _whole("ILLEGAL_ZERO_VALUE", data)


def nozeroprefix(data: str) -> LintError | None:
    """Digits without a leading zero."""
    if bad := _digits(data):
        return bad
    return error("ILLEGAL_ZERO_PREFIX", 0, 1) if data.startswith("0") else None


def pieceoftotal(data: str) -> LintError | None:
    """Piece number then total count, as two equal-width non-zero numbers with the piece
    not beyond the total (``0103`` is piece 1 of 3)."""
    if not data or len(data) % 2:
        return _whole("INVALID_LENGTH_FOR_PIECE_OF_TOTAL", data)
    if bad := _digits(data):
        return bad
    half = len(data) // 2
    piece, total = int(data[:half]), int(data[half:])
    if piece == 0:
        return error("ZERO_PIECE_NUMBER", 0, half)
    if total == 0:
        return error("ZERO_TOTAL_PIECES", half, half)
    return _whole("PIECE_NUMBER_EXCEEDS_TOTAL", data) if piece > total else None


def posinseqslash(data: str) -> LintError | None:
    """Position in a sequence as ``<position>/<end>``: two numbers without leading zeros,
    the position not beyond the end (``2/3``)."""
    position, slash, end = data.partition("/")
    if not (slash and position and end and set(position + end) <= DIGITS):
        return _whole("POSITION_IN_SEQUENCE_MALFORMED", data)
    if position.startswith("0"):
        return error("ILLEGAL_ZERO_PREFIX", 0, len(position))
    if end.startswith("0"):
        return error("ILLEGAL_ZERO_PREFIX", len(position) + 1, len(end))
    return _whole("POSITION_EXCEEDS_END", data) if int(position) > int(end) else None


def _coordinate(data: str, maximum: int, kind: str) -> LintError | None:
    if len(data) != 10:
        return _whole(f"{kind}_INVALID_LENGTH", data)
    if bad := _digits(data):
        return bad
    return _whole(f"INVALID_{kind}", data) if int(data) > maximum else None


def latitude(data: str) -> LintError | None:
    """Ten digits: latitude in 10^-7 degrees offset by +90 degrees (at most 1800000000)."""
    return _coordinate(data, 1_800_000_000, "LATITUDE")


def longitude(data: str) -> LintError | None:
    """Ten digits: longitude in 10^-7 degrees offset by +180 degrees (at most 3600000000)."""
    return _coordinate(data, 3_600_000_000, "LONGITUDE")


# --- dates and times -----------------------------------------------------------------------


def _date(data: str, year_digits: int, zero_day: bool) -> LintError | None:
    size = year_digits + 4
    if len(data) < size:
        return _whole("DATE_TOO_SHORT", data)
    if len(data) > size:
        return _whole("DATE_TOO_LONG", data)
    if bad := _digits(data):
        return bad
    year = int(data[:year_digits]) + (2000 if year_digits == 2 else 0)
    month, day = int(data[year_digits:-2]), int(data[-2:])
    if not 1 <= month <= 12:
        return error("ILLEGAL_MONTH", year_digits, 2)
    days = 29 if month == 2 and calendar.isleap(year) else calendar.mdays[month]
    if day > days or (day == 0 and not zero_day):
        return error("ILLEGAL_DAY", year_digits + 2, 2)
    return None


def yymmdd(data: str) -> LintError | None:
    """A date YYMMDD (a two-digit year divisible by four is a leap year)."""
    return _date(data, 2, zero_day=False)


def yymmd0(data: str) -> LintError | None:
    """A date YYMMDD where day ``00`` means the last day of the month."""
    return _date(data, 2, zero_day=True)


def yyyymmdd(data: str) -> LintError | None:
    """A date YYYYMMDD (Gregorian leap years)."""
    return _date(data, 4, zero_day=False)


def yyyymmd0(data: str) -> LintError | None:
    """A date YYYYMMDD where day ``00`` means the last day of the month."""
    return _date(data, 4, zero_day=True)


def _two_digits(data: str, kind: str, maximum: int) -> LintError | None:
    if len(data) < 2:
        return _whole(f"{kind}_TOO_SHORT", data)
    if len(data) > 2:
        return _whole(f"{kind}_TOO_LONG", data)
    if bad := _digits(data):
        return bad
    return _whole(f"ILLEGAL_{kind}", data) if int(data) > maximum else None


def hh(data: str) -> LintError | None:
    """An hour HH, 00 to 23."""
    return _two_digits(data, "HOUR", 23)


def mi(data: str) -> LintError | None:
    """A minute MI, 00 to 59."""
    return _two_digits(data, "MINUTE", 59)


def ss(data: str) -> LintError | None:
    """A second SS, 00 to 59."""
    return _two_digits(data, "SECOND", 59)


def hhmi(data: str) -> LintError | None:
    """A time of day HHMI, 0000 to 2359."""
    if len(data) != 4:
        too = "SHORT" if len(data) < 4 else "LONG"
        return _whole(f"HOUR_WITH_MINUTE_TOO_{too}", data)
    if bad := _digits(data):
        return bad
    if int(data[:2]) > 23:
        return error("ILLEGAL_HOUR", 0, 2)
    return error("ILLEGAL_MINUTE", 2, 2) if int(data[2:]) > 59 else None


# --- coupons -------------------------------------------------------------------------------


def couponcode(data: str) -> LintError | None:
    """A North American coupon code as carried in AI (8110) (see
    :mod:`resolver.gs1.lint_coupon`)."""
    from resolver.gs1.lint_coupon import lint_couponcode  # it builds on this module

    return lint_couponcode(data)


def couponposoffer(data: str) -> LintError | None:
    """A positive offer file coupon code as carried in AI (8112) (see
    :mod:`resolver.gs1.lint_coupon`)."""
    from resolver.gs1.lint_coupon import lint_couponposoffer

    return lint_couponposoffer(data)


#: every linter the Syntax Dictionary names, by name
LINTERS: dict[str, Linter] = {
    linter.__name__: linter
    for linter in (
        csetnumeric,
        cset82,
        cset39,
        cset64,
        pcenc,
        hasnondigit,
        importeridx,
        csum,
        csumalpha,
        iban,
        gcppos1,
        gcppos2,
        iso3166,
        iso3166999,
        iso3166alpha2,
        iso4217,
        iso5218,
        mediatype,
        packagetype,
        winding,
        yesno,
        hyphen,
        zero,
        nonzero,
        nozeroprefix,
        pieceoftotal,
        posinseqslash,
        latitude,
        longitude,
        yymmdd,
        yymmd0,
        yyyymmdd,
        yyyymmd0,
        hh,
        mi,
        ss,
        hhmi,
        couponcode,
        couponposoffer,
    )
}
