"""The shared cache's pipelined MGET connection against real Redis servers started on free
ports: answers in order, AUTH and SELECT, and every failure (refused, hung, killed, back
again) told to the batch instead of hanging it."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from resolver.redis_reads import PipelinedReads
from tests.conftest import RedisServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    s = RedisServer(tmp_path)
    try:
        yield s
    finally:
        if s.proc is not None and s.proc.poll() is None:
            s.proc.send_signal(signal.SIGCONT)
        s.stop()


def ask(reads: PipelinedReads, keys: list[str]) -> asyncio.Future:
    """One batch; the future holds what the batch was told (values or the exception)."""
    told: asyncio.Future = asyncio.get_running_loop().create_future()
    reads.mget(keys, told.set_result)
    return told


def test_pipelined_batches_get_their_own_values_in_order(server: RedisServer) -> None:
    client = redis.Redis(port=server.port)
    for i in range(50):
        client.set(f"k{i}", f"v{i}")

    async def run() -> list:
        reads = PipelinedReads(server.url, timeout=2)
        await reads.connect()
        batches = [[f"k{i}", f"k{i + 1}", "absent"] for i in range(0, 50, 2)]
        told = await asyncio.gather(*(ask(reads, keys) for keys in batches))
        await reads.close()
        return told

    told = asyncio.run(run())
    assert told == [[f"v{i}".encode(), f"v{i + 1}".encode(), None] for i in range(0, 50, 2)]


def test_auth_and_database_come_from_the_url(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, password="s3cret")
    try:
        redis.Redis(port=server.port, password="s3cret", db=3).set("k", "in db 3")
        base = f"redis://:s3cret@127.0.0.1:{server.port}"

        async def run(url: str):
            reads = PipelinedReads(url, timeout=2)
            told = await ask(reads, ["k"])  # not connected yet: connects, then sends
            await reads.close()
            return told

        assert asyncio.run(run(f"{base}/3")) == [b"in db 3"]
        assert asyncio.run(run(f"{base}/0")) == [None]
        refused = asyncio.run(run(f"redis://:wrong@127.0.0.1:{server.port}/3"))
        assert isinstance(refused, ConnectionError) and "WRONGPASS" in str(refused)
    finally:
        server.stop()


def test_a_hung_redis_times_out_and_the_order_holds_after(server: RedisServer) -> None:
    redis.Redis(port=server.port).set("k", "v")

    async def run() -> tuple:
        reads = PipelinedReads(server.url, timeout=0.3)
        await reads.connect()
        assert server.proc is not None
        server.proc.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        hung = await ask(reads, ["k"])
        waited = time.monotonic() - started
        server.proc.send_signal(signal.SIGCONT)
        later = await ask(reads, ["absent", "k"])  # the late reply to "k" is dropped first
        await reads.close()
        return hung, waited, later

    hung, waited, later = asyncio.run(run())
    assert isinstance(hung, TimeoutError) and waited < 1.5
    assert later == [None, b"v"]


def test_a_lost_connection_is_told_and_made_again(server: RedisServer) -> None:
    async def run() -> tuple:
        reads = PipelinedReads(server.url, timeout=1)
        await reads.connect()
        server.stop()
        await asyncio.sleep(0.1)
        down = await ask(reads, ["k"])
        server.start()  # same port, empty
        redis.Redis(port=server.port).set("k", "back")
        back = await ask(reads, ["k"])
        await reads.close()
        return down, back

    down, back = asyncio.run(run())
    assert isinstance(down, OSError)  # refused: ConnectionError is an OSError
    assert back == [b"back"]


def test_closing_tells_every_waiting_batch(server: RedisServer) -> None:
    async def run() -> list:
        reads = PipelinedReads(server.url, timeout=5)
        await reads.connect()
        assert server.proc is not None
        server.proc.send_signal(signal.SIGSTOP)
        waiting = [ask(reads, ["k"]) for _ in range(3)]
        await reads.close()
        return await asyncio.gather(*waiting)

    told = asyncio.run(run())
    assert all(isinstance(t, ConnectionError) for t in told)
