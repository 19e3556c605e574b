"""The Handle face's stored answers, both twins: a hit writes exactly the bytes the full path
writes for the same request, and only plain resolution requests are answered."""

from __future__ import annotations

import asyncio
import random

import pytest

from resolver.faces.native_responder import Responder
from resolver.handle import normalise
from resolver.hdl_codec import decode_message, encode_message
from resolver.hdl_types import (
    Envelope,
    HandleRequest,
    Header,
    Message,
    OpFlag,
    ResolutionRequest,
)
from resolver.hdl_types import OpCode as OC
from resolver.message import Answer, Query
from resolver.typed_data import SiteInfo
from resolver.values import HandleValue

HANDLE = "88.118.8/Pump-1"
VALUES = [
    HandleValue(1, "URL", b"https://pumps.example.cn/p/1", timestamp=1_700_000_000),
    HandleValue(2001, "MODEL", b"CP-200", ttl=600, timestamp=1_700_000_000),
]


async def _cached(query: Query) -> Answer:
    """A cache stage's fresh answer (the pipeline as the face sees it)."""
    if normalise(query.handle) != normalise(HANDLE):
        return Answer(query.handle, [], cache_ttl=30.0)
    chosen = [v for v in VALUES if not query.indexes or v.index in query.indexes]
    return Answer(query.handle, chosen, cache_ttl=30.0)


def _request(
    *,
    flags: int = OpFlag.PO,
    version: tuple[int, int, int, int] = (2, 11, 2, 11),
    handle: str = HANDLE,
    indexes: tuple[int, ...] = (),
    session: int = 7,
    request_id: int = 4242,
    opcode: int = OC.RESOLUTION,
) -> bytes:
    envelope = Envelope(*version, 0, session, request_id)
    header = Header(opcode, 0, int(flags), 0xFFFF, 3, 1_800_000_000)
    body = ResolutionRequest(handle, indexes) if opcode == OC.RESOLUTION else HandleRequest("/")
    return encode_message(Message(envelope, header, body))


def _full_path(raw: bytes) -> list[bytes]:
    responder = Responder(_cached, site=SiteInfo(serial=9), hot_answers=0)
    return asyncio.run(responder.respond(raw, tcp=False))


PLAIN_CASES = {
    "plain": {},
    "digest": {"flags": OpFlag.PO | OpFlag.RD},
    "digest-2.5": {"flags": OpFlag.PO | OpFlag.RD, "version": (2, 5, 2, 5)},
    "keepalive": {"flags": OpFlag.PO | OpFlag.KC | OpFlag.REC},
    "old-suggests-nothing": {"version": (2, 3, 0, 0)},
    "newer-peer": {"version": (2, 10, 3, 20)},
    "index-filter": {"indexes": (2001,)},
}


@pytest.mark.parametrize("case", PLAIN_CASES.values(), ids=PLAIN_CASES.keys())
def test_hit_writes_the_full_paths_bytes(hdl_hot_impl, case: dict) -> None:
    raw = _request(**case)
    (full,) = _full_path(raw)
    decoded = decode_message(full)
    start = 44 + (1 + len(decoded.digest.digest) if decoded.digest is not None else 0)
    body = full[start : 44 + int.from_bytes(full[40:44], "big")]
    hot = hdl_hot_impl.HotAnswers(10, 9)
    hot.store(raw, body, normalise(HANDLE), 30.0)
    assert hot.answer(raw) == full
    # another request id and session get their own ids back, the rest unchanged
    again = _request(**case, session=99, request_id=5)
    (full_again,) = _full_path(again)
    assert hot.answer(again) == full_again
    assert hot.hits == 2


def test_responder_stores_what_it_answered_and_hits_match() -> None:
    responder = Responder(_cached, site=SiteInfo(serial=9))
    raw = _request(flags=OpFlag.PO | OpFlag.RD)
    (full,) = asyncio.run(responder.respond(raw, tcp=False))
    assert responder.hot.answer(raw) == full
    responder.hot.drop(normalise(HANDLE))
    assert responder.hot.answer(raw) is None


