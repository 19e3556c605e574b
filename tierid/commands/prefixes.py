"""``tierid prefix``: create prefix records (delegate a prefix), home and list prefixes."""

from __future__ import annotations

from pathlib import Path

import click

from registry.bootstrap import ADMIN_INDEX, http_site, prefix_record_values
from resolver.handle import parse, prefix_record
from resolver.http_client import HandleHttpClient
from resolver.json_values import value_to_json
from tierid.commands.common import node_client, wraps_async
from tierid.keyfiles import read_or_create_secret


@click.group()
def prefix() -> None:
    """Create, home and list prefixes."""


@prefix.command()
@click.argument("new_prefix", metavar="PREFIX")
@node_client
@click.option(
    "--admin-secret-file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Secret for the new prefix's admin 300:0.NA/PREFIX (created if missing).",
)
@click.option("--site", metavar="HOST:PORT", help="Where PREFIX is served (HS_SITE over HTTP).")
@click.option("--https", is_flag=True, help="The site speaks HTTPS.")
@click.option("--home", is_flag=True, help="Also home PREFIX on this node (server admins).")
@wraps_async
async def create(
    new_prefix: str,
    client: HandleHttpClient,
    admin_secret_file: Path,
    site: str | None,
    https: bool,
    home: bool,
) -> None:
    """Create 0.NA/PREFIX naming its own admin (300:0.NA/PREFIX), as a parent tier does
    when it hands a prefix to a provincial node or an enterprise."""
    parse(f"{new_prefix}/x")
    secret = read_or_create_secret(admin_secret_file)
    site_info = None
    if site:
        host, _, port = site.rpartition(":")
        if not host or not port.isdigit():
            raise click.BadParameter("expected HOST:PORT", param_hint="--site")
        site_info = http_site(host, int(port), https=https)
    values = [value_to_json(v) for v in prefix_record_values(new_prefix, secret, site_info)]
    async with client as c:
        await c.put(prefix_record(new_prefix), values, overwrite=False)
        if home:
            await c.home(new_prefix)
    click.echo(
        f"created {prefix_record(new_prefix)}; admin {ADMIN_INDEX}:{prefix_record(new_prefix)} "
        f"with the secret in {admin_secret_file}" + ("; homed" if home else "")
    )


@prefix.command("list")
@node_client
@click.option(
    "--handles",
    "of_prefix",
    metavar="PREFIX",
    help="List the handles under PREFIX instead (needs LIST_HANDLES).",
)
@wraps_async
async def list_(
    client: HandleHttpClient,
    of_prefix: str | None,
) -> None:
    """List the prefixes homed on a node, or the handles under one prefix."""
    async with client as c:
        if of_prefix:
            answer = await c.list_handles(of_prefix)
            items = answer["handles"]
        else:
            items = (await c.list_prefixes())["prefixes"]
    for item in items:
        click.echo(item)
