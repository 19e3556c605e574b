"""``tierid keygen``: secrets for HS_SECKEY identities and self-signed TLS certificates."""

from __future__ import annotations

import datetime
import ipaddress
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID

from resolver.challenge import pubkey_to_wire
from resolver.typed_data import pubkey_to_json
from tierid.keyfiles import write_private

F = TypeVar("F", bound=Callable[..., Any])


def _write_private(path: Path, data: bytes) -> None:
    """A key file of mode 600 (:func:`tierid.keyfiles.write_private`), errors as CLI errors."""
    try:
        write_private(path, data)
    except FileExistsError as exc:
        raise click.UsageError(f"{path} exists; remove it or choose another file") from exc
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from exc


def _pem(private: PrivateKeyTypes) -> bytes:
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _index_option(value_type: str) -> Callable[[F], F]:
    return click.option(
        "--index",
        default=300,
        show_default=True,
        type=click.IntRange(1, 0x7FFFFFFF),
        help=f"Index of the {value_type} value.",
    )


@click.group()
def keygen() -> None:
    """Make keys: an HS_PUBKEY key pair, an HS_SECKEY secret, or a TLS certificate."""


@keygen.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write the secret to (mode 600).",
)
@_index_option("HS_SECKEY")
def secret(out: Path, index: int) -> None:
    """Write a random secret and print the HS_SECKEY value to register for it."""
    value = secrets.token_urlsafe(24)
    _write_private(out, value.encode("ascii"))
    click.echo(f"secret written to {out}")
    click.echo("HS_SECKEY value to add to the identity record (not publicly readable):")
    click.echo(
        json.dumps(
            {
                "index": index,
                "type": "HS_SECKEY",
                "permissions": "1100",
                "data": {"format": "string", "value": value},
            }
        )
    )


_KEY_TYPES = {
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
}


@keygen.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write the private key to (PEM, mode 600).",
)
@click.option(
    "--type",
    "key_type",
    type=click.Choice(sorted(_KEY_TYPES)),
    default="ed25519",
    show_default=True,
    help="rsa (2048 bits) is the one Handle.Net's own tools can verify too.",
)
@_index_option("HS_PUBKEY")
def pubkey(out: Path, key_type: str, index: int) -> None:
    """Write a private key and print the HS_PUBKEY value to register for it (the public
    half, which the prefix's operator adds to the identity record)."""
    private = _KEY_TYPES[key_type]()
    _write_private(out, _pem(private))
    click.echo(f"private key written to {out}")
    click.echo("HS_PUBKEY value to add to the identity record:")
    data = pubkey_to_json(pubkey_to_wire(private))
    click.echo(json.dumps({"index": index, "type": "HS_PUBKEY", "data": data}))


@keygen.command()
@click.option("--cert", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--key", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    default=["127.0.0.1", "localhost"],
    show_default=True,
    help="Names or addresses the certificate is for.",
)
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 36_500))
def tls(cert: Path, key: Path, hosts: tuple[str, ...], days: int) -> None:
    """Write a self-signed certificate and key (PEM) for [http] tls_cert and tls_key."""
    private = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        if not 0 < len(host) <= 64:  # the subject's common name is the first, at most 64
            raise click.BadParameter(f"{host!r}: 1 to 64 characters", param_hint="--host")
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(private.public_key()), critical=False
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(private, hashes.SHA256())
    )
    if cert.exists():
        raise click.UsageError(f"{cert} exists; remove it or choose another --cert")
    _write_private(key, _pem(private))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    click.echo(f"certificate {cert} and key {key} for {', '.join(hosts)}")
