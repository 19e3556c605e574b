"""The Handle face's stored answers: picks the compiled twin once (see ``resolver/_compat.py``)."""

from __future__ import annotations

from resolver._compat import load_twin

_twin, IMPLEMENTATION = load_twin("resolver._hdl_hot", "resolver.hdl_hot_py")
REUSE_SECONDS = _twin.REUSE_SECONDS
HotAnswers = _twin.HotAnswers
request_key = _twin.request_key
reply_version = _twin.reply_version

__all__ = ["IMPLEMENTATION", "REUSE_SECONDS", "HotAnswers", "reply_version", "request_key"]
