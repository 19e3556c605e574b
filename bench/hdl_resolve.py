"""Handle protocol resolutions per second over UDP on a hot cache: tierid's binary face
(RFC 3652, Handle.Net's native protocol) against a bare uvloop UDP server sending the same
answers pre-built, measured in the same run with a small C load generator
(``bench/hdl_blast.c``, compiled here with ``cc -O2``).

An authority node holds the demo products; a tierid resolver node (``[handle]`` face on)
walks to it over HTTP. After a warm-up, the same OC 1 requests (PUBL set, AUTH clear) are
answered from the face's stored answers (``resolver/hdl_hot.py``). Also measured: a second
resolver with the stored answers turned off (``hot_answers = 0``), i.e. a decode, a
resolution through the cache stage and an encode per request. The baseline
(``bench/bare_hdl.py``) copies the request's ids into the answer tierid gave, and nothing
more.

Every server runs on core 0, hdl_blast on core 1 (taskset), on loopback. Each server is
measured ``--rounds`` times, alternating, and the best round counts.

Usage: python bench/hdl_resolve.py [--seconds 8] [--rounds 3] [--inflight 100] [--readme]
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.http_resolve import pinned  # noqa: E402
from bench.readme import rate_table, write_block  # noqa: E402
from resolver.hdl_codec import encode_message  # noqa: E402
from resolver.hdl_types import (  # noqa: E402
    Envelope,
    Header,
    Message,
    OpFlag,
    ResolutionRequest,
)
from tests.conftest import NodeProcess, free_port  # noqa: E402
from tierid.demo import PRODUCTS  # noqa: E402

#: what the hot path answers over UDP: one packet (longer answers take the full path)
UDP_PACKET_SIZE = 512
RESULT = re.compile(r"answers=(\d+) seconds=([\d.]+) rate=([\d.]+) lost=(\d+) bad=(\d+) late=(\d+)")


def request_wire(handle: str) -> bytes:
    """A plain resolution of all of ``handle``'s public values, ids 0 (hdl_blast sets them)."""
    message = Message(Envelope(), Header(opcode=1, flags=int(OpFlag.PO)), ResolutionRequest(handle))
    return encode_message(message)


