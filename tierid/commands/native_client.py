"""The binary protocol behind the HTTP client's interface, so ``tierid resolve``,
``register`` and ``delete`` work with ``--proto handle`` against any Handle server."""

from __future__ import annotations

from typing import Any

from resolver.faces.http import answer_json
from resolver.hdl_client import Credentials, HandleClient, parse_endpoint
from resolver.json_values import value_from_json
from resolver.message import Query

#: largest value data the CLI sends (a node's own limit may be lower)
_MAX_DATA = 1 << 20


class NativeNodeClient:
    """``async with NativeNodeClient("hdl://127.0.0.1:2641") as c: await c.get(h)``: the
    answers are shaped as the HTTP API's JSON, so the commands print them alike."""

    def __init__(self, endpoint: str, credentials: Credentials | None = None) -> None:
        self.base_url = endpoint
        self.address, self.udp = parse_endpoint(endpoint)
        self._client = HandleClient(credentials=credentials)

    async def __aenter__(self) -> NativeNodeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.close()

    async def get(
        self, handle: str, *, types: tuple[str, ...] = (), indexes: tuple[int, ...] = ()
    ) -> dict[str, Any]:
        query = Query(handle, tuple(types), tuple(indexes))
        return answer_json(await self._client.resolve(self.address, query, udp=self.udp))

    async def put(
        self,
        handle: str,
        values: list[dict[str, Any]],
        *,
        overwrite: bool = True,
        indexes: tuple[int, ...] = (),
    ) -> tuple[int, dict[str, Any]]:
        """Create (or replace) a record; :returns: 201 or 200 and the Handle JSON answer."""
        decoded = [value_from_json(v, max_data_bytes=_MAX_DATA) for v in values]
        created_handle, created = await self._client.create(
            self.address, handle, decoded, overwrite=overwrite
        )
        return (201 if created else 200), {"responseCode": 1, "handle": created_handle}

    async def delete(self, handle: str, *, indexes: tuple[int, ...] = ()) -> dict[str, Any]:
        if indexes:
            await self._client.remove_values(self.address, handle, indexes)
        else:
            await self._client.delete(self.address, handle)
        return {"responseCode": 1, "handle": handle}
