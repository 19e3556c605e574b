"""The resolver's L1 cache over real processes: hits without upstream traffic, one upstream
query for 100 concurrent misses, negative caching and its flush, bypass for authoritative
reads, bounded stale answers when the enterprise node dies, metrics."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import requests

from tests.conftest import NodeProcess

PUMP = [
    {"index": 1, "type": "URL", "data": "https://pumps.example/1"},
    {"index": 2, "type": "DESC", "data": "pump"},
    {"index": 2005, "type": "COST", "data": "1830 CNY", "permissions": "1100"},
]
CACHE = "[cache]\nmax_ttl = 2\nnegative_ttl = 600\nstale_ttl = 600\n"


@dataclass
class Tiers:
    province: NodeProcess
    enterprise: NodeProcess
    resolver: NodeProcess
    token: str

    def put(self, handle: str) -> None:
        r = self.enterprise.session(self.enterprise.operator).put(
            self.enterprise.api(handle), json=PUMP
        )
        assert r.status_code in (200, 201), r.text

    def enterprise_requests(self) -> int:
        return self.enterprise.status()["requests"]

    def admin(self) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {self.token}"
        return s


def start_tiers(root: Path) -> Tiers:
    for name in ("prov", "ent", "res"):
        (root / name).mkdir()
    (root / "res" / "op.token").write_text("operator-token\n")
    province = NodeProcess(root / "prov", prefix="88.118")
    enterprise = NodeProcess(root / "ent", prefix="88.118.8")
    resolver = NodeProcess(
        root / "res",
        prefix=None,
        roots=[province.url],
        extra=CACHE,
        node_options='operator_token_file = "op.token"',
    )
    province.delegate("88.118.8", enterprise)
    return Tiers(province, enterprise, resolver, "operator-token")


def stop_tiers(t: Tiers) -> None:
    for node in (t.resolver, t.enterprise, t.province):
        node.stop()


@pytest.fixture(scope="module")
def tiers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tiers]:
    t = start_tiers(tmp_path_factory.mktemp("cache"))
    try:
        yield t
    finally:
        stop_tiers(t)


def test_a_hit_costs_no_upstream_query_and_matches_the_miss(tiers: Tiers) -> None:
    tiers.put("88.118.8/HIT")
    miss = requests.get(tiers.resolver.api("88.118.8/HIT"))
    before = tiers.enterprise_requests()
    hit = requests.get(tiers.resolver.api("88.118.8/hit"))
    filtered = requests.get(tiers.resolver.api("88.118.8/HIT"), params={"type": "DESC"})
    assert tiers.enterprise_requests() == before + 1  # only the status call itself
    assert miss.json() == {**hit.json(), "handle": "88.118.8/HIT"}
    assert hit.json()["handle"] == "88.118.8/hit"
    assert [v["index"] for v in hit.json()["values"]] == [1, 2]  # private values never cached
    assert [v["index"] for v in filtered.json()["values"]] == [2]
    assert tiers.resolver.status()["cache"]["hits"] >= 2


def test_concurrent_misses_make_one_upstream_query(tiers: Tiers) -> None:
    tiers.put("88.118.8/FLIGHT")
    before = tiers.resolver.status()["cache"]["upstream_queries"]
    ent_before = tiers.enterprise_requests()

    async def burst() -> list[tuple[int, bytes]]:
        async with aiohttp.ClientSession() as s:

            async def one() -> tuple[int, bytes]:
                async with s.get(tiers.resolver.api("88.118.8/FLIGHT")) as r:
                    return r.status, await r.read()

            return await asyncio.gather(*(one() for _ in range(100)))

    results = asyncio.run(burst())
    assert {status for status, _ in results} == {200}
    assert len({json.loads(body)["values"][0]["data"]["value"] for _, body in results}) == 1
    assert tiers.resolver.status()["cache"]["upstream_queries"] == before + 1
    assert tiers.enterprise_requests() == ent_before + 2  # one lookup, one status call


def test_not_found_is_cached_until_flushed(tiers: Tiers) -> None:
    url = tiers.resolver.api("88.118.8/LATER")
    assert requests.get(url).status_code == 404
    tiers.put("88.118.8/LATER")
    assert requests.get(url).status_code == 404  # the negative answer is still fresh
    listing = (
        tiers.admin().get(f"{tiers.resolver.url}/api/cache", params={"negative": "true"}).json()
    )
    assert any(
        e["handle"] == "88.118.8/LATER" and e["kind"] == "notfound" for e in listing["entries"]
    )
    r = tiers.admin().delete(f"{tiers.resolver.url}/api/cache", params={"negative": "true"})
    assert r.json()["flushed"] >= 1
    assert requests.get(url).status_code == 200


def test_cache_administration_needs_the_operator_token(tiers: Tiers) -> None:
    base = f"{tiers.resolver.url}/api/cache"
    r = requests.get(base)
    assert (r.status_code, r.json()["responseCode"]) == (401, 402)
    r = requests.delete(base, params={"all": "true"}, headers={"Authorization": "Bearer nope"})
    assert (r.status_code, r.json()["responseCode"]) == (403, 403)
    r = tiers.admin().delete(base)
    assert (r.status_code, r.json()["responseCode"]) == (400, 4)
    tiers.put("88.118.8/FLUSH-ME")
    for _ in range(2):  # a miss, then a hit
        requests.get(tiers.resolver.api("88.118.8/FLUSH-ME"))
    entries = {e["handle"]: e for e in tiers.admin().get(base).json()["entries"]}
    assert (
        entries["88.118.8/FLUSH-ME"]["level"] == "l1" and entries["88.118.8/FLUSH-ME"]["hits"] >= 1
    )
    assert tiers.admin().delete(base, params={"handle": "88.118.8/flush-me"}).json()["flushed"] == 1
    assert tiers.admin().delete(base, params={"prefix": "88.118"}).json()["flushed"] >= 1
    assert tiers.admin().get(base, params={"prefix": "88.118.8"}).json()["count"] == 0


def test_cache_cli(tiers: Tiers, tmp_path: Path) -> None:
    from tests.conftest import tierid_cli

    token = tmp_path / "token"
    token.write_text(tiers.token)
    tiers.put("88.118.8/CLI")
    requests.get(tiers.resolver.api("88.118.8/CLI"))
    args = ["--node", tiers.resolver.url, "--token-file", str(token)]
    out = tierid_cli("cache", "list", *args, "--prefix", "88.118.8")
    assert "88.118.8/CLI" in out.stdout and "record" in out.stdout
    out = tierid_cli("cache", "flush", *args, "--handle", "88.118.8/CLI")
    assert out.stdout.strip() == "flushed 1 entries"
    assert "88.118.8/CLI" not in tierid_cli("cache", "list", *args).stdout
    bad = tmp_path / "bad"
    bad.write_text("nope")
    out = tierid_cli(
        "cache", "list", "--node", tiers.resolver.url, "--token-file", str(bad), check=False
    )
    assert out.returncode == 1 and "wrong operator token" in out.stderr


def test_authoritative_reads_bypass_the_cache(tiers: Tiers) -> None:
    tiers.put("88.118.8/AUTH")
    requests.get(tiers.resolver.api("88.118.8/AUTH"))
    before = tiers.enterprise_requests()
    for _ in range(3):
        assert (
            requests.get(tiers.resolver.api("88.118.8/AUTH"), params={"auth": "true"}).status_code
            == 200
        )
    assert tiers.enterprise_requests() == before + 4


def test_metrics_in_prometheus_text(tiers: Tiers) -> None:
    requests.get(tiers.resolver.api("88.118.8/HIT"))
    text = requests.get(f"{tiers.resolver.url}/metrics").text
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert float(samples['tierid_cache_hits_total{level="l1",kind="record"}']) >= 1
    assert float(samples['tierid_cache_misses_total{level="l1"}']) >= 1
    assert f'tierid_upstream_queries_total{{server="{tiers.enterprise.url}"}}' in samples
    assert "# TYPE tierid_cache_entries gauge" in text


def test_stale_answers_when_the_enterprise_dies(tmp_path: Path) -> None:
    t = start_tiers(tmp_path)
    try:
        t.put("88.118.8/STALE")
        assert requests.get(t.resolver.api("88.118.8/STALE")).status_code == 200
        t.enterprise.stop(signal.SIGKILL)
        time.sleep(2.3)  # past max_ttl = 2: the entry is expired, within stale_ttl
        r = requests.get(t.resolver.api("88.118.8/STALE"))
        assert r.status_code == 200 and "Stale" in r.headers["Warning"]
        assert {v["ttl"] for v in r.json()["values"]} == {30}
        r = requests.get(t.resolver.api("88.118.8/NEVER-SEEN"))
        assert (r.status_code, r.json()["responseCode"]) == (502, 2)
        assert t.resolver.status()["cache"]["stale_answers"] == 1
    finally:
        stop_tiers(t)
