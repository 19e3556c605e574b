"""``tierid cache``: list and flush a resolver's cache (operator token)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from resolver.http_client import HandleHttpClient
from tierid.commands.common import wraps_async

console = Console(highlight=False)


def _client(node: str, token_file: Path) -> HandleHttpClient:
    return HandleHttpClient(node, operator_token=token_file.read_bytes().strip())


_node = click.option(
    "--node", default="http://127.0.0.1:8000", show_default=True, help="Base URL of the resolver."
)
_token = click.option(
    "--token-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The resolver's operator token ([node] operator_token_file).",
)


@click.group()
def cache() -> None:
    """Inspect and flush a resolver's cache."""


@cache.command("list")
@_node
@_token
@click.option("--prefix", default="", help="Only entries under this prefix.")
@click.option("--negative", is_flag=True, help="Only cached 'not found' answers.")
@wraps_async
async def list_(node: str, token_file: Path, prefix: str, negative: bool) -> None:
    """List cached entries with remaining TTL, hits, level and stale flag."""
    async with _client(node, token_file) as c:
        answer = await c.cache_entries(prefix, negative)
    table = Table(title=f"{answer['count']} cached entries")
    for column in ("handle", "kind", "level", "ttl s", "stale", "hits"):
        table.add_column(column)
    for e in answer["entries"]:
        table.add_row(
            e["handle"],
            e["kind"],
            e["level"],
            str(e["ttl"]),
            "yes" if e["stale"] else "",
            str(e["hits"]),
        )
    console.print(table)


@cache.command()
@_node
@_token
@click.option("--handle", help="Flush one identifier (also from the shared cache).")
@click.option("--prefix", help="Flush every entry under a prefix.")
@click.option("--negative", is_flag=True, help="Flush only cached 'not found' answers.")
@click.option("--all", "everything", is_flag=True, help="Flush everything.")
@wraps_async
async def flush(
    node: str,
    token_file: Path,
    handle: str | None,
    prefix: str | None,
    negative: bool,
    everything: bool,
) -> None:
    """Drop cached entries."""
    params = [(k, v) for k, v in (("handle", handle), ("prefix", prefix)) if v]
    params += [("negative", "true")] if negative else []
    params += [("all", "true")] if everything else []
    if not params:
        raise click.UsageError("say what to flush: --handle, --prefix, --negative or --all")
    async with _client(node, token_file) as c:
        answer = await c.cache_flush(params)
    click.echo(f"flushed {answer['flushed']} entries")
