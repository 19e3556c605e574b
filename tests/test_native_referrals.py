"""Walking over the binary protocol past a server that refers as Handle.Net does: RC 303 with
an empty handle and the HS_SITE.PREFIX values, naming no prefix record. The resolver follows
such a referral for the lookup at hand and learns nothing from it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import NodeProcess, free_port

#: A Handle.Net-like national server on UDP and TCP: every request is referred, with an
#: empty referral handle, to the site given as hex on the command line.
CNRI_LIKE = """
import asyncio, sys
from resolver.hdl_codec import decode_message, encode_message
from resolver.hdl_types import Header, Message, Referral
from resolver.values import HandleValue

site = bytes.fromhex(sys.argv[2])
values = (HandleValue(11, "HS_SITE.PREFIX", site),)

def refer(raw):
    request = decode_message(raw)
    header = Header(request.header.opcode, 303)
    return encode_message(Message(request.envelope.reply(), header, Referral("", values)))

class Udp(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport
    def datagram_received(self, data, addr):
        self.transport.sendto(refer(data), addr)

async def tcp(reader, writer):
    head = await reader.readexactly(20)
    rest = await reader.readexactly(int.from_bytes(head[16:20], "big"))
    writer.write(refer(head + rest))
    await writer.drain()
    writer.close()

async def main():
    port = int(sys.argv[1])
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(Udp, local_addr=("127.0.0.1", port))
    server = await asyncio.start_server(tcp, "127.0.0.1", port)
    print("ready", flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeProcess, int]]:
    """(a resolver whose root is the Handle.Net-like server, the province's handle port)."""
    root = tmp_path_factory.mktemp("cnri")
    (root / "province").mkdir()
    (root / "resolver").mkdir()
    province = NodeProcess(root / "province", prefix="88.118", handle=True)
    national_port = free_port()
    national = subprocess.Popen(
        [sys.executable, "-c", CNRI_LIKE, str(national_port), province.site().to_wire().hex()],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    resolver = None
    try:
        assert national.stdout is not None and national.stdout.readline().strip() == "ready"
        writer = province.session(province.operator)
        record = [{"index": 1, "type": "URL", "data": "https://pumps.example.cn/p/7"}]
        writer.put(province.api("88.118/PUMP-7"), json=record).raise_for_status()
        resolver = NodeProcess(
            root / "resolver", prefix=None, roots=[f"hdl://127.0.0.1:{national_port}"]
        )
        yield resolver, province.handle_port
    finally:
        if resolver is not None:
            resolver.stop()
        national.terminate()
        national.wait(10)
        province.stop()


def test_an_empty_handle_referral_is_followed(walk: tuple[NodeProcess, int]) -> None:
    resolver, province_port = walk
    r = requests.get(resolver.api("88.118/PUMP-7"), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["values"][0]["data"]["value"] == "https://pumps.example.cn/p/7"
    servers = {s["url"] for s in resolver.status()["resolver"]["servers"]}
    assert f"hdl://127.0.0.1:{province_port}" in servers


def test_it_teaches_nothing_so_each_new_prefix_lookup_asks_the_root_again(
    walk: tuple[NodeProcess, int],
) -> None:
    resolver, _ = walk
    known = resolver.status()["resolver"]["knownPrefixes"]
    # the province's own HS_SITE (read from it) is learnt; nothing is learnt from the
    # referral, which named no prefix record
    assert set(known) == {"88.118"}, known
    before = resolver.status()["resolver"]["upstreamQueries"]
    r = requests.get(resolver.api("88.118/PUMP-7"), params={"auth": "true"}, timeout=10)
    assert r.status_code == 200
    time.sleep(0.1)
    # an authoritative read goes straight to the learnt site: one query, no root
    assert resolver.status()["resolver"]["upstreamQueries"] == before + 1
