"""A federation of nodes on one machine: the demo (`tierid demo`) and `tierid status`.

The federation file (``config/federation.toml``) says each node's place in the tiers; from
it this module writes every node's configuration, bootstraps each prefix's admin identity
(secrets under ``<data_dir>/secrets``), starts every node as its own process, delegates the
prefixes down the tiers through the HTTP API, and stops them all on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import tomllib
import urllib.request
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from registry.bootstrap import ADMIN_INDEX, bootstrap_prefix, http_site, prefix_record_values
from registry.storage.sqlite import SQLiteStore
from resolver.errors import HandleAlreadyExists
from resolver.handle import prefix_record
from resolver.http_client import HandleHttpClient
from resolver.json_values import value_to_json
from resolver.typed_data import SiteInfo
from tierid.config import ConfigError
from tierid.keyfiles import read_or_create_secret

HOST = "127.0.0.1"


@dataclass(frozen=True)
class NodeSpec:
    name: str
    port: int
    prefix: str = ""
    parent: str = ""
    hosts: tuple[str, ...] = ()
    mirror_of: str = ""
    roots: tuple[str, ...] = ()
    gs1_index: str = ""
    dns_port: int = 0
    handle_port: int = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def endpoint(self) -> str:
        """Where a resolver reaches the node: its binary face if it has one, else its API."""
        return f"hdl://{HOST}:{self.handle_port}" if self.handle_port else self.url

    @property
    def role(self) -> str:
        if self.mirror_of:
            return "mirror"
        return "resolver" if self.roots else "authority"


@dataclass(frozen=True)
class Federation:
    data_dir: Path
    nodes: tuple[NodeSpec, ...]

    def node(self, name: str) -> NodeSpec:
        return next(n for n in self.nodes if n.name == name)

    def mirrors_of(self, name: str) -> list[NodeSpec]:
        return [n for n in self.nodes if n.mirror_of == name]

    def host_of(self, prefix: str) -> NodeSpec:
        """The node that answers for handles under ``prefix``."""
        for n in self.nodes:
            if prefix == n.prefix or prefix in n.hosts:
                return n
        raise KeyError(prefix)

    def secret_file(self, prefix: str) -> Path:
        return self.data_dir / "secrets" / f"{prefix}.secret"

    def config_file(self, node: NodeSpec) -> Path:
        return self.data_dir / "configs" / f"{node.name}.toml"

    def sites(self, node: NodeSpec) -> list[SiteInfo]:
        """A node's primary site and its mirrors' sites, as its HS_SITE values list them."""
        return [http_site(HOST, node.port, handle_port=node.handle_port)] + [
            http_site(HOST, m.port, primary=False, handle_port=m.handle_port)
            for m in self.mirrors_of(node.name)
        ]


def load(text: str, base_dir: Path) -> Federation:
    """:raises ConfigError: unknown keys, duplicate names or dangling references."""
    raw = tomllib.loads(text)
    unknown = set(raw) - {"data_dir", "nodes"}
    if unknown:
        raise ConfigError(f"unknown federation option(s): {', '.join(sorted(unknown))}")
    known = {f.name for f in fields(NodeSpec)}
    nodes = []
    for item in raw.get("nodes", []):
        extra = set(item) - known
        if extra:
            raise ConfigError(f"unknown node option(s): {', '.join(sorted(extra))}")
        item = {k: tuple(v) if isinstance(v, list) else v for k, v in item.items()}
        nodes.append(NodeSpec(**item))
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise ConfigError("node names must be unique")
    for n in nodes:
        for ref in (n.parent, n.mirror_of, *n.roots):
            if ref and ref not in names:
                raise ConfigError(f"node {n.name} refers to unknown node {ref!r}")
    data_dir = Path(raw.get("data_dir", "var/federation"))
    return Federation(data_dir if data_dir.is_absolute() else base_dir / data_dir, tuple(nodes))


def load_file(path: Path | None) -> Federation:
    if path is None:
        text = resources.files("tierid.defaults").joinpath("federation.toml").read_text("utf-8")
        return load(text, Path.cwd())
    return load(path.read_text("utf-8"), path.resolve().parent)


def node_config(fed: Federation, node: NodeSpec) -> str:
    """The TOML configuration of one node of the federation."""
    lines = [
        "[node]",
        f"name = {json.dumps(node.name)}",
        f"data_dir = {json.dumps(str(fed.data_dir / node.name))}",
    ]
    if node.prefix:
        lines.append(f"prefixes = {json.dumps([node.prefix, *node.hosts])}")
        lines.append(
            f"server_admins = {json.dumps([f'{ADMIN_INDEX}:{prefix_record(node.prefix)}'])}"
        )
    lines += ["", "[http]", f'host = "{HOST}"', f"port = {node.port}", "allow_insecure_auth = true"]
    if node.mirror_of:
        primary = fed.node(node.mirror_of)
        lines += [
            "",
            "[mirror]",
            f"primary = {json.dumps(primary.url)}",
            f"identity = {json.dumps(f'{ADMIN_INDEX}:{prefix_record(primary.prefix)}')}",
            f"secret_file = {json.dumps(str(fed.secret_file(primary.prefix)))}",
        ]
    if node.roots:
        roots = [fed.node(r).endpoint for r in node.roots]
        lines += ["", "[resolver]", "enabled = true", f"roots = {json.dumps(roots)}"]
        if node.gs1_index:
            lines.append(f"gs1_index = {json.dumps(node.gs1_index)}")
    if node.dns_port:
        lines += ["", "[dns]", "enabled = true", f'host = "{HOST}"', f"port = {node.dns_port}"]
    if node.handle_port:
        lines += [
            "",
            "[handle]",
            "enabled = true",
            f'host = "{HOST}"',
            f"port = {node.handle_port}",
        ]
    return "\n".join(lines) + "\n"


async def prepare(fed: Federation) -> None:
    """Write configs and bootstrap each prefix's own record on its node (idempotent)."""
    for node in fed.nodes:
        path = fed.config_file(node)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(node_config(fed, node))
        if not node.prefix:
            continue
        store = SQLiteStore(fed.data_dir / node.name / "tierid.sqlite3")
        await store.open()
        try:
            secret = read_or_create_secret(fed.secret_file(node.prefix))
            await bootstrap_prefix(store, node.prefix, secret, fed.sites(node))
        finally:
            await store.close()


