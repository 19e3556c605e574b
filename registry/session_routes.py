"""Handle.Net's ``/api/sessions`` routes over :class:`registry.sessions.Sessions`, and the
``Authorization: Handle`` header's login (see that module for the protocol)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from registry.sessions import Sessions, parse_handle_authorization
from resolver.errors import AuthenticationFailed, ProtocolError
from resolver.faces.http_common import (
    INSECURE_AUTH,
    SESSION_LOGIN,
    add_route,
    authorization,
    identity_of,
    json_body,
    json_response,
)
from resolver.message import Identity


class SessionRoutes:
    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    def add_to(self, app: web.Application) -> None:
        app[SESSION_LOGIN] = self.login
        add_route(app, "POST", "/api/sessions", self.open)
        add_route(app, "PUT", "/api/sessions/this", self.prove)
        add_route(app, "GET", "/api/sessions/this", self.status)
        add_route(app, "DELETE", "/api/sessions/this", self.close)

    async def login(self, header: str) -> Identity:
        """An ``Authorization: Handle`` header: a session id alone, or with its answer."""
        fields = parse_handle_authorization(header)
        if "sessionId" not in fields:
            raise AuthenticationFailed("a Handle authorization header needs a sessionId")
        if "signature" in fields:
            return await self.sessions.prove(fields)
        return await self.sessions.identity(fields["sessionId"])

    @staticmethod
    def _secure(request: web.Request) -> None:
        if not request.secure and not request.app[INSECURE_AUTH]:
            raise AuthenticationFailed("authentication over plain HTTP is disabled; use HTTPS")

    async def open(self, request: web.Request) -> web.Response:
        self._secure(request)
        return json_response(await self.sessions.open(request.remote or ""))

    async def prove(self, request: web.Request) -> web.Response:
        self._secure(request)
        body: Any = await json_body(request)
        if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
            raise ProtocolError("the answer must be a JSON object of strings")
        identity = await self.sessions.prove(body)
        status = await self.sessions.status(body["sessionId"])
        return json_response({**status, "id": str(identity)})

    def _session_id(self, request: web.Request) -> str:
        header = authorization(request)
        session_id = None
        if header.lower().startswith("handle "):
            session_id = parse_handle_authorization(header).get("sessionId")
        if not session_id:
            raise AuthenticationFailed("name the session: Authorization: Handle sessionId=...")
        return session_id

    async def status(self, request: web.Request) -> web.Response:
        self._secure(request)
        return json_response(await self.sessions.status(self._session_id(request)))

    async def close(self, request: web.Request) -> web.Response:
        self._secure(request)
        session_id = self._session_id(request)
        await identity_of(request)  # only the session's owner ends it
        await self.sessions.close(session_id)
        return web.Response(status=204)
