"""The one exception tree and the one table that maps it to every face.

Every error a client can see is a :class:`TieridError` carrying a Handle response code.
Faces translate through :func:`http_status` and :func:`to_json` only, so a code means the
same thing over HTTP, the binary protocol and DNS. Anything else that escapes a handler is
an internal error (RC 2 / HTTP 500) whose details stay in the log.
"""

from __future__ import annotations

from typing import Any

from resolver.codes import ResponseCode as RC

# rc -> (HTTP status, DNS rcode name). HTTP follows Handle.Net's REST servlet mapping, except
# where it would answer 500 for what the client or the data caused (a 5xx says the server
# failed): an unknown or spent challenge, a loop of aliases or referrals.
_TABLE: dict[int, tuple[int, str]] = {
    RC.SUCCESS: (200, "NOERROR"),
    RC.ERROR: (500, "SERVFAIL"),
    RC.SERVER_TOO_BUSY: (503, "REFUSED"),
    RC.PROTOCOL_ERROR: (400, "FORMERR"),
    RC.OPERATION_NOT_SUPPORTED: (501, "NOTIMP"),
    RC.RECURSION_COUNT_TOO_HIGH: (508, "SERVFAIL"),  # an alias or referral loop in the data
    RC.SERVER_BACKUP: (503, "SERVFAIL"),
    RC.HANDLE_NOT_FOUND: (404, "NXDOMAIN"),
    RC.HANDLE_ALREADY_EXISTS: (409, "REFUSED"),
    RC.INVALID_HANDLE: (400, "FORMERR"),
    RC.VALUES_NOT_FOUND: (400, "NOERROR"),
    RC.VALUE_ALREADY_EXISTS: (409, "REFUSED"),
    RC.INVALID_VALUE: (400, "FORMERR"),
    RC.OUT_OF_DATE_SITE_INFO: (500, "SERVFAIL"),
    RC.SERVER_NOT_RESP: (400, "REFUSED"),
    RC.SERVICE_REFERRAL: (300, "NOERROR"),
    RC.PREFIX_REFERRAL: (300, "NOERROR"),
    RC.INVALID_ADMIN: (403, "REFUSED"),
    RC.INSUFFICIENT_PERMISSIONS: (403, "REFUSED"),
    RC.AUTHENTICATION_NEEDED: (401, "REFUSED"),
    RC.AUTHENTICATION_FAILED: (403, "REFUSED"),
    RC.INVALID_CREDENTIAL: (403, "REFUSED"),
    RC.AUTHEN_TIMEOUT: (401, "REFUSED"),  # no challenge waits: authenticate afresh
    RC.AUTHEN_ERROR: (500, "REFUSED"),
    RC.REQUEST_LIMIT_DAILY: (429, "REFUSED"),
    RC.REGISTER_COUNT_LIMIT: (429, "REFUSED"),
    RC.PREFIX_LIMIT: (429, "REFUSED"),
}


def http_status(rc: int, *, resolution: bool = False) -> int:
    """HTTP status for a response code; RC 200 on a resolution is a plain 200 (empty answer)."""
    if rc == RC.VALUES_NOT_FOUND and resolution:
        return 200
    return _TABLE.get(rc, (500, "SERVFAIL"))[0]


def dns_rcode(rc: int) -> str:
    """DNS rcode name for a response code (used by the DNS face)."""
    return _TABLE.get(rc, (500, "SERVFAIL"))[1]


class TieridError(Exception):
    """An error with a Handle response code, safe to show to the client."""

    rc: RC = RC.ERROR
    #: HTTP status when it differs from the table (e.g. 413 for an oversized body)
    status_override: int | None = None

    def __init__(self, message: str | None = None, *, handle: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "error").strip().splitlines()[0])
        self.message = str(self.args[0])
        self.handle = handle

    @property
    def http_status(self) -> int:
        return self.status_override or http_status(self.rc)

    @property
    def details(self) -> dict[str, Any]:
        """Fields an error body carries besides the message (none unless a subclass says)."""
        return {}


class ProtocolError(TieridError):
    """Malformed request."""

    rc = RC.PROTOCOL_ERROR


class BodyTooLarge(ProtocolError):
    """Request body exceeds the configured limit."""

    status_override = 413


class UnreadableBody(ProtocolError):
    """The request body cannot be read as sent (not what its Content-Encoding says): where
    it ends is unknown, so the connection closes after the answer."""


class UnsupportedMediaType(ProtocolError):
    """Request body must be application/json."""


class ServerTooBusy(TieridError):
    """The server is too busy; try again later."""

    rc = RC.SERVER_TOO_BUSY


class RequestLimitDaily(TieridError):
    """Daily request limit reached."""

    rc = RC.REQUEST_LIMIT_DAILY


