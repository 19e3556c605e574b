"""Client commands for records: ``resolve``, ``register``, ``delete``."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from registry.bootstrap import ADMIN_INDEX
from resolver.handle import parse, prefix_record
from resolver.http_client import HandleHttpClient
from resolver.labels import label_png, label_svg, label_url
from resolver.typed_data import admin_perms_to_json
from tierid.commands.common import node_client, wraps_async

console = Console(highlight=False)
_DEFAULT_ADMIN_PERMS = admin_perms_to_json(0x0FF3)


def _value_options(values: tuple[str, ...], url: str | None) -> list[dict[str, Any]]:
    """``[INDEX:]TYPE=DATA`` options to JSON values; indexes as pyhandle assigns them."""
    out: list[dict[str, Any]] = []
    if url:
        out.append({"index": 1, "type": "URL", "data": url})
    parsed = []
    for spec in values:
        head, sep, data = spec.partition("=")
        index_text, colon, vtype = head.partition(":")
        if not sep or not head or (colon and not (index_text.isdigit() and vtype)):
            raise click.BadParameter(f"{spec!r} is not [INDEX:]TYPE=DATA", param_hint="--value")
        parsed.append((int(index_text) if colon else None, vtype if colon else head, data))
    # indexes given are taken first, so one chosen for a value without cannot collide later
    taken = {1} | {index for index, _, _ in parsed if index is not None}
    for given, vtype, data in parsed:
        if given is not None:
            index = given
        else:
            index = 1 if vtype.upper() == "URL" and 1 not in {v["index"] for v in out} else 2
            while index in taken or (100 <= index <= 199 and vtype.upper() != "HS_ADMIN"):
                index += 1
        if any(v["index"] == index for v in out):
            raise click.BadParameter(f"index {index} given twice", param_hint="--value")
        taken.add(index)
        out.append({"index": index, "type": vtype, "data": data})
    return out


@click.command()
@click.argument("handle")
@node_client(native=True)
@click.option("--type", "types", multiple=True, help="Only values of this type (repeatable).")
@click.option("--index", "indexes", multiple=True, type=int, help="Only this index (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON answer.")
@wraps_async
async def resolve(
    handle: str,
    client: HandleHttpClient,
    types: tuple[str, ...],
    indexes: tuple[int, ...],
    as_json: bool,
) -> None:
    """Resolve HANDLE at a node and print its values."""
    async with client as c:
        answer = await c.get(handle, types=types, indexes=indexes)
    _print_answer(answer, as_json)


def _print_answer(answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(answer, ensure_ascii=False, indent=2))
        return
    table = Table(title=answer.get("handle"))
    for column in ("index", "type", "data", "ttl"):
        table.add_column(column)
    for v in answer.get("values", []):
        data = v["data"]
        shown = data["value"] if data.get("format") == "string" else json.dumps(data["value"])
        table.add_row(str(v["index"]), v["type"], shown, str(v.get("ttl", "")))
    console.print(table)


def _unescaped(text: str) -> bytes:
    """UTF-8 of ``text`` with each ``\\xHH`` replaced by the byte it names."""
    parts = re.split(r"\\x([0-9A-Fa-f]{2})", text)
    return b"".join(
        bytes([int(p, 16)]) if i % 2 else p.encode("utf-8") for i, p in enumerate(parts)
    )


@click.command()
@click.argument("scanned")
@node_client
@click.option(
    "--escapes",
    is_flag=True,
    help=r"SCANNED has \xHH escapes for raw bytes (\x1d: GS, as scanners send FNC1).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON answer.")
@wraps_async
async def scan(scanned: str, client: HandleHttpClient, escapes: bool, as_json: bool) -> None:
    """Resolve what a barcode scanner read: GS1 data with or without a symbology identifier
    (]Q3, ]d2, ]C1...), (01)... text, a Digital Link URI, a URL or an identifier."""
    raw = _unescaped(scanned) if escapes else scanned.encode("utf-8")
    async with client as c:
        answer = await c.scan(raw)
    if not as_json:
        reading = answer["scan"]
        console.print(", ".join(f"{k}: {v}" for k, v in reading.items()))
    _print_answer(answer, as_json)


@click.command()
@click.argument("handle")
@node_client
@click.option(
    "--format", "kind", type=click.Choice(["svg", "png"]), default="svg", show_default=True
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: <identifier>.<format> in the current folder).",
)
@click.option(
    "--root",
    help="Resolver URL the QR code points at (default: --node), e.g. https://id.example.cn.",
)
@wraps_async
async def label(
    handle: str, client: HandleHttpClient, kind: str, out: Path | None, root: str | None
) -> None:
    """Write a QR label for a registered identifier: its resolver URL as a QR code, with the
    identifier printed under it (SVG for print, or PNG)."""
    async with client as c:
        answer = await c.get(handle)
    registered = answer["handle"]
    url = label_url(root or client.base_url, registered)
    body = label_png(registered, url) if kind == "png" else label_svg(registered, url).encode()
    path = out or Path(f"{label_name(registered)}.{kind}")
    path.write_bytes(body)
    console.print(f"{path}: QR code of {url}", soft_wrap=True)


def label_name(handle: str) -> str:
    """A label's file name for ``handle``: its letters, digits, dots and dashes, "_" for the
    rest, and when that loses more than its "/" (or it is long) a piece of its hash too, so
    that two identifiers never share a file (``88.118.8/泵-1`` and ``88.118.8/阀-1`` did)."""
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", handle)
    if slug == handle.replace("/", "_") and len(slug) <= 100:
        return slug
    return f"{slug[:100]}-{hashlib.sha256(handle.encode()).hexdigest()[:10]}"


@click.command()
@click.argument("handle")
@node_client(native=True)
@click.option("--url", help="URL value (index 1).")
@click.option(
    "--value",
    "values",
    multiple=True,
    metavar="[INDEX:]TYPE=DATA",
    help="A string value (repeatable), e.g. --value 2001:MODEL=CP-200.",
)
@click.option(
    "--values-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON array of values in Handle.Net's form (instead of --url/--value).",
)
@click.option(
    "--no-admin", is_flag=True, help="Do not add the HS_ADMIN value naming the prefix's admin."
)
@click.option("--no-overwrite", is_flag=True, help="Fail if HANDLE already exists.")
@wraps_async
async def register(
    handle: str,
    client: HandleHttpClient,
    url: str | None,
    values: tuple[str, ...],
    values_file: Path | None,
    no_admin: bool,
    no_overwrite: bool,
) -> None:
    """Create HANDLE (or replace it) with the given values.

    Unless --no-admin, an HS_ADMIN value at index 100 names 300:0.NA/<prefix> (the
    prefix's admin), as Handle.Net's tools do; a --values-file is sent as it is.
    """
    if values_file:
        if url or values:
            raise click.UsageError("--values-file holds every value: leave out --url and --value")
        try:
            body = json.loads(values_file.read_text("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise click.UsageError(f"{values_file}: not JSON ({exc})") from exc
    else:
        body = _value_options(values, url)
        if not no_admin:
            prefix, _ = parse(handle)
            body.append(
                {
                    "index": 100,
                    "type": "HS_ADMIN",
                    "data": {
                        "format": "admin",
                        "value": {
                            "handle": prefix_record(prefix),
                            "index": ADMIN_INDEX,
                            "permissions": _DEFAULT_ADMIN_PERMS,
                        },
                    },
                }
            )
    async with client as c:
        status, answer = await c.put(handle, body, overwrite=not no_overwrite)
    click.echo(f"{'created' if status == 201 else 'replaced'} {answer['handle']}")


@click.command()
@click.argument("handle")
@node_client(native=True)
@click.option(
    "--index",
    "indexes",
    multiple=True,
    type=int,
    help="Remove only the value at this index (repeatable).",
)
@wraps_async
async def delete(
    handle: str,
    client: HandleHttpClient,
    indexes: tuple[int, ...],
) -> None:
    """Delete HANDLE, or some of its values with --index."""
    async with client as c:
        await c.delete(handle, indexes=indexes)
    click.echo(
        f"deleted {'values ' + ','.join(map(str, indexes)) + ' of ' if indexes else ''}{handle}"
    )
