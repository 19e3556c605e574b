"""The Handle binary codec on a UDP resolution, Cython twin against the pure-Python twin in
the same run: decoding the request, and encoding and decoding the response, for the demo
pump records (a record of 4 values, and one of 8 public values), plus a server's whole turn
(decode the request, encode the answer). Both twins are first checked to write the same
bytes.

Usage: python bench/hdl_codec.py [--rounds 5] [--readme]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.readme import write_block  # noqa: E402
from resolver.codes import ResponseCode  # noqa: E402
from resolver.hdl_types import (  # noqa: E402
    Envelope,
    Header,
    Message,
    OpCode,
    OpFlag,
    ResolutionRequest,
    ResolutionResponse,
)
from resolver.json_values import value_from_json  # noqa: E402
from resolver.values import PUBLIC_READ  # noqa: E402
from tierid.demo import PRODUCTS  # noqa: E402

TWINS = {"py": "resolver.hdl_codec_py", "c": "resolver._hdl_codec"}
RECORDS = ("88.118.8/PUMP-2024-000124", "88.118.8/PUMP-2024-000123")


def messages(handle: str) -> tuple[Message, Message]:
    """The query a Java client sends for ``handle`` and the answer a server gives."""
    values = tuple(
        v.stamped(1_721_000_000)
        for v in (value_from_json(j, max_data_bytes=4096) for j in PRODUCTS[handle])
        if v.permissions & PUBLIC_READ
    )
    envelope = Envelope(2, 10, 2, 11, 0, 0, 0x5EED, 0)
    query = Message(
        envelope,
        Header(OpCode.RESOLUTION, 0, OpFlag.PO | OpFlag.REC | OpFlag.CA, expiration=1_721_043_200),
        ResolutionRequest(handle),
    )
    answer = Message(
        envelope.reply(),
        Header(OpCode.RESOLUTION, ResponseCode.SUCCESS, OpFlag.PO | OpFlag.REC | OpFlag.CA),
        ResolutionResponse(handle, values),
    )
    return query, answer


def rate(fn: Callable[[], object], rounds: int, n: int = 20_000) -> float:
    """Calls per second, best of ``rounds`` (the machine is shared; the best is the least
    disturbed)."""
    return n / min(timeit.repeat(fn, number=n, repeat=rounds))


Case = tuple[str, Callable[[object], Callable[[], object]]]


def cases(handle: str, with_query: bool) -> list[Case]:
    """What to time for one record: label, and a maker of the call for a given twin."""
    query, answer = messages(handle)
    codec = importlib.import_module(TWINS["py"])
    query_bytes, answer_bytes = codec.encode_message(query), codec.encode_message(answer)
    n = len(answer.body.values)
    out: list[Case] = [
        (
            f"encode answer, {n} values ({len(answer_bytes)} B)",
            lambda c: lambda: c.encode_message(answer),
        ),
        (f"decode answer, {n} values", lambda c: lambda: c.decode_message(answer_bytes)),
    ]
    if with_query:
        out[:0] = [
            (
                f"decode query ({len(query_bytes)} B)",
                lambda c: lambda: c.decode_message(query_bytes),
            ),
            ("encode query", lambda c: lambda: c.encode_message(query)),
        ]
        out.append(
            (
                f"server turn: decode query, encode answer ({n} values)",
                lambda c: lambda: (c.decode_message(query_bytes), c.encode_message(answer)),
            )
        )
    return out


def measure(rounds: int) -> list[tuple[str, float, float]]:
    """``(label, pure-Python calls/s, Cython calls/s)`` per case."""
    py, c = (importlib.import_module(TWINS[name]) for name in ("py", "c"))
    for handle in RECORDS:
        for msg in messages(handle):
            assert c.encode_message(msg) == py.encode_message(msg), "the twins disagree"
    rows = []
    for handle in RECORDS:
        for label, make in cases(handle, with_query=handle == RECORDS[0]):
            rows.append((label, rate(make(py), rounds), rate(make(c), rounds)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--readme", action="store_true")
    args = ap.parse_args()
    rows = measure(args.rounds)
    table = "| operation | pure Python | Cython | Cython / Python |\n|---|---:|---:|---:|\n"
    for label, py_rate, c_rate in rows:
        table += f"| {label} | {py_rate:,.0f}/s | {c_rate:,.0f}/s | {c_rate / py_rate:.1f}x |\n"
    note = (
        f"Measured {time.strftime('%Y-%m-%d')} with `python bench/hdl_codec.py`: one process, "
        f"best of {args.rounds} rounds of 20,000 calls per figure, both twins in the same run.\n"
    )
    print(table + "\n" + note)
    if args.readme:
        write_block("hdl_codec", table + "\n" + note)


if __name__ == "__main__":
    main()
