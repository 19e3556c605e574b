"""The Handle face's pending challenges (authentication by challenge-response, RFC 3652
section 3.5): what an unauthenticated client can make a node keep is bounded."""

from __future__ import annotations

import pytest

from resolver.errors import AuthenticationTimeout
from resolver.faces.native_responder import Challenges
from resolver.hdl_types import HashType, RequestDigest
from tests.test_hdl_hot import _request


def test_pending_challenges_are_bounded_in_bytes() -> None:
    """Each unauthenticated write is kept until its challenge is answered: 200 KB writes
    grew a node by 340 KB each, up to 10,000 of them. The requests kept now stay within a
    byte budget, oldest dropped first; a dropped challenge's answer is refused."""
    challenges = Challenges(timeout=60.0, max_bytes=1 << 20)
    raw = _request() + b"\0" * (200 << 10)
    digest = RequestDigest(HashType.SHA256, b"d" * 32)
    sessions = [challenges.open(raw, digest, now=0.0)[0] for _ in range(20)]
    assert len(challenges) == 5  # 5 x 200 KB fit in 1 MiB
    with pytest.raises(AuthenticationTimeout):
        challenges.take(sessions[0], now=1.0)
    assert challenges.take(sessions[-1], now=1.0).raw == raw
    assert len(challenges) == 4
    for _ in range(3):
        challenges.open(raw, digest, now=2.0)
    assert len(challenges) == 5
