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
from html import escape
from urllib.parse import quote, urlsplit

import segno
from PIL import Image, ImageDraw, ImageFont

#: QR's alphanumeric mode character set
_ALPHANUMERIC = re.compile(r"[0-9A-Z $%*+\-./:]*")
#: modules of quiet zone around the symbol (ISO/IEC 18004 asks for 4)
BORDER = 4


def label_url(root: str, handle: str) -> str:
    """The resolver URL a label encodes: ``<root>/<identifier>``."""
    url = f"{root.rstrip('/')}/{quote(handle, safe='/:@!$&()*+,;=-._~')}"
    if urlsplit(root).path.strip("/") == "" and _ALPHANUMERIC.fullmatch(url.upper()):
        return url.upper()
    return url


def _qr(url: str) -> segno.QRCode:
    return segno.make(url, error="m", micro=False)


def label_svg(handle: str, url: str, scale: int = 4) -> str:
    """The label as one SVG document: the symbol, then the identifier in monospace."""
    qr = _qr(url)
    width, height = qr.symbol_size(scale=scale, border=BORDER)
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=scale, border=BORDER, xmldecl=False, svgns=True, nl=False)
    symbol = buffer.getvalue().decode("ascii")
    font = max(10, min(scale * 4, int(width * 1.6 / max(len(handle), 1))))
    total = height + font * 2
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total}" '
        f'viewBox="0 0 {width} {total}"><rect width="100%" height="100%" fill="#fff"/>'
        f"{symbol}"
        f'<text x="{width / 2}" y="{height + font}" text-anchor="middle" '
        f'font-family="monospace" font-size="{font}">{escape(handle)}</text></svg>'
    )


def label_png(handle: str, url: str, scale: int = 6) -> bytes:
    """The label as a PNG: the symbol, then the identifier (Pillow's bundled font)."""
    qr = _qr(url)
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=scale, border=BORDER)
    symbol = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    size = max(12, min(scale * 4, int(symbol.width * 1.6 / max(len(handle), 1))))
    font = ImageFont.load_default(size=size)
    canvas = Image.new("L", (symbol.width, symbol.height + size * 2), 255)
    canvas.paste(symbol, (0, 0))
    ImageDraw.Draw(canvas).text(
        (symbol.width / 2, symbol.height + size * 0.2), handle, fill=0, font=font, anchor="ma"
    )
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()
