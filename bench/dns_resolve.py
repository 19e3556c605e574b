"""DNS answers per second on a hot cache: tierid's DNS face against Unbound and Knot Resolver
serving the same names, measured in the same run with dnsperf.

An authority node holds the demo products; a tierid resolver node (DNS face on) walks to it.
Unbound (one thread) and Knot Resolver (kresd, one process) forward the zone to that
resolver, so after a warm-up all three answer the same NAPTR questions from their caches.
Also measured: a bare uvloop UDP server sending the same answers pre-built (what any
Python face can reach here), and the tierid resolver with its stored-answer path turned off
(``hot_answers = 0``), i.e. a dnspython parse and build per query.

Every server runs on core 0, dnsperf on core 1 (taskset), on loopback. Each server is
measured ``--rounds`` times, alternating, and the best round counts.

Usage: python bench/dns_resolve.py [--seconds 8] [--rounds 3] [--readme]
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import msgpack

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.http_resolve import pinned  # noqa: E402
from bench.readme import rate_table, write_block  # noqa: E402
from resolver.dns_names import name_for  # noqa: E402
from tests.conftest import NodeProcess, free_port  # noqa: E402
from tierid.demo import PRODUCTS  # noqa: E402

ZONE = "id.tierid.test."
TOOLS = {"dnsperf": "dnsperf", "unbound": "unbound", "kresd": "knot-resolver"}


def query_wire(name: str) -> bytes:
    """The query dnsperf sends for ``name NAPTR`` (no EDNS, RD set), id 0."""
    query = dns.message.make_query(name, "NAPTR", use_edns=False)
    query.id = 0
    return query.to_wire()


def ask(port: int, name: str, timeout: float = 20) -> bytes:
    """One NAPTR query, retried until the server answers with data. :returns: the reply."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(1)
                s.sendto(query_wire(name), ("127.0.0.1", port))
                reply = s.recv(65535)
            if dns.message.from_wire(reply).answer:
                return reply
        except (OSError, dns.exception.DNSException):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no answer for {name} on port {port}")
        time.sleep(0.2)


