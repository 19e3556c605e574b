"""A small async client for a tierid (or Handle.Net) node's HTTP JSON API.

Used by the CLI and by enterprise code. Authentication is Handle.Net's Basic scheme
(``index:handle``, percent-encoded, and the HS_SECKEY secret) or a key login (a session
proven with the HS_PUBKEY's private key, then ``Authorization: Handle sessionId=...``).
A node's error answers are raised as the matching :class:`TieridError`
(``HandleNotFound``, ``HandleAlreadyExists``...).
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import ssl
from typing import Any
from urllib.parse import quote

import aiohttp
import yarl

from resolver import challenge
from resolver.challenge import PrivateKey
from resolver.errors import BodyTooLarge, TieridError, UpstreamUnavailable, error_for


def basic_header(identity: str, secret: bytes) -> str:
    user = quote(identity, safe="/").encode("utf-8")
    return "Basic " + base64.b64encode(user + b":" + secret).decode("ascii")


def path_of(handle: str) -> str:
    """``handle`` as URL path segments, percent-encoded; a suffix segment that is ``.`` or
    ``..`` is encoded too (``%2E``), so nothing on the way reads it as a step up the path."""
    segments = quote(handle, safe="/:@!$&'()*+,;=-._~").split("/")
    return "/".join(s.replace(".", "%2E") if s in (".", "..") else s for s in segments)


def handle_path(handle: str) -> str:
    """The API path of ``handle`` (:func:`path_of`)."""
    return "/api/handles/" + path_of(handle)


def api_url(base: str, path: str) -> yarl.URL:
    """A node's URL with an API ``path`` that is already percent-encoded, taken as it is:
    parsed as text, yarl decodes it and drops dot segments, and ``88.1/Y/../SECRET`` was
    asked for as ``88.1/SECRET``."""
    url = yarl.URL(base)
    return url.with_path(url.raw_path.rstrip("/") + path, encoded=True)


class HandleHttpClient:
    """``async with HandleHttpClient(url, identity=..., secret=...) as c: await c.get(h)``."""

    def __init__(
        self,
        base_url: str,
        *,
        identity: str | None = None,
        secret: bytes | None = None,
        verify_tls: bool | str = True,
        timeout: float = 30.0,
        operator_token: bytes | None = None,
        private_key: PrivateKey | None = None,
    ) -> None:
        """``operator_token`` authenticates operator routes (``Bearer``) instead of an identity;
        ``private_key`` (of the identity's HS_PUBKEY) logs in by challenge-response when the
        client is entered, and the session ends when it is left."""
        self.base_url = base_url.rstrip("/")
        self.identity = identity
        self._key = private_key
        self._auth = basic_header(identity, secret) if identity and secret is not None else None
        if operator_token is not None:
            self._auth = "Bearer " + operator_token.decode("utf-8")
        if isinstance(verify_tls, str):
            self._ssl: ssl.SSLContext | bool = ssl.create_default_context(cafile=verify_tls)
        else:
            self._ssl = verify_tls
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HandleHttpClient:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        if self._key is not None and self.identity:
            try:
                await self._login(self.identity, self._key)
            except BaseException:
                await self._session.close()
                raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            if self._key is not None and self._auth:
                with contextlib.suppress(TieridError, aiohttp.ClientError):
                    await self._call("DELETE", "/api/sessions/this")
            await self._session.close()

    async def _login(self, identity: str, key: PrivateKey) -> None:
        """Handle.Net's session login: sign the server's nonce and a cnonce of ours."""
        _, opened = await self._call("POST", "/api/sessions")
        nonce = base64.b64decode(opened["nonce"])
        cnonce = secrets.token_bytes(16)
        alg, signature = challenge.sign(key, nonce, cnonce)
        answer = {
            "sessionId": opened["sessionId"],
            "id": identity,
            "type": "HS_PUBKEY",
            "cnonce": base64.b64encode(cnonce).decode("ascii"),
            "alg": alg,
            "signature": base64.b64encode(signature).decode("ascii"),
        }
        await self._call("PUT", "/api/sessions/this", body=answer)
        self._auth = f'Handle sessionId="{opened["sessionId"]}"'

    async def _call(
        self, method: str, path: str, params: list[tuple[str, str]] | None = None, body: Any = None
    ) -> tuple[int, dict[str, Any]]:
        assert self._session is not None, "use 'async with'"
        headers = {"Accept": "application/json"}
        if self._auth:
            headers["Authorization"] = self._auth
        async with self._session.request(
            method,
            api_url(self.base_url, path),
            params=params,
            json=body,
            headers=headers,
            ssl=self._ssl,
        ) as resp:
            try:
                data = await resp.json(content_type=None) if resp.status != 204 else {}
            except ValueError:
                data = None
            if resp.status == 413:  # the node's (RC 4) or a proxy's: the size is the fault
                message = data.get("message") if isinstance(data, dict) else None
                raise BodyTooLarge(message or None)
            coded = isinstance(data, dict) and isinstance(data.get("responseCode"), int)
            session = resp.status < 300 and isinstance(data, dict) and "sessionId" in data
            if not (coded or session or resp.status == 204):
                raise UpstreamUnavailable(f"HTTP {resp.status} without a Handle response")
            if resp.status >= 300 and resp.status != 300:
                raise error_for(data["responseCode"], data.get("message", ""), data.get("handle"))
            return resp.status, data

    async def get(
        self,
        handle: str,
        *,
        types: tuple[str, ...] = (),
        indexes: tuple[int, ...] = (),
        item_names: bool = False,
    ) -> dict[str, Any]:
        """The record's values; ``item_names`` adds each template item's key and name to
        the values the record's template describes (``?itemNames=true``, a tierid extension)."""
        params = [("type", t) for t in types] + [("index", str(i)) for i in indexes]
        if item_names:
            params.append(("itemNames", "true"))
        return (await self._call("GET", handle_path(handle), params))[1]

    async def put(
        self,
        handle: str,
        values: list[dict[str, Any]],
        *,
        overwrite: bool = True,
        indexes: tuple[int, ...] = (),
    ) -> tuple[int, dict[str, Any]]:
        params = [("overwrite", "true" if overwrite else "false")]
        params += [("index", str(i)) for i in indexes]
        return await self._call("PUT", handle_path(handle), params, values)

    async def delete(self, handle: str, *, indexes: tuple[int, ...] = ()) -> dict[str, Any]:
        params = [("index", str(i)) for i in indexes]
        return (await self._call("DELETE", handle_path(handle), params))[1]

    async def batch(
        self, op: str, items: list[dict[str, Any]], *, atomic: bool = True
    ) -> dict[str, Any]:
        """``POST /api/batch``: up to 2000 items, the node's answer with a result per item.

        :raises TieridError: as the first rejected item's response code says, when
            ``atomic`` and an item was rejected (then nothing was committed).
        """
        body = {"op": op, "atomic": atomic, "items": items}
        return (await self._call("POST", "/api/batch", body=body))[1]

    async def list_handles(
        self, prefix: str, page: int = -1, page_size: int = -1
    ) -> dict[str, Any]:
        params = [("prefix", prefix)]
        if page >= 0 and page_size >= 0:
            params += [("page", str(page)), ("pageSize", str(page_size))]
        return (await self._call("GET", "/api/handles", params))[1]

    async def audit(
        self, prefix: str, *, since: str | None = None, until: str | None = None, limit: int = 0
    ) -> dict[str, Any]:
        """``GET /api/audit``: changes under ``prefix`` with the values before and after."""
        params = [("prefix", prefix)]
        params += [(name, v) for name, v in (("since", since), ("until", until)) if v]
        if limit > 0:
            params.append(("limit", str(limit)))
        return (await self._call("GET", "/api/audit", params))[1]

    async def status(self) -> dict[str, Any]:
        return (await self._call("GET", "/api/status"))[1]

    async def scan(self, scanned: bytes) -> dict[str, Any]:
        """What a scanner read, resolved by the node (``POST /api/scan``)."""
        body = {"base64": base64.b64encode(scanned).decode("ascii")}
        return (await self._call("POST", "/api/scan", body=body))[1]

    async def list_prefixes(self) -> dict[str, Any]:
        return (await self._call("GET", "/api/prefixes"))[1]

    async def cache_entries(self, prefix: str = "", negative: bool = False) -> dict[str, Any]:
        params = [("prefix", prefix)] if prefix else []
        if negative:
            params.append(("negative", "true"))
        return (await self._call("GET", "/api/cache", params))[1]

    async def cache_flush(self, params: list[tuple[str, str]]) -> dict[str, Any]:
        return (await self._call("DELETE", "/api/cache", params))[1]

    async def home(self, prefix: str) -> dict[str, Any]:
        return (await self._call("POST", "/api/prefixes/" + quote(prefix)))[1]
