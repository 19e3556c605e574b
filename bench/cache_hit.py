"""The resolver's cache hit path, each figure against a baseline in the same run:

1. HTTP: a resolver answering a cached identifier (GET /api/handles/{id}) against a bare
   aiohttp handler returning the same bytes (servers on core 0, wrk on core 1).
2. The hot path in-process (normalise + L1 lookup + JSON splice): Cython twin against the
   pure-Python twin, on the same cache contents.
3. Memory: resident size of one million cached records in the compiled L1.
4. The L2 read: one MGET of 6 keys (a tick's lookups) through redis-py against tierid's
   pipelined connection (``resolver/redis_reads.py``), 10 at a time, same Redis.

Usage: python bench/cache_hit.py [--seconds 8] [--rounds 3] [--readme]
"""

from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.http_resolve import pinned, start_bare, wait_up, wrk  # noqa: E402
from bench.readme import write_block  # noqa: E402
from tests.conftest import NodeProcess, RedisServer  # noqa: E402
from tierid.demo import PRODUCTS  # noqa: E402

HANDLE = "88.118.8/PUMP-2024-000123"


def _rotation_script(tmp: str, paths: list[str]) -> str:
    """A wrk script that asks for ``paths`` in turn (every request a different identifier)."""
    listed = ", ".join(f'"{p}"' for p in paths)
    script = Path(tmp) / "rotate.lua"
    script.write_text(
        f"local paths = {{{listed}}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        "  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n"
    )
    return str(script)


