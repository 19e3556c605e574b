"""The coupon linters: North American coupon codes, AI (8110) ``couponcode``, and positive
offer file coupon codes, AI (8112) ``couponposoffer``.

Both are strings of digits made of fields read left to right: fixed-width fields, and
variable-width ones whose width follows from a one-digit length indicator (VLI) in front of
them. AI (8110) then has optional fields, each introduced by its number (1, 2, 3, 4, 5, 6, 9)
and allowed only in that order. The rules and error names follow GS1's reference
implementation (``src/lint_couponcode.c``, ``src/lint_couponposoffer.c``) and the "North
American Coupon Application Guideline Using GS1 DataBar Expanded Symbols".

Where a field is cut short the error marks what is left of the data, or the whole data when
nothing is left; a missing field marks the whole data.
"""

from __future__ import annotations

from collections.abc import Callable

from resolver.gs1.linters import LintError, error, gcppos1, yymmdd

#: digits allowed as a purchase requirement code
_REQUIREMENT_CODES = "012349"


class _Reject(Exception):
    """Stops reading at the first fault."""

    def __init__(self, found: LintError) -> None:
        super().__init__(found.code)
        self.found = found


class _Fields:
    """A cursor over coupon data that raises :class:`_Reject` on the first fault."""

    def __init__(self, data: str) -> None:
        self.data = data
        self.pos = 0

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def next_is(self, indicator: str) -> bool:
        """Whether an optional field introduced by ``indicator`` follows; consumes it."""
        if self.left and self.data[self.pos] == indicator:
            self.pos += 1
            return True
        return False

    def digit(self, missing: str, invalid: str | None = None, allowed: str = "") -> int:
        """One digit; ``invalid`` is raised if it is not among ``allowed``."""
        if not self.left:
            raise _Reject(error(missing, 0, len(self.data)))
        c = self.data[self.pos]
        if invalid is not None and c not in allowed:
            raise _Reject(error(invalid, self.pos, 1))
        self.pos += 1
        return int(c)

    def take(self, width: int, truncated: str) -> tuple[int, str]:
        """The next ``width`` digits and where they start."""
        if self.left < width:
            if self.left:
                raise _Reject(error(truncated, self.pos, self.left))
            raise _Reject(error(truncated, 0, len(self.data)))
        start = self.pos
        self.pos += width
        return start, self.data[start : self.pos]

    def gcp(self, width: int, truncated: str) -> None:
        """A GS1 Company Prefix (or GLN) field, checked with the ``gcppos1`` linter."""
        start, value = self.take(width, truncated)
        if width and (found := gcppos1(value)) is not None:
            raise _Reject(LintError(found.code, start, width))

    def date(self, too_short: str, invalid: str) -> tuple[int, str]:
        """A YYMMDD date."""
        start, value = self.take(6, too_short)
        if yymmdd(value) is not None:
            raise _Reject(error(invalid, start, 6))
        return start, value

    def finish(self) -> None:
        if self.left:
            raise _Reject(error("COUPON_EXCESS_DATA", self.pos, self.left))


def _purchase_requirement(fields: _Fields, nth: str) -> None:
    """A purchase requirement (VLI 1-5, then the value), its code and family code."""
    vli = fields.digit(
        f"COUPON_MISSING_{nth}_PURCHASE_REQUIREMENT_VLI",
        f"COUPON_INVALID_{nth}_PURCHASE_REQUIREMENT_LENGTH",
        "12345",
    )
    fields.take(vli, f"COUPON_TRUNCATED_{nth}_PURCHASE_REQUIREMENT")
    fields.digit(
        f"COUPON_MISSING_{nth}_PURCHASE_REQUIREMENT_CODE",
        f"COUPON_INVALID_{nth}_PURCHASE_REQUIREMENT_CODE",
        _REQUIREMENT_CODES,
    )
    fields.take(3, f"COUPON_TRUNCATED_{nth}_PURCHASE_FAMILY_CODE")


def _purchase_gcp(fields: _Fields, nth: str) -> None:
    """The GCP of a 2nd or 3rd purchase: VLI 0-6 (6-12 digits), or 9 for none."""
    vli = fields.digit(
        f"COUPON_MISSING_{nth}_PURCHASE_GCP_VLI",
        f"COUPON_INVALID_{nth}_PURCHASE_GCP_LENGTH",
        "01234569",
    )
    fields.gcp(0 if vli == 9 else vli + 6, f"COUPON_TRUNCATED_{nth}_PURCHASE_GCP")


