"""What the client subcommands share: node options, credentials, error reporting."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import click

from resolver.errors import TieridError
from resolver.http_client import HandleHttpClient
from tierid import federation
from tierid.config import ConfigError

T = TypeVar("T")


def node_client(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--node``, ``--auth``, ``--secret-file``, ``--insecure`` and ``--ca-file`` and
    hand the command a ready :class:`HandleHttpClient` as its ``client`` argument."""

    @functools.wraps(fn)
    def wrapper(
        *args: Any,
        node: str,
        identity: str | None,
        secret_file: Path | None,
        insecure: bool,
        ca_file: str | None,
        **kwargs: Any,
    ) -> Any:
        if bool(identity) != bool(secret_file):
            raise click.UsageError("--auth and --secret-file go together")
        secret = secret_file.read_bytes().strip() if secret_file else None
        verify: bool | str = ca_file or not insecure
        kwargs["client"] = HandleHttpClient(
            node, identity=identity, secret=secret, verify_tls=verify
        )
        return fn(*args, **kwargs)

    options = [
        click.option(
            "--node",
            default="http://127.0.0.1:8000",
            show_default=True,
            help="Base URL of the node's HTTP API.",
        ),
        click.option(
            "--auth",
            "identity",
            metavar="INDEX:HANDLE",
            help="Identity to authenticate as, e.g. 300:0.NA/88.118.8.",
        ),
        click.option(
            "--secret-file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="File holding the identity's secret key (HS_SECKEY).",
        ),
        click.option(
            "--insecure",
            is_flag=True,
            help="Do not verify the node's TLS certificate (self-signed test nodes).",
        ),
        click.option(
            "--ca-file",
            type=click.Path(exists=True, dir_okay=False),
            help="CA or self-signed certificate to verify the node against.",
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine and turn the errors a user can act on into one clear line."""
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except TieridError as err:
        raise click.ClickException(f"{err.message} (response code {int(err.rc)})") from err
    except ConfigError as err:
        raise click.ClickException(str(err)) from err
    except aiohttp.ClientError as err:
        raise click.ClickException(f"cannot reach the node: {err}") from err


def wraps_async(fn: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return run(fn(*args, **kwargs))

    return wrapper


class FederationFile(click.ParamType):
    """A federation file, loaded; empty means the embedded demo federation."""

    name = "file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, federation.Federation):
            return value
        try:
            return federation.load_file(Path(value) if value else None)
        except (ConfigError, OSError) as err:
            self.fail(str(err), param, ctx)


federation_option = click.option(
    "--federation",
    "fed",
    type=FederationFile(),
    default="",
    help="Federation file (default: the embedded demo federation, as config/federation.toml).",
)
