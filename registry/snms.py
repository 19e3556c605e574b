"""The SNMS-compatible API: integrations written for a Chinese secondary node's SNMS API work
against tierid unchanged. A thin translation onto the :class:`~registry.authority.Authority`
(shapes in :mod:`registry.snms_codec`): no storage of its own, and every write goes through
the Authority, so permissions, quotas, templates, the change log and cache invalidation
apply as to any other write.

Login (``POST /identity/token {username, password}``): ``username`` is a tierid identity,
``index:handle`` (``300:0.NA/88.118.8``) or a bare handle (any index), and ``password`` its
HS_SECKEY secret, checked by :meth:`Authority.authenticate`. The "cipher" login
(``POST /identity/token/v1``) sends ``hex(sha256(hex(sha256(secret)) + day))`` instead,
``day`` being today's date as ``yyyy-MM-dd`` in UTC or in China Standard Time (UTC+8,
where SNMS servers and their clients keep time: from 00:00 to 08:00 Beijing time its date
is a day ahead of UTC's); it needs the secret itself, so it cannot be checked against an
HS_SECKEY stored hashed (SHA-1), and says so.

A login answers a JWT (HS256; ``sub`` the identity, ``aud`` "snms", valid
``[snms] token_ttl_s``, 24 h as SNMS's are) to send as ``Authorization: Bearer <token>``.
It is signed with the node's key, the file ``<data_dir>/snms-token.key``: created (mode
0600) on first use, and read by every worker process of the node. A token is not revoked
when its identity's secret changes; to revoke every token, delete the file and restart the
node.

Every answer is HTTP 200 with ``{"message", "status", "data"}``, as the documentation shows
(a client may ``raise_for_status()``); ``status`` comes from
:func:`registry.snms_codec.status_of`. Batches are not atomic: each item is committed or
refused on its own, with a result per item.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web

from registry.auth import key_print, verify_secret
from registry.authority import Authority
from registry.batch import MAX_ITEMS, BatchItem, BatchRejected, BatchTooLarge, Op
from registry.snms_codec import (
    TEMPLATE_NAME,
    envelope,
    error_envelope,
    item_results,
    record_from_json,
    record_to_json,
    template_from_json,
    template_key,
    template_of,
    template_to_json,
    template_values,
)
from registry.storage.base import ReadTxn
from resolver.errors import (
    AuthenticationFailed,
    AuthenticationNeeded,
    HandleNotFound,
    NotResponsible,
    ProtocolError,
    TieridError,
)
from resolver.faces.http_common import (
    INSECURE_AUTH,
    add_route,
    authorization,
    json_body,
    json_response,
    method_not_allowed,
)
from resolver.handle import normalise
from resolver.message import Answer, Credentials, Identity, Query
from resolver.templates import Template, template_handle
from resolver.values import HS_SECKEY

log = logging.getLogger("tierid.snms")

KEY_FILE = "snms-token.key"
AUDIENCE = "snms"
CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
_SHA1_HEX = re.compile(rb"[0-9a-fA-F]{40}")


@dataclass(frozen=True)
class SnmsSettings:
    """Config section ``[snms]``."""

    enabled: bool = True
    token_ttl_s: int = 86400


class NotLoggedIn(AuthenticationNeeded):
    """Not logged in: send Authorization: Bearer <token>, the token from POST /identity/token."""


# --- tokens and the cipher login (no I/O: keys, records and the clock are passed in) -----


def token_proof(key: bytes, key_print: str | None) -> str | None:
    """What a token carries of the print of the key it was issued for: keyed with the node's
    token key, as anyone can read a token's claims and a bare hash of a secret lets them
    test guesses at it."""
    if key_print is None:
        return None
    return hmac.new(key, key_print.encode("ascii"), hashlib.sha256).hexdigest()[:32]


def issue_token(identity: Identity, key: bytes, now: float, ttl: int, proof: str | None) -> str:
    """A token for ``identity``; ``proof`` (:func:`token_proof`) names the key it proved
    itself with: the token holds while that key is unchanged."""
    iat = int(now)
    claims = {"sub": str(identity), "aud": AUDIENCE, "iat": iat, "exp": iat + ttl, "kp": proof}
    return jwt.encode(claims, key, algorithm="HS256")


def token_identity(token: str, key: bytes, now: float) -> tuple[Identity, str | None]:
    """The identity a token was issued to, and the print of the key it proved itself with.

    :raises NotLoggedIn: a token not signed with ``key``, malformed, or expired at ``now``.
    """
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"verify_exp": False, "verify_iat": False, "require": ["sub", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise NotLoggedIn(f"not logged in: the token is not valid ({exc})") from exc
    exp, sub = claims["exp"], claims["sub"]
    if isinstance(exp, bool) or not isinstance(exp, int) or not isinstance(sub, str):
        raise NotLoggedIn("not logged in: the token is not valid")
    if now >= exp:
        raise NotLoggedIn("not logged in: the token has expired; ask POST /identity/token again")
    proof = claims.get("kp")
    return Identity.from_text(sub), proof if isinstance(proof, str) else None


def cipher_password(secret: bytes, day: str) -> str:
    """SNMS's cipher login password: ``hex(sha256(hex(sha256(secret)) + day))``."""
    inner = hashlib.sha256(secret).hexdigest()
    return hashlib.sha256((inner + day).encode("ascii")).hexdigest()


