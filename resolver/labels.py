"""QR labels for identifiers: a QR code (segno) of the identifier's resolver URL with the
identifier printed under it, as SVG (for print) or PNG.

The URL is written in capitals when that changes nothing it means (identifiers are
case-insensitive, so are scheme and host) and every character then fits QR's alphanumeric
mode, which takes 5.5 bits a character instead of 8: a smaller symbol for the same label
(GS1 gives the same advice for Digital Link URIs).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from html import escape
from urllib.parse import urlsplit

import segno
from PIL import Image, ImageDraw, ImageFont

from resolver.http_client import path_of

#: QR's alphanumeric mode character set
_ALPHANUMERIC = re.compile(r"[0-9A-Z $%*+\-./:]*")
#: modules of quiet zone around the symbol (ISO/IEC 18004 asks for 4)
BORDER = 4


def label_url(root: str, handle: str) -> str:
    """The resolver URL a label encodes: ``<root>/<identifier>``."""
    url = f"{root.rstrip('/')}/{path_of(handle)}"
    if urlsplit(root).path.strip("/") == "" and _ALPHANUMERIC.fullmatch(url.upper()):
        return url.upper()
    return url


def _qr(url: str) -> segno.QRCode:
    return segno.make(url, error="m", micro=False)


#: the caption's smallest type (pixels) before it takes more lines, and its most lines
MIN_FONT = 10
MAX_LINES = 12
#: a monospace character's advance, in ems
_MONOSPACE_ADVANCE = 0.6


def caption_lines(text: str, fits: Callable[[str], bool]) -> list[str]:
    """``text`` in the fewest lines that each ``fits`` the label's width, in order (a long
    identifier was printed on one line past both edges); past :data:`MAX_LINES` the last
    ends in "…"."""
    lines, line = [], ""
    for ch in text:
        if line and not fits(line + ch):
            lines.append(line)
            line = ch
        else:
            line += ch
    lines.append(line)
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
        lines[-1] = lines[-1][:-1] + "…"
    return lines


def label_svg(handle: str, url: str, scale: int = 4) -> str:
    """The label as one SVG document: the symbol, then the identifier in monospace."""
    qr = _qr(url)
    width, height = qr.symbol_size(scale=scale, border=BORDER)
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=scale, border=BORDER, xmldecl=False, svgns=True, nl=False)
    symbol = buffer.getvalue().decode("ascii")
    room = width * 0.95
    font = max(MIN_FONT, min(scale * 4, int(room / (_MONOSPACE_ADVANCE * max(len(handle), 1)))))
    lines = caption_lines(handle, lambda s: len(s) * _MONOSPACE_ADVANCE * font <= room)
    total = height + font * (len(lines) + 1)
    texts = "".join(
        f'<text x="{width / 2}" y="{height + font * (i + 1)}" text-anchor="middle" '
        f'font-family="monospace" font-size="{font}">{escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total}" '
        f'viewBox="0 0 {width} {total}"><rect width="100%" height="100%" fill="#fff"/>'
        f"{symbol}{texts}</svg>"
    )


def label_png(handle: str, url: str, scale: int = 6) -> bytes:
    """The label as a PNG: the symbol, then the identifier (Pillow's bundled font, which
    has Latin glyphs only: the SVG label, drawn by the printing system's fonts, shows any
    script)."""
    qr = _qr(url)
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=scale, border=BORDER)
    symbol = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    room = symbol.width * 0.95
    size = scale * 4
    font = ImageFont.load_default(size=size)
    while size > MIN_FONT and font.getlength(handle) > room:
        size -= 1
        font = ImageFont.load_default(size=size)
    lines = caption_lines(handle, lambda s: font.getlength(s) <= room)
    step = int(size * 1.2)
    canvas = Image.new("L", (symbol.width, symbol.height + step * len(lines) + size), 255)
    canvas.paste(symbol, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(lines):
        top = symbol.height + size * 0.2 + step * i
        draw.text((symbol.width / 2, top), line, fill=0, font=font, anchor="ma")
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()
