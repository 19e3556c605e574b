"""Batches of writes: checked first, committed in one transaction, a result per item that
matches the store; in process against the authority, and over HTTP against a real node."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from registry.authority import Authority, RecordLimits
from registry.batch import BatchItem, BatchRejected, ItemResult, Outcome, content
from registry.bootstrap import bootstrap_prefix
from registry.permissions import Authorizer
from registry.storage.sqlite import SQLiteStore
from resolver.codes import ResponseCode as RC
from resolver.errors import AuthenticationNeeded, ServerReadOnly
from resolver.handle import normalise
from resolver.message import Identity
from resolver.values import HandleValue
from tests.conftest import MOTORS_ADMIN, PUMPS, PUMPS_ADMIN, NodeProcess

T = TypeVar("T")
ADMIN = Identity(f"0.NA/{PUMPS}", 300)
OUTSIDER = Identity("0.NA/88.118.9", 300)
C, U, D = Outcome.CREATED, Outcome.UNCHANGED, Outcome.DELETED


def put(op: Any, suffix: str, url: str = "https://p.example/x", size: int = 0) -> BatchItem:
    values = (HandleValue(1, "URL", url.encode()), HandleValue(2000, "NOTE", b"n" * size))
    return BatchItem(op, f"{PUMPS}/{suffix}", values if size else values[:1])


def run(tmp_path: Path, scenario: Callable[[Authority], Awaitable[T]], **kw: Any) -> T:
    """``scenario`` against an authority for pumps and motors over a fresh store."""

    async def go() -> T:
        store = SQLiteStore(tmp_path / "store.sqlite3")
        await store.open()
        try:
            await bootstrap_prefix(store, PUMPS, b"pump-secret")
            await bootstrap_prefix(store, "88.118.9", b"motor-secret")
            limits = RecordLimits(max_values=10, max_value_bytes=64)
            return await scenario(Authority(store, Authorizer([]), limits, **kw))
        finally:
            await store.close()

    return asyncio.run(go())


async def stored(authority: Authority, items: list[BatchItem]) -> list[tuple | None]:
    """What the store holds for each item's identifier (values without timestamps)."""

    def read(txn: Any) -> list[tuple | None]:
        records = [txn.get(normalise(i.handle)) for i in items]
        return [r and tuple(content(v) for v in r.values) for r in records]

    return await authority.store.read(read)


def expected(item: BatchItem) -> tuple:
    return tuple(content(v) for v in item.values)


def outcomes(results: list[ItemResult]) -> list[Outcome]:
    return [r.outcome for r in results]


def test_an_atomic_batch_with_one_invalid_item_commits_nothing(tmp_path: Path) -> None:
    items = [put("create", "A"), put("create", "B", size=65), put("create", "C")]

    async def scenario(authority: Authority) -> None:
        before = await authority.store.last_seq()
        with pytest.raises(BatchRejected) as caught:
            await authority.batch(items, ADMIN, atomic=True)
        results = caught.value.results
        assert outcomes(results) == [Outcome.ABORTED, Outcome.REJECTED, Outcome.ABORTED]
        assert results[1].error is not None and results[1].error.rc == RC.INVALID_VALUE
        assert (caught.value.rc, caught.value.http_status) == (RC.INVALID_VALUE, 400)
        assert caught.value.details["committed"] is False
        assert await stored(authority, items) == [None, None, None]
        assert await authority.store.last_seq() == before

    run(tmp_path, scenario)


def test_a_non_atomic_batch_commits_exactly_the_valid_items(tmp_path: Path) -> None:
    items = [put("create", "A"), put("create", "B", size=65), put("create", "C", size=3)]

    async def scenario(authority: Authority) -> None:
        before = await authority.store.last_seq()
        results = await authority.batch(items, ADMIN, atomic=False)
        assert outcomes(results) == [C, Outcome.REJECTED, C]
        assert "65 bytes" in results[1].to_json()["message"]
        assert await stored(authority, items) == [expected(items[0]), None, expected(items[2])]
        log = await authority.store.changes_since(before)
        assert [(c.op, c.handle, c.actor) for c in log] == [
            ("create", f"{PUMPS}/A", str(ADMIN)),
            ("create", f"{PUMPS}/C", str(ADMIN)),
        ]

    run(tmp_path, scenario)