def cipher_days(now: float) -> tuple[str, ...]:
    """The days a cipher password may be made with: today in UTC and in China (UTC+8)."""
    days = (
        datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d"),
        datetime.fromtimestamp(now, CHINA_STANDARD_TIME).strftime("%Y-%m-%d"),
    )
    return tuple(dict.fromkeys(days))


def verify_cipher(txn: ReadTxn, identity: Identity, password: str, days: Sequence[str]) -> Identity:
    """The identity a cipher password proves, checked against the plain HS_SECKEY values of
    the identity record (at its index; any index when 0).

    :raises AuthenticationFailed: unknown identity, a wrong password, or a key that looks
        stored hashed (which the cipher cannot be checked against).
    """
    record = txn.get(normalise(identity.handle))
    if record is None:
        raise AuthenticationFailed(f"identity {identity} is not known here")
    given = password.strip().lower().encode("ascii", "replace")
    hashed = False
    for v in record.values:
        if v.type.upper() != HS_SECKEY or identity.index not in (0, v.index):
            continue
        for day in days:
            if hmac.compare_digest(cipher_password(v.data, day).encode("ascii"), given):
                return Identity(record.handle, v.index)
        hashed = hashed or bool(_SHA1_HEX.fullmatch(v.data))
    if hashed:
        raise AuthenticationFailed(
            f"authentication failed for {identity}: its HS_SECKEY looks stored hashed "
            "(40 hex digits, SHA-1), and the cipher login needs the secret itself; "
            "log in with POST /identity/token"
        )
    raise AuthenticationFailed(f"authentication failed for {identity}")


def load_key(path: Path) -> bytes:
    """The node's token key, made on first use: written to a private temporary file and
    linked into place, so worker processes starting together all end up with the one key
    that won (a key file is never seen half written)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):  # another worker was first: its key wins
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_bytes().strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable token key (delete it to make a new one)")
    return key


# --- routes --------------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[Any]]


def _answered(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A route answering SNMS's envelope, HTTP 200, whatever happened."""

    async def route(request: web.Request) -> web.Response:
        try:
            body = envelope(await handler(request))
        except TieridError as err:
            body = error_envelope(err)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("internal error on %s %s", request.method, request.path)
            body = error_envelope(TieridError("internal error"))  # -4, no details
        return json_response(body)

    return route


