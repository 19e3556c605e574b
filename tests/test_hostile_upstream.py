"""A resolver asking a node that answers what no node should: too much, restricted values,
redirects, numbers Python cannot read, novels for error messages. Each is a bad answer
(502, or left out), never a crash, a memory blow-up or a leak."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import NodeProcess, eventually, free_port


@pytest.fixture(scope="module")
def resolver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    port = free_port()
    hostile = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("hostile_upstream.py")), str(port)]
    )
    node = None
    try:
        eventually(lambda: _listening(port))
        node = NodeProcess(
            tmp_path_factory.mktemp("res"), prefix=None, roots=[f"http://127.0.0.1:{port}"]
        )
        yield node
    finally:
        if node is not None:
            node.stop()
        hostile.terminate()
        hostile.wait(10)


def _listening(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/api/handles/77/x", timeout=1).ok
    except requests.ConnectionError:
        return False


def _get(node: NodeProcess, handle: str) -> requests.Response:
    return requests.get(node.api(handle), timeout=10)


def test_an_answer_over_the_size_limit_is_a_bad_answer(resolver: NodeProcess) -> None:
    r = _get(resolver, "77/huge")  # 5 MB: it was read whole, and a 400 MB one took 1.3 GB
    assert (r.status_code, r.json()["responseCode"]) == (502, 2), r.text[:300]
    assert "more than" in r.json()["message"]


def test_restricted_values_are_neither_served_nor_kept(resolver: NodeProcess) -> None:
    for _ in range(2):  # from upstream, then from the cache
        values = _get(resolver, "77/private").json()["values"]
        assert [v["type"] for v in values] == ["URL"]


def test_a_redirect_is_not_followed(resolver: NodeProcess) -> None:
    r = _get(resolver, "77/redirect")  # to anywhere the node liked
    assert r.status_code == 502 and "s3cr3t" not in r.text


def test_a_number_python_cannot_read_is_a_bad_answer(resolver: NodeProcess) -> None:
    r = _get(resolver, "77/bigttl")  # int() refuses 5,000 digits: it was a 500
    assert (r.status_code, r.json()["responseCode"]) == (502, 2), r.text[:300]


def test_an_upstream_error_message_is_cut_short(resolver: NodeProcess) -> None:
    for _ in range(2):  # it is cached as the "not found" answer, and counted at its size
        r = _get(resolver, "77/chatty-notfound")
        assert (r.status_code, r.json()["responseCode"]) == (404, 100)
        assert len(r.text) < 2000
    assert _get(resolver, "77/fine").json()["values"][0]["data"]["value"] == "https://x.example/ok"


def test_the_servers_measured_are_bounded() -> None:
    """Every server named in any site answer was kept for good (30,001 series on /metrics
    after 200 prefixes of 200 servers): the most recently asked are kept."""
    from resolver.upstream import MAX_ENDPOINTS, UpstreamStats

    stats = UpstreamStats()
    for i in range(MAX_ENDPOINTS + 100):
        stats.of(f"http://10.0.{i // 250}.{i % 250}:8000")
    stats.of("http://10.0.0.150:8000")  # asked again: now the most recent
    assert len(stats.endpoints) == MAX_ENDPOINTS
    assert "http://10.0.0.150:8000" in stats.endpoints
    assert "http://10.0.0.1:8000" not in stats.endpoints