def _couponcode_fields(fields: _Fields) -> None:
    # Primary GCP (VLI 0-6: 6-12 digits), offer code, save value, 1st purchase requirement
    vli = fields.digit("COUPON_MISSING_GCP_VLI", "COUPON_INVALID_GCP_LENGTH", "0123456")
    fields.gcp(vli + 6, "COUPON_TRUNCATED_GCP")
    fields.take(6, "COUPON_TRUNCATED_OFFER_CODE")
    vli = fields.digit("COUPON_MISSING_SAVE_VALUE_VLI", "COUPON_INVALID_SAVE_VALUE_LENGTH", "12345")
    fields.take(vli, "COUPON_TRUNCATED_SAVE_VALUE")
    _purchase_requirement(fields, "1ST")

    # 1: additional purchase rules code and 2nd purchase
    if fields.next_is("1"):
        fields.digit(
            "COUPON_MISSING_ADDITIONAL_PURCHASE_RULES_CODE",
            "COUPON_INVALID_ADDITIONAL_PURCHASE_RULES_CODE",
            "0123",
        )
        _purchase_requirement(fields, "2ND")
        _purchase_gcp(fields, "2ND")

    # 2: 3rd purchase
    if fields.next_is("2"):
        _purchase_requirement(fields, "3RD")
        _purchase_gcp(fields, "3RD")

    # 3: expiration date; 4: start date, not after the expiration date
    expiry = None
    if fields.next_is("3"):
        _, expiry = fields.date(
            "COUPON_TOO_SHORT_FOR_EXPIRATION_DATE", "COUPON_INVALID_EXIPIRATION_DATE"
        )
    if fields.next_is("4"):
        start, begins = fields.date("COUPON_TOO_SHORT_FOR_START_DATE", "COUPON_INVALID_START_DATE")
        if expiry is not None and begins > expiry:
            # from the expiration date's indicator to the end of the start date
            raise _Reject(error("COUPON_EXPIRATION_BEFORE_START", start - 8, 14))

    # 5: serial number (VLI 0-9: 6-15 digits)
    if fields.next_is("5"):
        vli = fields.digit("COUPON_MISSING_SERIAL_NUMBER_VLI")
        fields.take(vli + 6, "COUPON_TRUNCATED_SERIAL_NUMBER")

    # 6: retailer GCP or GLN (VLI 1-7: 7-13 digits)
    if fields.next_is("6"):
        vli = fields.digit(
            "COUPON_MISSING_RETAILER_GCP_OR_GLN_VLI",
            "COUPON_INVALID_RETAILER_GCP_OR_GLN_LENGTH",
            "1234567",
        )
        fields.gcp(vli + 6, "COUPON_TRUNCATED_RETAILER_GCP_OR_GLN")

    # 9: miscellaneous flags
    if fields.next_is("9"):
        fields.digit("COUPON_MISSING_SAVE_VALUE_CODE", "COUPON_INVALID_SAVE_VALUE_CODE", "01256")
        fields.digit(
            "COUPON_MISSING_SAVE_VALUE_APPLIES_TO_ITEM",
            "COUPON_INVALID_SAVE_VALUE_APPLIES_TO_ITEM",
            "012",
        )
        fields.digit("COUPON_MISSING_STORE_COUPON_FLAG")
        fields.digit("COUPON_MISSING_DONT_MULTIPLY_FLAG", "COUPON_INVALID_DONT_MULTIPLY_FLAG", "01")

    fields.finish()


def _couponposoffer_fields(fields: _Fields) -> None:
    fields.digit("COUPON_MISSING_FORMAT_CODE", "COUPON_INVALID_FORMAT_CODE", "01")
    vli = fields.digit("COUPON_MISSING_FUNDER_VLI", "COUPON_INVALID_FUNDER_LENGTH", "0123456")
    fields.take(vli + 6, "COUPON_TRUNCATED_FUNDER")
    fields.take(6, "COUPON_TRUNCATED_OFFER_CODE")
    vli = fields.digit("COUPON_MISSING_SERIAL_NUMBER_VLI")
    fields.take(vli + 6, "COUPON_TRUNCATED_SERIAL_NUMBER")
    fields.finish()


def _lint(data: str, read: Callable[[_Fields], None]) -> LintError | None:
    bad = next((i for i, c in enumerate(data) if c not in "0123456789"), None)
    if bad is not None:
        return error("NON_DIGIT_CHARACTER", bad, 1)
    try:
        read(_Fields(data))
    except _Reject as reject:
        return reject.found
    return None


def lint_couponcode(data: str) -> LintError | None:
    """AI (8110): primary GCP, offer code, save value and 1st purchase requirement, then the
    optional fields 1 (2nd purchase), 2 (3rd purchase), 3 (expiration date), 4 (start
    date), 5 (serial number), 6 (retailer GCP/GLN) and 9 (miscellaneous flags); GCPs are
    checked with ``gcppos1``."""
    return _lint(data, _couponcode_fields)


def lint_couponposoffer(data: str) -> LintError | None:
    """AI (8112): format code (0 or 1), funder ID (VLI 0-6: 6-12 digits), offer code (six
    digits) and serial number (VLI 0-9: 6-15 digits), with nothing after."""
    return _lint(data, _couponposoffer_fields)
