"""The DNS baseline: a bare uvloop UDP server that answers each question with pre-built
bytes (the same answers tierid gives, fetched from it once): no parsing beyond a dict
lookup on the question, no cache, no counters.

Usage: python bench/bare_dns.py PORT ANSWERS_FILE  (ANSWERS_FILE: msgpack list of answers)
"""

import asyncio
import sys
from pathlib import Path

import msgpack
import uvloop


class Bare(asyncio.DatagramProtocol):
    def __init__(self, answers: dict[bytes, bytes]) -> None:
        self.answers = answers

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        answer = self.answers.get(data[12:])
        if answer is not None:
            self.transport.sendto(data[:2] + answer, addr)


async def serve(port: int, answers: dict[bytes, bytes]) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: Bare(answers), local_addr=("127.0.0.1", port))
    await asyncio.Event().wait()


def main() -> None:
    port = int(sys.argv[1])
    pairs = msgpack.unpackb(Path(sys.argv[2]).read_bytes())
    uvloop.run(serve(port, {query[12:]: answer[2:] for query, answer in pairs}))


if __name__ == "__main__":
    main()
