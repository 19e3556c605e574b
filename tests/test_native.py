"""The Handle binary face end to end: tierid's client against real node processes over
loopback UDP and TCP, and raw sockets with the codec where the client would hide what the
server sent (packets, flags, ids, replays, garbage).

Three node processes for the whole module: the provincial node ``88.118`` with the binary
face (enterprises 88.118.7/8/9 hosted there), and, for the referral tests only, a national
node ``88`` delegating 88.118 to it and a recursive resolver rooted at the national node's
``hdl://`` endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import random
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests
from conftest import MOTORS, PROVINCE, PUMPS, NodeProcess, eventually, held_back
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from resolver.challenge import pubkey_to_wire
from resolver.codes import ResponseCode as RC
from resolver.errors import (
    AuthenticationFailed,
    AuthenticationNeeded,
    HandleAlreadyExists,
    HandleNotFound,
    InsufficientPermissions,
    InvalidValue,
    NotResponsible,
    ProtocolError,
    ValueAlreadyExists,
    ValuesNotFound,
)
from resolver.hdl_client import HandleClient, PrivateKey, SecretKey
from resolver.hdl_codec import UdpReassembler, decode_message, encode_message, split_udp
from resolver.hdl_types import (
    MAX_MESSAGE_LENGTH,
    ChallengeAnswer,
    Envelope,
    HandleList,
    HandleRequest,
    Header,
    Message,
    MessageFlag,
    OpFlag,
    RemoveValuesRequest,
    ResolutionRequest,
    ResolutionResponse,
    ValuesRequest,
    digest_request,
)
from resolver.hdl_types import OpCode as OC
from resolver.message import Identity, Query
from resolver.typed_data import PROTO_HTTP, PROTO_TCP, PROTO_UDP, SiteInfo
from resolver.values import HandleValue

HOST = "127.0.0.1"
LISTED = "88.118.7"  # an enterprise prefix holding only the handles the listing test makes
PO, KPAL, RD = int(OpFlag.PO), int(OpFlag.KC), int(OpFlag.RD)
OPERATOR_KEY = SecretKey(Identity(f"0.NA/{PROVINCE}", 300), b"operator-secret")
PUMPS_KEY = SecretKey(Identity(f"0.NA/{PUMPS}", 300), b"pump-secret")
MOTORS_KEY = SecretKey(Identity(f"0.NA/{MOTORS}", 300), b"motor-secret")
LISTER_KEY = SecretKey(Identity(f"0.NA/{LISTED}", 300), b"list-secret")

FILTERED = f"{PUMPS}/FILTER"
#: FILTERED's values: index -> (type, data, permissions as JSON); index 5 is not public
FILTER_VALUES = {
    1: ("URL", "https://pumps.example/1", "1110"),
    2: ("URL.mirror", "https://mirror.example/1", "1110"),
    3: ("EMAIL", "pumps@example.com", "1110"),
    4: ("DESC", "a pump", "1110"),
    5: ("NOTE", "private", "1100"),
}
PUBLIC = (1, 2, 3, 4)
BIG = f"{PUMPS}/BIG"
BIG_VALUES = {i: ("DESC", str(i) * 300) for i in range(1, 6)}
_ids = itertools.count(0x5000)


# --- nodes ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hnode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """The provincial node with its binary face, three enterprises and two fixed records."""
    n = NodeProcess(tmp_path_factory.mktemp("province"), handle=True)
    try:
        n.create_enterprise(PUMPS, b"pump-secret")
        n.create_enterprise(MOTORS, b"motor-secret")
        n.create_enterprise(LISTED, b"list-secret")
        put(n, FILTERED, [value_json(i, *v) for i, v in FILTER_VALUES.items()])
        put(n, BIG, [value_json(i, *v) for i, v in BIG_VALUES.items()])
        yield n
    finally:
        n.stop()


@pytest.fixture(scope="module")
def national(hnode: NodeProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """Prefix 88 with a binary face, delegating 88.118 to ``hnode``."""
    n = NodeProcess(tmp_path_factory.mktemp("national"), prefix="88", handle=True)
    try:
        n.delegate(PROVINCE, hnode)
        yield n
    finally:
        n.stop()


@pytest.fixture(scope="module")
def resolver_node(
    national: NodeProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NodeProcess]:
    """A recursive resolver whose only root is the national node's binary face."""
    n = NodeProcess(
        tmp_path_factory.mktemp("resolver"), prefix=None, roots=[national.hdl], handle=True
    )
    try:
        yield n
    finally:
        n.stop()


# --- helpers -------------------------------------------------------------------------------


def value_json(index: int, vtype: str, data: str, permissions: str = "1110") -> dict:
    return {"index": index, "type": vtype, "data": data, "permissions": permissions}


def put(node: NodeProcess, handle: str, values: list[dict], identity: str = "") -> None:
    identity = identity or f"300:0.NA/{PUMPS}"
    r = node.session(identity).put(node.api(handle), json=values, timeout=10)
    assert r.status_code in (200, 201), r.text


def record(node: NodeProcess, handle: str) -> dict[int, str] | None:
    """The record's public values through the HTTP API (index -> data), None if absent."""
    r = requests.get(node.api(handle), timeout=5)
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return {v["index"]: v["data"]["value"] for v in r.json()["values"]}


def homed(node: NodeProcess) -> list[str]:
    return requests.get(f"{node.url}/api/prefixes", timeout=5).json()["prefixes"]


def addr(node: NodeProcess) -> tuple[str, int]:
    return (HOST, node.handle_port)


def call(node: NodeProcess, method: str, *args: Any, creds: Any = None, **kwargs: Any) -> Any:
    """One :class:`HandleClient` operation against ``node``'s binary face."""

    async def go() -> Any:
        async with HandleClient(timeout=5, credentials=creds) as client:
            return await getattr(client, method)(addr(node), *args, **kwargs)

    return asyncio.run(go())


def message(opcode: int, body: Any, flags: int = 0, rc: int = 0) -> Message:
    envelope = Envelope(request_id=next(_ids))
    return Message(envelope, Header(opcode, rc, flags, 0xFFFF, 0, int(time.time()) + 3600), body)


