"""Running nodes: ``serve`` (from a config file), ``demo`` (embedded demo data) and
``init`` (bootstrap a prefix and its admin identity on a fresh node)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import click
from aiohttp import web
from rich.console import Console

from registry.bootstrap import ADMIN_INDEX, bootstrap_prefix, http_site
from registry.storage.sqlite import SQLiteStore
from resolver.handle import prefix_record
from tierid import config as config_mod
from tierid import demo as demo_mod
from tierid.app import make_app, ssl_context
from tierid.commands.common import run
from tierid.keyfiles import read_or_create_secret

console = Console(highlight=False)


def _serve(config: config_mod.Config, samples: tuple[str, ...] = ()) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    scheme = "https" if config.http.tls_cert else "http"
    url = f"{scheme}://{config.http.host}:{config.http.port}"
    console.print(f"tierid node [bold]{config.node.name}[/] listening on {url}")
    console.print(f"  data: {config.storage_path}")
    if samples:
        console.print("  try:")
        for handle in samples:
            console.print(f"    curl -s {url}/api/handles/{handle}")
        console.print(f"    open {url}/{samples[0]}?noredirect in a browser")
    web.run_app(
        make_app(config, samples),
        host=config.http.host,
        port=config.http.port,
        ssl_context=ssl_context(config),
        print=None,
        access_log=None,
    )


def _load(path: Path | None) -> config_mod.Config:
    try:
        return config_mod.load(path) if path else config_mod.embedded("demo")
    except config_mod.ConfigError as err:
        raise click.ClickException(str(err)) from err


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Node configuration (TOML). Without it, the embedded demo defaults.",
)
def serve(config_path: Path | None) -> None:
    """Run a node from a configuration file until Ctrl-C."""
    _serve(_load(config_path))


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo keeps its data (default var/demo).",
)
@click.option("--port", type=int, help="HTTP port (default 8000).")
def demo(data_dir: Path | None, port: int | None) -> None:
    """Run a demo node with sample products, seeded on first start."""
    config = config_mod.embedded("demo")
    if data_dir:
        config = replace(config, node=replace(config.node, data_dir=str(data_dir.resolve())))
    if port:
        config = replace(config, http=replace(config.http, port=port))
    seeded = asyncio.run(demo_mod.seed(config))
    console.print("seeded demo data" if seeded else "demo data already present")
    for prefix in (demo_mod.PROVINCE, *demo_mod.ENTERPRISES):
        console.print(
            f"  admin {ADMIN_INDEX}:{prefix_record(prefix)}"
            f"  secret in {demo_mod.secret_path(config, prefix)}"
        )
    _serve(config, demo_mod.SAMPLES)


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
    secret = read_or_create_secret(secret_file)

    async def go() -> bool:
        store = SQLiteStore(config.storage_path)
        await store.open()
        try:
            site = http_site(config.http.host, config.http.port, https=bool(config.http.tls_cert))
            return await bootstrap_prefix(store, prefix, secret, site, replace=replace)
        finally:
            await store.close()

    created = run(go())
    na = prefix_record(prefix)
    if created:
        console.print(f"created {na}; admin identity {ADMIN_INDEX}:{na}, secret in {secret_file}")
    else:
        console.print(f"{na} already exists (use --replace to overwrite); prefix homed")