def client_for(fed: Federation, node: NodeSpec, prefix: str) -> HandleHttpClient:
    """A client of ``node`` authenticated as the admin of ``prefix``."""
    secret = read_or_create_secret(fed.secret_file(prefix))
    return HandleHttpClient(
        node.url, identity=f"{ADMIN_INDEX}:{prefix_record(prefix)}", secret=secret
    )


async def put_new(client: HandleHttpClient, handle: str, values: list[dict[str, Any]]) -> bool:
    """Create ``handle`` unless it exists. :returns: whether it was created."""
    try:
        await client.put(handle, values, overwrite=False)
    except HandleAlreadyExists:
        return False
    return True


async def delegate(fed: Federation) -> None:
    """Each parent creates its children's prefix records; hosting nodes their enterprises'."""
    for node in fed.nodes:
        if node.parent:
            parent = fed.node(node.parent)
            values = prefix_record_values(node.prefix, None, fed.sites(node))
            async with client_for(fed, parent, parent.prefix) as c:
                await put_new(c, prefix_record(node.prefix), [value_to_json(v) for v in values])
        for hosted in node.hosts:
            secret = read_or_create_secret(fed.secret_file(hosted))
            values = prefix_record_values(hosted, secret, fed.sites(node))
            async with client_for(fed, node, node.prefix) as c:
                await put_new(c, prefix_record(hosted), [value_to_json(v) for v in values])


class Processes:
    """The federation's node processes: start, wait until they answer, stop them all."""

    def __init__(self, fed: Federation) -> None:
        self.fed = fed
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        logs = self.fed.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for node in self.fed.nodes:
            log = open(logs / f"{node.name}.log", "ab")  # noqa: SIM115 - owned by the child
            self.procs[node.name] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tierid",
                    "serve",
                    "--config",
                    str(self.fed.config_file(node)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 30) -> None:
        pending = {n.name: n for n in self.fed.nodes}
        deadline = time.monotonic() + timeout
        while pending:
            for name, node in list(pending.items()):
                if self.procs[name].poll() is not None:
                    raise RuntimeError(
                        f"node {name} exited; see {self.fed.data_dir}/logs/{name}.log"
                    )
                try:
                    with urllib.request.urlopen(f"{node.url}/api/status", timeout=1):
                        del pending[name]
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"nodes not answering after {timeout:.0f} s: {', '.join(pending)}"
                )
            time.sleep(0.1)

    def wait_mirrors(self, timeout: float = 30) -> None:
        """Until every mirror has applied everything its primary had when we started waiting."""
        answers = statuses(self.fed)
        targets = {
            n.name: (answers[n.mirror_of] or {}).get("changeSeq", 0)
            for n in self.fed.nodes
            if n.mirror_of
        }
        deadline = time.monotonic() + timeout
        while targets:
            answers = statuses(self.fed)
            for name, seq in list(targets.items()):
                mirror = (answers[name] or {}).get("mirror", {})
                if mirror.get("appliedSeq", -1) >= seq:
                    del targets[name]
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"mirrors not caught up after {timeout:.0f} s: {', '.join(targets)}"
                )
            time.sleep(0.1)

    def exited(self) -> list[str]:
        return [name for name, p in self.procs.items() if p.poll() is not None]

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


#: what every node's /api/status holds (tierid/status.py)
_STATUS_FIELDS = frozenset(("roles", "prefixes", "records", "changeSeq", "requests"))


def statuses(fed: Federation) -> dict[str, dict[str, Any] | None]:
    """Each node's ``/api/status``, or None when it does not answer."""

    async def one(node: NodeSpec) -> dict[str, Any] | None:
        try:
            async with HandleHttpClient(node.url, timeout=2) as c:
                answer = await c.status()
        except Exception:
            return None
        # something else listening there answers something else: not a node that is up
        return answer if set(answer) >= _STATUS_FIELDS else None

    async def every() -> list[dict[str, Any] | None]:
        return await asyncio.gather(*(one(n) for n in fed.nodes))

    return dict(zip([n.name for n in fed.nodes], asyncio.run(every()), strict=True))
