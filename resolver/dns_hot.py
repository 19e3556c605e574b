"""The DNS face's stored answers: picks the compiled twin once (see ``resolver/_compat.py``)."""

from __future__ import annotations

from resolver._compat import NO_EXTENSIONS, REQUIRE_EXTENSIONS

if NO_EXTENSIONS:
    from resolver.dns_hot_py import REUSE_SECONDS, HotAnswers, question_key

    IMPLEMENTATION = "py"
else:
    try:
        from resolver._dns_hot import (  # type: ignore[import-not-found,no-redef]
            REUSE_SECONDS,
            HotAnswers,
            question_key,
        )

        IMPLEMENTATION = "c"
    except ImportError:
        if REQUIRE_EXTENSIONS:
            raise
        from resolver.dns_hot_py import REUSE_SECONDS, HotAnswers, question_key

        IMPLEMENTATION = "py"

__all__ = ["IMPLEMENTATION", "REUSE_SECONDS", "HotAnswers", "question_key"]
