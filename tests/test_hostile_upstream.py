"""A resolver asking a node that answers what no node should: too much, restricted values,
redirects, numbers Python cannot read, novels for error messages. Each is a bad answer
(502, or left out), never a crash, a memory blow-up or a leak."""

from __future__ import annotations

import base64
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from registry.bootstrap import http_site
from tests.conftest import NodeProcess, eventually, free_port


@contextmanager
def hostile_node() -> Iterator[int]:
    """tests/hostile_upstream.py running on a free port (yielded) until the block ends."""
    port = free_port()
    hostile = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("hostile_upstream.py")), str(port)]
    )
    try:
        eventually(lambda: _listening(port))
        yield port
    finally:
        hostile.terminate()
        hostile.wait(10)


@pytest.fixture(scope="module")
def resolver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    with hostile_node() as port:
        node = NodeProcess(
            tmp_path_factory.mktemp("res"), prefix=None, roots=[f"http://127.0.0.1:{port}"]
        )
        try:
            yield node
        finally:
            node.stop()


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


def test_a_delegated_node_cannot_claim_what_it_was_not_delegated(tmp_path: Path) -> None:
    """A node delegated only 88.999's handles made the resolver take it for 88.999's
    registry (and ask it about 88.999.5, delegated elsewhere); one delegated only 88.998's
    registry made it take it for 88.998's handles. Both referrals are now refused."""
    with contextlib.ExitStack() as stack:
        port = stack.enter_context(hostile_node())
        for name in ("national", "l", "h", "res"):
            (tmp_path / name).mkdir()
        national = NodeProcess(tmp_path / "national", prefix="88")
        stack.callback(national.stop)
        elsewhere = NodeProcess(tmp_path / "l", prefix="88.999.5")
        stack.callback(elsewhere.stop)
        handles = NodeProcess(tmp_path / "h", prefix="88.998")
        stack.callback(handles.stop)
        resolver = NodeProcess(tmp_path / "res", prefix=None, roots=[national.url])
        stack.callback(resolver.stop)
        hostile_site = base64.b64encode(http_site("127.0.0.1", port).to_wire()).decode()

        def site(kind: str, data: str) -> dict:
            return {"index": 1 if kind == "HS_SITE" else 2, "type": kind,
                    "data": {"format": "base64", "value": data}}  # fmt: skip

        operator = national.session(national.operator)
        handles_site = base64.b64encode(handles.site().to_wire()).decode()
        records = {
            "0.NA/88.999": [site("HS_SITE", hostile_site)],
            "0.NA/88.998": [site("HS_SITE", handles_site), site("HS_SITE.PREFIX", hostile_site)],
        }
        for handle, values in records.items():
            assert operator.put(national.api(handle), json=values).status_code == 201
        national.delegate("88.999.5", elsewhere)
        real = [{"index": 1, "type": "URL", "data": "https://real.example"}]
        for node, handle in ((elsewhere, "88.999.5/REC"), (handles, "88.998/OTHER")):
            assert node.session(node.operator).put(node.api(handle), json=real).ok

        requests.get(resolver.api("88.999/X"), timeout=10)  # the claim, refused: a 502
        requests.get(resolver.api("88.998.7/ANY"), timeout=10)
        for handle in ("88.999.5/REC", "88.998/OTHER"):
            got = requests.get(resolver.api(handle), timeout=10).json()
            assert got["values"][0]["data"]["value"] == "https://real.example", (handle, got)
