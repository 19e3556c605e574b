"""The Handle binary codec, run against both twins (ids ``c`` and ``py``): the real root
values Handle.Net ships, byte layouts from handle.md, round trips of every message type,
the twins agreeing byte for byte and error for error, malformed input giving only
ProtocolError, version rules, request digests, and UDP splitting and reassembly.

The vectors are looked for at ``$TIERID_HANDLE_VECTORS`` or in ``shared/vectors/handle``
beside the checkout's parents (as the GS1 vectors are)."""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import json
import os
import random
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import resolver.hdl_codec
from resolver import _compat
from resolver.codes import ResponseCode as RC
from resolver.errors import ProtocolError
from resolver.hdl_codec import UdpReassembler, split_udp
from resolver.hdl_types import (
    MAX_MESSAGE_LENGTH,
    UDP_PACKET_SIZE,
    Challenge,
    ChallengeAnswer,
    CreatedHandle,
    Credential,
    Envelope,
    ErrorBody,
    HandleList,
    HandleRequest,
    HashType,
    Header,
    Message,
    MessageFlag,
    OpCode,
    OpFlag,
    RawBody,
    Referral,
    RemoveValuesRequest,
    RequestDigest,
    ResolutionRequest,
    ResolutionResponse,
    SiteInfoResponse,
    ValuesRequest,
    digest_request,
    digest_type_for,
    negotiate,
)
from resolver.json_values import value_to_json
from resolver.typed_data import Interface, Server, SiteInfo
from resolver.values import HandleValue


def _folder() -> Path | None:
    if os.environ.get("TIERID_HANDLE_VECTORS"):
        return Path(os.environ["TIERID_HANDLE_VECTORS"])
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "vectors" / "handle"
        if candidate.is_dir():
            return candidate
    return None


VECTORS = _folder()
needs_vectors = pytest.mark.skipif(
    VECTORS is None, reason="no Handle vectors (shared/vectors/handle or $TIERID_HANDLE_VECTORS)"
)

TWINS = [pytest.param("resolver.hdl_codec_py", id="py")]
if not _compat.NO_EXTENSIONS:
    TWINS.insert(0, pytest.param("resolver._hdl_codec", id="c"))
needs_both = pytest.mark.skipif(_compat.NO_EXTENSIONS, reason="compiled twin disabled")


@pytest.fixture(params=TWINS)
def codec(request: pytest.FixtureRequest):
    """Each twin of the codec: compiled (``c``) and pure Python (``py``)."""
    return importlib.import_module(request.param)


def _both():
    return importlib.import_module("resolver._hdl_codec"), importlib.import_module(
        "resolver.hdl_codec_py"
    )


def _outcome(codec, buf: bytes):
    try:
        return ("ok", codec.decode_message(buf))
    except ProtocolError as exc:
        return ("error", str(exc))


def _reframed(wire: bytes, body: bytes) -> bytes:
    """``wire``'s envelope and header around another body, without a credential."""
    head = wire[:16] + (24 + len(body)).to_bytes(4, "big") + wire[20:40]
    return head + len(body).to_bytes(4, "big") + body


URL = HandleValue(1, "URL", b"https://pumps.example.cn/p/000123", timestamp=1_700_000_000)
MODEL = HandleValue(2, "MODEL", "CP-200 水泵".encode(), ttl=3600, references=(("88.118.8/M", 7),))
RESOLUTION = Message(
    Envelope(request_id=0x01020304),
    Header(OpCode.RESOLUTION, RC.SUCCESS, OpFlag.PO, expiration=1_700_043_200),
    ResolutionResponse("88.118.8/PUMP-000123", (URL, MODEL)),
)
QUERY = Message(
    Envelope(2, 10, 2, 11, 0, 0, 7, 0),
    Header(OpCode.RESOLUTION, 0, OpFlag.RD | OpFlag.PO | OpFlag.REC, 0xFFFF, 1, 100),
    ResolutionRequest("88.118.8/PUMP-000123", (1,), ("URL", "EMAIL")),
)


# --- the deployed software's own bytes -----------------------------------------------------