class SnmsRoutes:
    def __init__(
        self,
        authority: Authority,
        settings: SnmsSettings,
        data_dir: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.authority = authority
        self.settings = settings
        self.key_path = data_dir / KEY_FILE
        self.clock = clock
        self._key: bytes | None = None

    def add_to(self, app: web.Application) -> None:
        """Register the routes (before the web proxy's catch-all), unless disabled."""
        if not self.settings.enabled:
            return
        routes: list[tuple[str, str, Handler]] = [
            ("POST", "/identity/token", self.login),
            ("POST", "/identity/token/v1", self.login_cipher),
            ("GET", "/identityv2/data/detail", self.detail),
            ("POST", "/identityv2/data", self.create),
            ("PUT", "/identityv2/data", self.update),
            ("DELETE", "/identityv2/data", self.delete),
            ("POST", "/identityv2/data/batchCreate", self.batch_create),
            ("PUT", "/identityv2/data/batchUpdate", self.batch_update),
            ("DELETE", "/identityv2/data/batchDelete", self.batch_delete),
        ]
        templates: dict[str, Handler] = {
            "GET": self.template_get,
            "POST": self.template_create,
            "PUT": self.template_update,
            "DELETE": self.template_delete,
        }
        routes += [(m, "/snms/api/v5/template", h) for m, h in templates.items()]
        # v3 (no PUT) takes the same bodies, items without idIndex; it answers v5's shape
        routes += [(m, "/snms/api/v3/template", templates[m]) for m in ("GET", "POST", "DELETE")]
        for method, path, handler in routes:
            add_route(app, method, path, _answered(handler))
        for path in dict.fromkeys(path for _, path, _ in routes):  # other methods: 405, not
            add_route(app, "*", path, method_not_allowed)  # the web proxy reading a handle

    # --- authentication ----------------------------------------------------------------------

    async def _token_key(self) -> bytes:
        if self._key is None:
            self._key = await asyncio.to_thread(load_key, self.key_path)
        return self._key

    @staticmethod
    def _secure(request: web.Request, error: type[TieridError]) -> None:
        if not request.secure and not request.app[INSECURE_AUTH]:
            raise error("credentials over plain HTTP are refused on this node; use HTTPS")

    async def _identity(self, request: web.Request) -> Identity:
        scheme, _, token = authorization(request).strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotLoggedIn()
        self._secure(request, NotLoggedIn)
        key = await self._token_key()
        identity, proof = token_identity(token.strip(), key, self.clock())
        now = await self.authority.store.read(lambda txn: key_print(txn, identity))
        if proof is None or token_proof(key, now) != proof:  # the secret changed: revoked
            raise NotLoggedIn("not logged in: the key this token was issued for has changed")
        return identity

    async def _credentials(self, request: web.Request) -> tuple[Identity, str]:
        self._secure(request, AuthenticationFailed)
        body = await json_body(request)
        user = body.get("username") if isinstance(body, dict) else None
        password = body.get("password") if isinstance(body, dict) else None
        if not isinstance(user, str) or not user or not isinstance(password, str):
            raise ProtocolError('the body must be {"username": ..., "password": ...} (strings)')
        return Identity.from_text(user), password

    async def _token(self, prove: Callable[[ReadTxn], Identity]) -> dict[str, str]:
        """A token for the identity ``prove`` finds proven, with the print of its key read in
        the same transaction (a key changed in between would otherwise be the one named)."""

        def proven(txn: ReadTxn) -> tuple[Identity, str | None]:
            identity = prove(txn)
            return identity, key_print(txn, identity)

        identity, print_ = await self.authority.store.read(proven)
        key = await self._token_key()
        ttl = self.settings.token_ttl_s
        return {"token": issue_token(identity, key, self.clock(), ttl, token_proof(key, print_))}

    async def login(self, request: web.Request) -> dict[str, str]:
        identity, password = await self._credentials(request)
        creds = Credentials(identity, password.encode("utf-8"))
        return await self._token(lambda txn: verify_secret(txn, creds))

    async def login_cipher(self, request: web.Request) -> dict[str, str]:
        identity, password = await self._credentials(request)
        days = cipher_days(self.clock())
        return await self._token(lambda txn: verify_cipher(txn, identity, password, days))

    # --- identifiers -------------------------------------------------------------------------

    @property
    def _max_bytes(self) -> int:
        return self.authority.limits.max_value_bytes

    async def _read(self, handle: str, identity: Identity) -> Answer:
        query = Query(handle, authoritative=True, public_only=False, identity=identity)
        answer = await self.authority.resolve(query)
        if answer.referral is not None:
            raise NotResponsible(f"{handle} is not served by this node", handle=handle)
        return answer

    async def detail(self, request: web.Request) -> dict[str, Any]:
        identity = await self._identity(request)
        handle = request.query.get("handle")
        if not handle:
            raise ProtocolError("missing required parameter: handle")
        answer = await self._read(handle, identity)
        return record_to_json(answer.handle, answer.values)

    async def create(self, request: web.Request) -> bool:
        identity = await self._identity(request)
        handle, values = record_from_json(await json_body(request), self._max_bytes)
        await self.authority.create(handle, values, identity, overwrite=False)
        return True

    async def update(self, request: web.Request) -> bool:
        """Replace the record's values (it must exist), as a batch of one: the Authority's
        ``update`` (a record already holding them is left alone)."""
        identity = await self._identity(request)
        handle, values = record_from_json(await json_body(request), self._max_bytes)
        try:
            await self.authority.batch([BatchItem("update", handle, values)], identity, atomic=True)
        except BatchRejected as rejected:
            error = rejected.results[0].error
            raise error if error is not None else rejected from None
        return True

    async def delete(self, request: web.Request) -> bool:
        identity = await self._identity(request)
        body = await json_body(request)
        handle = body.get("handle") if isinstance(body, dict) else None
        if not isinstance(handle, str) or not handle:
            raise ProtocolError('the body must be {"handle": ...}')
        await self.authority.delete(handle, identity)
        return True

    def _item(self, op: Op, obj: Any) -> BatchItem:
        if op == "delete":
            handle = obj.get("handle") if isinstance(obj, dict) else obj
            if isinstance(handle, str) and handle:
                return BatchItem("delete", handle)
            return BatchItem("delete", "", error=ProtocolError("each item is an identifier"))
        shown = obj.get("handle") if isinstance(obj, dict) else None
        try:
            handle, values = record_from_json(obj, self._max_bytes)
        except TieridError as err:
            return BatchItem(op, shown if isinstance(shown, str) else "", error=err)
        return BatchItem(op, handle, values)

    async def _batch(self, op: Op, request: web.Request) -> list[dict[str, Any]]:
        identity = await self._identity(request)
        body = await json_body(request)
        if op == "delete" and isinstance(body, dict):
            body = body.get("handles")  # the field table names the list "handles"
        if not isinstance(body, list):
            raise ProtocolError("the body must be a JSON array")
        if len(body) > MAX_ITEMS:
            raise BatchTooLarge(f"{len(body)} items; a batch holds at most {MAX_ITEMS}")
        items = [self._item(op, obj) for obj in body]
        return item_results(op, await self.authority.batch(items, identity, atomic=False))

    async def batch_create(self, request: web.Request) -> list[dict[str, Any]]:
        return await self._batch("create", request)

    async def batch_update(self, request: web.Request) -> list[dict[str, Any]]:
        return await self._batch("update", request)

    async def batch_delete(self, request: web.Request) -> list[dict[str, Any]]:
        return await self._batch("delete", request)

    # --- templates ---------------------------------------------------------------------------

    async def _template(
        self, prefix: str, version: str, identity: Identity
    ) -> tuple[str, Template, int]:
        handle = template_handle(prefix, TEMPLATE_NAME, version)
        try:
            found = template_of((await self._read(handle, identity)).values)
        except HandleNotFound:
            found = None
        if found is None:
            raise HandleNotFound(
                f"prefix {prefix} has no template version {version}", handle=handle
            )
        return handle, *found

    async def template_get(self, request: web.Request) -> dict[str, Any]:
        identity = await self._identity(request)
        prefix, version = template_key(dict(request.query))
        handle, template, kind = await self._template(prefix, version, identity)
        return template_to_json(prefix, handle, template, kind)

    async def template_create(self, request: web.Request) -> bool:
        identity = await self._identity(request)
        prefix, template, kind = template_from_json(await json_body(request), None, None)
        handle = template_handle(prefix, TEMPLATE_NAME, template.version)
        await self.authority.create(
            handle, template_values(template, kind), identity, overwrite=False
        )
        return True

    async def template_update(self, request: web.Request) -> bool:
        """Rewrite the template: listed items change (``state`` and ``required`` left out
        stay as they are), items without ``idIndex`` are added; an item left out is refused
        by the Authority (items are disabled, never removed)."""
        identity = await self._identity(request)
        body = await json_body(request)
        prefix, version = template_key(body)
        handle, current, kind = await self._template(prefix, version, identity)
        _, template, kind = template_from_json(body, current, kind)
        await self.authority.create(
            handle, template_values(template, kind), identity, overwrite=True
        )
        return True

    async def template_delete(self, request: web.Request) -> bool:
        identity = await self._identity(request)
        prefix, version = template_key(await json_body(request))
        handle, _, _ = await self._template(prefix, version, identity)
        await self.authority.delete(handle, identity)
        return True