def _redis_benchmark(port: int) -> float:
    out = subprocess.run(
        pinned(
            1, ["redis-benchmark", "-p", str(port), "-t", "get", "-n", "200000", "-c", "32", "-q"]
        ),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(re.search(r"GET: ([\d.]+) requests per second", out).group(1))


def http_rates(seconds: int, rounds: int) -> dict[str, float]:
    """Requests/s of: the bare handler, an L1 hit, an L2 hit (L1 of one entry), and
    redis-benchmark GET against the same Redis."""
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("prov", "ent", "res", "l2"):
            (Path(tmp) / name).mkdir()
        nodes: list[NodeProcess] = []
        procs: list[subprocess.Popen] = []
        redis_server = RedisServer(Path(tmp))
        redis_port = redis_server.port
        try:
            province = NodeProcess(Path(tmp) / "prov", prefix="88.118")
            nodes.append(province)
            enterprise = NodeProcess(Path(tmp) / "ent", prefix="88.118.8")
            nodes.append(enterprise)
            resolver = NodeProcess(Path(tmp) / "res", prefix=None, roots=[province.url])
            nodes.append(resolver)
            l2only = NodeProcess(
                Path(tmp) / "l2",
                prefix=None,
                roots=[province.url],
                extra=f'[cache]\nmax_entries = 1\nredis_url = "redis://127.0.0.1:{redis_port}/0"\n'
                "redis_timeout_ms = 500\n",
            )
            nodes.append(l2only)
            province.delegate("88.118.8", enterprise)
            writer = enterprise.session(enterprise.operator)
            writer.put(enterprise.api(HANDLE), json=PRODUCTS[HANDLE]).raise_for_status()
            rotated = [f"88.118.8/PUMP-L2-{i:03d}" for i in range(100)]
            for handle in rotated:
                writer.put(enterprise.api(handle), json=PRODUCTS[HANDLE]).raise_for_status()
                wait_up(l2only.api(handle))  # fills Redis
            for n in nodes:
                subprocess.run(
                    ["taskset", "-a", "-p", "-c", "0", str(n.proc.pid)], capture_output=True
                )
            url = resolver.api(HANDLE)
            body = wait_up(url)
            assert wait_up(url) == body
            bare, bare_url = start_bare(Path(tmp), url)
            procs.append(bare)
            script = _rotation_script(tmp, [f"/api/handles/{h}" for h in rotated])
            rates: dict[str, list[float]] = {"bare": [], "l1": [], "l2": []}
            for _ in range(rounds):
                rates["bare"].append(wrk(bare_url, seconds))
                rates["l1"].append(wrk(url, seconds))
                rates["l2"].append(wrk(l2only.url + "/", seconds, script))
            assert resolver.status()["cache"]["upstream_queries"] == 1
            l2_cache = l2only.status()["cache"]
            assert l2_cache["l2_hits"] > 1000 and l2_cache["upstream_queries"] == len(rotated)
            best = {k: max(v) for k, v in rates.items()}
            best["redis"] = _redis_benchmark(redis_port)
            best["mget_redis_py"], best["mget_pipelined"] = mget_costs(redis_server.url)
            best["size"] = len(body)
            return best
        finally:
            for n in nodes:
                n.stop()
            for p in procs:
                p.terminate()
                p.wait(10)
            redis_server.stop()


def mget_costs(redis_url: str, calls: int = 5_000) -> tuple[float, float]:
    """Microseconds per MGET of 6 keys, 10 in flight at a time: redis-py's client (the
    baseline) and tierid's pipelined reads, in one process against the same Redis."""
    import asyncio

    import redis.asyncio as aioredis

    from resolver.redis_reads import PipelinedReads

    keys = [f"bench:mget:{i}" for i in range(6)]

    async def run() -> tuple[float, float]:
        client = aioredis.from_url(redis_url)
        for k in keys:
            await client.set(k, b"x" * 300)
        started = time.perf_counter()
        for _ in range(calls // 10):
            await asyncio.gather(*(client.mget(keys) for _ in range(10)))
        redis_py = (time.perf_counter() - started) / calls * 1e6
        reads = PipelinedReads(redis_url, timeout=5)
        await reads.connect()
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        for _ in range(calls // 10):
            told = [loop.create_future() for _ in range(10)]
            for f in told:
                reads.mget(keys, f.set_result)
            await asyncio.gather(*told)
        pipelined = (time.perf_counter() - started) / calls * 1e6
        await reads.close()
        await client.aclose()
        return redis_py, pipelined

    return asyncio.run(run())


def hot_path_rate(module: str, n: int = 200_000) -> float:
    lru = importlib.import_module(module)
    cache = lru.LRUCache(100_000, 1 << 30)
    tail = b',"values":[{"index":1,"type":"URL","data":{"format":"string","value":"https://x"}}]}'
    for i in range(10_000):
        cache.put(f"88.118.8/PUMP-{i:06d}", lru.POSITIVE, None, tail, 300, 1e12, 2e12)
    handles = [f"88.118.8/pump-{i:06d}" for i in range(0, 10_000, 7)]
    hit = lru.hit_body
    now = time.time()

    def run() -> None:
        for h in handles:
            hit(cache, h, now)

    loops = max(1, n // len(handles))
    best = min(timeit.repeat(run, number=loops, repeat=5))
    return loops * len(handles) / best


def memory_per_million(with_model: bool) -> float:
    """RSS growth for 1M cached records stored as the resolver stores them (fresh process):
    a URL value, and with ``with_model`` a MODEL value as well."""
    code = (
        "import resource, gc\n"
        "from resolver.caching import CacheSettings, CachingResolver\n"
        "from resolver.values import HandleValue\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "cache = CachingResolver(None, CacheSettings(max_entries=2_000_000, max_bytes=1 << 40))\n"
        "for i in range(1_000_000):\n"
        "    link = f'https://pumps.example.cn/p/{i:07d}'.encode()\n"
        "    url = HandleValue(1, 'URL', link, timestamp=1700000000)\n"
        "    model = HandleValue(2001, 'MODEL', b'CP-200', timestamp=1700000000)\n"
        f"    values = (url, model) if {with_model} else (url,)\n"
        "    cache.store(f'88.118.8/PUMP-2024-{i:07d}', values, 0.0)\n"
        "gc.collect()\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--readme", action="store_true")
    args = ap.parse_args()
    rates = http_rates(args.seconds, args.rounds)
    c_rate, py_rate = hot_path_rate("resolver._lru"), hot_path_rate("resolver.lru_py")
    mem_url, mem_two = memory_per_million(False), memory_per_million(True)
    bare = rates["bare"]
    table = (
        "| what | figure | vs baseline |\n|---|---:|---:|\n"
        f"| bare aiohttp handler, same bytes (baseline) | {bare:,.0f} req/s | 100% |\n"
        f"| resolver, L1 hit over HTTP | {rates['l1']:,.0f} req/s | {rates['l1'] / bare:.0%} |\n"
        f"| resolver, L2 (Redis) hit over HTTP, per-tick pipelined MGET "
        f"| {rates['l2']:,.0f} req/s | "
        f"{rates['l2'] / bare:.0%} |\n"
        f"| redis-benchmark GET, same Redis (reference for L2) | {rates['redis']:,.0f} req/s | |\n"
        f"| one MGET of 6 keys, redis-py client (baseline) | {rates['mget_redis_py']:,.0f} us "
        "| 1.0x |\n"
        f"| one MGET of 6 keys, tierid's pipelined connection | {rates['mget_pipelined']:,.0f} us "
        f"| {rates['mget_redis_py'] / rates['mget_pipelined']:.1f}x less |\n"
        "| hot path (normalise + L1 + JSON splice), pure Python (baseline) | "
        f"{py_rate:,.0f}/s | 1.0x |\n"
        f"| hot path, Cython | {c_rate:,.0f}/s | {c_rate / py_rate:.1f}x |\n"
        f"| memory for 1M cached one-value records (URL) | {mem_url:,.0f} MB | "
        "target <= 400 MB |\n"
        f"| memory for 1M cached two-value records (URL, MODEL) | {mem_two:,.0f} MB | "
        "target <= 400 MB |\n"
    )
    size = rates["size"]
    note = (
        f"Measured {time.strftime('%Y-%m-%d')} with `make bench`: wrk -t1 -c32, {args.seconds} s x "
        f"{args.rounds} rounds (best), nodes on core 0, wrk on core 1, {size}-byte answer.\n"
    )
    print(table + "\n" + note)
    if args.readme:
        write_block("cache_hit", table + "\n" + note)


if __name__ == "__main__":
    main()