def wire(opcode: int, body: Any, flags: int = 0, rc: int = 0) -> bytes:
    return encode_message(message(opcode, body, flags, rc))


def resolution(handle: str = FILTERED, types: tuple[str, ...] = (), flags: int = PO) -> bytes:
    return wire(OC.RESOLUTION, ResolutionRequest(handle, (), types), flags)


def ids(raw: bytes) -> bytes:
    """Session and request id of an encoded message."""
    return raw[4:12]


def ids_int(raw: bytes) -> int:
    """The request id of an encoded message."""
    return int.from_bytes(raw[8:12], "big")


def patched(raw: bytes, at: int, value: int, size: int = 4) -> bytes:
    """``raw`` with the ``size``-byte big-endian field at ``at`` set to ``value``."""
    return raw[:at] + value.to_bytes(size, "big") + raw[at + size :]


def rc_of(raw: bytes) -> int:
    return int.from_bytes(raw[24:28], "big")


@contextlib.contextmanager
def tcp(node: NodeProcess) -> Iterator[socket.socket]:
    sock = socket.create_connection(addr(node), timeout=3)
    try:
        yield sock
    finally:
        sock.close()


def read_exact(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def read_message(sock: socket.socket) -> bytes | None:
    """One whole message from a TCP stream; None when the server closed it first."""
    head = read_exact(sock, 20)
    if not head:
        return None
    body = read_exact(sock, int.from_bytes(head[16:20], "big"))
    assert len(head) == 20 and len(head) + len(body) == 20 + int.from_bytes(head[16:20], "big")
    return head + body


def exchange(sock: socket.socket, raw: bytes) -> Message:
    sock.sendall(raw)
    reply = read_message(sock)
    assert reply is not None, "the server closed the connection instead of answering"
    return decode_message(reply)


def udp_ask(
    node: NodeProcess, packets: list[bytes], timeout: float = 2.0
) -> tuple[list[bytes], bytes | None]:
    """Send datagrams from one socket; the datagrams of the answer and the whole answer
    (None if none came within ``timeout``)."""
    got: list[bytes] = []
    reassembler = UdpReassembler()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        for packet in packets:
            sock.sendto(packet, addr(node))
        while True:
            try:
                data, _ = sock.recvfrom(65535)
            except TimeoutError:
                return got, None
            got.append(data)
            whole = reassembler.add(data, "server", time.monotonic())
            if whole is not None:
                return got, whole


def answer_to(request: bytes, challenge: Message, nonce: bytes, digest: bytes) -> bytes:
    """The OC 200 answer the pumps admin signs for ``nonce``/``digest``, sent on the
    challenge's session (what ``HandleClient`` does, by hand)."""
    sent = decode_message(request)
    envelope = replace(sent.envelope, session_id=challenge.envelope.session_id)
    header = replace(sent.header, opcode=OC.RESPONSE_TO_CHALLENGE)
    return encode_message(Message(envelope, header, PUMPS_KEY.answer(nonce, digest)))


def challenged(sock: socket.socket, request: bytes) -> Message:
    """Send a write; :returns: the server's RC 402, checked to be a proper challenge."""
    reply = exchange(sock, request)
    assert reply.header.rc == RC.AUTHENTICATION_NEEDED
    assert reply.header.flags & RD and reply.digest is not None and reply.digest.matches(request)
    assert len(reply.body.nonce) == 16 and reply.envelope.session_id != 0
    assert reply.envelope.request_id == decode_message(request).envelope.request_id
    return reply


def create_request(handle: str, flags: int = KPAL) -> bytes:
    values = (HandleValue(1, "URL", b"https://raw.example"),)
    return wire(OC.CREATE_HANDLE, ValuesRequest(handle, values), flags)


# --- 1. every opcode, client against server ------------------------------------------------


@pytest.mark.parametrize("udp", [True, False], ids=["udp", "tcp"])
@pytest.mark.parametrize(
    ("types", "indexes", "expected"),
    [
        ((), (), PUBLIC),
        (("URL",), (), (1,)),
        (("url",), (), (1,)),
        (("URL.",), (), (1, 2)),
        (("URL.MIRROR",), (), (2,)),
        ((), (3,), (3,)),
        (("EMAIL",), (4,), (3, 4)),
        ((), (5,), ()),  # not public: PUBL asks for public values only
        (("NOPE",), (), ()),
    ],
)
def test_resolution_filters_by_type_and_index(
    hnode: NodeProcess, udp: bool, types: tuple, indexes: tuple, expected: tuple
) -> None:
    answer = call(hnode, "resolve", Query(FILTERED.lower(), types, indexes), udp=udp)
    assert answer.handle == FILTERED.lower()
    got = {v.index: (v.type, v.data.decode()) for v in answer.values}
    assert got == {i: FILTER_VALUES[i][:2] for i in expected}
    assert answer.rc == (RC.SUCCESS if expected else RC.VALUES_NOT_FOUND)


@pytest.mark.parametrize(
    ("creds", "expected"),
    [(None, AuthenticationNeeded), (PUMPS_KEY, (*PUBLIC, 5)), (MOTORS_KEY, PUBLIC)],
    ids=["anonymous", "admin", "sibling"],
)
def test_resolving_restricted_values_needs_an_identity_that_may_read(
    hnode: NodeProcess, creds: SecretKey | None, expected: Any
) -> None:
    query = Query(FILTERED, public_only=False)
    if isinstance(expected, type):
        with pytest.raises(expected):
            call(hnode, "resolve", query, creds=creds)
        return
    assert sorted(v.index for v in call(hnode, "resolve", query, creds=creds).values) == list(
        expected
    )


@pytest.mark.parametrize(
    ("handle", "error"),
    [(f"{PUMPS}/NO-SUCH", HandleNotFound), ("99.1/X", NotResponsible)],
)
def test_resolution_errors_come_back_as_their_exceptions(
    hnode: NodeProcess, handle: str, error: type
) -> None:
    with pytest.raises(error):
        call(hnode, "resolve", Query(handle))


def test_site_info_names_the_tcp_udp_and_http_interfaces(hnode: NodeProcess) -> None:
    site = call(hnode, "site_info")
    assert site.primary
    [server] = site.servers
    assert server.address == HOST
    interfaces = {(i.protocol, i.port): i.service_type for i in server.interfaces}
    assert interfaces == {
        (PROTO_TCP, hnode.handle_port): 3,
        (PROTO_UDP, hnode.handle_port): 2,
        (PROTO_HTTP, hnode.port): 3,
    }


def test_create_new_existing_overwritten_and_minted(hnode: NodeProcess) -> None:
    handle = f"{PUMPS}/CREATED"
    first = [HandleValue(1, "URL", b"https://one.example")]
    assert call(hnode, "create", handle, first, creds=PUMPS_KEY) == (handle, True)
    assert record(hnode, handle) == {1: "https://one.example"}

    second = [HandleValue(2, "EMAIL", b"two@example.com")]
    with pytest.raises(HandleAlreadyExists):
        call(hnode, "create", handle, second, creds=PUMPS_KEY)
    assert record(hnode, handle) == {1: "https://one.example"}

    result = call(hnode, "create", handle, second, creds=PUMPS_KEY, overwrite=True)
    assert result == (handle, False)
    assert record(hnode, handle) == {2: "two@example.com"}

    stem = f"{PUMPS}/MINT-"
    minted, created = call(hnode, "create", stem, first, creds=PUMPS_KEY, mint=True)
    assert created and minted.startswith(stem) and len(minted) > len(stem) + 30
    assert record(hnode, minted) == {1: "https://one.example"}
    again, _ = call(hnode, "create", stem, first, creds=PUMPS_KEY, mint=True)
    assert again != minted


def _values(*pairs: tuple[int, str, bytes]) -> list[HandleValue]:
    return [HandleValue(i, t, d) for i, t, d in pairs]


V_ORIGINAL = {1: "https://a.example", 2: "x@example.com"}
V_CASES: list[tuple[str, Callable[..., Any], type | None, dict[int, str] | None]] = [
    (
        "add",
        lambda c, a, h: c.add_values(a, h, _values((3, "DESC", b"d"))),
        None,
        {**V_ORIGINAL, 3: "d"},
    ),
    (
        "add-clash",
        lambda c, a, h: c.add_values(a, h, _values((3, "DESC", b"d"), (2, "EMAIL", b"y@e"))),
        ValueAlreadyExists,
        V_ORIGINAL,
    ),
    (
        "add-overwrite",
        lambda c, a, h: c.add_values(a, h, _values((2, "EMAIL", b"y@e")), overwrite=True),
        None,
        {1: "https://a.example", 2: "y@e"},
    ),
    (
        "modify",
        lambda c, a, h: c.modify_values(a, h, _values((2, "EMAIL", b"y@e"))),
        None,
        {1: "https://a.example", 2: "y@e"},
    ),
    (
        "modify-missing",
        lambda c, a, h: c.modify_values(a, h, _values((2, "EMAIL", b"y@e"), (9, "DESC", b"z"))),
        ValuesNotFound,
        V_ORIGINAL,
    ),
    ("remove", lambda c, a, h: c.remove_values(a, h, [2]), None, {1: "https://a.example"}),
    ("remove-missing", lambda c, a, h: c.remove_values(a, h, [2, 9]), ValuesNotFound, V_ORIGINAL),
    ("delete", lambda c, a, h: c.delete(a, h), None, None),
    ("delete-missing", lambda c, a, h: c.delete(a, h + "-GONE"), HandleNotFound, V_ORIGINAL),
]


@pytest.mark.parametrize(
    ("name", "operation", "error", "after"), V_CASES, ids=[c[0] for c in V_CASES]
)
def test_value_operations_change_exactly_what_they_say(
    hnode: NodeProcess,
    name: str,
    operation: Callable[..., Any],
    error: type | None,
    after: dict[int, str] | None,
) -> None:
    handle = f"{PUMPS}/VALUES-{name.upper()}"
    put(hnode, handle, [value_json(1, "URL", V_ORIGINAL[1]), value_json(2, "EMAIL", V_ORIGINAL[2])])

    async def go() -> None:
        async with HandleClient(timeout=5, credentials=PUMPS_KEY) as client:
            await operation(client, addr(hnode), handle)

    if error is None:
        asyncio.run(go())
    else:
        with pytest.raises(error):
            asyncio.run(go())
    assert record(hnode, handle) == after


UNFIT = {
    "index-0": HandleValue(0, "DESC", b"x"),
    "index-2^31": HandleValue(0x8000_0000, "DESC", b"x"),
    "empty-type": HandleValue(1, "", b"x"),
    "too-large": HandleValue(1, "DESC", b"x" * 5000),  # the node's limit is 4096 bytes
    "ttl-2^31": HandleValue(1, "DESC", b"x", ttl=0x8000_0000),  # HTTP's limit: 2^31 - 1
    "ttl-type-2": HandleValue(1, "DESC", b"x", ttl_type=2),  # 0 relative, 1 absolute
    "permission-bits": HandleValue(1, "DESC", b"x", permissions=0xF0),  # four bits
}


@pytest.mark.parametrize("name", UNFIT)
def test_binary_writes_refuse_values_the_http_api_would_refuse(
    hnode: NodeProcess, name: str
) -> None:
    handle = f"{PUMPS}/UNFIT-{name.upper()}"
    with pytest.raises(InvalidValue):
        call(hnode, "create", handle, [UNFIT[name]], creds=PUMPS_KEY)
    assert record(hnode, handle) is None


def test_list_handles_streams_fifty_a_message_with_cont(hnode: NodeProcess) -> None:
    handles = [f"{LISTED}/ITEM-{i:03d}" for i in range(123)]
    items = [{"handle": h, "values": [value_json(1, "URL", "https://l.example")]} for h in handles]
    r = hnode.session(f"300:0.NA/{LISTED}").post(
        f"{hnode.url}/api/batch", json={"op": "create", "items": items}, timeout=30
    )
    assert r.status_code == 200, r.text

    assert sorted(call(hnode, "list_handles", LISTED, creds=LISTER_KEY)) == handles

    request = message(OC.LIST_HANDLES, HandleRequest(f"0.NA/{LISTED}"))
    responses = call(hnode, "send", request, creds=LISTER_KEY, udp=False)
    assert [m.header.rc for m in responses] == [RC.SUCCESS] * 3
    assert [bool(m.header.flags & OpFlag.CN) for m in responses] == [True, True, False]
    assert all(isinstance(m.body, HandleList) for m in responses)
    assert [len(m.body.handles) for m in responses] == [50, 50, 23]
    assert {m.envelope.request_id for m in responses} == {request.envelope.request_id}
    assert sorted(h for m in responses for h in m.body.handles) == handles


@pytest.mark.parametrize(
    ("prefix", "creds", "expected"),
    [
        (PUMPS, MOTORS_KEY, InsufficientPermissions),
        (PUMPS, None, AuthenticationNeeded),
        (MOTORS, MOTORS_KEY, []),
    ],
    ids=["sibling", "anonymous", "empty"],
)
def test_listing_needs_the_prefix_admin_and_an_empty_prefix_lists_nothing(
    hnode: NodeProcess, prefix: str, creds: SecretKey | None, expected: Any
) -> None:
    if isinstance(expected, type):
        with pytest.raises(expected):
            call(hnode, "list_handles", prefix, creds=creds)
    else:
        assert call(hnode, "list_handles", prefix, creds=creds) == expected


def test_the_server_admin_homes_and_unhomes_a_prefix(hnode: NodeProcess) -> None:
    prefix = f"{PROVINCE}.66"
    assert prefix not in homed(hnode)
    call(hnode, "home", prefix, creds=OPERATOR_KEY)
    assert prefix in homed(hnode)
    call(hnode, "home", prefix, creds=OPERATOR_KEY, unhome=True)
    assert prefix not in homed(hnode)
    with pytest.raises(NotResponsible):
        call(hnode, "home", prefix, creds=OPERATOR_KEY, unhome=True)


@pytest.mark.parametrize(
    ("prefix", "unhome"), [(f"{PROVINCE}.67", False), (PUMPS, True)], ids=["home", "unhome"]
)
def test_an_enterprise_admin_may_not_home_or_unhome(
    hnode: NodeProcess, prefix: str, unhome: bool
) -> None:
    before = sorted(homed(hnode))
    with pytest.raises(InsufficientPermissions):
        call(hnode, "home", prefix, creds=PUMPS_KEY, unhome=unhome)
    assert sorted(homed(hnode)) == before


# --- 2. challenge-response -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("creds", "error"),
    [
        (None, AuthenticationNeeded),
        (SecretKey(PUMPS_KEY.identity, b"not-the-secret"), AuthenticationFailed),
        (SecretKey(Identity(f"0.NA/{PUMPS}", 301), b"pump-secret"), AuthenticationFailed),
        (SecretKey(Identity(f"{PUMPS}/NOBODY", 300), b"pump-secret"), AuthenticationFailed),
        (MOTORS_KEY, InsufficientPermissions),
    ],
    ids=["none", "wrong-secret", "wrong-index", "unknown-identity", "sibling-admin"],
)
@pytest.mark.parametrize("op", ["create", "add_values"])
def test_writes_without_a_proven_permitted_identity_change_nothing(
    hnode: NodeProcess, creds: SecretKey | None, error: type, op: str
) -> None:
    handle = FILTERED if op == "add_values" else f"{PUMPS}/REFUSED"
    with pytest.raises(error):
        call(hnode, op, handle, [HandleValue(42, "DESC", b"intruder")], creds=creds)
    after = record(hnode, handle)
    if op == "create":
        assert after is None
    else:
        assert after == {i: FILTER_VALUES[i][1] for i in PUBLIC}


