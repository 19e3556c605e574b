"""Key login over HTTP: Handle.Net's challenge-response sessions (``/api/sessions`` and the
``Authorization: Handle`` header), so an enterprise logs in with an HS_PUBKEY key pair (or
an HS_SECKEY secret) instead of sending a password.

1. ``POST /api/sessions`` opens a session: ``{"sessionId", "nonce"}`` (16 random bytes,
   base64), waiting ``challenge_timeout_s`` for its answer.
2. ``PUT /api/sessions/this`` (or any request with ``Authorization: Handle sessionId=..,
   id=.., type=.., cnonce=.., alg=.., signature=..``) answers it: the client's own random
   ``cnonce`` and a signature over ``nonce || cnonce`` (HS_PUBKEY: the key's signature with
   ``alg``; HS_SECKEY: Handle's MAC, PBKDF2 with ``salt``, ``iterations``, ``length``). The
   identity's key is checked as for the binary protocol (:mod:`resolver.challenge`). A
   session is proven once: the same answer again or a late one fails, and a wrong one ends
   the session (one try per challenge, so a secret cannot be guessed at).
3. From then on ``Authorization: Handle sessionId="..."`` alone authenticates, for
   ``session_timeout_s``; ``DELETE /api/sessions/this`` ends it.

Sessions live in the node's store, so every worker process of a node knows them.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from registry.auth import key_print, verify_challenge
from registry.storage.base import ReadTxn, Store, WriteTxn
from resolver.challenge import pubkey_wire, seckey_wire
from resolver.errors import (
    AuthenticationFailed,
    AuthenticationTimeout,
    ProtocolError,
    ServerTooBusy,
)
from resolver.hdl_types import ChallengeAnswer
from resolver.message import Identity
from resolver.numbers import is_decimal

_PARAM = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^\s,"]+))\s*,?')
_MAX_CNONCE = 64


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Config section ``[sessions]``."""

    session_timeout_s: int = 1800
    challenge_timeout_s: int = 60
    max_waiting: int = 10_000
    max_waiting_per_client: int = 50


def parse_handle_authorization(header: str) -> dict[str, str]:
    """The ``name="value"`` pairs of an ``Authorization: Handle ...`` header.

    :raises AuthenticationFailed: if it does not parse.
    """
    _, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if m is None:
            raise AuthenticationFailed("malformed Handle authorization header")
        params[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
        pos = m.end()
    return params


def _b64(fields: Mapping[str, str], name: str, limit: int = 4096) -> bytes:
    text = fields.get(name)
    if not isinstance(text, str) or len(text) > limit:
        raise ProtocolError(f"{name} must be base64 text")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"{name} is not valid base64") from exc


def _int(fields: Mapping[str, str], name: str) -> int:
    text = str(fields.get(name, ""))
    if not is_decimal(text) or len(text) > 9:
        raise ProtocolError(f"{name} must be a number")
    return int(text)


def signed_response(fields: Mapping[str, str]) -> tuple[str, bytes]:
    """The key type and the ``signedResponse`` bytes an answer's fields make.

    :raises ProtocolError: a missing or malformed field, or an unknown type or algorithm.
    """
    kind = str(fields.get("type", "")).upper()
    alg = str(fields.get("alg", ""))
    signature = _b64(fields, "signature")
    if kind == "HS_PUBKEY":
        return kind, pubkey_wire(alg, signature)
    if kind != "HS_SECKEY":
        raise ProtocolError("type must be HS_PUBKEY or HS_SECKEY")
    try:
        if alg.upper().startswith("PBKDF2"):
            salt = _b64(fields, "salt", 128)
            return kind, seckey_wire(
                alg,
                signature,
                salt=salt,
                iterations=_int(fields, "iterations"),
                bits=_int(fields, "length"),
            )
        return kind, seckey_wire(alg, signature)
    except ValueError as exc:
        raise ProtocolError(str(exc)) from exc


