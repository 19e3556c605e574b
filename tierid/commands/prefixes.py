"""``tierid prefix``: create prefix records (delegate a prefix), home and list prefixes."""

from __future__ import annotations

from pathlib import Path

import click

from registry.bootstrap import ADMIN_INDEX, http_site, prefix_record_values
from resolver.errors import TieridError
from resolver.handle import check_prefix, prefix_record
from resolver.http_client import HandleHttpClient
from resolver.json_values import value_to_json
from resolver.typed_data import SiteInfo
from tierid.commands.common import node_client, wraps_async
from tierid.keyfiles import read_or_create_secret


@click.group()
def prefix() -> None:
    """Create, home and list prefixes."""


def _site(text: str, *, https: bool, primary: bool) -> SiteInfo:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"{text!r} is not HOST:PORT", param_hint="--site/--mirror")
    return http_site(host, int(port), https=https, primary=primary)


@prefix.command()
@click.argument("new_prefix", metavar="PREFIX")
@node_client
@click.option(
    "--admin-secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the new admin's secret (HS_SECKEY) in the record, read from this file "
    "or created in it: for a prefix hosted on this node. Leave it out when the "
    "prefix is delegated to a node of its own, where its admin authenticates.",
)
@click.option(
    "--site",
    "sites",
    multiple=True,
    metavar="HOST:PORT",
    help="Primary server of PREFIX (HS_SITE and HS_SITE.PREFIX over HTTP).",
)
@click.option(
    "--mirror",
    "mirrors",
    multiple=True,
    metavar="HOST:PORT",
    help="A mirror server of PREFIX (a site with the primary flag off).",
)
@click.option("--https", is_flag=True, help="The sites speak HTTPS.")
@click.option("--home", is_flag=True, help="Also home PREFIX on this node (server admins).")
@wraps_async
async def create(
    new_prefix: str,
    client: HandleHttpClient,
    admin_secret_file: Path | None,
    sites: tuple[str, ...],
    mirrors: tuple[str, ...],
    https: bool,
    home: bool,
) -> None:
    """Create 0.NA/PREFIX naming its own admin (300:0.NA/PREFIX), as a parent tier does
    when it hands a prefix to a provincial node or an enterprise."""
    check_prefix(new_prefix)
    secret = read_or_create_secret(admin_secret_file) if admin_secret_file else None
    site_infos = [_site(s, https=https, primary=True) for s in sites]
    site_infos += [_site(m, https=https, primary=False) for m in mirrors]
    values = [value_to_json(v) for v in prefix_record_values(new_prefix, secret, site_infos)]
    async with client as c:
        await c.put(prefix_record(new_prefix), values, overwrite=False)
        if home:
            try:
                await c.home(new_prefix)
            except TieridError as err:  # created, and a re-run would only say "exists"
                raise click.ClickException(
                    f"created {prefix_record(new_prefix)}, but could not home it: {err.message}"
                    f"; a server admin homes it with `tierid prefix home {new_prefix}`"
                ) from err
    where = f"; admin secret in {admin_secret_file}" if admin_secret_file else ""
    click.echo(
        f"created {prefix_record(new_prefix)} with admin {ADMIN_INDEX}:"
        f"{prefix_record(new_prefix)}{where}" + ("; homed" if home else "")
    )


@prefix.command("home")
@click.argument("homed", metavar="PREFIX")
@node_client
@wraps_async
async def home_(homed: str, client: HandleHttpClient) -> None:
    """Home PREFIX on a node: it answers for PREFIX from then on (server admins)."""
    check_prefix(homed)
    async with client as c:
        await c.home(homed)
    click.echo(f"{homed} homed")


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
