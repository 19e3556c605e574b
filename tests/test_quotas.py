"""Daily quotas per principal, against a real node: registrations (604), write requests (603)
and prefixes (605), per-prefix overrides, batches, the binary protocol, and server admins
not counted. A write over a limit leaves nothing behind."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from registry.quotas import parse_override
from resolver.errors import InvalidHandle, RegistrationLimit
from resolver.hdl_client import HandleClient, SecretKey
from resolver.message import Identity
from resolver.values import HandleValue
from tests.conftest import MOTORS, MOTORS_ADMIN, PUMPS, PUMPS_ADMIN, NodeProcess

QUOTAS = """
[quotas]
requests_per_day = 6
registrations_per_day = 3
prefixes_per_day = 1
overrides = ["88.118.9 registrations_per_day=100 requests_per_day=100"]
"""
URL = [{"index": 1, "type": "URL", "data": "https://p.example.cn/q"}]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    n = NodeProcess(tmp_path_factory.mktemp("node"), handle=True, extra=QUOTAS)
    try:
        n.create_enterprise(PUMPS, b"pump-secret")  # the server admin is not counted
        n.create_enterprise(MOTORS, b"motor-secret")
        yield n
    finally:
        n.stop()


def test_registrations_then_requests_run_out(node: NodeProcess) -> None:
    pumps = node.session(PUMPS_ADMIN)
    for i in range(3):
        assert pumps.put(node.api(f"{PUMPS}/Q-{i}"), json=URL).status_code == 201
    over = pumps.put(node.api(f"{PUMPS}/Q-3"), json=URL)
    assert (over.status_code, over.json()["responseCode"]) == (429, 604), over.text
    assert node.session().get(node.api(f"{PUMPS}/Q-3")).status_code == 404
    # updates are requests, not registrations: three more fit the six a day
    for i in range(3):
        assert pumps.put(node.api(f"{PUMPS}/Q-{i}"), json=URL).status_code == 200
    tired = pumps.delete(node.api(f"{PUMPS}/Q-0"))
    assert (tired.status_code, tired.json()["responseCode"]) == (429, 603), tired.text
    assert node.session().get(node.api(f"{PUMPS}/Q-0")).status_code == 200


def test_a_prefix_override_and_other_principals_have_their_own_counts(node: NodeProcess) -> None:
    motors = node.session(MOTORS_ADMIN)
    for i in range(5):
        assert motors.put(node.api(f"{MOTORS}/Q-{i}"), json=URL).status_code == 201


def test_a_batch_over_the_limit_commits_nothing(node: NodeProcess) -> None:
    admin = node.create_enterprise("88.118.6", b"six-secret")
    items = [{"handle": f"88.118.6/B-{i}", "values": URL} for i in range(4)]
    r = node.session(admin).post(
        f"{node.url}/api/batch", json={"op": "create", "atomic": False, "items": items}
    )
    assert r.json()["responseCode"] == 604, r.text
    assert all(node.session().get(node.api(f"88.118.6/B-{i}")).status_code == 404 for i in range(4))


def test_a_batch_is_held_to_the_strictest_limits_of_its_items(node: NodeProcess) -> None:
    """A batch's first item used to choose its limits: an unreadable first item (no prefix:
    the defaults, here made looser by none) or one under a looser prefix let the rest
    through uncounted."""
    admin = node.create_enterprise("88.118.4", b"four-secret")
    four = node.session(admin)
    for first in ({"handle": 5, "values": URL}, {"handle": "88.118.9/ELSEWHERE", "values": URL}):
        items = [first] + [{"handle": f"88.118.4/S-{i}", "values": URL} for i in range(4)]
        r = four.post(
            f"{node.url}/api/batch", json={"op": "create", "atomic": False, "items": items}
        )
        assert r.json()["responseCode"] == 604, r.text
    assert all(node.session().get(node.api(f"88.118.4/S-{i}")).status_code == 404 for i in range(4))


def test_prefixes_a_day(node: NodeProcess) -> None:
    admin = node.create_enterprise("88.118.7", b"seven-secret")
    seven = node.session(admin)
    site = [{"index": 1, "type": "URL", "data": "https://seven.example.cn"}]
    assert seven.put(node.api("0.NA/88.118.7.1"), json=site).status_code == 201
    over = seven.put(node.api("0.NA/88.118.7.2"), json=site)
    assert (over.status_code, over.json()["responseCode"]) == (429, 605), over.text
    assert node.session().get(node.api("0.NA/88.118.7.2")).status_code == 404


def test_the_binary_protocol_gets_the_same_codes(node: NodeProcess) -> None:
    admin = node.create_enterprise("88.118.5", b"five-secret")
    creds = SecretKey(Identity.from_text(admin), b"five-secret")
    address = ("127.0.0.1", node.handle_port)

    async def register(first: int, count: int) -> None:
        async with HandleClient(credentials=creds) as client:
            for i in range(first, first + count):
                await client.create(address, f"88.118.5/H-{i}", [HandleValue(1, "URL", b"x")])

    asyncio.run(register(0, 3))
    with pytest.raises(RegistrationLimit):
        asyncio.run(register(3, 1))
    assert node.session().get(node.api("88.118.5/H-3")).status_code == 404


@pytest.mark.parametrize(
    "bad", ["88.118.8", "88.118.8 speed=3", "88.118.8 prefixes_per_day=x", "8/8 requests_per_day=1"]
)
def test_malformed_overrides_are_refused(bad: str) -> None:
    with pytest.raises((ValueError, InvalidHandle)):
        parse_override(bad)


def test_an_override_names_a_prefix_and_its_limits() -> None:
    assert parse_override("88.118.8 prefixes_per_day=2") == ("88.118.8", {"prefixes_per_day": 2})