def test_a_batch_sent_again_changes_nothing(tmp_path: Path) -> None:
    items = [put("upsert", "A"), put("upsert", "B")]

    async def scenario(authority: Authority) -> None:
        assert outcomes(await authority.batch(items, ADMIN, atomic=True)) == [C, C]
        seq = await authority.store.last_seq()
        assert outcomes(await authority.batch(items, ADMIN, atomic=True)) == [U, U]
        assert await authority.store.last_seq() == seq
        changed = [items[0], put("upsert", "B", "https://p.example/v2")]
        assert outcomes(await authority.batch(changed, ADMIN, atomic=True)) == [
            U,
            Outcome.REPLACED,
        ]
        assert await stored(authority, changed) == [expected(i) for i in changed]
        assert await authority.store.last_seq() == seq + 1

    run(tmp_path, scenario)


def test_what_each_op_does_to_present_and_absent_records(tmp_path: Path) -> None:
    async def scenario(authority: Authority) -> None:
        await authority.batch([put("create", "OLD"), put("create", "KEPT")], ADMIN, atomic=True)
        items = [
            put("create", "KEPT", "https://p.example/other"),
            put("update", "NEW"),
            put("update", "OLD", "https://p.example/v2"),
            BatchItem("delete", f"{PUMPS}/GONE"),
        ]
        results = await authority.batch(items, ADMIN, atomic=False)
        assert outcomes(results) == [Outcome.REJECTED, Outcome.REJECTED, Outcome.REPLACED, U]
        assert [r.error and r.error.rc for r in results] == [
            RC.HANDLE_ALREADY_EXISTS,
            RC.HANDLE_NOT_FOUND,
            None,
            None,
        ]
        assert await stored(authority, items[2:3]) == [expected(items[2])]
        gone = [BatchItem("delete", f"{PUMPS}/old")]
        assert outcomes(await authority.batch(gone, ADMIN, atomic=True)) == [D]
        assert await stored(authority, gone) == [None]

    run(tmp_path, scenario)


def test_an_identifier_may_appear_once_per_batch(tmp_path: Path) -> None:
    items = [put("upsert", "A"), put("upsert", "a", "https://p.example/second")]

    async def scenario(authority: Authority) -> None:
        results = await authority.batch(items, ADMIN, atomic=False)
        assert outcomes(results) == [C, Outcome.REJECTED]
        assert results[1].to_json() == {
            "handle": f"{PUMPS}/a",
            "result": "rejected",
            "responseCode": RC.PROTOCOL_ERROR,
            "message": f"{PUMPS}/a is also items[0]",
        }
        assert await stored(authority, items) == [expected(items[0])] * 2

    run(tmp_path, scenario)


def test_permissions_are_checked_per_item_and_equality_is_no_oracle(tmp_path: Path) -> None:
    items = [put("upsert", "A"), BatchItem("upsert", "88.999/X")]

    async def scenario(authority: Authority) -> None:
        await authority.batch(items[:1], ADMIN, atomic=True)
        results = await authority.batch(items, OUTSIDER, atomic=False)
        # the outsider is refused, not told that the record already holds these values
        assert [r.error and r.error.rc for r in results] == [
            RC.INSUFFICIENT_PERMISSIONS,
            RC.SERVER_NOT_RESP,
        ]
        with pytest.raises(AuthenticationNeeded):  # before any item is looked at
            await authority.batch(items[:1], None, atomic=False)

    run(tmp_path, scenario)


def test_a_mirror_refuses_a_batch_as_a_whole(tmp_path: Path) -> None:
    async def scenario(authority: Authority) -> None:
        with pytest.raises(ServerReadOnly):
            await authority.batch([put("create", "A")], ADMIN, atomic=True)

    run(tmp_path, scenario, read_only="a mirror")


# --- over HTTP, against a real node ---------------------------------------------------------


def values(url: str) -> list[dict]:
    return [{"index": 1, "type": "URL", "data": url}]


@pytest.fixture(scope="module")
def pumps(node: NodeProcess) -> requests.Session:
    return node.session(PUMPS_ADMIN)


def batch(session: requests.Session, node: NodeProcess, **body: Any) -> requests.Response:
    return session.post(f"{node.url}/api/batch", json=body)