def test_a_major_5_request_with_a_digest_is_answered_every_time() -> None:
    """Very old clients write major 5 and mean 2.0: the full path answered with 2.0's digest,
    then storing the answer read it as a newer one (KeyError) and the request got nothing."""
    responder = Responder(_cached, site=SiteInfo(serial=9))
    raw = _request(flags=OpFlag.PO | OpFlag.RD, version=(5, 0, 0, 0))
    for _ in range(2):
        (out,) = asyncio.run(responder.respond(raw, tcp=False))
        answer = decode_message(out)
        assert (answer.header.rc, answer.envelope.major, answer.envelope.minor) == (1, 2, 0)
    assert responder.stats.errors == 0


NOT_PLAIN = {
    "authoritative": {"flags": OpFlag.PO | OpFlag.AT},
    "restricted-values-asked": {"flags": 0},
    "version-2.0": {"version": (2, 0, 2, 0)},
    "major-5-means-2.0": {"version": (5, 0, 0, 0), "flags": OpFlag.PO | OpFlag.RD},
    "site-info": {"opcode": OC.GET_SITE_INFO},
}


@pytest.mark.parametrize("case", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_only_plain_resolutions_are_answered(hdl_hot_impl, case: dict) -> None:
    raw = _request(**case)
    hot = hdl_hot_impl.HotAnswers(10)
    hot.store(raw, b"\x00\x00\x00\x01x\x00\x00\x00\x00", "k", 30.0)
    assert hot.answer(raw) is None


def test_malformed_and_mutated_requests_never_hit_wrongly(hdl_hot_impl) -> None:
    """Truncations and byte flips of a stored request either miss or hit exactly as the
    original would (a flip in the ids or the expiration); nothing raises."""
    raw = _request()
    (full,) = _full_path(raw)
    hot = hdl_hot_impl.HotAnswers(10)
    hot.store(raw, full[44:-4], normalise(HANDLE), 30.0)
    rng = random.Random(5)
    for cut in range(len(raw)):
        assert hot.answer(raw[:cut]) is None
    for _ in range(2000):
        mutated = bytearray(raw)
        mutated[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        out = hot.answer(bytes(mutated))
        if out is not None:
            assert hdl_hot_impl.request_key(bytes(mutated)) == hdl_hot_impl.request_key(raw)


def test_udp_answers_fit_one_packet_or_take_the_full_path(hdl_hot_impl) -> None:
    raw = _request()
    hot = hdl_hot_impl.HotAnswers(10)
    hot.store(raw, b"x" * 600, normalise(HANDLE), 30.0)
    assert hot.answer(raw) is None
    assert len(hot.answer(raw, udp=False)) == 20 + 24 + 600 + 4


def test_entries_expire_are_bounded_and_dropped_by_cache_key(hdl_hot_impl) -> None:
    now = [100.0]
    hot = hdl_hot_impl.HotAnswers(2, 0xFFFF, lambda: now[0])
    a, b, c = (_request(handle=f"88.1/{x}") for x in "abc")
    for raw, key in ((a, "88.1/a"), (b, "88.1/b")):
        hot.store(raw, b"\x00\x00\x00\x00", key, 30.0)
    assert hot.answer(a) is not None
    hot.store(c, b"\x00\x00\x00\x00", "88.1/c", 30.0)  # the oldest (a) goes
    assert len(hot) == 2 and hot.answer(a) is None and hot.answer(c) is not None
    hot.drop("88.1/c")
    assert hot.answer(c) is None and hot.answer(b) is not None
    now[0] += hdl_hot_impl.REUSE_SECONDS
    assert hot.answer(b) is None and len(hot) == 0
    hot.store(a, b"", "88.1/a", 0.0)  # nothing fresh to keep
    assert len(hot) == 0
