"""The ``tierid`` command: one click group; each subcommand lives in ``tierid/commands``.

Errors a user can act on (bad config, a node's error answer, an unreachable node) are
printed as one line and exit with status 1; usage errors exit with 2 (click's default).
"""

from __future__ import annotations

import click

from tierid.commands import (
    audit,
    cache,
    importing,
    keygen,
    nodes,
    prefixes,
    records,
    status,
    templates,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tierid")
def main() -> None:
    """tierid: tiered registry and resolver for industrial identifiers (Handle compatible).

    Run a node with `tierid serve --config FILE` (or `tierid demo`), then register and
    resolve identifiers with `tierid register` and `tierid resolve`.
    """


for command in (
    nodes.serve,
    nodes.demo,
    nodes.init,
    keygen.keygen,
    records.resolve,
    records.scan,
    records.label,
    records.register,
    records.delete,
    importing.import_,
    audit.audit,
    templates.template,
    prefixes.prefix,
    status.status,
    cache.cache,
):
    main.add_command(command)