def dnsperf(port: int, queries: Path, seconds: int) -> float:
    out = subprocess.run(
        pinned(
            1,
            [
                "dnsperf",
                "-s",
                "127.0.0.1",
                "-p",
                str(port),
                "-d",
                str(queries),
                "-l",
                str(seconds),
                "-c",
                "4",
                "-q",
                "200",
            ],
        ),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = re.search(r"Queries per second:\s+([\d.]+)", out)
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    codes = re.search(r"Response codes:\s+(.*)", out)
    if rate is None or codes is None or "NOERROR" not in codes.group(1) or "," in codes.group(1):
        raise RuntimeError(f"dnsperf run failed or saw errors:\n{out}")
    if lost is not None and int(lost.group(1)) > 0:
        print(f"  (port {port}: {lost.group(1)} queries lost)")
    return float(rate.group(1))


def start_unbound(tmp: Path, upstream: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = tmp / "unbound.conf"
    conf.write_text(
        textwrap.dedent(
            f"""\
            server:
              interface: 127.0.0.1@{port}
              num-threads: 1
              do-daemonize: no
              username: ""
              chroot: ""
              directory: "{tmp}"
              pidfile: "{tmp}/unbound.pid"
              use-syslog: no
              logfile: ""
              verbosity: 0
              do-ip6: no
              do-not-query-localhost: no
              access-control: 127.0.0.0/8 allow
              module-config: "iterator"
              local-zone: "test." nodefault
              domain-insecure: "test."
            stub-zone:
              name: "{ZONE}"
              stub-addr: 127.0.0.1@{upstream}
            """
        )
    )
    proc = subprocess.Popen(pinned(0, ["unbound", "-d", "-c", str(conf)]))
    return proc, port


def start_kresd(tmp: Path, upstream: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    rundir = tmp / "kresd"
    rundir.mkdir()
    conf = rundir / "config.lua"
    conf.write_text(
        textwrap.dedent(
            f"""\
            net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})
            trust_anchors.remove('.')
            cache.size = 64 * MB
            policy.add(policy.suffix(policy.STUB({{'127.0.0.1@{upstream}'}}),
                                     {{todname('{ZONE}')}}))
            """
        )
    )
    proc = subprocess.Popen(
        pinned(0, ["kresd", "-n", "-c", str(conf), str(rundir)]),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    return proc, port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--readme", action="store_true", help="write the results into README.md")
    args = ap.parse_args()
    missing = [pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None]
    if missing:
        sys.exit(f"needs Debian packages {', '.join(missing)}; `make bench` installs them")

    zone = dns.name.from_text(ZONE)
    names = [
        name_for(h, zone).to_text()
        for h, vals in PRODUCTS.items()
        if any(v["type"] == "URL" for v in vals)
    ]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        queries = tmp / "queries.txt"
        queries.write_text("".join(f"{n} NAPTR\n" for n in names))
        procs: list[subprocess.Popen] = []
        nodes: list[NodeProcess] = []
        try:
            (tmp / "authority").mkdir()
            authority = NodeProcess(tmp / "authority", prefix="88")
            nodes.append(authority)
            for prefix in sorted({h.split("/")[0] for h in PRODUCTS}):
                authority.create_enterprise(prefix, b"bench-secret")
            for handle, values in PRODUCTS.items():
                admin = f"300:0.NA/{handle.split('/')[0]}"
                authority.session(admin).put(authority.api(handle), json=values).raise_for_status()
            ports = {}
            for label, hot in (("hot", 100_000), ("full", 0)):
                (tmp / label).mkdir()
                ports[label] = free_port()
                dns_conf = f"[dns]\nenabled = true\nport = {ports[label]}\nhot_answers = {hot}\n"
                node = NodeProcess(tmp / label, prefix=None, roots=[authority.url], extra=dns_conf)
                nodes.append(node)
                subprocess.run(
                    ["taskset", "-a", "-p", "-c", "0", str(node.proc.pid)], capture_output=True
                )
            answers = [(query_wire(n), ask(ports["hot"], n)) for n in names]
            (tmp / "answers.msgpack").write_bytes(msgpack.packb(answers))
            ports["bare"] = free_port()
            bare = subprocess.Popen(
                pinned(
                    0,
                    [
                        sys.executable,
                        str(ROOT / "bench" / "bare_dns.py"),
                        str(ports["bare"]),
                        str(tmp / "answers.msgpack"),
                    ],
                )
            )
            procs.append(bare)
            unbound, ports["unbound"] = start_unbound(tmp, ports["hot"])
            kresd, ports["kresd"] = start_kresd(tmp, ports["hot"])
            procs += [unbound, kresd]
            for port in ports.values():
                for n in names:
                    ask(port, n)
            rates: dict[str, list[float]] = {k: [] for k in ports}
            for _ in range(args.rounds):
                for label, port in ports.items():
                    rates[label].append(dnsperf(port, queries, args.seconds))
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)
            for n in nodes:
                n.stop()

    best = {k: max(v) for k, v in rates.items()}
    rows = [
        ("Unbound 1.17, cache hit, one thread (reference)", best["unbound"]),
        ("Knot Resolver 5.6 (kresd), cache hit, one process", best["kresd"]),
        ("bare uvloop UDP server, pre-built answers (Python ceiling)", best["bare"]),
        ("tierid resolver, DNS face, stored answers", best["hot"]),
        ("tierid resolver, DNS face, dnspython parse + build per query", best["full"]),
    ]
    table = rate_table("answers/s", "Unbound", rows, best["unbound"])
    note = (
        f"Measured {time.strftime('%Y-%m-%d')} with `make bench`: dnsperf -c4 -q200, "
        f"{args.seconds} s x {args.rounds} rounds (best), NAPTR questions for the "
        f"{len(names)} demo products with URLs, servers on core 0, dnsperf on core 1, loopback.\n"
    )
    print(table + "\n" + note)
    if args.readme:
        write_block("dns_resolve", table + "\n" + note)


if __name__ == "__main__":
    main()
