"""``POST /api/scan``: what a scanner read, as text or base64 bytes, to the record it names
(:mod:`resolver.scan` reads it; GS1 keys go through the bindings)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable

from aiohttp import web

from resolver.errors import ProtocolError
from resolver.faces.http import answer_json
from resolver.faces.http_common import add_route, json_body, json_response
from resolver.gs1.bindings import Gs1Resolver
from resolver.message import Answer, Query
from resolver.scan import Reading, read

Resolve = Callable[[Query], Awaitable[Answer]]
#: longer than any barcode's payload (a QR code holds at most 7089 digits)
MAX_SCAN_CHARS = 8192


def scan_text(body: object) -> str:
    """The scanned characters of ``{"scan": text}`` or ``{"base64": bytes}``: bytes are
    UTF-8, or Latin-1 when they are not (some decoders send FNC1 as byte 0xE8).

    :raises ProtocolError:
    """
    if not isinstance(body, dict) or len(body.keys() & {"scan", "base64"}) != 1:
        raise ProtocolError('send {"scan": "<text>"} or {"base64": "<bytes>"}')
    if "scan" in body:
        text = body["scan"]
        if not isinstance(text, str):
            raise ProtocolError('"scan" must be a string')
    else:
        try:
            raw = base64.b64decode(str(body["base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError('"base64" is not base64') from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    if len(text) > MAX_SCAN_CHARS:
        raise ProtocolError(f"a scan is at most {MAX_SCAN_CHARS} characters")
    return text


async def resolve_reading(
    reading: Reading, resolve: Resolve, gs1: Gs1Resolver
) -> tuple[str, Answer]:
    """The identifier a reading names and its answer.

    :raises HandleNotFound: nothing is registered (or bound) for it.
    """
    if reading.handle is not None:
        return reading.handle, await resolve(Query(reading.handle))
    assert reading.key is not None
    bound = await gs1.resolve_key(reading.key)
    return bound.handle, bound.answer


class ScanRoutes:
    def __init__(self, resolve: Resolve, gs1: Gs1Resolver) -> None:
        self.resolve = resolve
        self.gs1 = gs1

    def add_to(self, app: web.Application) -> None:
        add_route(app, "POST", "/api/scan", self.scan)

    async def scan(self, request: web.Request) -> web.Response:
        reading = read(scan_text(await json_body(request)))
        handle, answer = await resolve_reading(reading, self.resolve, self.gs1)
        body = {"scan": reading.to_json(), **answer_json(answer), "handle": handle}
        return json_response(body)