@needs_vectors
def test_root_info_decodes_every_byte_and_re_encodes_identically(codec) -> None:
    data = (VECTORS / "root_info.bin").read_bytes()
    assert int.from_bytes(data[:4], "big") == len(data) - 4
    values, end = codec.decode_values(data, 4, len(data))
    assert end == len(data) and len(values) == 28
    assert data[:4] + codec.encode_values(values) == data


@needs_vectors
def test_root_info_values_match_bootstrap_json(codec) -> None:
    data = (VECTORS / "root_info.bin").read_bytes()
    values, _ = codec.decode_values(data, 4, len(data))
    records = json.loads((VECTORS / "bootstrap_handles.json").read_text())["handles"]
    assert [value_to_json(v) for v in values] == records["0.NA/0.NA"]["values"]
    assert {v.type for v in values} >= {"HS_ADMIN", "HS_SITE", "HS_SERV", "HS_PUBKEY"}


@needs_vectors
def test_root_info_as_a_resolution_response(codec) -> None:
    """The root values as the GHR answers ``0.NA/0.NA``: a multi-packet UDP response."""
    data = (VECTORS / "root_info.bin").read_bytes()
    values, _ = codec.decode_values(data, 4, len(data))
    msg = replace(RESOLUTION, body=ResolutionResponse("0.NA/0.NA", values))
    wire = codec.encode_message(msg)
    assert wire[44 + 4 + 9 :].startswith(data[4:])
    assert codec.decode_message(wire) == msg
    assert len(split_udp(wire)) == -(-(len(wire) - 20) // 492)


def test_layout_of_a_resolution_request(codec) -> None:
    """Every field where handle.md section 1.2 puts it."""
    wire = codec.encode_message(QUERY)
    handle = b"88.118.8/PUMP-000123"
    body = (
        (len(handle)).to_bytes(4, "big")
        + handle
        + bytes.fromhex("00000001 00000001")
        + bytes.fromhex("00000002 00000003") + b"URL"
        + bytes.fromhex("00000005") + b"EMAIL"
    )  # fmt: skip
    header = bytes.fromhex("00000001 00000000 11800000 ffff 01 00 00000064") + len(body).to_bytes(
        4, "big"
    )
    envelope = bytes.fromhex("02 0a 02 0b 00000000 00000007 00000000") + (
        24 + len(body) + 4
    ).to_bytes(4, "big")
    assert wire == envelope + header + body + bytes(4)
    assert codec.decode_message(wire) == QUERY


def test_layout_of_a_value(codec) -> None:
    """handle.md section 1.5: permissions at byte 13, type from byte 14."""
    value = HandleValue(300, "HS_SECKEY", b"s", 60, 1, 0x5F5E1000, 0x0C, (("0.NA/88", 200),))
    wire = codec.encode_values([value])[4:]
    assert wire[:14] == bytes.fromhex("0000012c 5f5e1000 01 0000003c 0c")
    assert wire[14:27] == b"\x00\x00\x00\x09HS_SECKEY"
    assert wire[27:] == bytes.fromhex("00000001 73 00000001 00000007") + b"0.NA/88" + bytes.fromhex(
        "000000c8"
    )


# --- round trips ---------------------------------------------------------------------------

U8 = st.integers(0, 0xFF)
U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFF_FFFF)
TEXT = st.text(max_size=40)
HANDLES = st.text(min_size=1, max_size=60)
VALUES = st.lists(
    st.builds(
        HandleValue,
        U32,
        TEXT,
        st.binary(max_size=300),
        U32,
        U8,
        U32,
        U8,
        st.lists(st.tuples(HANDLES, U32), max_size=3).map(tuple),
    ),
    max_size=6,
).map(tuple)
ADDRESSES = st.one_of(
    st.binary(min_size=4, max_size=4).map(lambda b: str(ipaddress.IPv4Address(b))),
    st.binary(min_size=16, max_size=16)
    .filter(lambda b: b[:12] != bytes(12))
    .map(lambda b: str(ipaddress.IPv6Address(b))),
)
SITES = st.builds(
    SiteInfo,
    serial=U16,
    primary=st.booleans(),
    multi_primary=st.booleans(),
    attributes=st.lists(st.tuples(TEXT, TEXT), max_size=3).map(tuple),
    servers=st.lists(
        st.builds(
            Server,
            U32,
            ADDRESSES,
            st.binary(max_size=200),
            st.lists(st.builds(Interface, U8, U8, U32), max_size=4).map(tuple),
        ),
        max_size=3,
    ).map(tuple),
    version=U16,
    protocol_version=st.tuples(U8, U8),
    hash_option=U8,
    hash_filter=st.binary(max_size=40),
)
ERROR_CODES = st.sampled_from(
    [2, 3, 4, 5, 6, 7, 100, 101, 102, 200, 201, 202, 300, 301, 400, 401, 403, 404, 500, 999]
)
EMPTY_SUCCESSES = [101, 102, 103, 104, 300, 301, 401, 402, 1003]