class Sessions:
    """Opens, proves, looks up and closes HTTP login sessions."""

    def __init__(
        self,
        store: Store,
        settings: SessionSettings = SessionSettings(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    async def open(self, client: str) -> dict[str, str]:
        """A new session and its challenge, opened from the address ``client``.

        :raises ServerTooBusy: too many sessions wait for their answers, in all or from
            ``client`` (one client could otherwise fill every place and stop every login).
        """
        session_id = secrets.token_urlsafe(18)
        nonce = secrets.token_bytes(16)
        now = self.clock()
        expires = now + self.settings.challenge_timeout_s

        def run(txn: WriteTxn) -> tuple[int, int]:
            return txn.open_session(session_id, nonce, expires, now, client)

        waiting, theirs = await self.store.write(run, actor="session")
        if theirs > self.settings.max_waiting_per_client:
            await self.close(session_id)
            raise ServerTooBusy("too many of your logins wait for their answers; answer them")
        if waiting > self.settings.max_waiting:
            await self.close(session_id)
            raise ServerTooBusy("too many logins waiting for their answers; try again later")
        return {"sessionId": session_id, "nonce": base64.b64encode(nonce).decode("ascii")}

    async def prove(self, fields: Mapping[str, str]) -> Identity:
        """Check a session's answer and mark it proven.

        :raises AuthenticationTimeout: the session is unknown, expired or already proven.
        :raises AuthenticationFailed: the signature does not check.
        :raises ProtocolError: malformed fields.
        """
        session_id = str(fields.get("sessionId", ""))
        waiting = await self.store.read(lambda txn: txn.get_session(session_id))
        now = self.clock()
        if waiting is None or waiting.identity is not None or waiting.expires < now:
            raise AuthenticationTimeout("no challenge waits for this session's answer")
        who = Identity.from_text(str(fields.get("id", "")))
        cnonce = _b64(fields, "cnonce", 128)
        if not 8 <= len(cnonce) <= _MAX_CNONCE:
            raise ProtocolError(f"cnonce must be 8 to {_MAX_CNONCE} bytes")
        kind, signed = signed_response(fields)
        answer = ChallengeAnswer(kind, who.handle, who.index, signed)

        def proven(txn: ReadTxn) -> tuple[Identity, str | None]:
            """Who the answer proves, and the print of the key it proved it with (read
            together: a key changed in between would otherwise bind the session to the new)."""
            identity = verify_challenge(txn, answer, waiting.nonce, cnonce)
            return identity, key_print(txn, identity)

        try:
            identity, print_ = await self.store.read(proven)
        except AuthenticationFailed:
            await self.close(session_id)  # one try per challenge: no guessing at a secret
            raise
        expires = now + self.settings.session_timeout_s

        def run(txn: WriteTxn) -> bool:
            return txn.prove_session(session_id, str(identity), print_, expires, now)

        if not await self.store.write(run, actor=str(identity)):
            raise AuthenticationTimeout("this session's challenge was answered already")
        return identity

    async def identity(self, session_id: str) -> Identity:
        """Who a proven session belongs to, while the key that proved it is unchanged.

        :raises AuthenticationFailed: unknown, expired, not proven yet, or its key was
            removed or replaced since (revoking a key ends its sessions).
        """

        def run(txn: ReadTxn) -> Identity:
            found = txn.get_session(session_id)
            if found is None or found.identity is None or found.expires < self.clock():
                raise AuthenticationFailed("unknown or expired session; log in again")
            identity = Identity.from_text(found.identity)
            if found.key_print is None or key_print(txn, identity) != found.key_print:
                raise AuthenticationFailed("the key this session was proven with has changed")
            return identity

        return await self.store.read(run)

    async def status(self, session_id: str) -> dict[str, object]:
        found = await self.store.read(lambda txn: txn.get_session(session_id))
        if found is None or found.expires < self.clock():
            raise AuthenticationFailed("unknown or expired session")
        body: dict[str, object] = {
            "sessionId": session_id,
            "nonce": base64.b64encode(found.nonce).decode("ascii"),
            "authenticated": found.identity is not None,
        }
        if found.identity is not None:
            body["id"] = found.identity
        return body

    async def close(self, session_id: str) -> None:
        await self.store.write(lambda txn: txn.close_session(session_id), actor="session")
