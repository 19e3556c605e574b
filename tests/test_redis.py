"""The shared L2 cache and invalidation, with real Redis servers the tests start on free
ports: two resolvers share entries, an update reaches both before its TTL, a create clears
a cached "not found", and a stopped or restarted Redis fails no lookup."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests

from tests.conftest import NodeProcess, RedisServer, eventually

RECORD = [
    {"index": 1, "type": "URL", "data": "https://pumps.example/v1"},
    {"index": 2005, "type": "COST", "data": "secret-cost", "permissions": "1100"},
]


@dataclass
class Shared:
    redis: RedisServer
    enterprise: NodeProcess
    resolvers: list[NodeProcess]
    province: NodeProcess

    def put(self, handle: str, url: str) -> None:
        values = [{**RECORD[0], "data": url}, RECORD[1]]
        r = self.enterprise.session(self.enterprise.operator).put(
            self.enterprise.api(handle), json=values
        )
        assert r.status_code in (200, 201), r.text


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    root = tmp_path_factory.mktemp("redis")
    server = RedisServer(root)
    cache = (
        f'[cache]\nmax_ttl = 3600\nnegative_ttl = 3600\nredis_url = "{server.url}"\n'
        f'redis_namespace = "t{server.port}"\nredis_retry_s = 1\n'
    )
    nodes: list[NodeProcess] = []
    try:
        for name in ("prov", "ent", "r1", "r2"):
            (root / name).mkdir()
        province = NodeProcess(root / "prov", prefix="88.118")
        nodes.append(province)
        enterprise = NodeProcess(root / "ent", prefix="88.118.8", extra=cache)
        nodes.append(enterprise)
        province.delegate("88.118.8", enterprise)
        for r in ("r1", "r2"):
            (root / r / "op.token").write_text("op-token")
        resolvers = [
            NodeProcess(
                root / r,
                prefix=None,
                roots=[province.url],
                extra=cache,
                node_options='operator_token_file = "op.token"',
            )
            for r in ("r1", "r2")
        ]
        nodes += resolvers
        yield Shared(server, enterprise, resolvers, province)
    finally:
        for n in nodes:
            n.stop()
        server.stop()


def redis_errors(node: NodeProcess) -> float:
    metrics = requests.get(f"{node.url}/metrics").text
    errors = [line for line in metrics.splitlines() if line.startswith("tierid_redis_errors_total")]
    return float(errors[0].split()[1])


def cache_stats(node: NodeProcess) -> dict:
    return node.status()["cache"]


def test_two_resolvers_share_entries(shared: Shared) -> None:
    shared.put("88.118.8/SHARED", "https://pumps.example/shared")
    r1, r2 = shared.resolvers
    assert requests.get(r1.api("88.118.8/SHARED")).status_code == 200
    before = cache_stats(r2)
    got = requests.get(r2.api("88.118.8/shared")).json()
    after = cache_stats(r2)
    assert got["handle"] == "88.118.8/shared"
    assert got["values"][0]["data"]["value"] == "https://pumps.example/shared"
    assert after["l2_hits"] == before["l2_hits"] + 1
    assert after["upstream_queries"] == before["upstream_queries"]
    # what is shared carries an absolute expiry, and never a restricted value
    client = redis.Redis(port=shared.redis.port)
    key = f"t{shared.redis.port}:a:88.118.8/SHARED"
    assert 0 < client.pttl(key) <= (3600 + 3600) * 1000
    assert b"secret-cost" not in client.get(key)


def test_an_update_reaches_every_resolver_before_its_ttl(shared: Shared) -> None:
    shared.put("88.118.8/CHANGING", "https://pumps.example/old")
    for r in shared.resolvers:
        assert requests.get(r.api("88.118.8/CHANGING")).json()["values"][0]["data"]["value"] == (
            "https://pumps.example/old"
        )
    shared.put("88.118.8/CHANGING", "https://pumps.example/new")
    for r in shared.resolvers:
        eventually(
            lambda r=r: (
                requests.get(r.api("88.118.8/CHANGING")).json()["values"][0]["data"]["value"]
                == "https://pumps.example/new"
            ),
            seconds=2,
        )


def test_a_create_clears_a_cached_not_found(shared: Shared) -> None:
    r1, r2 = shared.resolvers
    assert requests.get(r1.api("88.118.8/NEWBORN")).status_code == 404
    assert requests.get(r2.api("88.118.8/NEWBORN")).status_code == 404
    shared.put("88.118.8/NEWBORN", "https://pumps.example/newborn")
    for r in shared.resolvers:
        eventually(
            lambda r=r: requests.get(r.api("88.118.8/NEWBORN")).status_code == 200, seconds=2
        )


def test_redis_down_and_back_fails_no_lookup(shared: Shared) -> None:
    r1 = shared.resolvers[0]
    shared.put("88.118.8/WHILE-DOWN", "https://pumps.example/down")
    shared.put("88.118.8/AFTER", "https://pumps.example/after")
    shared.redis.stop()
    started = time.monotonic()
    for _ in range(3):
        assert requests.get(r1.api("88.118.8/WHILE-DOWN")).status_code == 200
    assert time.monotonic() - started < 2
    assert redis_errors(r1) >= 1

    shared.redis.start()  # same port, empty: a restarted Redis
    time.sleep(1.2)  # redis_retry_s: the resolver tries Redis again by itself
    client = redis.Redis(port=shared.redis.port)
    assert requests.get(r1.api("88.118.8/AFTER")).status_code == 200
    eventually(lambda: client.exists(f"t{shared.redis.port}:a:88.118.8/AFTER") == 1, 3)


def test_a_hung_redis_fails_no_lookup(shared: Shared) -> None:
    """Redis stopped dead (SIGSTOP: connections open, nothing answered): lookups wait at
    most the read timeout, then go on without it."""
    r1 = shared.resolvers[0]
    shared.put("88.118.8/WHILE-HUNG", "https://pumps.example/hung")
    errors_before = redis_errors(r1)
    assert shared.redis.proc is not None
    shared.redis.proc.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        for _ in range(3):
            assert requests.get(r1.api("88.118.8/WHILE-HUNG"), timeout=5).status_code == 200
        assert time.monotonic() - started < 2
    finally:
        shared.redis.proc.send_signal(signal.SIGCONT)
    assert redis_errors(r1) > errors_before  # the read timed out, and was counted


def test_invalidations_resume_after_a_redis_restart(shared: Shared) -> None:
    r2 = shared.resolvers[1]
    shared.put("88.118.8/RESUMED", "https://pumps.example/before")
    assert requests.get(r2.api("88.118.8/RESUMED")).status_code == 200
    shared.redis.stop()
    shared.redis.start()
    time.sleep(2.5)  # both sides retry after redis_retry_s and subscribe again

    def new_value_seen() -> bool:
        shared.put("88.118.8/RESUMED", "https://pumps.example/after")
        value = requests.get(r2.api("88.118.8/RESUMED")).json()["values"][0]["data"]["value"]
        return value == "https://pumps.example/after"

    eventually(new_value_seen, seconds=5)


def test_worker_processes_share_one_port_and_the_redis_cache(
    shared: Shared, tmp_path: Path
) -> None:
    (tmp_path / "w").mkdir()
    cache = f'[cache]\nredis_url = "{shared.redis.url}"\nredis_namespace = "t{shared.redis.port}"\n'
    workers = NodeProcess(
        tmp_path / "w",
        prefix=None,
        roots=[shared.province.url],
        extra=cache,
        http_options="workers = 2",
    )
    try:
        # the node answers once its first worker listens; the second may start later
        started: set[int] = set()

        def both_listening() -> bool:
            with requests.Session() as s:  # a new connection, so either worker may take it
                started.add(s.get(f"{workers.url}/api/status").json()["pid"])
            return len(started) == 2

        eventually(both_listening, seconds=10)
        shared.put("88.118.8/WORKERS", "https://pumps.example/workers")
        with requests.Session() as s:
            assert s.get(workers.api("88.118.8/WORKERS")).status_code == 200
        # the answer is stored in Redis after it is sent (fire and forget): a lookup on the
        # other process racing that write would ask upstream too, as it may
        client = redis.Redis(port=shared.redis.port)
        eventually(lambda: client.exists(f"t{shared.redis.port}:a:88.118.8/WORKERS") == 1, 3)
        for _ in range(19):
            with requests.Session() as s:  # a new connection each time
                assert s.get(workers.api("88.118.8/WORKERS")).status_code == 200
        seen: dict[int, dict] = {}
        for _ in range(60):
            with requests.Session() as s:
                st = s.get(f"{workers.url}/api/status").json()
                seen[st["pid"]] = st["cache"]
        assert len(seen) == 2  # the kernel spread connections over both processes
        # the first process to miss asked upstream and filled Redis; the other found it there
        assert sum(c["upstream_queries"] for c in seen.values()) == 1
        assert sum(c["l2_hits"] for c in seen.values()) == 1

        # /metrics answers for the node, whichever worker takes the scrape: counters added
        # up (they jumped between the two workers' own figures), gauges one per worker
        totals, pids = [], set()
        for _ in range(20):
            with requests.Session() as s:
                text = s.get(f"{workers.url}/metrics").text
            totals.append(_sample(text, "tierid_http_requests_total"))
            pids |= set(re.findall(r'^tierid_cache_entries\{worker="(\d+)"', text, re.M))
        assert totals == sorted(totals) and totals[-1] >= 100, totals
        assert _sample(text, "tierid_cache_l2_hits_total") == 1  # one process's hit, counted once
        assert pids == {str(pid) for pid in seen}
    finally:
        workers.stop()


def _sample(text: str, name: str) -> float:
    """The value of the one sample of ``name`` in a Prometheus exposition."""
    (line,) = [x for x in text.splitlines() if x.startswith((name + " ", name + "{"))]
    return float(line.rsplit(" ", 1)[1])


def test_malformed_shared_entries_are_misses(shared: Shared) -> None:
    """Whatever else writes into the namespace, a lookup neither hangs nor fails."""
    client = redis.Redis(port=shared.redis.port)
    ns = f"t{shared.redis.port}:a:"
    shared.put("88.118.8/GARBLED-1", "https://pumps.example/g1")
    shared.put("88.118.8/GARBLED-2", "https://pumps.example/g2")
    client.set(ns + "88.118.8/GARBLED-1", b"\x05")  # a msgpack integer, not an entry
    client.set(ns + "88.118.8/GARBLED-2", b"\x93\x01\x02\x03")  # a 3-element array
    for handle in ("88.118.8/GARBLED-1", "88.118.8/GARBLED-2"):
        r = requests.get(shared.resolvers[1].api(handle), timeout=5)
        assert r.status_code == 200 and r.json()["values"][0]["data"]["value"].startswith(
            "https://"
        )


def test_an_operator_flush_reaches_redis_and_every_resolver(shared: Shared) -> None:
    r1, r2 = shared.resolvers
    admin = {"Authorization": "Bearer op-token"}
    client = redis.Redis(port=shared.redis.port)
    for name in ("FLUSH-A", "FLUSH-B"):
        shared.put(f"88.118.8/{name}", "https://pumps.example/f")
        for r in (r1, r2):
            assert requests.get(r.api(f"88.118.8/{name}")).status_code == 200
    assert requests.get(r1.api("88.118.8/FLUSH-GONE")).status_code == 404
    ns = f"t{shared.redis.port}:a:"
    assert client.exists(ns + "88.118.8/FLUSH-A", ns + "88.118.8/FLUSH-GONE") == 2

    flushed = requests.delete(f"{r1.url}/api/cache", params={"negative": "true"}, headers=admin)
    assert flushed.json()["flushed"] >= 1
    assert not client.exists(ns + "88.118.8/FLUSH-GONE") and client.exists(ns + "88.118.8/FLUSH-A")
    listing = requests.get(f"{r1.url}/api/cache", params={"negative": "true"}, headers=admin)
    assert listing.json()["count"] == 0

    requests.delete(f"{r1.url}/api/cache", params={"prefix": "88.118"}, headers=admin)
    assert not client.exists(ns + "88.118.8/FLUSH-A", ns + "88.118.8/FLUSH-B")

    def r2_forgot() -> bool:
        listing = requests.get(f"{r2.url}/api/cache", params={"prefix": "88.118.8"}, headers=admin)
        return not any(e["handle"].startswith("88.118.8/FLUSH-") for e in listing.json()["entries"])

    eventually(r2_forgot, seconds=3)