def test_http_batch_creates_and_a_resend_skips(node: NodeProcess, pumps: requests.Session) -> None:
    items = [
        {"handle": f"{PUMPS}/HB-{i}", "values": values(f"https://p.example/{i}")} for i in range(3)
    ]
    r = batch(pumps, node, op="create", items=items)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["responseCode"], body["committed"]) == (1, True)
    assert body["counts"]["created"] == 3
    assert body["items"][0] == {"handle": f"{PUMPS}/HB-0", "result": "created"}
    for i in range(3):
        got = requests.get(node.api(f"{PUMPS}/HB-{i}")).json()
        assert got["values"][0]["data"]["value"] == f"https://p.example/{i}"
    again = batch(pumps, node, op="create", items=items).json()
    assert [i["result"] for i in again["items"]] == ["skipped"] * 3


def test_http_atomic_batch_with_an_invalid_item_commits_nothing(
    node: NodeProcess, pumps: requests.Session
) -> None:
    items = [
        {"handle": f"{PUMPS}/HA-1", "values": values("https://p.example/1")},
        {"handle": f"{PUMPS}/HA-2", "values": [{"index": "x", "type": "URL", "data": "y"}]},
        {"handle": f"{PUMPS}/HA-3", "values": values("https://p.example/3")},
    ]
    r = batch(pumps, node, op="upsert", items=items)
    assert r.status_code == 400
    body = r.json()
    assert (body["responseCode"], body["committed"]) == (RC.INVALID_VALUE, False)
    assert "items[1]" in body["message"]
    assert [i["result"] for i in body["items"]] == ["aborted", "rejected", "aborted"]
    for i in (1, 2, 3):
        assert requests.get(node.api(f"{PUMPS}/HA-{i}")).status_code == 404

    r = batch(pumps, node, op="upsert", atomic=False, items=items)
    assert r.status_code == 200
    assert [i["result"] for i in r.json()["items"]] == ["created", "rejected", "created"]
    assert [requests.get(node.api(f"{PUMPS}/HA-{i}")).status_code for i in (1, 2, 3)] == [
        200,
        404,
        200,
    ]


def test_http_batch_holds_at_most_2000_items(node: NodeProcess, pumps: requests.Session) -> None:
    items = [{"handle": f"{PUMPS}/N-{i}"} for i in range(2001)]
    r = batch(pumps, node, op="delete", items=items[:2000])
    assert r.status_code == 200, r.text
    assert r.json()["counts"]["skipped"] == 2000
    r = batch(pumps, node, op="delete", items=items)
    assert (r.status_code, r.json()["responseCode"]) == (400, RC.PROTOCOL_ERROR)
    assert "2001 items; a batch holds at most 2000" in r.json()["message"]


def test_http_batch_needs_credentials_and_permissions(node: NodeProcess) -> None:
    items = [{"handle": f"{PUMPS}/HP-1", "values": values("https://p.example/1")}]
    r = batch(requests.Session(), node, op="create", items=items)
    assert (r.status_code, r.json()["responseCode"]) == (401, RC.AUTHENTICATION_NEEDED)
    r = batch(node.session(MOTORS_ADMIN), node, op="create", items=items)
    assert (r.status_code, r.json()["responseCode"]) == (403, RC.INSUFFICIENT_PERMISSIONS)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "body must be"),
        ({"op": "rename", "items": []}, '"op" must be one of'),
        ({"op": "create", "items": {}}, '"items" must be a list'),
        ({"op": "create", "atomic": "yes", "items": []}, '"atomic" must be'),
        ({"op": "create", "items": [], "extra": 1}, "unknown field(s) in the batch: extra"),
    ],
)
def test_http_malformed_batches_are_refused(
    node: NodeProcess, pumps: requests.Session, body: Any, message: str
) -> None:
    r = pumps.post(f"{node.url}/api/batch", json=body)
    assert (r.status_code, r.json()["responseCode"]) == (400, RC.PROTOCOL_ERROR)
    assert message in r.json()["message"]


def test_http_malformed_items_are_rejected_one_by_one(
    node: NodeProcess, pumps: requests.Session
) -> None:
    items = ["not an object", {"values": []}, {"handle": f"{PUMPS}/HM-1", "values": {}}]
    r = batch(pumps, node, op="create", atomic=False, items=items)
    assert r.status_code == 200
    got = [(i["handle"], i["result"], i["responseCode"]) for i in r.json()["items"]]
    assert got == [
        ("", "rejected", RC.PROTOCOL_ERROR),
        ("", "rejected", RC.PROTOCOL_ERROR),
        (f"{PUMPS}/HM-1", "rejected", RC.PROTOCOL_ERROR),
    ]