@pytest.mark.parametrize("fresh_connection", [False, True], ids=["same-conn", "new-conns"])
def test_a_replayed_challenge_answer_gets_authen_timeout(
    hnode: NodeProcess, fresh_connection: bool
) -> None:
    """The answer is taken once, whether it comes on the challenged connection or (as
    Handle.Net clients do) on a new one; the same bytes again get RC 405."""
    handle = f"{PUMPS}/REPLAY-{int(fresh_connection)}"
    request = create_request(handle)
    with tcp(hnode) as sock:
        challenge = challenged(sock, request)
        answer = answer_to(request, challenge, challenge.body.nonce, challenge.digest.digest)
        with tcp(hnode) if fresh_connection else contextlib.nullcontext(sock) as conn:
            done = exchange(conn, answer)
        with tcp(hnode) if fresh_connection else contextlib.nullcontext(sock) as conn:
            replayed = exchange(conn, answer)
    assert done.header.rc == RC.SUCCESS and done.header.opcode == OC.CREATE_HANDLE
    assert done.envelope.request_id == challenge.envelope.request_id
    assert replayed.header.rc == RC.AUTHEN_TIMEOUT
    assert ids(encode_message(replayed)) == ids(answer)
    assert record(hnode, handle) == {1: "https://raw.example"}