# (opcode, response code, body) for every body this codec knows
BODIES = st.one_of(
    st.tuples(
        st.just(1),
        st.just(0),
        st.builds(
            ResolutionRequest,
            HANDLES,
            st.lists(U32, max_size=5).map(tuple),
            st.lists(TEXT, max_size=5).map(tuple),
        ),
    ),
    st.tuples(st.just(1), st.just(1), st.builds(ResolutionResponse, HANDLES, VALUES)),
    st.tuples(
        st.sampled_from([2, 101, 105, 300, 301, 302, 401, 1000, 1003]),
        st.just(0),
        st.builds(HandleRequest, HANDLES),
    ),
    st.tuples(
        st.sampled_from([100, 102, 104]), st.just(0), st.builds(ValuesRequest, HANDLES, VALUES)
    ),
    st.tuples(
        st.just(103),
        st.just(0),
        st.builds(RemoveValuesRequest, HANDLES, st.lists(U32, max_size=5).map(tuple)),
    ),
    st.tuples(
        st.just(200),
        st.just(0),
        st.builds(
            ChallengeAnswer, st.sampled_from(["HS_PUBKEY", "HS_SECKEY"]), HANDLES, U32, st.binary()
        ),
    ),
    st.tuples(st.just(2), st.just(1), st.builds(SiteInfoResponse, SITES)),
    st.tuples(st.just(100), st.just(1), st.none() | st.builds(CreatedHandle, HANDLES)),
    st.tuples(st.sampled_from(EMPTY_SUCCESSES), st.just(1), st.none()),
    st.tuples(
        st.sampled_from([105, 302]),
        st.just(1),
        st.builds(HandleList, st.lists(HANDLES, max_size=50).map(tuple)),
    ),
    st.tuples(U32, st.sampled_from([302, 303]), st.builds(Referral, st.text(max_size=30), VALUES)),
    st.tuples(U32, st.just(402), st.builds(Challenge, st.binary(min_size=16, max_size=16))),
    st.tuples(U32, ERROR_CODES, st.builds(ErrorBody, st.text(max_size=80))),
    st.tuples(
        st.sampled_from([201, 400, 402, 1001, 1002, 2000]),
        st.just(0),
        st.builds(RawBody, st.binary()),
    ),
    st.tuples(
        st.sampled_from([201, 400, 1000, 1001, 2001]), st.just(1), st.builds(RawBody, st.binary())
    ),
)
DIGESTS = st.one_of(
    st.sampled_from([HashType.MD5, HashType.SHA1, HashType.SHA256]).flatmap(
        lambda t: st.builds(
            RequestDigest,
            st.just(int(t)),
            st.binary(min_size={1: 16, 2: 20, 3: 32}[t], max_size={1: 16, 2: 20, 3: 32}[t]),
        )
    ),
    st.builds(RequestDigest, st.just(0), st.binary(min_size=1, max_size=64)),
)
CREDENTIALS = st.none() | st.builds(
    Credential,
    st.sampled_from(["HS_SIGNED", "HS_MAC"]),
    st.sampled_from(["SHA-256", "SHA1", "HMAC-SHA256"]),
    st.binary(max_size=300),
    U32,
    TEXT,
    U8,
    U16,
)
ENVELOPES = st.builds(
    Envelope,
    st.just(2),
    st.integers(5, 0xFF),  # from 2.5 on, RC 303 is a prefix referral
    st.integers(0, 3),
    U8,
    st.integers(0, 15).map(lambda f: f << 2),  # TC and reserved bits; CP and EC are refused
    U32,
    U32,
    U32,
)


