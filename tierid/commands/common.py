"""What the client subcommands share: node options, credentials, error reporting.

The clients (aiohttp, the binary protocol, key loading) and the configuration are
imported when a command uses them, not when its options are declared: a command that
needs none of them (a bulk import into a store) starts without their import time."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from resolver.errors import TieridError

if TYPE_CHECKING:
    from resolver.hdl_client import PrivateKey, SecretKey

T = TypeVar("T")
DEFAULT_HTTP_NODE = "http://127.0.0.1:8000"
DEFAULT_HANDLE_NODE = "hdl://127.0.0.1:2641"


def node_client(
    fn: Callable[..., Any] | None = None, *, native: bool = False
) -> Callable[..., Any]:
    """Add ``--node``, ``--auth``, ``--secret-file``, ``--insecure`` and ``--ca-file`` and
    hand the command a ready client as its ``client`` argument: a
    :class:`HandleHttpClient`, or with ``native`` (commands that also speak the binary
    protocol) a :class:`NativeNodeClient` when ``--proto handle`` is given or ``--node`` is
    an ``hdl://`` endpoint. ``--key-file`` (an HS_PUBKEY identity's private key) logs in
    instead of ``--secret-file``."""
    if fn is None:
        return functools.partial(node_client, native=native)

    @functools.wraps(fn)
    def wrapper(
        *args: Any,
        node: str | None,
        identity: str | None,
        secret_file: Path | None,
        insecure: bool,
        ca_file: str | None,
        proto: str | None = None,
        key_file: Path | None = None,
        **kwargs: Any,
    ) -> Any:
        if identity and not (secret_file or key_file):
            raise click.UsageError("--auth needs --secret-file or --key-file")
        if (secret_file or key_file) and not identity:
            raise click.UsageError("--secret-file and --key-file need --auth")
        try:
            kwargs["client"] = _client(
                node, identity, secret_file, key_file, ca_file or not insecure, proto
            )
        except TieridError as err:  # an endpoint, identity or key that does not parse
            raise click.UsageError(err.message) from err
        except OSError as err:
            raise click.UsageError(f"cannot read {err.filename}: {err.strerror}") from err
        return fn(*args, **kwargs)

    options = [
        click.option(
            "--node",
            help=f"Base URL of the node's HTTP API [default: {DEFAULT_HTTP_NODE}]"
            + (
                f", or its binary face [default with --proto handle: {DEFAULT_HANDLE_NODE}]."
                if native
                else "."
            ),
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
            "--key-file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="PEM private key of the identity's HS_PUBKEY (logs in by challenge-response).",
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
    if native:
        options.append(
            click.option(
                "--proto",
                type=click.Choice(["http", "handle"]),
                help="Protocol to talk to the node in (default: by --node's scheme).",
            )
        )
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _client(
    node: str | None,
    identity: str | None,
    secret_file: Path | None,
    key_file: Path | None,
    verify: bool | str,
    proto: str | None,
) -> Any:
    """The client the options ask for (see :func:`node_client`).

    :raises TieridError: an endpoint, identity or key that does not parse.
    :raises OSError: a secret or key file that cannot be read.
    """
    secret = secret_file.read_bytes().strip() if secret_file else None
    if proto == "handle" or (node or "").startswith("hdl"):
        from tierid.commands.native_client import NativeNodeClient

        endpoint = node or DEFAULT_HANDLE_NODE
        return NativeNodeClient(endpoint, _credentials(identity, secret, key_file))
    from resolver.challenge import load_private_key
    from resolver.http_client import HandleHttpClient

    return HandleHttpClient(
        node or DEFAULT_HTTP_NODE,
        identity=identity,
        secret=secret,
        verify_tls=verify,
        private_key=load_private_key(key_file.read_bytes()) if key_file else None,
    )


def _credentials(
    identity: str | None, secret: bytes | None, key_file: Path | None
) -> SecretKey | PrivateKey | None:
    from resolver.challenge import load_private_key
    from resolver.hdl_client import PrivateKey, SecretKey
    from resolver.message import Identity

    if not identity:
        return None
    who = Identity.from_text(identity)
    if key_file is not None:
        return PrivateKey(who, load_private_key(key_file.read_bytes()))
    assert secret is not None
    return SecretKey(who, secret)


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine and turn the errors a user can act on into one clear line."""
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except TieridError as err:
        raise click.ClickException(f"{err.message} (response code {int(err.rc)})") from err
    except Exception as err:
        if _raised_by(err, "tierid.config", "ConfigError"):
            raise click.ClickException(str(err)) from err
        if isinstance(err, OSError) and err.filename is not None:  # a local file, not the node
            raise click.ClickException(f"{err.filename}: {err.strerror}") from err
        if isinstance(err, OSError) or _raised_by(err, "aiohttp", "ClientError"):
            raise click.ClickException(
                f"cannot reach the node: {err or type(err).__name__}"
            ) from err
        raise


def _raised_by(err: Exception, module: str, name: str) -> bool:
    """Whether ``err`` is a ``module.name``, without importing ``module``: none can have
    been raised before it was imported."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(err, getattr(loaded, name))


def wraps_async(fn: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return run(fn(*args, **kwargs))

    return wrapper


class FederationFile(click.ParamType):
    """A federation file, loaded; empty means the embedded demo federation."""

    name = "file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from tierid import federation
        from tierid.config import ConfigError

        if isinstance(value, federation.Federation):
            return value
        try:
            return federation.load_file(Path(value) if value else None)
        except (ConfigError, OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            self.fail(f"{value}: {err}", param, ctx)


federation_option = click.option(
    "--federation",
    "fed",
    type=FederationFile(),
    default="",
    help="Federation file (default: the embedded demo federation, as config/federation.toml).",
)
