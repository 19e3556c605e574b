"""Three tiers as separate processes: a national node (88), a provincial node (88.118)
hosting one enterprise itself (88.118.9) and delegating another to its own node
(88.118.8), and a recursive resolver that knows only the national node."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from resolver.http_client import HandleHttpClient
from tests.conftest import NodeProcess, free_port


@dataclass
class Federation:
    national: NodeProcess
    province: NodeProcess
    pumps: NodeProcess
    resolver: NodeProcess

    def nodes(self) -> list[NodeProcess]:
        return [self.national, self.province, self.pumps, self.resolver]


PUMP = [
    {"index": 1, "type": "URL", "data": "https://pumps.example/1"},
    {"index": 2001, "type": "MODEL", "data": "CP-200"},
]


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    started: list[NodeProcess] = []
    try:
        national = NodeProcess(tmp_path_factory.mktemp("national"), prefix="88")
        started.append(national)
        province = NodeProcess(tmp_path_factory.mktemp("province"), prefix="88.118")
        started.append(province)
        pumps = NodeProcess(tmp_path_factory.mktemp("pumps"), prefix="88.118.8")
        started.append(pumps)
        resolver = NodeProcess(
            tmp_path_factory.mktemp("resolver"), prefix=None, roots=[national.url]
        )
        started.append(resolver)
        national.delegate("88.118", province)
        province.delegate("88.118.8", pumps)
        province.create_enterprise("88.118.9", b"motor-secret")
        assert (
            pumps.session(pumps.operator).put(pumps.api("88.118.8/PUMP-1"), json=PUMP).status_code
            == 201
        )
        assert (
            pumps.session(pumps.operator).put(pumps.api("88.118.8/PUMP-2"), json=PUMP).status_code
            == 201
        )
        motors = province.session("300:0.NA/88.118.9")
        assert motors.put(province.api("88.118.9/MOTOR-1"), json=PUMP).status_code == 201
        yield Federation(national, province, pumps, resolver)
    finally:
        for node in started:
            node.stop()


def test_authorities_refer_down_a_tier(fed: Federation) -> None:
    r = requests.get(fed.national.api("88.118.8/PUMP-1"))
    body = r.json()
    assert (r.status_code, body["responseCode"], body["referralHandle"]) == (
        300,
        303,
        "0.NA/88.118",
    )
    assert {v["type"] for v in body["values"]} == {"HS_SITE.PREFIX"}
    assert (
        body["values"][0]["data"]["value"]["servers"][0]["interfaces"][0]["port"]
        == fed.province.port
    )
    r = requests.get(fed.province.api("88.118.8/PUMP-1"))
    assert (r.status_code, r.json()["responseCode"], r.json()["referralHandle"]) == (
        300,
        303,
        "0.NA/88.118.8",
    )
    r = requests.get(fed.province.api("0.NA/88.118.8"))
    assert r.json()["responseCode"] == 1  # the delegation record itself is answered here
    r = requests.get(fed.national.api("88.999/X"))
    assert (r.status_code, r.json()["responseCode"]) == (404, 100)
    r = requests.get(fed.national.api("77/X"))
    assert (r.status_code, r.json()["responseCode"]) == (400, 301)


def test_resolver_walks_three_tiers_then_goes_straight_to_the_enterprise(fed: Federation) -> None:
    r = requests.get(fed.resolver.api("88.118.8/pump-1"))
    body = r.json()
    assert (r.status_code, body["responseCode"], body["handle"]) == (200, 1, "88.118.8/pump-1")
    assert [v["data"]["value"] for v in body["values"]] == ["https://pumps.example/1", "CP-200"]
    assert body["values"][0]["timestamp"].endswith("Z")

    before = {n.prefix: n.status()["requests"] for n in (fed.national, fed.province, fed.pumps)}
    r = requests.get(fed.resolver.api("88.118.8/PUMP-2"), params={"type": "MODEL"})
    assert [v["data"]["value"] for v in r.json()["values"]] == ["CP-200"]
    after = {n.prefix: n.status()["requests"] for n in (fed.national, fed.province, fed.pumps)}
    # status calls themselves count once each; the lookup touched the enterprise only
    assert after["88"] == before["88"] + 1
    assert after["88.118"] == before["88.118"] + 1
    assert after["88.118.8"] == before["88.118.8"] + 2

    # a sibling enterprise: the province is known, the national node is skipped
    national_before = fed.national.status()["requests"]
    r = requests.get(fed.resolver.api("88.118.9/MOTOR-1"))
    assert r.json()["responseCode"] == 1
    assert fed.national.status()["requests"] == national_before + 1

    status = fed.resolver.status()["resolver"]
    assert fed.pumps.url in status["knownPrefixes"]["88.118.8"]
    assert all(s["up"] and s["latencyMs"] is not None for s in status["servers"])


def test_resolver_web_proxy_redirects_across_tiers(fed: Federation) -> None:
    r = requests.get(f"{fed.resolver.url}/88.118.8/PUMP-1", allow_redirects=False)
    assert (r.status_code, r.headers["Location"]) == (302, "https://pumps.example/1")


def test_dot_segments_name_their_own_records_across_tiers(fed: Federation) -> None:
    """``.`` and ``..`` are ordinary suffix characters: ``88.118.8/Y/../SECRET`` is not
    ``88.118.8/SECRET``. The HTTP client and the resolver's upstream used to let yarl drop
    dot segments from the path, so the resolver answered (and cached) SECRET's values under
    the dotted name."""
    dotted = ["88.118.8/Y/../SECRET", "88.118.8/./SECRET", "88.118.8/.."]
    everything = ["88.118.8/SECRET", *dotted]

    async def write() -> None:
        async with HandleHttpClient(
            fed.pumps.url, identity=fed.pumps.operator, secret=b"operator-secret"
        ) as client:
            for handle in everything:
                values = [{"index": 1, "type": "URL", "data": f"https://pumps.example/{handle}"}]
                await client.put(handle, values)

    asyncio.run(write())
    for handle in everything:
        for node in (fed.pumps, fed.resolver):
            prefix, suffix = handle.split("/", 1)
            r = requests.get(f"{node.url}/api/handles/{prefix}/{suffix.replace('.', '%2E')}")
            assert r.json()["values"][0]["data"]["value"] == f"https://pumps.example/{handle}", (
                node.url,
                handle,
            )


def test_not_found_answers_come_through_the_walk(fed: Federation) -> None:
    for handle in ("88.118.8/NOPE", "88.118.77/X", "88.999/X"):
        r = requests.get(fed.resolver.api(handle))
        assert (r.status_code, r.json()["responseCode"]) == (404, 100), handle
    r = requests.get(fed.resolver.api("88.118.8/NOPE"), params={})
    assert r.json()["handle"] == "88.118.8/NOPE"
    r = requests.get(fed.resolver.api("99.99/X"))  # a prefix no root knows: the error names
    assert r.json()["handle"] == "99.99/X", r.text  # what was asked, not 0.NA/99.99


def test_a_referral_loop_is_an_error_not_a_hang(fed: Federation) -> None:
    fed.national.delegate("88.666", fed.national)  # 88.666's registry points back at itself
    started = time.monotonic()
    r = requests.get(fed.resolver.api("88.666.1/X"))
    assert (r.status_code, r.json()["responseCode"]) == (508, 6)
    assert "loop" in r.json()["message"]
    assert time.monotonic() - started < 3


def test_a_dead_end_site_fails_clearly_within_the_time_bounds(fed: Federation) -> None:
    dead = NodeProcess.__new__(NodeProcess)
    dead.port = free_port()  # nothing listens there
    fed.national.delegate("88.555", dead)
    started = time.monotonic()
    r = requests.get(fed.resolver.api("88.555.1/X"))
    elapsed = time.monotonic() - started
    assert (r.status_code, r.json()["responseCode"]) == (502, 2)
    assert f"127.0.0.1:{dead.port}" in r.json()["message"]
    assert elapsed < 3


def test_a_silent_server_times_out_within_the_request_bound(fed: Federation) -> None:
    """A server that accepts connections but never answers costs one request timeout."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        mute = NodeProcess.__new__(NodeProcess)
        mute.port = silent.getsockname()[1]
        fed.national.delegate("88.444", mute)
        started = time.monotonic()
        r = requests.get(fed.resolver.api("88.444.1/X"))
        elapsed = time.monotonic() - started
    assert (r.status_code, r.json()["responseCode"]) == (502, 2)
    assert "Timeout" in r.json()["message"]
    assert 0.4 < elapsed < 3


