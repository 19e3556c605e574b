"""The Handle protocol baseline: a bare uvloop UDP server that answers each request with
pre-built bytes (the same answers tierid gives, fetched from it once), copying the
request's session and request ids (envelope bytes 4..12) into the answer: no parsing beyond
a dict lookup on the request body (bytes 44 on), no cache, no counters.

Usage: python bench/bare_hdl.py PORT ANSWERS_FILE
(ANSWERS_FILE: msgpack list of [request, answer] pairs)
"""

import asyncio
import sys
from pathlib import Path

import msgpack
import uvloop


class Bare(asyncio.DatagramProtocol):
    def __init__(self, answers: dict[bytes, tuple[bytes, bytes]]) -> None:
        self.answers = answers

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        answer = self.answers.get(data[44:])
        if answer is not None:
            self.transport.sendto(answer[0] + data[4:12] + answer[1], addr)


async def serve(port: int, answers: dict[bytes, tuple[bytes, bytes]]) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: Bare(answers), local_addr=("127.0.0.1", port))
    await asyncio.Event().wait()


def main() -> None:
    port = int(sys.argv[1])
    pairs = msgpack.unpackb(Path(sys.argv[2]).read_bytes())
    uvloop.run(serve(port, {req[44:]: (ans[:4], ans[12:]) for req, ans in pairs}))


if __name__ == "__main__":
    main()
