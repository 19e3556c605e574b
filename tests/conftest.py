"""Fixtures: both twins of each compiled module, and real node processes on loopback.

``NodeProcess`` starts ``python -m tierid serve`` on a free port with its own data folder,
bootstraps its prefix with ``tierid init`` (a known secret), and stops it at the end.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import requests

from resolver import _compat

PROVINCE = "88.118"
PUMPS = "88.118.8"
MOTORS = "88.118.9"
OPERATOR = "300:0.NA/88.118"
PUMPS_ADMIN = "300:0.NA/88.118.8"
MOTORS_ADMIN = "300:0.NA/88.118.9"


def _twins(compiled: str, python: str) -> list:
    params = [pytest.param(python, id="py")]
    if not _compat.NO_EXTENSIONS:
        params.insert(0, pytest.param(compiled, id="c"))
    return params


@pytest.fixture(params=_twins("resolver._handle", "resolver.handle_py"))
def handle_impl(request: pytest.FixtureRequest):
    """Each twin of the identifier parser: compiled (``c``) and pure Python (``py``)."""
    return importlib.import_module(request.param)


@pytest.fixture(params=_twins("resolver._dns_hot", "resolver.dns_hot_py"))
def dns_hot_impl(request: pytest.FixtureRequest):
    """Each twin of the DNS face's stored answers: compiled (``c``) and pure Python (``py``)."""
    return importlib.import_module(request.param)


@pytest.fixture(params=_twins("resolver._hdl_hot", "resolver.hdl_hot_py"))
def hdl_hot_impl(request: pytest.FixtureRequest):
    """Each twin of the Handle face's stored answers: compiled (``c``) and pure Python."""
    return importlib.import_module(request.param)


