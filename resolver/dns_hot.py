"""The DNS face's stored answers: picks the compiled twin once (see ``resolver/_compat.py``)."""

from __future__ import annotations

from resolver._compat import load_twin

_twin, IMPLEMENTATION = load_twin("resolver._dns_hot", "resolver.dns_hot_py")
REUSE_SECONDS = _twin.REUSE_SECONDS
HotAnswers = _twin.HotAnswers
question_key = _twin.question_key

__all__ = ["IMPLEMENTATION", "REUSE_SECONDS", "HotAnswers", "question_key"]