def ask(port: int, request: bytes, timeout: float = 20) -> bytes:
    """One request, retried until the server answers it with success (RC 1).

    :returns: the answer (its request id 0, as the request's), or b"" when the server
        answers with another code or more than one packet.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(1)
                s.sendto(request, ("127.0.0.1", port))
                reply = s.recv(65535)
            if len(reply) >= 28 and reply[4:12] == request[4:12]:
                whole = struct.unpack_from(">I", reply, 16)[0] + 20 == len(reply)
                rc = struct.unpack_from(">I", reply, 24)[0]
                return reply if rc == 1 and whole else b""
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no answer on port {port}")
        time.sleep(0.2)


def blast(binary: Path, label: str, port: int, reqs: Path, seconds: float, inflight: int) -> float:
    """Answers per second of one hdl_blast run (on core 1) against ``port``."""
    out = subprocess.run(
        pinned(1, [str(binary), str(port), str(reqs), str(inflight), str(seconds)]),
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    m = RESULT.search(out)
    if m is None:
        raise RuntimeError(f"hdl_blast printed no result:\n{out}")
    answers, _, rate, lost, bad, _ = m.groups()
    if int(answers) == 0 or int(bad) > 0:
        raise RuntimeError(f"hdl_blast against {label} saw errors: {out}")
    if int(lost) > 0:
        print(f"  ({label}: {lost} requests lost)")
    return float(rate)


def handle_counters(node: NodeProcess) -> dict[str, float]:
    """The node's ``tierid_handle_*_total`` counters from ``/metrics``."""
    text = requests.get(f"{node.url}/metrics", timeout=5).text
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"^tierid_handle_(\w+)_total (\S+)$", text, re.M)
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--inflight",
        type=int,
        default=100,
        help="requests outstanding at once (200 overflow a 208 KB UDP receive buffer)",
    )
    ap.add_argument("--readme", action="store_true", help="write the results into README.md")
    args = ap.parse_args()
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        sys.exit("needs a C compiler (cc) for bench/hdl_blast.c; `make bench` installs gcc")

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        binary = tmp / "hdl_blast"
        subprocess.run(
            [cc, "-O2", "-Wall", "-o", str(binary), str(ROOT / "bench" / "hdl_blast.c")],
            check=True,
        )
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

            (tmp / "hot").mkdir()
            hot = NodeProcess(tmp / "hot", prefix=None, roots=[authority.url], handle=True)
            nodes.append(hot)
            (tmp / "full").mkdir()
            full_port = free_port()
            full = NodeProcess(
                tmp / "full",
                prefix=None,
                roots=[authority.url],
                extra=f"[handle]\nenabled = true\nport = {full_port}\nhot_answers = 0\n",
            )
            nodes.append(full)
            for node in (hot, full):
                subprocess.run(
                    ["taskset", "-a", "-p", "-c", "0", str(node.proc.pid)], capture_output=True
                )
            ports = {"hot": hot.handle_port, "full": full_port}

            # the requests whose answers the hot path stores: RC 1 in one UDP packet
            pairs = []
            for handle in PRODUCTS:
                request = request_wire(handle)
                ask(ports["hot"], request)  # the walk, then the stored answer
                answer = ask(ports["hot"], request)
                if answer and len(answer) <= UDP_PACKET_SIZE:
                    pairs.append((request, answer))
            if not pairs:
                raise RuntimeError("no demo product answered in one packet")
            reqs = tmp / "requests.bin"
            reqs.write_bytes(b"".join(struct.pack(">H", len(q)) + q for q, _ in pairs))
            (tmp / "answers.msgpack").write_bytes(msgpack.packb(pairs))

            ports["bare"] = free_port()
            bare = subprocess.Popen(
                pinned(
                    0,
                    [
                        sys.executable,
                        str(ROOT / "bench" / "bare_hdl.py"),
                        str(ports["bare"]),
                        str(tmp / "answers.msgpack"),
                    ],
                )
            )
            procs.append(bare)
            for request, answer in pairs:
                if ask(ports["bare"], request) != answer:
                    raise RuntimeError("the baseline does not send tierid's answer")
                if ask(ports["full"], request) != answer:
                    raise RuntimeError("the full path does not send the stored answer's bytes")

            order = ["bare", "hot", "full"]
            for label in order:  # warm-up
                blast(binary, label, ports[label], reqs, 1, args.inflight)
            before = {"hot": handle_counters(hot), "full": handle_counters(full)}
            rates: dict[str, list[float]] = {k: [] for k in order}
            for _ in range(args.rounds):
                for label in order:
                    rates[label].append(
                        blast(binary, label, ports[label], reqs, args.seconds, args.inflight)
                    )
            after = {"hot": handle_counters(hot), "full": handle_counters(full)}
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)
            for n in nodes:
                n.stop()

    for label in ("hot", "full"):
        asked = after[label]["requests"] - before[label]["requests"]
        stored = after[label]["hot_answers"] - before[label]["hot_answers"]
        print(f"  {label}: {asked:,.0f} requests, {stored / max(asked, 1):.2%} from stored answers")
    best = {k: max(v) for k, v in rates.items()}
    rows = [
        ("bare uvloop UDP server, pre-built answers (baseline)", best["bare"]),
        ("tierid resolver, Handle face, stored answers", best["hot"]),
        (
            "tierid resolver, Handle face, decode + resolve + encode (`hot_answers = 0`)",
            best["full"],
        ),
    ]
    table = rate_table("answers/s", "baseline", rows, best["bare"])
    note = (
        f"Targets: >= 100k answers/s on one core and >= 70% of the baseline. Measured "
        f"{time.strftime('%Y-%m-%d')} with `make bench`: bench/hdl_blast.c, {args.inflight} "
        f"requests in flight, {args.seconds} s x {args.rounds} rounds (best), OC 1 resolutions "
        f"(PUBL) of the {len(pairs)} demo products whose answers fit one UDP packet, servers "
        f"on core 0, hdl_blast on core 1, loopback.\n"
    )
    print(table + "\n" + note)
    if args.readme:
        write_block("hdl_resolve", table + "\n" + note)


if __name__ == "__main__":
    main()
