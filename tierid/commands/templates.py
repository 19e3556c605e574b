"""``tierid template``: write, publish, withdraw and show an enterprise's metadata templates
(records ``<prefix>/TEMPLATE/<name>/<version>``, see ``registry/templates.py``)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from resolver.errors import HandleNotFound, InvalidValue
from resolver.http_client import HandleHttpClient
from resolver.templates import TEMPLATE_TYPE, Template, template_handle
from tierid.commands.common import node_client, wraps_async

console = Console(highlight=False, width=160)


def _record(template: Template) -> list[dict[str, Any]]:
    text = json.dumps(template.to_json(), ensure_ascii=False)
    return [{"index": 1, "type": TEMPLATE_TYPE, "data": text}]


async def _read(client: HandleHttpClient, handle: str) -> Template:
    answer = await client.get(handle, types=(TEMPLATE_TYPE,))
    for v in answer.get("values", []):
        return Template.from_json(json.loads(v["data"]["value"]))
    raise click.ClickException(f"{handle} holds no template")


async def _write(
    client: HandleHttpClient, handle: str, template: Template, *, exists: bool
) -> None:
    """The template value (index 1) of ``handle``, its other values left as they are."""
    await client.put(handle, _record(template), indexes=(1,) if exists else ())


@click.group()
def template() -> None:
    """Metadata templates: what a product record of a prefix must hold."""


@template.command("put")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--prefix", required=True, help="The prefix the template belongs to.")
@node_client
@wraps_async
async def put(file: Path, prefix: str, client: HandleHttpClient) -> None:
    """Write the template in FILE (JSON: name, version, items, ...) as a draft, or replace
    that version's items (they may be disabled, never removed); ``publish`` and ``withdraw``
    change its status."""
    try:
        parsed = Template.from_json(json.loads(file.read_text("utf-8")))
    except (ValueError, RecursionError, InvalidValue) as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    handle = template_handle(prefix, parsed.name, parsed.version)
    async with client as c:
        try:
            current: Template | None = await _read(c, handle)
        except HandleNotFound:
            current = None
        await _write(c, handle, parsed, exists=current is not None)
    done = "replaced" if current is not None else "created"
    click.echo(f"{done} {handle} ({parsed.status})")


def _status_command(name: str, status: str, help_: str) -> click.Command:
    @click.argument("prefix")
    @click.argument("template_name", metavar="NAME")
    @click.argument("version")
    @node_client
    @wraps_async
    async def command(
        prefix: str, template_name: str, version: str, client: HandleHttpClient
    ) -> None:
        handle = template_handle(prefix, template_name, version)
        async with client as c:
            current = await _read(c, handle)
            await _write(c, handle, replace(current, status=status), exists=True)
        click.echo(f"{handle} is {status}")

    command.__doc__ = help_
    return template.command(name)(command)


publish = _status_command("publish", "published", "Publish a template: records may use it.")
withdraw = _status_command(
    "withdraw",
    "withdrawn",
    "Withdraw a template: no record may be written against it any more (its records stay).",
)


@template.command("show")
@click.argument("prefix")
@click.argument("template_name", metavar="NAME")
@click.argument("version")
@node_client
@wraps_async
async def show(prefix: str, template_name: str, version: str, client: HandleHttpClient) -> None:
    """Show a template's items."""
    handle = template_handle(prefix, template_name, version)
    async with client as c:
        current = await _read(c, handle)
    table = Table(title=f"{handle} ({current.status})")
    for column in ("index", "key", "name", "type", "required", "length", "enabled"):
        table.add_column(column)
    for i in current.items:
        length = f"{i.min_length}-{i.max_length}"
        table.add_row(str(i.index), i.key, i.name, i.type, str(i.required), length, str(i.enabled))
    console.print(table)
