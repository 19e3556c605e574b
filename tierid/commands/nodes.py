"""Running nodes: ``serve`` (from a config file), ``demo`` (the demo federation) and
``init`` (bootstrap a prefix and its admin identity on a fresh node)."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import dns.name
from aiohttp import web
from rich.console import Console
from rich.table import Table

from registry.bootstrap import ADMIN_INDEX, bootstrap_prefix, http_site
from registry.storage.sqlite import SQLiteStore
from resolver.dns_names import gtin_name, name_for
from resolver.faces.dns import DnsSettings
from resolver.handle import prefix_record
from tierid import config as config_mod
from tierid import demo as demo_mod
from tierid import federation, worker_metrics
from tierid.app import make_app, ssl_context
from tierid.commands.common import federation_option, run
from tierid.keyfiles import read_or_create_secret

console = Console(highlight=False)


def _serve(config: config_mod.Config) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        ssl_context(config)  # its files readable, before any process starts
    except (OSError, ssl.SSLError) as exc:
        raise click.ClickException(f"TLS certificate or key: {exc}") from exc
    scheme = "https" if config.http.tls_cert else "http"
    workers = config.http.workers
    console.print(
        f"tierid node [bold]{config.node.name}[/] listening on "
        f"{scheme}://{config.http.host}:{config.http.port} (data: {config.storage_path})"
        + (f" with {workers} worker processes" if workers > 1 else "")
    )
    if workers <= 1:
        try:
            _run(config, reuse_port=False)
        except OSError as exc:  # the port taken, say
            where = f"{config.http.host}:{config.http.port}"
            raise click.ClickException(f"cannot serve on {where}: {exc.strerror or exc}") from exc
        return
    _run_workers(config, workers)


def _run(config: config_mod.Config, *, reuse_port: bool) -> None:
    loop = None
    if config.http.uvloop:
        import uvloop

        loop = uvloop.new_event_loop()
    web.run_app(
        make_app(config),
        loop=loop,
        host=config.http.host,
        port=config.http.port,
        ssl_context=ssl_context(config),
        print=None,
        access_log=None,
        reuse_port=reuse_port or None,
    )


def _run_workers(config: config_mod.Config, workers: int) -> None:
    """Several processes on one port (SO_REUSEPORT: the kernel spreads connections); they
    share the store and, when configured, the Redis cache. Signals are passed on."""
    worker_metrics.clear(config.data_dir)
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_run, args=(config,), kwargs={"reuse_port": True}, daemon=False)
        for _ in range(workers)
    ]
    for p in procs:
        p.start()
    signals = StopSignals()
    try:
        while any(p.is_alive() for p in procs):
            time.sleep(0.5)
    except Stopped:
        pass
    signals.ignore()
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(15)


def _load(path: Path) -> config_mod.Config:
    try:
        return config_mod.load(path)
    except config_mod.ConfigError as err:
        raise click.ClickException(str(err)) from err


@click.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Node configuration (TOML); every option is in config/tierid.example.toml.",
)
def serve(config_path: Path) -> None:
    """Run a node from a configuration file until Ctrl-C."""
    _serve(_load(config_path))


@click.command()
@federation_option
def demo(fed: federation.Federation) -> None:
    """Run the demo federation: a national node and its mirror, three provincial nodes
    (one with a mirror), enterprise nodes and a resolver on 127.0.0.1:8000, each its own
    process, seeded with linked sample products. Ctrl-C stops them all."""
    asyncio.run(federation.prepare(fed))
    procs = federation.Processes(fed)
    signals = StopSignals()
    try:
        with signals.deferred():
            procs.start()
        procs.wait_ready()
        asyncio.run(federation.delegate(fed))
        created = asyncio.run(demo_mod.seed(fed))
        procs.wait_mirrors()
        _print_demo(fed, created)
        while True:
            for name in procs.exited():
                console.print(f"[red]node {name} exited[/] (log: {fed.data_dir}/logs/{name}.log)")
                procs.procs.pop(name)
            time.sleep(1)
    except Stopped:
        pass
    except RuntimeError as err:
        raise click.ClickException(str(err)) from err
    finally:
        signals.ignore()
        console.print("stopping every node ...")
        procs.stop()


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(Exception):
    """SIGINT or SIGTERM arrived: whatever was running is abandoned and everything stops."""


class StopSignals:
    """SIGINT and SIGTERM become :class:`Stopped`, raised in the main thread once: the first
    one ignores those that follow, so a second Ctrl-C cannot interrupt the stopping. Within
    :meth:`deferred` a signal is only noted and raised when the block ends: a ``Popen``
    interrupted half-way would leave a child process nobody knows of.

    (A ``threading.Event`` set from the handler deadlocked when a second signal landed
    inside the first ``set()``, which holds the event's lock; this handler takes no lock.)"""

    def __init__(self) -> None:
        self._deferring = False
        self._noted = False
        for sig in _STOP_SIGNALS:
            signal.signal(sig, self._arrived)

    def _arrived(self, signum: int, frame: object) -> None:
        if self._deferring:
            self._noted = True
            return
        self.ignore()
        raise Stopped(signal.Signals(signum).name)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self._noted:
            self.ignore()
            raise Stopped("signalled while starting")

    @staticmethod
    def ignore() -> None:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def _print_demo(fed: federation.Federation, created: int) -> None:
    table = Table(title=f"tierid demo federation ({created} sample records registered now)")
    for column in ("node", "role", "prefix", "url"):
        table.add_column(column)
    for node in fed.nodes:
        prefixes = ", ".join(p for p in (node.prefix, *node.hosts) if p)
        table.add_row(node.name, node.role, prefixes or "-", node.url)
    console.print(table)
    resolver = next(n for n in fed.nodes if n.role == "resolver")
    console.print(f"Resolve anything through the resolver at {resolver.url}:")
    for handle in demo_mod.SAMPLES:
        console.print(f"  curl -s {resolver.url}/api/handles/{handle}")
    console.print(f"  open {resolver.url}/{demo_mod.SAMPLES[0]}?noredirect  (a page for people)")
    if resolver.handle_port:
        hdl = f"hdl://{federation.HOST}:{resolver.handle_port}"
        console.print(f"  tierid resolve {demo_mod.SAMPLES[0]} --node {hdl}  (Handle protocol)")
    if resolver.dns_port:
        zone = dns.name.from_text(DnsSettings().zone)
        named = (name_for(demo_mod.SAMPLES[0], zone), gtin_name(demo_mod.PUMP_GTIN, zone))
        for asked in named:
            console.print(f"  dig @{federation.HOST} -p {resolver.dns_port} {asked} NAPTR +short")
    console.print(
        f"Admins' secrets: {fed.data_dir}/secrets/<prefix>.secret "
        f"(identity {ADMIN_INDEX}:0.NA/<prefix>); status: tierid status"
    )
    console.print("Ctrl-C stops every node.")


@click.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--prefix", required=True, help="Prefix to home and administer, e.g. 88.118.")
@click.option(
    "--secret-file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Secret for 300:0.NA/<prefix>; created (random) if the file does not exist.",
)
@click.option("--replace", is_flag=True, help="Replace an existing prefix record.")
def init(config_path: Path, prefix: str, secret_file: Path, replace: bool) -> None:
    """Bootstrap a fresh node: home PREFIX and create 0.NA/PREFIX with its admin key.

    Run it once before the first start (or while the node runs). Add
    300:0.NA/PREFIX to [node] server_admins to let that identity home further prefixes.
    """
    config = _load(config_path)
    fresh = not secret_file.exists()
    secret = read_or_create_secret(secret_file)

    async def go() -> bool:
        store = SQLiteStore(config.storage_path)
        await store.open()
        try:
            site = http_site(config.http.host, config.http.port, https=bool(config.http.tls_cert))
            return await bootstrap_prefix(store, prefix, secret, [site], replace=replace)
        finally:
            await store.close()

    created = run(go())
    na = prefix_record(prefix)
    if created:
        console.print(f"created {na}; admin identity {ADMIN_INDEX}:{na}, secret in {secret_file}")
    elif fresh:  # the secret just made is nobody's: the record keeps its own
        secret_file.unlink()
        raise click.ClickException(
            f"{na} already exists with its own admin secret, not a new one in {secret_file} "
            "(not kept); give the file that holds it, or --replace to set a new one"
        )
    else:
        console.print(f"{na} already exists (use --replace to overwrite); prefix homed")