@st.composite
def messages(draw) -> Message:
    opcode, rc, body = draw(BODIES)
    flags = draw(U32)
    if rc == 402:
        flags |= OpFlag.RD  # a challenge always carries the request digest
    digest = draw(DIGESTS) if rc != 0 and flags & OpFlag.RD else None
    header = Header(opcode, rc, flags, draw(U16), draw(U8), draw(U32))
    return Message(draw(ENVELOPES), header, body, digest, draw(CREDENTIALS))


@pytest.mark.parametrize("twin", TWINS)
@settings(max_examples=400, deadline=None)
@given(messages())
def test_every_message_type_round_trips(twin: str, msg: Message) -> None:
    codec = importlib.import_module(twin)
    wire = codec.encode_message(msg)
    assert int.from_bytes(wire[16:20], "big") == len(wire) - 20
    assert codec.decode_message(wire) == msg


@needs_both
@settings(max_examples=400, deadline=None)
@given(messages())
def test_twins_write_and_read_the_same(msg: Message) -> None:
    c, py = _both()
    wire = c.encode_message(msg)
    assert py.encode_message(msg) == wire
    assert c.decode_message(wire) == py.decode_message(wire) == msg
    values = msg.body.values if isinstance(msg.body, ResolutionResponse) else ()
    assert c.encode_values(values) == py.encode_values(values)


# --- malformed input -----------------------------------------------------------------------


def _mutations(wire: bytes, rng: random.Random) -> bytes:
    buf = bytearray(wire)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(5)
        at = rng.randrange(len(buf) + 1)
        if kind == 0 and at < len(buf):
            buf[at] = rng.randrange(256)
        elif kind == 1:
            buf[at:at] = rng.randbytes(rng.randint(1, 8))
        elif kind == 2:
            del buf[at : at + rng.randint(1, 8)]
        elif kind == 3:
            del buf[at:]
        elif at + 4 <= len(buf):  # a length or count that lies
            buf[at : at + 4] = rng.choice([0xFFFF_FFFF, 0x7FFF_FFFF, 0x0010_0001, 300]).to_bytes(
                4, "big"
            )
    return bytes(buf)


def _framed(opcode: int, rc: int, flags: int, body_length: int, rest: bytes) -> bytes:
    """A valid envelope and a header with these fields, before random bytes."""
    header = b"".join(n.to_bytes(4, "big") for n in (opcode, rc, flags)) + bytes(8)
    message = header + body_length.to_bytes(4, "big") + rest
    return bytes.fromhex("020b020b") + bytes(12) + len(message).to_bytes(4, "big") + message


RANDOM_INPUT = st.one_of(
    st.binary(max_size=600),
    st.binary(max_size=600).map(lambda b: bytes.fromhex("020a") + bytes(14) + b),
    st.builds(
        _framed,
        st.sampled_from([0, 1, 2, 100, 101, 103, 105, 200, 300, 400, 1000, 9999]),
        st.sampled_from([0, 1, 2, 100, 302, 303, 402, 7777]),
        st.sampled_from([0, int(OpFlag.RD), 0xFFFF_FFFF]),
        st.integers(0, 600),
        st.binary(max_size=600),
    ),
)


@pytest.mark.parametrize("twin", TWINS)
@settings(max_examples=1000, deadline=None)
@given(RANDOM_INPUT)
def test_random_bytes_raise_only_protocol_error(twin: str, buf: bytes) -> None:
    codec = importlib.import_module(twin)
    with contextlib.suppress(ProtocolError):
        codec.decode_message(buf)


@pytest.mark.parametrize("twin", TWINS)
@settings(max_examples=500, deadline=None)
@given(messages(), st.randoms(use_true_random=False))
def test_mutated_messages_raise_only_protocol_error(
    twin: str, msg: Message, rng: random.Random
) -> None:
    codec = importlib.import_module(twin)
    wire = _mutations(codec.encode_message(msg), rng)
    with contextlib.suppress(ProtocolError):
        codec.decode_message(wire)


@needs_both
@settings(max_examples=500, deadline=None)
@given(messages(), st.randoms(use_true_random=False), RANDOM_INPUT)
def test_twins_fail_alike(msg: Message, rng: random.Random, noise: bytes) -> None:
    """Same message or same error text from both twins, for any mutation of a message and
    for random input."""
    c, py = _both()
    for wire in (_mutations(c.encode_message(msg), rng), noise):
        assert _outcome(c, wire) == _outcome(py, wire)


