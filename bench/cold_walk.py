"""Cold-walk latency: resolving through national -> provincial -> enterprise nodes with
nothing cached, against a direct lookup at the enterprise node, in the same run.

Three real node processes on loopback; the walk runs in this process with a fresh
resolver (empty prefix maps) for every lookup, over one warm connection pool, so the
figure is the walk itself: three HTTP round trips against one.

Usage: python bench/cold_walk.py [--lookups 300] [--readme]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.readme import write_block  # noqa: E402
from resolver.message import Query  # noqa: E402
from resolver.upstream import Upstream  # noqa: E402
from resolver.walker import Walker, WalkSettings  # noqa: E402
from tests.conftest import NodeProcess  # noqa: E402
from tierid.demo import PRODUCTS  # noqa: E402

HANDLE = "88.118.8/PUMP-2024-000123"


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def measure(national: str, enterprise: str, lookups: int) -> tuple[list[float], list[float]]:
    upstream = Upstream(request_timeout=2.0)
    await upstream.open()
    settings = WalkSettings(enabled=True, roots=(national,))
    walk, direct = [], []
    try:
        for _ in range(20):  # warm connections and code paths
            await Walker(upstream, settings).resolve(Query(HANDLE))
            await upstream.ask([enterprise], Query(HANDLE))
        for _ in range(lookups):
            started = time.perf_counter()
            answer = await Walker(upstream, settings).resolve(Query(HANDLE))
            walk.append((time.perf_counter() - started) * 1000)
            assert answer.values
            started = time.perf_counter()
            await upstream.ask([enterprise], Query(HANDLE))
            direct.append((time.perf_counter() - started) * 1000)
    finally:
        await upstream.close()
    return walk, direct


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lookups", type=int, default=300)
    ap.add_argument("--readme", action="store_true", help="write the results into README.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        roots = [Path(tmp) / name for name in ("national", "province", "enterprise")]
        for r in roots:
            r.mkdir()
        nodes: list[NodeProcess] = []
        try:
            nodes.append(NodeProcess(roots[0], prefix="88"))
            nodes.append(NodeProcess(roots[1], prefix="88.118"))
            nodes.append(NodeProcess(roots[2], prefix="88.118.8"))
            national, province, enterprise = nodes
            national.delegate("88.118", province)
            province.delegate("88.118.8", enterprise)
            writer = enterprise.session(enterprise.operator)
            writer.put(enterprise.api(HANDLE), json=PRODUCTS[HANDLE]).raise_for_status()
            walk, direct = asyncio.run(measure(national.url, enterprise.url, args.lookups))
        finally:
            for n in nodes:
                n.stop()
    rows = [
        ("direct lookup at the enterprise node (baseline)", direct),
        ("cold walk national -> provincial -> enterprise", walk),
    ]
    table = "| what | p50 ms | p99 ms | mean ms |\n|---|---:|---:|---:|\n" + "".join(
        f"| {name} | {percentile(s, 50):.2f} | {percentile(s, 99):.2f} "
        f"| {statistics.mean(s):.2f} |\n"
        for name, s in rows
    )
    ratio = percentile(walk, 50) / percentile(direct, 50)
    note = (
        f"Cold walk p50 is {ratio:.1f}x a direct lookup (targets: p50 <= 3 ms, p99 <= 10 ms). "
        f"Measured {time.strftime('%Y-%m-%d')} with `make bench`: {args.lookups} lookups each, "
        "fresh resolver state per walk, warm keep-alive connections, loopback.\n"
    )
    print(table + "\n" + note)
    if args.readme:
        write_block("cold_walk", table + "\n" + note)


if __name__ == "__main__":
    main()
