"""The binary protocol's administrative operations, mapped onto the authority: create,
delete, add, modify and remove values, list handles, home and unhome prefixes.

Each is an :data:`Operation` for :class:`resolver.faces.native_responder.Responder`: it
takes the decoded request and the identity the client proved (None until it has), and
lets the authority's checks decide; an :class:`AuthenticationNeeded` from them is what makes
the face challenge the client. Values written are checked as over HTTP (index, type,
size); their timestamps are the server's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from registry.authority import Authority
from resolver.errors import InvalidHandle, InvalidValue, ProtocolError
from resolver.faces.native_responder import LIST_CHUNK, Operation, Reply
from resolver.handle import normalise
from resolver.hdl_types import (
    CreatedHandle,
    HandleList,
    HandleRequest,
    Message,
    OpFlag,
    RemoveValuesRequest,
    ValuesRequest,
)
from resolver.hdl_types import OpCode as OC
from resolver.json_values import MAX_INDEX, MAX_REFERENCES, MAX_TTL, check_type
from resolver.message import Identity
from resolver.values import TTL_ABSOLUTE, TTL_RELATIVE, HandleValue

_OVRW, _MINT = int(OpFlag.OVRW), int(OpFlag.MINT)
_ALL_PERMISSIONS = 0x0F
_NA = "0.NA/"
_B = TypeVar("_B", ValuesRequest, HandleRequest, RemoveValuesRequest)


def operations(authority: Authority) -> dict[int, Operation]:
    """The opcodes an authority node takes besides resolution and site info."""
    ops = _AdminOperations(authority)
    return {
        OC.CREATE_HANDLE: ops.create,
        OC.DELETE_HANDLE: ops.delete,
        OC.ADD_VALUE: ops.add,
        OC.MODIFY_VALUE: ops.modify,
        OC.REMOVE_VALUE: ops.remove,
        OC.LIST_HANDLES: ops.list_handles,
        OC.HOME_NA: ops.home,
        OC.UNHOME_NA: ops.unhome,
    }


def _body(request: Message, kind: type[_B]) -> _B:
    if not isinstance(request.body, kind):
        raise ProtocolError(f"opcode {request.header.opcode} needs a {kind.__name__} body")
    return request.body


def _prefix_of(na_handle: str) -> str:
    """``88.118`` from ``0.NA/88.118`` (a bare prefix is taken as it is)."""
    if normalise(na_handle).startswith(_NA):
        return na_handle[len(_NA) :]
    if "/" in na_handle:
        raise InvalidHandle("missing-slash", f"{na_handle} is not a prefix handle")
    return na_handle


class _AdminOperations:
    def __init__(self, authority: Authority) -> None:
        self.authority = authority

    def _values(self, body: ValuesRequest) -> Sequence[HandleValue]:
        for v in body.values:  # sizes and duplicates are the authority's checks
            if not 0 < v.index <= MAX_INDEX:
                raise InvalidValue(f"value index must be from 1 to {MAX_INDEX}")
            check_type(v.index, v.type)
            if v.ttl_type not in (TTL_RELATIVE, TTL_ABSOLUTE):
                raise InvalidValue(f"value {v.index}: ttl type must be 0 (relative) or 1")
            if v.ttl_type == TTL_RELATIVE and v.ttl > MAX_TTL:
                raise InvalidValue(f"value {v.index}: ttl must be from 0 to {MAX_TTL}")
            if v.permissions > _ALL_PERMISSIONS:
                raise InvalidValue(f"value {v.index}: permissions are 4 bits")
            if len(v.references) > MAX_REFERENCES:
                raise InvalidValue(f"value {v.index}: more than {MAX_REFERENCES} references")
        return body.values

    async def create(self, request: Message, identity: Identity | None) -> Reply:
        body = _body(request, ValuesRequest)
        flags = request.header.flags
        result = await self.authority.create(
            body.handle,
            self._values(body),
            identity,
            overwrite=bool(flags & _OVRW),
            mint=bool(flags & _MINT),
        )
        if flags & _MINT:
            return Reply((CreatedHandle(result.handle),))
        return Reply(flags=0 if result.created else _OVRW)

    async def delete(self, request: Message, identity: Identity | None) -> Reply:
        await self.authority.delete(_body(request, HandleRequest).handle, identity)
        return Reply()

    async def add(self, request: Message, identity: Identity | None) -> Reply:
        body = _body(request, ValuesRequest)
        overwrite = bool(request.header.flags & _OVRW)
        result = await self.authority.put_values(
            body.handle, self._values(body), identity, overwrite=overwrite
        )
        return Reply(flags=0 if result.created else _OVRW)

    async def modify(self, request: Message, identity: Identity | None) -> Reply:
        body = _body(request, ValuesRequest)
        await self.authority.put_values(
            body.handle, self._values(body), identity, overwrite=True, existing_only=True
        )
        return Reply()

    async def remove(self, request: Message, identity: Identity | None) -> Reply:
        body = _body(request, RemoveValuesRequest)
        await self.authority.remove_values(body.handle, body.indexes, identity)
        return Reply()

    async def list_handles(self, request: Message, identity: Identity | None) -> Reply:
        prefix = _prefix_of(_body(request, HandleRequest).handle)
        listed = await self.authority.list_handles(prefix, identity, 0, -1)
        chunks = [
            HandleList(tuple(listed.handles[i : i + LIST_CHUNK]))
            for i in range(0, len(listed.handles), LIST_CHUNK)
        ]
        return Reply(tuple(chunks) or (HandleList(()),))

    async def home(self, request: Message, identity: Identity | None) -> Reply:
        await self.authority.home(_prefix_of(_body(request, HandleRequest).handle), identity)
        return Reply()

    async def unhome(self, request: Message, identity: Identity | None) -> Reply:
        await self.authority.unhome(_prefix_of(_body(request, HandleRequest).handle), identity)
        return Reply()
