"""The ``tierid`` command: one click group; each subcommand lives in ``tierid/commands``.

Errors a user can act on (bad config, a node's error answer, an unreachable node) are
printed as one line and exit with status 1; usage errors exit with 2 (click's default).

A subcommand's module is imported only when that subcommand runs (or help lists them
all): together they import every face of the node, about 0.6 s before a command could
start, which a script resolving one identifier or a bulk import would pay each time.
"""

from __future__ import annotations

import importlib

import click

#: subcommand name -> "module:attribute" of its click command, in the order help lists them
COMMANDS = {
    "serve": "tierid.commands.nodes:serve",
    "demo": "tierid.commands.nodes:demo",
    "init": "tierid.commands.nodes:init",
    "keygen": "tierid.commands.keygen:keygen",
    "resolve": "tierid.commands.records:resolve",
    "scan": "tierid.commands.records:scan",
    "label": "tierid.commands.records:label",
    "register": "tierid.commands.records:register",
    "delete": "tierid.commands.records:delete",
    "import": "tierid.commands.importing:import_",
    "audit": "tierid.commands.audit:audit",
    "template": "tierid.commands.templates:template",
    "prefix": "tierid.commands.prefixes:prefix",
    "status": "tierid.commands.status:status",
    "cache": "tierid.commands.cache:cache",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when asked for (click's lazy-loading
    pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command) and command.name == cmd_name, target
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tierid")
def main() -> None:
    """tierid: tiered registry and resolver for industrial identifiers (Handle compatible).

    Run a node with `tierid serve --config FILE` (or `tierid demo`), then register and
    resolve identifiers with `tierid register` and `tierid resolve`.
    """