def test_every_truncation_is_a_protocol_error(codec) -> None:
    wire = codec.encode_message(RESOLUTION)
    for n in range(len(wire)):
        with pytest.raises(ProtocolError):
            codec.decode_message(wire[:n])


def _patched(wire: bytes, offset: int, value: int) -> bytes:
    return wire[:offset] + value.to_bytes(4, "big") + wire[offset + 4 :]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (lambda w: b"\x03" + w[1:], "unsupported protocol version 3.11"),
        (lambda w: b"\x01" + w[1:], "unsupported protocol version 1.11"),
        (lambda w: w + b"\x00", "message length"),
        (lambda w: _patched(w, 16, MAX_MESSAGE_LENGTH + 1), "exceeds the limit of 262144"),
        (lambda w: _patched(w, 40, len(w)), "body length"),
        (lambda w: _patched(w, 44, 0xFFFF_FFF0), "exceeds the limit"),  # handle length
        (lambda w: _patched(w, 44, 200), "truncated data"),
        (lambda w: _patched(w, 68, 0x0100_0000), "count 16777216 exceeds the limit"),  # values
        (lambda w: _patched(w, 86, 0xFFFF), "truncated data"),  # the first value's type length
        (lambda w: _patched(w, len(w) - 4, 9), "credential length 9"),
        (lambda w: w[:2] + bytes([w[2] | MessageFlag.EC]) + w[3:], "encrypted"),
        (lambda w: w[:-4] + b"\xff\xfe\x00", "message length"),
    ],
)
def test_lies_and_unsupported_messages_are_named(codec, patch, message: str) -> None:
    wire = codec.encode_message(RESOLUTION)
    assert wire[44:48] == (20).to_bytes(4, "big") and wire[64:68] == b"0123"
    with pytest.raises(ProtocolError, match=message):
        codec.decode_message(patch(wire))


