"""Reading numbers from text that clients send: only ASCII decimal digits count
(``str.isdigit`` also accepts superscripts and other scripts' digits, which ``int`` rejects)."""

from __future__ import annotations


def is_decimal(text: str) -> bool:
    return text.isascii() and text.isdigit()
