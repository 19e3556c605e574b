"""Reading numbers from text that clients send: only ASCII decimal digits count
(``str.isdigit`` also accepts superscripts and other scripts' digits, which ``int`` rejects),
and at most 18 of them: every number read here fits 64 bits, and ``int`` refuses a string of
more than 4,300 digits with a ValueError (a TTL of 5,000 nines was an internal error)."""

from __future__ import annotations

#: the most digits a number read here may have
MAX_DIGITS = 18


def is_decimal(text: str) -> bool:
    return 0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit()