def test_oversized_messages_are_refused_both_ways(codec) -> None:
    huge = HandleValue(1, "BLOB", bytes(MAX_MESSAGE_LENGTH))
    msg = replace(RESOLUTION, body=ResolutionResponse("88/x", (huge,)))
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        codec.encode_message(msg)
    small = codec.encode_message(RESOLUTION)
    grown = small[:16] + (MAX_MESSAGE_LENGTH + 8).to_bytes(4, "big") + small[20:] + bytes(1 << 18)
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        codec.decode_message(grown)


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (replace(RESOLUTION, body=HandleRequest("x")), "carries ResolutionResponse"),
        (replace(QUERY, header=Header(OpCode.DELETE_HANDLE, 1)), "carries no body"),
        (replace(RESOLUTION, header=Header(1, 1, OpFlag.RD)), "needs a request digest"),
        (replace(QUERY, digest=RequestDigest(3, bytes(32))), "only a response"),
        (replace(RESOLUTION, digest=RequestDigest(3, bytes(20))), "only a response"),
        (
            replace(RESOLUTION, header=Header(1, 1, OpFlag.RD), digest=RequestDigest(3, b"x")),
            "wrong length",
        ),
        (replace(QUERY, header=Header(1, 0, 1 << 32)), "cannot encode"),
        (replace(QUERY, header=Header(-1, 0), body=RawBody(b"")), "cannot encode"),
        (replace(QUERY, envelope=Envelope(flags=0x01)), "overlap"),
        (replace(QUERY, envelope=Envelope(major=256)), "cannot encode envelope"),
        (
            replace(RESOLUTION, body=ResolutionResponse("x", (URL._replace(ttl_type=256),))),
            "cannot",
        ),
        (
            replace(RESOLUTION, body=ResolutionResponse("x", (URL._replace(type="\ud800"),))),
            "cannot",
        ),
        (replace(QUERY, credential=Credential("HS_SIGNED", "SHA-256", b"", version=300)), "cannot"),
    ],
)
def test_unencodable_messages_raise_protocol_error(codec, msg: Message, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        codec.encode_message(msg)


def test_short_and_odd_parts_are_named(codec) -> None:
    envelope = bytes.fromhex("020b020b") + bytes(12)
    with pytest.raises(ProtocolError, match="shorter than a header"):
        codec.decode_message(envelope + (10).to_bytes(4, "big") + bytes(10))
    digest = RequestDigest(HashType.SHA256, bytes(32))
    answer = codec.encode_message(
        replace(RESOLUTION, header=Header(1, 1, OpFlag.RD), digest=digest)
    )
    with pytest.raises(ProtocolError, match="need 32 bytes"):  # a digest cut short
        codec.decode_message(_reframed(answer, b"\x03" + bytes(13)))
    with pytest.raises(ProtocolError, match="empty request digest"):
        codec.decode_message(_reframed(answer, bytes(8)))
    legacy = RequestDigest(HashType.MD5_OLD_FORMAT, b"")
    with pytest.raises(ProtocolError, match="1 to 64 bytes"):
        codec.encode_message(replace(RESOLUTION, header=Header(1, 1, OpFlag.RD), digest=legacy))
    with pytest.raises(ProtocolError, match="cannot encode values"):
        codec.encode_values([URL._replace(index=-1)])


def test_value_list_bounds_must_lie_in_the_buffer(codec) -> None:
    with pytest.raises(ValueError):
        codec.decode_values(b"\x00\x00\x00\x00", 0, 8)


# --- versions and older peers --------------------------------------------------------------


def test_version_negotiation() -> None:
    assert negotiate((2, 10)) == (2, 10)
    assert negotiate((2, 12)) == (2, 11)
    assert negotiate((3, 0)) == (2, 11)
    assert negotiate((5, 3)) == (2, 0)  # very old clients wrote 5 and meant 2.0
    client = Envelope(2, 10, 2, 12, 0, 9, 42, 0)
    assert client.reply() == Envelope(2, 11, 2, 11, 0, 9, 42, 0)
    old = Envelope(2, 6, 0, 0)  # no suggestion: the message's own version stands
    assert old.suggested_version == (2, 6) and old.reply() == Envelope(2, 6, 2, 11)
    assert Envelope(5, 0, 0, 0).version == (2, 0)
    assert [digest_type_for(v) for v in [(2, 11), (2, 7), (2, 6), (2, 1), (2, 0)]] == [
        HashType.SHA256,
        HashType.SHA256,
        HashType.SHA1,
        HashType.SHA1,
        HashType.MD5_OLD_FORMAT,
    ]


def test_older_peers_are_read_liberally(codec) -> None:
    old = replace(RESOLUTION, envelope=Envelope(2, 3, 0, 0))
    wire = codec.encode_message(old)
    without = wire[:16] + (len(wire) - 24).to_bytes(4, "big") + wire[20:-4]
    assert codec.decode_message(without) == old  # no credential length at all
    five = codec.decode_message(b"\x05" + wire[1:])
    assert five.envelope.version == (2, 0) and five.body == RESOLUTION.body
    # before 2.5, RC 303 was "server backup" with a text
    backup = Message(Envelope(2, 4), Header(OpCode.RESOLUTION, 303), ErrorBody("read-only"))
    assert codec.decode_message(codec.encode_message(backup)) == backup
    with pytest.raises(ProtocolError, match="carries ErrorBody"):
        codec.encode_message(replace(backup, body=Referral("x")))
    # an error without even an empty text, as 2.0 servers send
    error = codec.encode_message(Message(Envelope(), Header(1, 100), ErrorBody("")))
    assert codec.decode_message(_reframed(error, b"")).body == ErrorBody("")


def test_request_digests(codec) -> None:
    request = codec.encode_message(QUERY)
    for hash_type, size in [(HashType.SHA256, 32), (HashType.SHA1, 20), (HashType.MD5, 16)]:
        digest = digest_request(request, hash_type)
        assert len(digest.digest) == size and digest.matches(request)
        assert not digest.matches(request[:-5] + b"x" + request[-4:])
        answer = replace(RESOLUTION, header=Header(1, 1, OpFlag.RD), digest=digest)
        wire = codec.encode_message(answer)
        assert wire[44] == hash_type and codec.decode_message(wire).digest.matches(request)
    # the old format: no hash byte, an int4-length-prefixed MD5
    legacy = digest_request(request, HashType.MD5_OLD_FORMAT)
    wire = codec.encode_message(replace(RESOLUTION, header=Header(1, 1, OpFlag.RD), digest=legacy))
    assert wire[44:48] == (16).to_bytes(4, "big")
    assert codec.decode_message(wire).digest == legacy and legacy.matches(request)
    assert not RequestDigest(9, b"").matches(request)
    with pytest.raises(ProtocolError, match="too short"):
        digest_request(request[:30])
    with pytest.raises(ProtocolError, match="shorter than its body length"):
        digest_request(request[:50])


def test_challenge_and_its_answer(codec) -> None:
    create = Message(
        Envelope(request_id=5), Header(OpCode.CREATE_HANDLE), ValuesRequest("88/x", (URL,))
    )
    request = codec.encode_message(create)
    challenge = Message(
        Envelope(session_id=77, request_id=5),
        Header(OpCode.CREATE_HANDLE, RC.AUTHENTICATION_NEEDED, OpFlag.RD),
        Challenge(bytes(range(16))),
        digest_request(request),
    )
    got = codec.decode_message(codec.encode_message(challenge))
    assert got == challenge and got.digest.matches(request)
    answer = Message(
        Envelope(session_id=77, request_id=6),
        Header(OpCode.RESPONSE_TO_CHALLENGE),
        ChallengeAnswer("HS_SECKEY", "0.NA/88.118", 300, b"\x22" + bytes(40)),
    )
    assert codec.decode_message(codec.encode_message(answer)) == answer


def test_credential_section(codec) -> None:
    signed = replace(RESOLUTION, credential=Credential("HS_SIGNED", "SHA-256", b"sig", 3))
    wire = codec.encode_message(signed)
    section = b"\x00\x00\x00\x07SHA-256\x00\x00\x00\x03sig"
    assert wire.endswith(b"\x00\x00\x00\x09HS_SIGNED" + len(section).to_bytes(4, "big") + section)
    assert codec.decode_message(wire) == signed
    with pytest.raises(ProtocolError, match="signature section length"):
        codec.decode_message(wire[:-22] + b"\x00\x00\x00\x20" + wire[-18:])


# --- UDP -----------------------------------------------------------------------------------


def _big_response(size: int) -> bytes:
    blob = HandleValue(5, "BLOB", bytes(range(256)) * (size // 256 + 1))
    return resolver.hdl_codec.encode_message(
        replace(RESOLUTION, body=ResolutionResponse("88.118.8/BIG", (URL, blob)))
    )


def test_udp_split_fits_java_clients() -> None:
    wire = _big_response(3000)
    packets = split_udp(wire)
    assert len(packets) == -(-(len(wire) - 20) // 492) > 1
    assert all(len(p) <= UDP_PACKET_SIZE for p in packets)
    for seq, packet in enumerate(packets):
        assert packet[:12] == wire[:12] and packet[16:20] == wire[16:20]
        assert int.from_bytes(packet[12:16], "big") == seq
    assert b"".join(p[20:] for p in packets) == wire[20:]
    assert all(p[2] & MessageFlag.TC for p in split_udp(wire, mark_truncated=True))
    small = resolver.hdl_codec.encode_message(QUERY)
    assert split_udp(small, mark_truncated=True) == [small]
    assert UdpReassembler().add(small, "peer", now=0.0) == small  # one packet: as it came
    with pytest.raises(ProtocolError, match="limit of 1000"):
        UdpReassembler(max_length=1000).add(packets[0], "peer", now=0.0)
    with pytest.raises(ProtocolError):
        split_udp(wire[:-1])


@settings(max_examples=100, deadline=None)
@given(st.integers(600, 6000), st.randoms(use_true_random=False))
def test_udp_reassembly_in_any_order(size: int, rng: random.Random) -> None:
    """Shuffled, with duplicates: the message is whole when its last missing packet comes."""
    wire = _big_response(size)
    packets = split_udp(wire)
    order = rng.sample(packets, k=len(packets))
    last = order.pop()
    for duplicate in rng.choices(packets[:-1] if last == packets[-1] else packets, k=3):
        order.insert(rng.randrange(len(order) + 1), duplicate)
    order = [p for p in order if p != last] + [last]
    assembler = UdpReassembler()
    results = [assembler.add(p, ("10.0.0.1", 2641), now=1.0) for p in order]
    assert results[:-1] == [None] * (len(order) - 1) and results[-1] == wire
    assert len(assembler) == 0
    assert resolver.hdl_codec.decode_message(wire).body.handle == "88.118.8/BIG"


def test_udp_missing_packets_expire_and_limits_hold() -> None:
    packets = split_udp(_big_response(2000))
    assembler = UdpReassembler(timeout=2.0, max_pending=2)
    assert assembler.add(packets[0], "a", now=0.0) is None
    assert len(assembler) == 1
    other = split_udp(_big_response(3000))
    assert assembler.add(other[1], "b", now=3.0) is None  # "a" expired
    assert len(assembler) == 1
    for peer in ("c", "d", "e"):
        assembler.add(other[0], peer, now=3.5)
    assert len(assembler) == 2  # oldest partial messages dropped
    tight = UdpReassembler(max_bytes=1000)
    for peer in range(5):
        tight.add(other[0], peer, now=0.0)
    assert len(tight) == 2


def test_one_host_cannot_push_out_other_hosts_messages() -> None:
    """First packets from 300 ports of one host used to evict a victim's half-received
    message (the limits were shared by everyone, oldest dropped first)."""
    victim = split_udp(_big_response(1200))
    flood = split_udp(_big_response(3000))[0]
    assembler = UdpReassembler()
    assert assembler.add(victim[0], ("10.0.0.9", 4000), now=0.0) is None
    for port in range(300):
        assembler.add(flood, ("10.0.0.66", 10_000 + port), now=0.1)
    assert len(assembler) == 1 + assembler.max_per_host  # the flood holds its first 16
    assert assembler.add(victim[1], ("10.0.0.9", 4000), now=0.2) is None
    assert assembler.add(victim[2], ("10.0.0.9", 4000), now=0.2) == _big_response(1200)


def test_a_host_at_its_limit_still_completes_what_it_started() -> None:
    """Dropping a host's oldest message for its newest let the late packets of each dropped
    message push out the next: with 17 in flight from one host, none completed."""
    assembler = UdpReassembler(max_per_host=16)
    packets = split_udp(_big_response(1200))
    peers = [("10.0.0.7", 3000 + i) for i in range(20)]  # 20 sockets of one host
    for peer in peers:
        assembler.add(packets[0], peer, now=0.0)
    done = [
        whole
        for peer in peers
        for p in packets[1:]
        if (whole := assembler.add(p, peer, now=0.1)) is not None
    ]
    assert len(done) == 16  # those it took; the 4 refused are asked again by their senders


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (lambda p: p[:12] + (99).to_bytes(4, "big") + p[16:], "packet 99 of a message"),
        (lambda p: p[:-1], "carries 491 bytes"),
        (lambda p: p + b"x", "carries 493 bytes"),
        (lambda p: p[:16] + (MAX_MESSAGE_LENGTH + 1).to_bytes(4, "big") + p[20:], "limit"),
        (lambda p: b"\x07" + p[1:], "unsupported protocol version"),
    ],
)
def test_udp_lying_packets(packet, message: str) -> None:
    first = split_udp(_big_response(2000))[0]
    with pytest.raises(ProtocolError, match=message):
        UdpReassembler().add(packet(first), "peer", now=0.0)


def test_udp_packets_of_one_message_must_agree() -> None:
    packets = split_udp(_big_response(2000))
    assembler = UdpReassembler()
    assembler.add(packets[0], "peer", now=0.0)
    longer = split_udp(_big_response(2600))[1]
    with pytest.raises(ProtocolError, match="disagree"):
        assembler.add(longer, "peer", now=0.0)
    assert assembler.add(packets[0], "peer", now=0.0) is None  # a duplicate


# --- which twin serves ---------------------------------------------------------------------


def test_implementation_follows_the_switch() -> None:
    expected = "py" if _compat.NO_EXTENSIONS else "c"
    assert expected == resolver.hdl_codec.IMPLEMENTATION


@needs_both
def test_compiled_twin_refuses_a_changed_value_class() -> None:
    c = importlib.import_module("resolver._hdl_codec")
    with pytest.raises(ImportError, match="rebuild"):
        c._check_fields(HandleValue, ("index", "type"))
