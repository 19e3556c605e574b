"""The Python client library for enterprise code: register, update, delete and resolve
identifiers at a tierid (or Handle.Net) node, synchronously or with asyncio.

``AsyncClient`` is the HTTP client the CLI uses (:class:`resolver.http_client.HandleHttpClient`);
``Client`` runs it on a private event loop, for code that is not asynchronous::

    from resolver.client import Client

    with Client("http://127.0.0.1:8111", identity="300:0.NA/88.118.8", secret=b"...") as c:
        c.register("88.118.8/PUMP-1", [{"index": 1, "type": "URL", "data": "https://..."}])
        print(c.resolve("88.118.8/PUMP-1")["values"])

Authenticate with a secret (HS_SECKEY, Basic) or a private key (HS_PUBKEY, a session login:
``private_key=resolver.challenge.load_private_key(pem)``). Errors are the node's, as typed
exceptions (``HandleNotFound``, ``InsufficientPermissions``...). For the binary protocol use
:class:`resolver.hdl_client.HandleClient`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from resolver.challenge import PrivateKey
from resolver.http_client import HandleHttpClient

AsyncClient = HandleHttpClient
T = TypeVar("T")

__all__ = ["AsyncClient", "Client"]


class Client:
    """A synchronous client: ``with Client(url, identity=..., secret=...) as c: ...``."""

    def __init__(
        self,
        base_url: str,
        *,
        identity: str | None = None,
        secret: bytes | None = None,
        private_key: PrivateKey | None = None,
        verify_tls: bool | str = True,
        timeout: float = 30.0,
    ) -> None:
        self._async = AsyncClient(
            base_url,
            identity=identity,
            secret=secret,
            private_key=private_key,
            verify_tls=verify_tls,
            timeout=timeout,
        )
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> Client:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._async.__aenter__())
        except BaseException:
            self._loop.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the session (and a key login's session at the node)."""
        if self._loop is not None:
            try:
                self._loop.run_until_complete(self._async.__aexit__(None, None, None))
            finally:
                self._loop.close()
                self._loop = None

    def _run(self, call: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            call.close()
            raise RuntimeError("use the client in a 'with' block")
        return self._loop.run_until_complete(call)

    def resolve(
        self,
        handle: str,
        *,
        types: tuple[str, ...] = (),
        indexes: tuple[int, ...] = (),
        item_names: bool = False,
    ) -> dict[str, Any]:
        """The record's values (Handle.Net's JSON answer); ``item_names`` adds
        ``"item": {"key", "name"}`` to each value its template describes."""
        return self._run(
            self._async.get(handle, types=types, indexes=indexes, item_names=item_names)
        )

    def register(
        self, handle: str, values: list[dict[str, Any]], *, overwrite: bool = True
    ) -> bool:
        """Create ``handle`` (or replace it whole when ``overwrite``). :returns: whether it
        was new."""
        status, _ = self._run(self._async.put(handle, values, overwrite=overwrite))
        return status == 201

    def set_values(self, handle: str, values: list[dict[str, Any]]) -> None:
        """Add values to a record, or replace those at the same indexes."""
        indexes = tuple(int(v["index"]) for v in values)
        self._run(self._async.put(handle, values, indexes=indexes))

    def delete(self, handle: str, *, indexes: tuple[int, ...] = ()) -> None:
        """Delete a record, or only the values at ``indexes``."""
        self._run(self._async.delete(handle, indexes=indexes))

    def batch(self, op: str, items: list[dict[str, Any]], *, atomic: bool = True) -> dict[str, Any]:
        """Up to 2000 writes in one transaction, with a result per item."""
        return self._run(self._async.batch(op, items, atomic=atomic))