class RegistrationLimit(TieridError):
    """Daily registration limit reached."""

    rc = RC.REGISTER_COUNT_LIMIT


class PrefixLimit(TieridError):
    """Prefix limit reached."""

    rc = RC.PREFIX_LIMIT


class RateLimited(ServerTooBusy):
    """Too many requests from this address; slow down."""

    status_override = 429

    def __init__(self, retry_after: float, *, handle: str | None = None) -> None:
        super().__init__(f"too many requests from this address; retry in {retry_after:.1f} s")
        self.retry_after = retry_after


class OperationNotSupported(TieridError):
    """Operation not supported by this node."""

    rc = RC.OPERATION_NOT_SUPPORTED


class RecursionTooDeep(TieridError):
    """Too many aliases or referrals followed."""

    rc = RC.RECURSION_COUNT_TOO_HIGH


class ServerReadOnly(TieridError):
    """This server is read-only."""

    rc = RC.SERVER_BACKUP


class InvalidHandle(TieridError):
    """Invalid identifier.

    ``rule`` names the syntax rule that failed (``missing-slash``, ``empty-prefix``,
    ``empty-segment``, ``bad-prefix-char``, ``prefix-too-long``, ``too-long``,
    ``control-char``, ``empty-suffix``, ``not-unicode``).
    """

    rc = RC.INVALID_HANDLE

    def __init__(self, rule: str, message: str, *, handle: str | None = None) -> None:
        super().__init__(message, handle=handle)
        self.rule = rule


class HandleNotFound(TieridError):
    """Handle not found."""

    rc = RC.HANDLE_NOT_FOUND


class LinkTypeNotFound(HandleNotFound):
    """The key is known but offers no link of the requested type (GS1 resolvers: 404)."""


class HandleAlreadyExists(TieridError):
    """Handle already exists."""

    rc = RC.HANDLE_ALREADY_EXISTS


class ValuesNotFound(TieridError):
    """No values with the given index or type."""

    rc = RC.VALUES_NOT_FOUND


class ValueAlreadyExists(TieridError):
    """A value with that index already exists."""

    rc = RC.VALUE_ALREADY_EXISTS


class InvalidValue(TieridError):
    """Invalid handle value."""

    rc = RC.INVALID_VALUE


class NotResponsible(TieridError):
    """This server is not responsible for the handle's prefix."""

    rc = RC.SERVER_NOT_RESP


class AuthenticationNeeded(TieridError):
    """Authentication needed."""

    rc = RC.AUTHENTICATION_NEEDED


class AuthenticationFailed(TieridError):
    """Authentication failed."""

    rc = RC.AUTHENTICATION_FAILED


class AuthenticationTimeout(TieridError):
    """No challenge is pending for this answer (it expired, or was answered already)."""

    rc = RC.AUTHEN_TIMEOUT


class InvalidAdmin(TieridError):
    """The authenticated identity is not an administrator for this operation."""

    rc = RC.INVALID_ADMIN


class InsufficientPermissions(TieridError):
    """Insufficient permissions."""

    rc = RC.INSUFFICIENT_PERMISSIONS


class UpstreamUnavailable(TieridError):
    """No server of the site answered."""

    rc = RC.ERROR
    status_override = 502


class WalkTimeout(TieridError):
    """Resolution did not finish in time."""

    rc = RC.ERROR
    status_override = 504


def _subclasses(cls: type[TieridError]) -> list[type[TieridError]]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def error_for(rc: int, message: str, handle: str | None = None) -> TieridError:
    """The exception for a response code received from another node (the first class that
    declares that code wins; an invalid identifier is the plain :class:`InvalidHandle`,
    whatever rule failed there). Classes that take their code from what they carry (a
    rejected batch) are never picked."""
    for cls in _subclasses(TieridError):
        declared = "rc" in vars(cls)
        if (
            declared
            and cls.rc == rc
            and cls.status_override is None
            and not issubclass(cls, InvalidHandle)
        ):
            return cls(message or None, handle=handle)
    if rc == RC.INVALID_HANDLE:
        return InvalidHandle("remote", message, handle=handle)
    err = TieridError(message or f"response code {rc}", handle=handle)
    err.rc = RC(rc)
    return err


def to_json(err: TieridError, handle: str | None = None) -> dict[str, Any]:
    """Handle.Net's error body: ``{"responseCode", "handle", "message"}``."""
    body: dict[str, Any] = {"responseCode": int(err.rc)}
    shown = err.handle if err.handle is not None else handle
    if shown is not None:
        body["handle"] = shown
    body["message"] = err.message
    body.update(err.details)
    return body


INTERNAL_ERROR_BODY: dict[str, Any] = {"responseCode": int(RC.ERROR), "message": "Internal error"}
