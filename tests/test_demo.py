"""`tierid demo` brings the whole demo federation up as separate processes, seeds it, and
Ctrl-C stops every process; `tierid status` reports on it. Ports are free ones here."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.conftest import free_port, tierid_cli

FEDERATION = Path(__file__).resolve().parents[1] / "config" / "federation.toml"


def _with_free_ports(tmp_path: Path) -> Path:
    text = FEDERATION.read_text()
    text = re.sub(
        r"^(dns_|handle_)?port = \d+$",
        lambda m: f"{m.group(1) or ''}port = {free_port()}",
        text,
        flags=re.M,
    )
    path = tmp_path / "federation.toml"
    path.write_text(text.replace('data_dir = "var/federation"', f'data_dir = "{tmp_path}/var"'))
    return path


def _start_demo(fed_file: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tierid", "demo", "--federation", str(fed_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _nodes_left(tmp_path: Path) -> list[str]:
    """Node processes of the federation under ``tmp_path`` still running (any parent)."""
    time.sleep(0.5)
    out = subprocess.run(["pgrep", "-f", f"serve --config {tmp_path}"], capture_output=True)
    return out.stdout.decode().split()


def _serving_children(parent: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_demo_federation_end_to_end(tmp_path: Path) -> None:
    fed_file = _with_free_ports(tmp_path)
    resolver_port = int(re.findall(r"^port = (\d+)$", fed_file.read_text(), re.M)[-1])
    dns_port = re.findall(r"^dns_port = (\d+)$", fed_file.read_text(), re.M)[-1]
    handle_port = re.findall(r"^handle_port = (\d+)$", fed_file.read_text(), re.M)[-1]
    demo = subprocess.Popen(
        [sys.executable, "-m", "tierid", "demo", "--federation", str(fed_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = ""
        deadline = time.monotonic() + 60
        while "Ctrl-C stops every node" not in banner:
            line = demo.stdout.readline()
            assert line or demo.poll() is None, banner
            banner += line
            assert time.monotonic() < deadline, banner
        assert "sample records registered now" in banner
        children = _serving_children(demo.pid)
        assert len(children) == 10

        resolver = f"http://127.0.0.1:{resolver_port}"
        pump = requests.get(f"{resolver}/api/handles/88.118.8/PUMP-2024-000123").json()
        assert pump["responseCode"] == 1
        links = {v["type"]: v["data"]["value"] for v in pump["values"]}
        assert "COST" not in links  # private values stay private through the resolver
        for linked in (links["REF.MOTOR"], links["REF.VALVE"], links["REF.BATCH"]):
            assert requests.get(f"{resolver}/api/handles/{linked}").json()["responseCode"] == 1
        r = requests.get(f"{resolver}/88.118.8/LATEST-PUMP", allow_redirects=False)
        assert r.headers["Location"] == "https://pumps.example.cn/p/PUMP-2024-000123"
        compressor = requests.get(f"{resolver}/api/handles/88.130.5/COMPRESSOR-XK-3").json()
        assert compressor["responseCode"] == 1
        # the pump's GS1 QR code (GTIN + serial) reaches its record through the bindings
        scan = {"scan": "]Q3010690123400001621000123"}
        scanned = requests.post(f"{resolver}/api/scan", json=scan).json()
        assert scanned["handle"] == "88.118.8/PUMP-2024-000123", scanned

        # the same code's Digital Link: the item's own page, and the model's manual
        dl = f"{resolver}/01/06901234000016/21/000123"
        item = requests.get(dl, allow_redirects=False)
        assert item.status_code == 307
        assert item.headers["Location"] == "https://pumps.example.cn/p/PUMP-2024-000123"
        manual = requests.get(dl + "?linkType=gs1:instructions", allow_redirects=False)
        assert manual.headers["Location"] == "https://pumps.example.cn/manuals/CP-200.pdf"

        # a scanner that only speaks DNS asks for the pump's NAPTR and finds the manual
        def naptr(name: str) -> str:
            dig = ["dig", "@127.0.0.1", "-p", dns_port, "+short", "+time=3", name, "NAPTR"]
            done = subprocess.run(dig, capture_output=True, text=True, timeout=30, check=True)
            return done.stdout

        pump_naptr = naptr("PUMP-2024-000123.8.118.88.id.tierid.test.")
        assert '"hdl+url.manual" "!^.*$!https://pumps.example.cn/manuals/CP-200.pdf!"' in pump_naptr
        # ... and its barcode's GTIN finds the pump model's record through the GS1 index
        model = naptr("0.1.0.0.0.0.4.3.2.1.0.9.6.gtin.id.tierid.test.")
        assert '"hdl+url" "!^.*$!https://pumps.example.cn/models/CP-200!"' in model

        # a maintenance app speaking the binary protocol asks the resolver's Handle face;
        # the resolver itself walked national -> provincial -> enterprise over it
        hdl = f"hdl://127.0.0.1:{handle_port}"
        over_handle = tierid_cli("resolve", "88.118.8/PUMP-2024-000123", "--node", hdl, "--json")
        assert json.loads(over_handle.stdout)["values"] == pump["values"]
        status = requests.get(f"{resolver}/api/status").json()
        walked = [server["url"] for server in status["resolver"]["servers"]]
        assert walked and all(url.startswith("hdl://") for url in walked), walked
        assert status["handle"]["requests"] >= 1

        status = tierid_cli("status", "--federation", str(fed_file))
        assert status.stdout.count("up") >= 10 and "down" not in status.stdout
        assert "lag 0" in status.stdout
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(30)
    assert demo.returncode == 0
    time.sleep(0.5)
    for pid in children:
        assert subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0
    # a second start finds everything in place and registers nothing new
    again = subprocess.Popen(
        [sys.executable, "-m", "tierid", "demo", "--federation", str(fed_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = ""
        while "registered now" not in line:
            line = again.stdout.readline()
            assert line, "demo exited"
        assert "(0 sample records registered now)" in line
    finally:
        again.send_signal(signal.SIGINT)
        again.wait(30)


@contextmanager
def _running_demo(fed_file: Path) -> Iterator[subprocess.Popen]:
    """``tierid demo``, killed on the way out if it is still running."""
    demo = _start_demo(fed_file)
    try:
        yield demo
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


def test_stop_signals_at_start_and_again_and_again_stop_everything(tmp_path: Path) -> None:
    """Ctrl-C while the nodes are starting stops those started (none is left behind), and
    Ctrl-C pressed again and again, with SIGTERM on top, once the demo runs: every node stops,
    the demo exits 0 and nothing hangs."""
    fed_file = _with_free_ports(tmp_path)
    with _running_demo(fed_file) as early:
        started: set[int] = set()
        deadline = time.monotonic() + 30
        while len(started) < 3 and early.poll() is None and time.monotonic() < deadline:
            started.update(_serving_children(early.pid))
        assert len(started) >= 3, "the demo did not start its nodes"
        early.send_signal(signal.SIGINT)
        early.wait(30)
    assert early.returncode == 0
    assert not _nodes_left(tmp_path)

    with _running_demo(fed_file) as demo:
        line = ""
        while "registered now" not in line:
            line = demo.stdout.readline()
            assert line, "demo exited"
        assert len(_nodes_left(tmp_path)) >= 10  # what the check after the stop looks for
        for n in range(2000):
            try:
                os.kill(demo.pid, signal.SIGTERM if n % 7 == 6 else signal.SIGINT)
            except ProcessLookupError:
                break
        demo.wait(30)
    assert demo.returncode == 0
    assert not _nodes_left(tmp_path)