ROGUE = """
import json, sys
from aiohttp import web
site = json.loads(sys.argv[2])
async def refer(request):
    body = {"responseCode": 303, "handle": "x", "referralHandle": "0.NA/88",
            "values": [{"index": 1, "type": "HS_SITE.PREFIX", "data": site, "ttl": 86400}]}
    return web.json_response(body, status=300)
app = web.Application()
app.router.add_get("/{tail:.*}", refer)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def test_a_node_cannot_redirect_prefixes_it_does_not_serve(fed: Federation) -> None:
    """A rogue enterprise node answers every lookup with a referral claiming the whole
    national prefix 88; the resolver refuses it and keeps resolving everything else."""
    import json
    import subprocess
    import sys

    from registry.bootstrap import http_site
    from resolver.json_values import data_to_json
    from resolver.values import HS_SITE

    port = free_port()
    site = data_to_json(HS_SITE, http_site("127.0.0.1", port).to_wire())
    rogue = subprocess.Popen([sys.executable, "-c", ROGUE, str(port), json.dumps(site)])
    try:
        stub = NodeProcess.__new__(NodeProcess)
        stub.port = port
        fed.national.delegate("88.777", stub)
        deadline = time.monotonic() + 10
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/x", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        r = requests.get(fed.resolver.api("88.777/ANY"))
        assert (r.status_code, r.json()["responseCode"]) == (502, 2)
        assert "outside what it serves" in r.json()["message"]
        r = requests.get(fed.resolver.api("88.118.9/MOTOR-1"), params={"auth": "true"})
        assert r.json()["responseCode"] == 1
        known = fed.resolver.status()["resolver"]["knownPrefixes"]
        rogue_served = {p for p, urls in known.items() if any(f":{port}" in u for u in urls)}
        assert rogue_served == {"88.777"}  # what the national node delegated to it, no more
    finally:
        rogue.terminate()
        rogue.wait(10)


def test_a_moved_prefix_is_found_again(fed: Federation, tmp_path: Path) -> None:
    """The pump maker moves 88.118.8 to a new node. Its old node, which the resolver knew,
    no longer homes it and only refers back to itself; the resolver forgets the old place
    and walks the tiers again instead of failing. (Runs last: it moves a module prefix.)"""
    assert requests.get(fed.resolver.api("88.118.8/PUMP-1")).json()["responseCode"] == 1
    new_home = NodeProcess(tmp_path, prefix="88.118.8")
    try:
        new_home.session(new_home.operator).put(new_home.api("88.118.8/PUMP-MOVED"), json=PUMP)
        fed.province.delegate("88.118.8", new_home)
        unhome = fed.pumps.session(fed.pumps.operator).delete(
            f"{fed.pumps.url}/api/prefixes/88.118.8"
        )
        assert unhome.status_code == 200
        r = requests.get(fed.resolver.api("88.118.8/PUMP-MOVED"))
        assert (r.status_code, r.json()["responseCode"]) == (200, 1)
        assert fed.resolver.status()["resolver"]["knownPrefixes"]["88.118.8"] == [new_home.url]
    finally:
        new_home.stop()
