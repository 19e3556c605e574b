"""Per-client rate limits: the token buckets on their own, then a real node whose HTTP, Handle
and DNS faces slow a flood from one address (127.0.0.1) while another (127.0.0.2) is served
as usual."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator

import dns.message
import dns.query
import pytest

from resolver.hdl_codec import decode_message, encode_message
from resolver.hdl_types import Envelope, Header, Message, OpFlag, ResolutionRequest
from resolver.ratelimit import RateLimiter, RateLimitSettings
from tests.conftest import PUMPS, PUMPS_ADMIN, NodeProcess, free_port

RECORD = f"{PUMPS}/RL-1"
OTHER = "127.0.0.2"  # another client on the loopback network


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 4, clock=clock)
    assert [limiter.wait("a") for _ in range(4)] == [0.0] * 4
    assert limiter.wait("a") == pytest.approx(0.5)  # one token comes every half second
    assert limiter.wait("b") == 0.0  # another address has its own bucket
    clock.now += 0.5
    assert limiter.wait("a") == 0.0
    assert limiter.wait("a") > 0
    clock.now += 60
    assert [limiter.wait("a") for _ in range(5)].count(0.0) == 4  # refilled to the burst only
    assert limiter.stats.limited == 3


def test_exempt_networks_and_the_bound_on_remembered_clients() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 1, max_clients=2, exempt=["10.0.0.0/8", "::1/128"], clock=clock)
    assert all(limiter.wait("10.1.2.3") == 0.0 for _ in range(50))
    assert all(limiter.wait("::1") == 0.0 for _ in range(50))
    assert limiter.wait("192.0.2.1") == 0.0 and limiter.wait("192.0.2.1") > 0
    limiter.wait("192.0.2.2")
    limiter.wait("192.0.2.3")  # the least recently seen (192.0.2.1) is forgotten
    assert limiter.wait("192.0.2.1") == 0.0


def test_limits_are_off_unless_configured() -> None:
    assert RateLimiter.from_settings(RateLimitSettings()) is None
    limiter = RateLimiter.from_settings(RateLimitSettings(requests_per_second=3))
    assert limiter is not None and limiter.burst == 6
    with pytest.raises(ValueError):
        RateLimiter(0, 1)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    dns_port = free_port()
    n = NodeProcess(
        tmp_path_factory.mktemp("node"),
        handle=True,
        extra=f"[ratelimit]\nrequests_per_second = 2\nburst = 5\n"
        f'[dns]\nenabled = true\nport = {dns_port}\nzone = "id.tierid.test."\n',
    )
    n.dns_port = dns_port  # type: ignore[attr-defined]
    try:
        n.create_enterprise(PUMPS, b"pump-secret")
        value = [{"index": 1, "type": "URL", "data": "https://p.example.cn/rl"}]
        n.session(PUMPS_ADMIN).put(n.api(RECORD), json=value).raise_for_status()
        yield n
    finally:
        n.stop()


def _http_get(node: NodeProcess, source: str) -> tuple[int, dict, str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=5, source_address=(source, 0))
    try:
        conn.request("GET", f"/api/handles/{RECORD}")
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read()), resp.getheader("Retry-After")
    finally:
        conn.close()


def test_http_answers_429_with_retry_after_to_the_flood_only(node: NodeProcess) -> None:
    statuses = [_http_get(node, "127.0.0.1") for _ in range(12)]
    codes = [s for s, _, _ in statuses]
    assert codes.count(200) <= 6 and 429 in codes  # the burst (5), maybe one refilled
    limited = next(s for s in statuses if s[0] == 429)
    assert limited[1]["responseCode"] == 3 and int(limited[2]) >= 1
    assert _http_get(node, OTHER)[0] == 200  # someone else is not slowed


def _hdl_request(request_id: int) -> bytes:
    header = Header(1, 0, int(OpFlag.PO), 0xFFFF, 0, 0)
    return encode_message(
        Message(Envelope(request_id=request_id), header, ResolutionRequest(RECORD))
    )


def _udp_answers(node: NodeProcess, source: str, count: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(0.5)
        for i in range(count):
            s.sendto(_hdl_request(1000 + i), ("127.0.0.1", node.handle_port))
        answered = 0
        try:
            while True:
                s.recv(4096)
                answered += 1
        except TimeoutError:
            return answered


def _tcp_answer(node: NodeProcess, request_id: int) -> Message:
    with socket.create_connection(("127.0.0.1", node.handle_port), timeout=5) as s:
        s.sendall(_hdl_request(request_id))
        head = s.recv(20, socket.MSG_WAITALL)
        rest = s.recv(int.from_bytes(head[16:20], "big"), socket.MSG_WAITALL)
    return decode_message(head + rest)


def test_handle_udp_drops_the_flood_and_tcp_answers_too_busy(node: NodeProcess) -> None:
    assert _udp_answers(node, "127.0.0.1", 30) <= 7
    assert _udp_answers(node, OTHER, 3) == 3
    answers = [_tcp_answer(node, 70 + i) for i in range(10)]
    busy = [a for a in answers if a.header.rc == 3]
    assert busy and busy[0].envelope.request_id in range(70, 80)
    assert [a.envelope.request_id for a in answers] == list(range(70, 80))


def test_dns_drops_the_flood_over_udp(node: NodeProcess) -> None:
    name = "RL-1.8.118.88.id.tierid.test."
    query = dns.message.make_query(name, "NAPTR")
    port = node.dns_port  # type: ignore[attr-defined]
    answered = 0
    for _ in range(20):
        try:
            dns.query.udp(query, "127.0.0.1", port=port, timeout=0.3)
            answered += 1
        except dns.exception.Timeout:
            pass
    assert answered <= 7
    other = dns.query.udp(query, "127.0.0.1", port=port, timeout=2, source=OTHER)
    assert other.rcode() == 0


def test_metrics_count_what_was_held_back(node: NodeProcess) -> None:
    status, _, _ = _http_get(node, "127.0.0.3")
    assert status == 200
    conn = http.client.HTTPConnection(
        "127.0.0.1", node.port, timeout=5, source_address=("127.0.0.4", 0)
    )
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    limited = next(
        line for line in text.splitlines() if line.startswith("tierid_rate_limited_total")
    )
    assert float(limited.split()[-1]) >= 20
