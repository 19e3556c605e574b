"""HTTP resolution throughput: a tierid node answering GET /api/handles/{id} from its
store, against a bare aiohttp handler returning the same bytes, measured in the same run.

Servers run on core 0, wrk on core 1 (taskset), on loopback. Each side is measured
``--rounds`` times, alternating, and the best round counts (the machine is noisy).
Prints a table and, with ``--readme``, rewrites the block between the bench markers in
README.md.

Usage: python bench/http_resolve.py [--seconds 8] [--rounds 3] [--readme]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.readme import rate_table, write_block  # noqa: E402
from tests.conftest import NodeProcess, free_port  # noqa: E402
from tierid.demo import PRODUCTS  # noqa: E402

HANDLE = "88.118.8/PUMP-2024-000123"


def pinned(core: int, args: list[str]) -> list[str]:
    return (["taskset", "-c", str(core)] if shutil.which("taskset") else []) + args


def wait_up(url: str) -> bytes:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                return resp.read()
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


#: headers the server makes itself (and hop-by-hop ones: urllib asks to close)
_SERVER_MADE = {"Date", "Server", "Content-Length", "Connection", "Keep-Alive"}


def answer_of(url: str) -> tuple[dict[str, str], bytes]:
    """The headers (those a handler sets) and body of a GET."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        headers = {k: v for k, v in resp.headers.items() if k not in _SERVER_MADE}
        return headers, resp.read()


def start_bare(tmp: Path, like: str) -> tuple[subprocess.Popen, str]:
    """The baseline server on core 0, answering every path with the same bytes as ``like``
    (a tierid URL): its body and the headers its handler set (Content-Type, CORS)."""
    headers, body = answer_of(like)
    (tmp / "body.json").write_bytes(body)
    port = free_port()
    given = [arg for name, value in headers.items() for arg in ("--header", f"{name}:{value}")]
    proc = subprocess.Popen(
        pinned(
            0,
            [
                sys.executable,
                str(ROOT / "bench" / "bare_server.py"),
                str(port),
                str(tmp / "body.json"),
                "--uvloop",
                *given,
            ],
        )
    )
    url = f"http://127.0.0.1:{port}/api/handles/{HANDLE}"
    wait_up(url)
    assert answer_of(url) == (headers, body), "the baseline must answer the same bytes"
    return proc, url


def wrk(url: str, seconds: int, script: str | None = None) -> float:
    extra = ["-s", script] if script else []
    out = subprocess.run(
        pinned(1, ["wrk", "-t1", "-c32", f"-d{seconds}s", *extra, url]),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match or "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk run failed or saw errors:\n{out}")
    return float(match.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--readme", action="store_true", help="write the results into README.md")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (Debian package 'wrk'); `make bench` installs it")

    with tempfile.TemporaryDirectory() as tmp:
        node = NodeProcess(Path(tmp))
        bare_server = None
        try:
            admin = node.create_enterprise("88.118.8", b"bench-secret")
            node.session(admin).put(node.api(HANDLE), json=PRODUCTS[HANDLE]).raise_for_status()
            subprocess.run(
                ["taskset", "-a", "-p", "-c", "0", str(node.proc.pid)], capture_output=True
            )
            node_url = node.api(HANDLE)
            body = wait_up(node_url)
            bare_server, bare_url = start_bare(Path(tmp), node_url)
            tierid_rates, bare_rates = [], []
            for _ in range(args.rounds):
                bare_rates.append(wrk(bare_url, args.seconds))
                tierid_rates.append(wrk(node_url, args.seconds))
        finally:
            node.stop()
            if bare_server is not None:
                bare_server.terminate()
                bare_server.wait(10)

    best_node, best_bare = max(tierid_rates), max(bare_rates)
    rows = [
        ("bare aiohttp handler, same bytes (baseline)", best_bare),
        ("tierid node, GET /api/handles/{id} from SQLite", best_node),
    ]
    table = rate_table("requests/s", "baseline", rows, best_bare)
    note = (
        f"Measured {time.strftime('%Y-%m-%d')} with `make bench`: wrk -t1 -c32, {args.seconds} s x "
        f"{args.rounds} rounds (best), servers on core 0, wrk on core 1, loopback, "
        f"{len(body)}-byte answer.\n"
    )
    print(table + "\n" + note)
    if args.readme:
        write_block("http_resolve", table + "\n" + note)


if __name__ == "__main__":
    main()
