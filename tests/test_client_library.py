"""The Python client library (``resolver.client``), synchronous and asyncio, against a real
node: with a secret and with a key login; the node's errors come back as typed exceptions."""

from __future__ import annotations

import asyncio

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from resolver.challenge import pubkey_to_wire
from resolver.client import AsyncClient, Client
from resolver.errors import HandleNotFound, InsufficientPermissions
from resolver.json_values import data_to_json
from tests.conftest import MOTORS_ADMIN, PUMPS, PUMPS_ADMIN, NodeProcess

URL = {"index": 1, "type": "URL", "data": "https://pumps.example.cn/p/lib"}


def test_the_synchronous_client_registers_updates_and_deletes(node: NodeProcess) -> None:
    with Client(node.url, identity=PUMPS_ADMIN, secret=b"pump-secret") as c:
        assert c.register(f"{PUMPS}/LIB-1", [URL]) is True
        assert c.register(f"{PUMPS}/LIB-1", [URL]) is False  # replaced
        c.set_values(f"{PUMPS}/LIB-1", [{"index": 2001, "type": "MODEL", "data": "CP-200"}])
        values = c.resolve(f"{PUMPS}/LIB-1")["values"]
        assert {v["type"] for v in values} == {"URL", "MODEL"}
        result = c.batch("create", [{"handle": f"{PUMPS}/LIB-2", "values": [URL]}])
        assert result["items"][0]["result"] == "created"
        c.delete(f"{PUMPS}/LIB-1", indexes=(2001,))
        assert [v["type"] for v in c.resolve(f"{PUMPS}/LIB-1")["values"]] == ["URL"]
        c.delete(f"{PUMPS}/LIB-1")
        with pytest.raises(HandleNotFound):
            c.resolve(f"{PUMPS}/LIB-1")
    sibling = Client(node.url, identity=MOTORS_ADMIN, secret=b"motor-secret")
    with sibling as c, pytest.raises(InsufficientPermissions):
        c.register(f"{PUMPS}/LIB-3", [URL])


def test_the_asyncio_client_with_a_key_login(node: NodeProcess) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    holder = f"{PUMPS}/LIB-KEY"
    admin = node.session(PUMPS_ADMIN)
    value = {
        "index": 300,
        "type": "HS_PUBKEY",
        "data": data_to_json("HS_PUBKEY", pubkey_to_wire(key)),
    }
    admin.put(node.api(holder), json=[value]).raise_for_status()
    grant = {
        "index": 120,
        "type": "HS_ADMIN",
        "data": {"format": "admin", "value": {"handle": holder, "index": 300}},
    }
    admin.put(node.api(f"0.NA/{PUMPS}"), params={"index": "120"}, json=[grant]).raise_for_status()

    async def work() -> list[dict]:
        async with AsyncClient(node.url, identity=f"300:{holder}", private_key=key) as c:
            await c.put(f"{PUMPS}/LIB-ASYNC", [URL])
            return (await c.get(f"{PUMPS}/LIB-ASYNC"))["values"]

    assert asyncio.run(work())[0]["data"]["value"] == URL["data"]