@pytest.fixture(params=_twins("resolver._lru", "resolver.lru_py"))
def lru_impl(request: pytest.FixtureRequest):
    """Each twin of the L1 cache: compiled (``c``) and pure Python (``py``)."""
    return importlib.import_module(request.param)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tierid_cli(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tierid", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


class NodeProcess:
    """A real tierid node process on 127.0.0.1 with a bootstrapped provincial prefix."""

    #: the binary face's port (0: none), for stand-ins made without __init__ too
    handle_port = 0

    def __init__(
        self,
        root: Path,
        *,
        prefix: str | None = PROVINCE,
        tls: bool = False,
        insecure_auth: bool = True,
        extra: str = "",
        node_options: str = "",
        http_options: str = "",
        roots: list[str] | None = None,
        resolver_options: str = "",
        handle: bool = False,
    ) -> None:
        """``prefix`` is homed and bootstrapped with admin ``300:0.NA/<prefix>`` (secret
        ``operator-secret``), who is also the server admin; None for a pure resolver.
        ``roots`` makes the node a recursive resolver starting at those nodes (with
        ``resolver_options`` added to its ``[resolver]`` section)."""
        self.root = root
        self.prefix = prefix
        self.operator = f"300:0.NA/{prefix}" if prefix else ""
        self.port = free_port()
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        self.config = root / "node.toml"
        self.handle_port = free_port() if handle else 0
        self.hdl = f"hdl://127.0.0.1:{self.handle_port}"
        self.secrets: dict[str, bytes] = {}
        tls_lines = ""
        if tls:
            tierid_cli(
                "keygen", "tls", "--cert", str(root / "cert.pem"), "--key", str(root / "key.pem")
            )
            tls_lines = 'tls_cert = "cert.pem"\ntls_key = "key.pem"\n'
        resolver = ""
        if roots is not None:
            resolver = (
                f"[resolver]\nenabled = true\nroots = {json.dumps(roots)}\n"
                "request_timeout_ms = 500\nwalk_timeout_ms = 3000\n" + resolver_options
            )
        self.config.write_text(
            f"""
[node]
name = "{prefix or "resolver"}"
data_dir = "data"
prefixes = {json.dumps([prefix] if prefix else [])}
server_admins = {json.dumps([self.operator] if prefix else [])}
{node_options}

[http]
port = {self.port}
allow_insecure_auth = {"true" if insecure_auth else "false"}
max_body_bytes = 65536
{http_options}
{tls_lines}
[limits]
max_values = 50
max_value_bytes = 4096

{resolver}
{f"[handle]{chr(10)}enabled = true{chr(10)}port = {self.handle_port}" if handle else ""}
{extra}
"""
        )
        if prefix:
            secret_file = root / "operator.secret"
            secret_file.write_bytes(b"operator-secret")
            tierid_cli(
                "init",
                "--config",
                str(self.config),
                "--prefix",
                prefix,
                "--secret-file",
                str(secret_file),
            )
            self.secrets[self.operator] = b"operator-secret"
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def verify(self) -> bool | str:
        return str(self.root / "cert.pem") if self.tls else True

    def start(self) -> None:
        self.log = open(self.root / f"node-{time.monotonic_ns()}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tierid", "serve", "--config", str(self.config)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited: {(self.root / self.log.name).read_text()}")
            try:
                requests.get(f"{self.url}/api/prefixes", timeout=1, verify=self.verify)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("node did not start within 20 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()

    def session(self, identity: str | None = None) -> requests.Session:
        """A requests session, authenticated as ``identity`` (Basic, as pyhandle does)."""
        s = requests.Session()
        s.verify = self.verify
        if identity:
            from resolver.http_client import basic_header

            s.headers["Authorization"] = basic_header(identity, self.secrets[identity])
        return s

    def api(self, handle: str) -> str:
        from resolver.http_client import handle_path

        return self.url + handle_path(handle)

    def status(self) -> dict:
        return requests.get(f"{self.url}/api/status", verify=self.verify, timeout=5).json()

    def delegate(self, prefix: str, *sites: NodeProcess, mirrors: tuple = ()) -> None:
        """Create ``0.NA/<prefix>`` here pointing at other nodes (primary sites, then mirrors)."""
        from registry.bootstrap import prefix_record_values
        from resolver.json_values import value_to_json

        infos = [n.site() for n in sites] + [n.site(primary=False) for n in mirrors]
        values = [value_to_json(v) for v in prefix_record_values(prefix, None, infos)]
        r = self.session(self.operator).put(self.api(f"0.NA/{prefix}"), json=values)
        assert r.status_code in (200, 201), r.text

    def site(self, *, primary: bool = True):
        """This node's HS_SITE: its HTTP API, and its binary face when it has one."""
        from registry.bootstrap import http_site

        return http_site("127.0.0.1", self.port, primary=primary, handle_port=self.handle_port)

    def create_enterprise(self, prefix: str, secret: bytes) -> str:
        """Create ``prefix`` for an enterprise hosted here (its admin's key stored here)
        and home it, through the HTTP API."""
        from registry.bootstrap import prefix_record_values
        from resolver.json_values import value_to_json

        identity = f"300:0.NA/{prefix}"
        values = [value_to_json(v) for v in prefix_record_values(prefix, secret, [self.site()])]
        op = self.session(self.operator)
        r = op.put(self.api(f"0.NA/{prefix}"), json=values, params={"overwrite": "false"})
        assert r.status_code == 201, r.text
        r = op.post(f"{self.url}/api/prefixes/{prefix}")
        assert r.status_code == 200, r.text
        self.secrets[identity] = secret
        return identity

    def index_company_prefix(self, gcp: str, prefix: str, index: str = "88.gs1") -> None:
        """Host the GS1 Company Prefix index ``index`` here and record there that ``gcp``
        belongs to the enterprise prefix ``prefix`` (README, "GS1 keys")."""
        admin = self.create_enterprise(index, b"gs1-index-secret")
        r = self.session(admin).put(
            self.api(f"{index}/{gcp}"), json=[{"index": 1, "type": "GS1.PREFIX", "data": prefix}]
        )
        assert r.status_code == 201, r.text


@contextlib.contextmanager
def gs1_federation(
    root: Path, enterprise_prefix: str, gcp: str, records: dict[str, list[dict]]
) -> Iterator[tuple[NodeProcess, NodeProcess]]:
    """Three tiers (``88``, the enterprise's province, the enterprise) with the GS1 Company
    Prefix ``gcp`` indexed at the national node for the enterprise, ``records`` registered
    there (values without an index are numbered in order), and a resolver that resolves GS1
    keys. Yields (enterprise, resolver); every process stops at the end."""
    province_prefix = enterprise_prefix.rsplit(".", 1)[0]
    started: list[NodeProcess] = []
    try:
        for name in ("national", "province", "enterprise", "resolver"):
            (root / name).mkdir()
        national = NodeProcess(root / "national", prefix="88")
        started.append(national)
        province = NodeProcess(root / "province", prefix=province_prefix)
        started.append(province)
        enterprise = NodeProcess(root / "enterprise", prefix=enterprise_prefix)
        started.append(enterprise)
        national.delegate(province_prefix, province)
        province.delegate(enterprise_prefix, enterprise)
        national.index_company_prefix(gcp, enterprise_prefix)
        resolver = NodeProcess(
            root / "resolver",
            prefix=None,
            roots=[national.url],
            resolver_options='gs1_index = "88.gs1"\n',
        )
        started.append(resolver)
        writer = enterprise.session(enterprise.operator)
        for handle, values in records.items():
            indexed = [{"index": i, **v} for i, v in enumerate(values, start=1)]
            writer.put(enterprise.api(handle), json=indexed).raise_for_status()
        yield enterprise, resolver
    finally:
        for n in started:
            n.stop()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """One node per test module, with two sibling enterprises (pumps, motors)."""
    n = NodeProcess(tmp_path_factory.mktemp("node"))
    try:
        n.create_enterprise(PUMPS, b"pump-secret")
        n.create_enterprise(MOTORS, b"motor-secret")
        yield n
    finally:
        n.stop()


@pytest.fixture(autouse=True, scope="session")
def _no_proxy_env() -> None:
    """Tests talk to loopback only, never through a proxy from the environment; and a CA
    bundle named in the environment must not override the test node's own certificate."""
    for var in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ):
        os.environ.pop(var, None)
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"


def held_back(port: int, messages: bytes, seconds: float = 10) -> bool:
    """Whether a TCP server stops taking ``messages`` (sent again and again) from a client
    that never reads its answers, within ``seconds``: sending is refused for a whole second.
    A server without back-pressure reads on, and keeps every answer in memory."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        deadline, stuck_since = time.monotonic() + seconds, None
        pending = memoryview(messages)
        while time.monotonic() < deadline:
            try:
                sent = s.send(pending)
            except BlockingIOError:
                stuck_since = stuck_since or time.monotonic()
                if time.monotonic() - stuck_since > 1.0:
                    return True
                time.sleep(0.05)
                continue
            stuck_since = None
            pending = pending[sent:] or memoryview(messages)
    return False


def eventually(check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


class RedisServer:
    def __init__(self, root: Path, password: str | None = None) -> None:
        self.port = free_port()
        self.root = root
        self.password = password
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                *(["--requirepass", self.password] if self.password else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, password=self.password)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    @property
    def url(self) -> str:
        secret = f":{self.password}@" if self.password else ""
        return f"redis://{secret}127.0.0.1:{self.port}/0"
