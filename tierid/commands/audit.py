"""``tierid audit``: who changed what under a prefix, and when (from the node's change log)."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from resolver.http_client import HandleHttpClient
from tierid.commands.common import node_client, wraps_async

console = Console(highlight=False, width=160)


def _summary(before: list[dict] | None, after: list[dict] | None) -> str:
    """The indexes a change added (+), removed (-) and modified (~)."""
    old = {v["index"]: v for v in before or []}
    new = {v["index"]: v for v in after or []}
    parts = [f"+{i}" for i in sorted(new.keys() - old.keys())]
    parts += [f"-{i}" for i in sorted(old.keys() - new.keys())]
    parts += [
        f"~{i}"
        for i in sorted(old.keys() & new.keys())
        if {k: v for k, v in old[i].items() if k != "timestamp"}
        != {k: v for k, v in new[i].items() if k != "timestamp"}
    ]
    return " ".join(parts) or "(values unchanged)"


@click.command()
@node_client
@click.option("--prefix", required=True, help="Prefix whose history to show (and below it).")
@click.option("--since", help="From this time: unix seconds or ISO-8601 (default: the start).")
@click.option("--until", help="Up to this time (default: now).")
@click.option("--limit", default=1000, show_default=True, help="Most changes to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON answer.")
@wraps_async
async def audit(
    client: HandleHttpClient,
    prefix: str,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Show every change to records under PREFIX: when, which operation, by whom, and the
    value indexes it added, removed or modified (--json: the values before and after)."""
    async with client as c:
        answer = await c.audit(prefix, since=since, until=until, limit=limit)
    if as_json:
        click.echo(json.dumps(answer, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"changes under {prefix}")
    for column in ("seq", "at", "op", "handle", "by", "values"):
        table.add_column(column)
    for e in answer["entries"]:
        changed = _summary(e["before"], e["after"])
        table.add_row(str(e["seq"]), e["at"], e["op"], e["handle"], e["actor"] or "", changed)
    console.print(table)