def test_a_challenge_over_udp_is_answered_over_udp(hnode: NodeProcess) -> None:
    """Restricted values asked for over UDP: RC 402 there, and the OC 200 answer (a query
    opcode) is taken there too."""
    request = resolution(flags=0)
    _, whole = udp_ask(hnode, [request])
    assert whole is not None
    challenge = decode_message(whole)
    assert challenge.header.rc == RC.AUTHENTICATION_NEEDED
    assert challenge.digest is not None and challenge.digest.matches(request)
    answer = answer_to(request, challenge, challenge.body.nonce, challenge.digest.digest)
    _, whole = udp_ask(hnode, [answer])
    assert whole is not None
    reply = decode_message(whole)
    assert reply.header.rc == RC.SUCCESS and reply.envelope.request_id == ids_int(request)
    assert sorted(v.index for v in reply.body.values) == [*PUBLIC, 5]


@pytest.mark.parametrize("variant", ["digest-of-other-request", "answer-to-other-challenge"])
def test_an_answer_for_a_different_request_fails(hnode: NodeProcess, variant: str) -> None:
    target, other = f"{PUMPS}/DIGEST-{variant}", f"{PUMPS}/OTHER-{variant}"
    request, other_request = create_request(target), create_request(other)
    with tcp(hnode) as sock, tcp(hnode) as other_sock:
        challenge = challenged(sock, request)
        if variant == "digest-of-other-request":
            nonce, digest = challenge.body.nonce, digest_request(other_request).digest
        else:
            theirs = challenged(other_sock, other_request)
            nonce, digest = theirs.body.nonce, theirs.digest.digest
        reply = exchange(sock, answer_to(request, challenge, nonce, digest))
    assert reply.header.rc == RC.AUTHENTICATION_FAILED
    assert reply.envelope.request_id == challenge.envelope.request_id
    assert record(hnode, target) is None and record(hnode, other) is None


