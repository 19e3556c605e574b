"""``tierid status``: every node of a federation at a glance, and the resolver's view of
its upstream servers."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from tierid import federation
from tierid.commands.common import federation_option

#: wide enough for the tables when the output is not a terminal (logs, pipes, tests)
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


@click.command()
@federation_option
def status(fed: federation.Federation) -> None:
    """Show each node: role, prefixes, records, up or down, mirror lag, and the resolvers'
    measured latency to every server they use."""
    answers = federation.statuses(fed)
    nodes = Table(title="nodes")
    for column in ("node", "url", "state", "role", "prefixes", "records", "seq", "requests"):
        nodes.add_column(column)
    for node in fed.nodes:
        st = answers[node.name]
        if st is None:
            nodes.add_row(node.name, node.url, "[red]down[/]", node.role, "", "", "", "")
            continue
        state, seq = "[green]up[/]", st["changeSeq"]
        if "mirror" in st:
            m = st["mirror"]
            seq = m["appliedSeq"]  # where it is in its primary's log, not in its own
            if m["connected"]:
                state += f", lag {m['lag']}"
            else:
                state += ", [red]primary unreachable[/]" if m["lastError"] else ", starting"
        nodes.add_row(
            node.name,
            node.url,
            state,
            "+".join(st["roles"]),
            ", ".join(st["prefixes"]),
            str(st["records"]),
            str(seq),
            str(st["requests"]),
        )
    console.print(nodes)
    for node in fed.nodes:
        st = answers[node.name]
        if not st or "resolver" not in st:
            continue
        if "cache" in st:
            c = st["cache"]
            console.print(
                f"{node.name} cache: {c['entries']} entries, {c['hits']} hits, {c['l2_hits']} from "
                f"Redis, {c['misses']} misses, {c['stale_answers']} stale answers, "
                f"{c['upstream_queries']} upstream queries"
            )
        if "dns" in st:
            d = st["dns"]
            console.print(
                f"{node.name} DNS on port {d['port']} ({d['zone']}): {d['queries']} queries, "
                f"{d['hot_answers']} from stored answers, {d['truncated']} truncated, "
                f"{d['malformed']} malformed, {d['dropped']} dropped"
            )
        servers = Table(title=f"{node.name}: upstream servers")
        for column in ("server", "state", "latency ms", "queries", "failures"):
            servers.add_column(column)
        for s in st["resolver"]["servers"]:
            latency = "-" if s["latencyMs"] is None else f"{s['latencyMs']:.2f}"
            state = "[green]up[/]" if s["up"] else "[red]backing off[/]"
            servers.add_row(s["url"], state, latency, str(s["queries"]), str(s["failures"]))
        console.print(servers)
    if any(a is None for a in answers.values()):
        raise SystemExit(1)