@pytest.fixture(scope="module")
def key_holder(hnode: NodeProcess) -> dict[str, Any]:
    """``88.118.8/KEYS`` holds an Ed25519 (300) and an RSA (301) HS_PUBKEY, registered over
    HTTP by the pumps admin; ``88.118.8/PK-TARGET``'s HS_ADMIN names any index of it."""
    keys = {
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }
    pubkeys = [
        {
            "index": index,
            "type": "HS_PUBKEY",
            "data": {"format": "base64", "value": base64.b64encode(pubkey_to_wire(key)).decode()},
        }
        for index, key in zip((300, 301), keys.values(), strict=True)
    ]
    put(hnode, f"{PUMPS}/KEYS", pubkeys)
    admin = {"handle": f"{PUMPS}/KEYS", "index": 0, "permissions": "011111111111"}
    put(
        hnode,
        f"{PUMPS}/PK-TARGET",
        [
            value_json(1, "URL", "https://pk.example"),
            {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": admin}},
        ],
    )
    return keys


@pytest.mark.parametrize(
    ("kind", "index", "error"),
    [
        ("ed25519", 300, None),
        ("rsa", 301, None),
        ("rsa", 0, None),
        ("ed25519", 301, AuthenticationFailed),
        ("rsa", 300, AuthenticationFailed),
    ],
)
def test_hs_pubkey_identities_write_over_the_binary_protocol(
    hnode: NodeProcess, key_holder: dict[str, Any], kind: str, index: int, error: type | None
) -> None:
    creds = PrivateKey(Identity(f"{PUMPS}/KEYS", index), key_holder[kind])
    new_index = 1000 + 2 * index + (kind == "rsa")
    value = [HandleValue(new_index, "DESC", f"{kind}@{index}".encode())]
    target = f"{PUMPS}/PK-TARGET"
    if error is None:
        call(hnode, "add_values", target, value, creds=creds)
        assert record(hnode, target)[new_index] == f"{kind}@{index}"
    else:
        with pytest.raises(error):
            call(hnode, "add_values", target, value, creds=creds)
        assert new_index not in record(hnode, target)


# --- 3. transports -------------------------------------------------------------------------


def test_a_long_udp_answer_comes_split_into_512_byte_packets(hnode: NodeProcess) -> None:
    request = resolution(BIG)
    packets, whole = udp_ask(hnode, [request])
    assert whole is not None, "no whole answer over UDP"
    assert len(packets) >= 4 and all(len(p) <= 512 for p in packets)
    assert sorted(int.from_bytes(p[12:16], "big") for p in packets) == list(range(len(packets)))
    assert {ids(p) for p in packets} == {ids(request)}
    reply = decode_message(whole)
    assert reply.header.rc == RC.SUCCESS and isinstance(reply.body, ResolutionResponse)
    expected = {i: (t, d.encode()) for i, (t, d) in BIG_VALUES.items()}
    assert {v.index: (v.type, v.data) for v in reply.body.values} == expected

    async def client_over_udp_only() -> bytes:  # no TCP fallback to hide a UDP failure
        async with HandleClient(timeout=3, udp_timeout=3) as client:
            sent = message(OC.RESOLUTION, ResolutionRequest(BIG), PO)
            return await client._udp_exchange(addr(hnode), encode_message(sent), sent)

    body = decode_message(asyncio.run(client_over_udp_only())).body
    assert {v.index: (v.type, v.data) for v in body.values} == expected


UDP_REFUSED = [
    (OC.CREATE_HANDLE, ValuesRequest(f"{PUMPS}/UDP", (HandleValue(1, "URL", b"https://u"),))),
    (OC.DELETE_HANDLE, HandleRequest(FILTERED)),
    (OC.ADD_VALUE, ValuesRequest(FILTERED, (HandleValue(9, "DESC", b"udp"),))),
    (OC.MODIFY_VALUE, ValuesRequest(FILTERED, (HandleValue(1, "URL", b"https://udp"),))),
    (OC.REMOVE_VALUE, RemoveValuesRequest(FILTERED, (1,))),
    (OC.LIST_HANDLES, HandleRequest(f"0.NA/{PUMPS}")),
    (OC.HOME_NA, HandleRequest(f"0.NA/{PROVINCE}.68")),
    (OC.UNHOME_NA, HandleRequest(f"0.NA/{PUMPS}")),
]


@pytest.mark.parametrize(("opcode", "body"), UDP_REFUSED, ids=[o.name for o, _ in UDP_REFUSED])
def test_writes_over_udp_get_operation_not_supported(
    hnode: NodeProcess, opcode: OC, body: Any
) -> None:
    before = sorted(homed(hnode))
    request = wire(opcode, body)
    packets, whole = udp_ask(hnode, [request])
    assert whole is not None and len(packets) == 1
    reply = decode_message(whole)
    assert (reply.header.opcode, reply.header.rc) == (opcode, RC.OPERATION_NOT_SUPPORTED)
    assert ids(whole) == ids(request)
    assert record(hnode, FILTERED) == {i: FILTER_VALUES[i][1] for i in PUBLIC}
    assert record(hnode, f"{PUMPS}/UDP") is None
    assert sorted(homed(hnode)) == before


@pytest.mark.parametrize("keep", [False, True], ids=["no-kpal", "kpal"])
def test_tcp_closes_after_one_answer_unless_kpal(hnode: NodeProcess, keep: bool) -> None:
    flags = PO | (KPAL if keep else 0)
    first, second = resolution(types=("URL",), flags=flags), resolution(types=("EMAIL",))
    with tcp(hnode) as sock:
        reply = exchange(sock, first)
        assert reply.header.rc == RC.SUCCESS and ids(encode_message(reply)) == ids(first)
        assert [v.type for v in reply.body.values] == ["URL"]
        if not keep:
            assert read_message(sock) is None  # closed, not left hanging (socket timeout 3 s)
            return
        reply = exchange(sock, second)
    assert ids(encode_message(reply)) == ids(second)
    assert [v.type for v in reply.body.values] == ["EMAIL"]


def test_a_client_that_does_not_read_is_not_read_from(hnode: NodeProcess) -> None:
    """Pipelined resolutions of a 1.5 KB record from a client that reads nothing: the node
    stops reading from it instead of keeping every answer (it grew 3 KB per request)."""
    assert held_back(hnode.handle_port, resolution(BIG, flags=PO | KPAL) * 50)
    with tcp(hnode) as sock:  # and it still serves everyone else
        assert exchange(sock, resolution(types=("URL",))).header.rc == RC.SUCCESS


def test_one_address_holds_at_most_tcp_per_client_connections(hnode: NodeProcess) -> None:
    """Hundreds of connections from one client, each holding half a message, were all kept
    (a buffer each, for as long as the idle timeout): past ``tcp_per_client`` (64) the node
    closes new ones unread, and takes them again once the client lets go."""
    held = []
    try:
        for _ in range(64):
            s = socket.create_connection((HOST, hnode.handle_port), timeout=3)
            s.sendall(resolution()[:30])  # half a message
            held.append(s)
        extra = socket.create_connection((HOST, hnode.handle_port), timeout=3)
        with extra:
            try:
                closed = extra.recv(1) == b""
            except ConnectionResetError:
                closed = True
            assert closed
    finally:
        for s in held:
            s.close()
    eventually(lambda: _answers_over_tcp(hnode), seconds=5)
    counters = requests.get(f"{hnode.url}/metrics").text
    assert re.search(r"^tierid_handle_tcp_refused_total [1-9]", counters, re.M)


def _answers_over_tcp(node: NodeProcess) -> bool:
    try:
        with tcp(node) as sock:
            return exchange(sock, resolution(types=("URL",))).header.rc == RC.SUCCESS
    except OSError:
        return False


def test_one_client_keeps_one_connection_across_authenticated_operations(
    hnode: NodeProcess,
) -> None:
    """KPAL: the client's kept connection serves every operation, challenges included."""
    handle = f"{PUMPS}/REUSED"

    async def go() -> bool:
        async with HandleClient(timeout=5, credentials=PUMPS_KEY) as client:
            where = addr(hnode)
            await client.create(where, handle, [HandleValue(1, "URL", b"https://reused")])
            [(_, first)] = client._idle[where]
            await client.add_values(where, handle, [HandleValue(2, "DESC", b"kept")])
            answer = await client.resolve(where, Query(handle), udp=False)
            assert [v.index for v in answer.values] == [1, 2]
            await client.delete(where, handle)
            [(_, last)] = client._idle[where]
            return first is last

    assert asyncio.run(go()), "the kept connection was replaced"
    assert record(hnode, handle) is None


@pytest.mark.parametrize(
    ("version", "hash_type"), [((2, 11), 3), ((2, 6), 2)], ids=["2.11-sha256", "2.6-sha1"]
)
@pytest.mark.parametrize(
    ("opcode", "body", "rc"),
    [
        (OC.RESOLUTION, ResolutionRequest(FILTERED), RC.SUCCESS),
        (OC.GET_SITE_INFO, HandleRequest("/"), RC.SUCCESS),
        (OC.RESOLUTION, ResolutionRequest(f"{PUMPS}/NO-SUCH"), RC.HANDLE_NOT_FOUND),
    ],
    ids=["resolution", "site-info", "not-found"],
)
def test_rrdg_answers_carry_the_digest_of_the_request(
    hnode: NodeProcess, version: tuple, hash_type: int, opcode: OC, body: Any, rc: RC
) -> None:
    sent = message(opcode, body, PO | RD)
    envelope = replace(sent.envelope, minor=version[1], suggested_minor=version[1])
    request = encode_message(replace(sent, envelope=envelope))
    _, whole = udp_ask(hnode, [request])
    assert whole is not None
    reply = decode_message(whole)
    assert reply.header.rc == rc and reply.header.flags & RD
    assert (reply.envelope.major, reply.envelope.minor) == version
    assert reply.digest is not None and reply.digest.hash_type == hash_type
    assert reply.digest.matches(request)


SUGGESTIONS = [(0, 0), (1, 0), (1, 200), (2, 5), (3, 0)]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("suggested", SUGGESTIONS, ids=[f"{a}.{b}" for a, b in SUGGESTIONS])
def test_any_suggested_version_gets_an_answer_a_client_can_read(
    hnode: NodeProcess, suggested: tuple[int, int], transport: str
) -> None:
    """A 2.11 request whose envelope suggests another version (byte 2's low bits, byte 3)
    is answered in a version 2 message."""
    sent = message(OC.RESOLUTION, ResolutionRequest(FILTERED, (), ("URL",)), PO)
    envelope = replace(sent.envelope, suggested_major=suggested[0], suggested_minor=suggested[1])
    request = encode_message(replace(sent, envelope=envelope))
    if transport == "udp":
        reply = udp_ask(hnode, [request])[1]
    else:
        with tcp(hnode) as sock:
            sock.sendall(request)
            reply = read_message(sock)
    assert reply is not None, "no answer"
    assert reply[0] == 2, f"answered as version {reply[0]}.{reply[1]}"
    answer = decode_message(reply)
    assert answer.header.rc == RC.SUCCESS and ids(reply) == ids(request)
    assert [v.index for v in answer.body.values] == [1]


@pytest.mark.parametrize("suggested_major", [1, 2])
def test_an_unreadable_udp_message_suggesting_version_1_still_gets_rc4(
    hnode: NodeProcess, suggested_major: int
) -> None:
    raw = patched(resolution()[:-5], 2, suggested_major, 1)
    packets, _ = udp_ask(hnode, [raw], timeout=1.0)
    assert len(packets) == 1, "no RC 4"
    assert rc_of(packets[0]) == RC.PROTOCOL_ERROR and ids(packets[0]) == ids(raw)


ORDERS: dict[str, Callable[[list[bytes]], list[bytes]]] = {
    "in-order": lambda p: p,
    "reversed": lambda p: p[::-1],
    "duplicated": lambda p: [p[0], *p[:-1], p[1], p[-1]],
}


@pytest.mark.parametrize("order", ORDERS)
def test_a_multi_packet_udp_request_is_reassembled_and_answered(
    hnode: NodeProcess, order: str
) -> None:
    types = tuple(f"NO-SUCH-TYPE-{i:03d}" for i in range(40)) + ("EMAIL",)
    request = resolution(types=types)
    packets = split_udp(request, mark_truncated=True)
    assert len(packets) >= 2 and all(p[2] & MessageFlag.TC for p in packets)
    _, whole = udp_ask(hnode, ORDERS[order](packets))
    assert whole is not None
    reply = decode_message(whole)
    assert reply.header.rc == RC.SUCCESS and ids(whole) == ids(request)
    assert [(v.index, v.data) for v in reply.body.values] == [(3, b"pumps@example.com")]


# --- 4. referrals and the walk -------------------------------------------------------------


def test_the_national_node_refers_a_delegated_prefix_with_rc_303(
    national: NodeProcess, hnode: NodeProcess
) -> None:
    request = resolution(f"{PROVINCE}/ANYTHING")
    _, whole = udp_ask(national, [request])
    assert whole is not None and rc_of(whole) == RC.PREFIX_REFERRAL
    assert ids(whole) == ids(request)
    # clients older than 2.5 do not know RC 303 and get RC 7, as from Handle.Net
    sent = decode_message(request)
    old = replace(sent.envelope, minor=4, suggested_minor=4, request_id=ids_int(request) + 1)
    _, whole = udp_ask(national, [encode_message(replace(sent, envelope=old))])
    assert whole is not None and rc_of(whole) == RC.SERVER_BACKUP

    answer = call(national, "resolve", Query(FILTERED))
    assert answer.rc == RC.PREFIX_REFERRAL
    sites = [SiteInfo.from_wire(v.data) for v in answer.values if v.type.startswith("HS_SITE")]
    assert sites
    interfaces = {(i.protocol, i.port) for s in sites for srv in s.servers for i in srv.interfaces}
    assert {(PROTO_TCP, hnode.handle_port), (PROTO_UDP, hnode.handle_port)} <= interfaces


def test_a_resolver_walks_over_the_binary_protocol(
    resolver_node: NodeProcess, national: NodeProcess, hnode: NodeProcess
) -> None:
    expected = {i: FILTER_VALUES[i][1] for i in PUBLIC}
    # the resolver's own binary face first, so that its cold walk goes over hdl://
    answer = call(resolver_node, "resolve", Query(FILTERED))
    assert {v.index: v.data.decode() for v in answer.values} == expected
    assert record(resolver_node, FILTERED) == expected
    servers = [s["url"] for s in resolver_node.status()["resolver"]["servers"]]
    assert servers and all(url.startswith("hdl://") for url in servers)
    assert {national.hdl, hnode.hdl} <= set(servers)
    metrics = requests.get(f"{resolver_node.url}/metrics", timeout=5).text
    assert f'tierid_upstream_queries_total{{server="{hnode.hdl}"}}' in metrics


# --- 5. bad input --------------------------------------------------------------------------


def _response() -> bytes:
    values = (HandleValue(1, "URL", b"https://x"),)
    return wire(OC.RESOLUTION, ResolutionResponse(FILTERED, values), rc=RC.SUCCESS)


#: name, the bytes, what UDP gets ("rc4" or "nothing"), what TCP gets ("rc4": RC 4 then
#: closed; "closed": closed at once; "waits": the stream is not a whole message yet)
BAD_INPUT = [
    ("truncated", lambda: resolution()[:-5], "rc4", "waits"),
    ("shorter-than-envelope", lambda: resolution()[:12], "nothing", "waits"),
    ("oversized", lambda: patched(resolution(), 16, MAX_MESSAGE_LENGTH + 1), "rc4", "rc4"),
    ("major-version-3", lambda: patched(resolution(), 0, 3, 1), "nothing", "closed"),
    ("body-length-lies", lambda: patched(resolution(), 40, 4000), "rc4", "rc4"),
    ("body-length-short", lambda: patched(resolution(), 40, 3), "rc4", "rc4"),
    ("compressed", lambda: patched(resolution(), 2, 0x82, 1), "rc4", "rc4"),
    ("response-sent-to-server", _response, "nothing", "closed"),
]


@pytest.mark.parametrize(
    ("name", "make", "udp_gets", "tcp_gets"), BAD_INPUT, ids=[b[0] for b in BAD_INPUT]
)
def test_bad_messages_get_rc4_with_their_ids_or_nothing(
    hnode: NodeProcess, name: str, make: Callable[[], bytes], udp_gets: str, tcp_gets: str
) -> None:
    raw = make()
    packets, _ = udp_ask(hnode, [raw], timeout=0.5)
    if udp_gets == "nothing":
        assert packets == []
    else:
        assert len(packets) == 1 and rc_of(packets[0]) == RC.PROTOCOL_ERROR
        assert ids(packets[0]) == ids(raw)
        assert decode_message(packets[0]).header.opcode == OC.RESOLUTION

    with tcp(hnode) as sock:
        sock.sendall(raw)
        if tcp_gets == "waits":
            sock.settimeout(0.3)
            with pytest.raises(TimeoutError):
                sock.recv(1)
            sock.settimeout(3)
            sock.shutdown(socket.SHUT_WR)
        elif tcp_gets == "rc4":
            reply = read_message(sock)
            assert reply is not None and rc_of(reply) == RC.PROTOCOL_ERROR
            assert ids(reply) == ids(raw)
        assert read_message(sock) is None  # the server closed the connection

    assert udp_ask(hnode, [resolution()])[1] is not None  # and still answers


def _seeds() -> list[bytes]:
    value = (HandleValue(1, "URL", b"https://fuzz.example"),)
    answer = ChallengeAnswer("HS_SECKEY", f"0.NA/{PUMPS}", 300, b"\x02" + bytes(20))
    return [
        resolution(),
        resolution(BIG, ("DESC", "URL.")),
        wire(OC.GET_SITE_INFO, HandleRequest("/")),
        wire(OC.CREATE_HANDLE, ValuesRequest(f"{PUMPS}/FUZZ", value)),
        wire(OC.RESPONSE_TO_CHALLENGE, answer),
        wire(OC.LIST_HANDLES, HandleRequest(f"0.NA/{PUMPS}"), KPAL),
        _response(),
    ]


def fuzz_packet(rng: random.Random, seeds: list[bytes], n: int) -> bytes:
    """A random or mutated message with its own session and request ids (``n``)."""
    kind = rng.randrange(5)
    if kind == 0:
        data = bytearray(rng.randbytes(rng.randrange(0, 600)))
        if data and rng.random() < 0.7:
            data[0] = 2  # past the version check
    else:
        data = bytearray(rng.choice(seeds))
        if kind == 1:
            for _ in range(rng.randrange(1, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 2:
            del data[rng.randrange(len(data)) :]
        elif kind == 3:
            data += rng.randbytes(rng.randrange(1, 64))
        else:
            at = rng.choice((16, 40, 44, 48, 60))  # a length field, or just after one
            data[at : at + 4] = rng.randrange(1 << 32).to_bytes(4, "big")
    if len(data) >= 12:
        data[4:12] = n.to_bytes(4, "big") + (0x7000_0000 + n).to_bytes(4, "big")
    return bytes(data)


def _decodes(raw: bytes) -> bool:
    try:
        decode_message(raw)
    except ProtocolError:
        return False
    return True


def _check_answers(answers: list[bytes], sent: dict[bytes, bytes]) -> None:
    """Each answer is RC 4 with the ids of what was sent, or answers a message that was
    valid after all (never an internal error)."""
    for answer in answers:
        assert len(answer) >= 44, answer
        request = sent.get(answer[8:12])
        assert request is not None, f"an answer with ids nobody sent: {answer[:12].hex()}"
        rc = rc_of(answer)
        if rc == RC.PROTOCOL_ERROR:
            assert ids(answer) == ids(request)
        else:
            assert _decodes(request), f"RC {rc} to a message that does not decode"
            assert rc not in (0, RC.ERROR), f"RC {rc} to {request.hex()}"


def _log_tail(node: NodeProcess, start: int) -> str:
    return (node.root / node.log.name).read_text()[start:]


def _still_fine(node: NodeProcess, log_start: int) -> None:
    assert node.proc is not None and node.proc.poll() is None, "the node died"
    started = time.monotonic()
    answer = call(node, "resolve", Query(FILTERED, ("URL",)))
    assert [v.index for v in answer.values] == [1]
    assert time.monotonic() - started < 2.0
    assert "Traceback" not in _log_tail(node, log_start)


def test_a_udp_barrage_of_random_packets(hnode: NodeProcess) -> None:
    rng = random.Random(2641)
    seeds = _seeds()
    packets = [fuzz_packet(rng, seeds, n) for n in range(400)]
    sent = {p[8:12]: p for p in packets if len(p) >= 12}
    log_start = len((hnode.root / hnode.log.name).read_text())
    answers: list[bytes] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i, packet in enumerate(packets):
            sock.sendto(packet, addr(hnode))
            if i % 50 == 49:
                time.sleep(0.02)
        sock.settimeout(1.0)
        deadline = time.monotonic() + 15
        with contextlib.suppress(TimeoutError):
            while time.monotonic() < deadline:
                answers.append(sock.recvfrom(65535)[0])
    assert all(len(a) <= 512 for a in answers)
    firsts = [a for a in answers if a[12:16] == bytes(4)]  # one per answer message
    assert len(firsts) > 50  # enough of the barrage got through to be answered
    _check_answers(firsts, sent)
    _still_fine(hnode, log_start)


def _frames(data: bytes) -> dict[bytes, bytes]:
    """The messages a TCP stream holds as the server frames them, by request id."""
    out, pos = {}, 0
    while len(data) - pos >= 20:
        end = pos + 20 + int.from_bytes(data[pos + 16 : pos + 20], "big")
        out[data[pos + 8 : pos + 12]] = data[pos:end]
        pos = end
    return out


async def _tcp_fuzz(node: NodeProcess, packet: bytes, gate: asyncio.Semaphore) -> bytes:
    """Send one packet; everything the server sends until it closes (half-closing our side
    when it waits for more), or fail if it neither answers nor closes."""
    async with gate:
        reader, writer = await asyncio.open_connection(*addr(node))
        try:
            writer.write(packet)
            try:
                return await asyncio.wait_for(reader.read(), 0.3)
            except TimeoutError:
                writer.write_eof()
                async with asyncio.timeout(5):
                    return await reader.read()
        finally:
            writer.close()


def test_a_tcp_barrage_of_random_packets(hnode: NodeProcess) -> None:
    rng = random.Random(2642)
    seeds = _seeds()
    packets = [fuzz_packet(rng, seeds, n) for n in range(150)]
    log_start = len((hnode.root / hnode.log.name).read_text())

    async def barrage() -> list[bytes]:
        gate = asyncio.Semaphore(25)
        return await asyncio.gather(*(_tcp_fuzz(hnode, p, gate) for p in packets))

    started = time.monotonic()
    streams = asyncio.run(barrage())
    assert time.monotonic() - started < 30
    for packet, stream in zip(packets, streams, strict=True):
        answers = list(_frames(stream).values())
        assert b"".join(answers) == stream, "an answer cut short"
        _check_answers(answers, _frames(packet))
    assert sum(1 for s in streams if s) > 20
    _still_fine(hnode, log_start)


def test_the_node_is_alive_after_everything(hnode: NodeProcess) -> None:
    assert hnode.proc is not None and hnode.proc.poll() is None
    assert isinstance(call(hnode, "site_info"), SiteInfo)
