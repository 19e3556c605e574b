"""Loads a node's TOML configuration into frozen dataclasses.

Every option is documented once, in ``config/tierid.example.toml``. Unknown sections and
keys are errors (a typo must not silently fall back to a default). Relative paths are
resolved against the configuration file's folder.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import dns.exception
import dns.name

from registry.authority import RecordLimits
from registry.mirror import MirrorSettings
from registry.quotas import QuotaSettings, parse_override
from registry.sessions import SessionSettings
from registry.snms import SnmsSettings
from resolver.caching import CacheSettings
from resolver.errors import TieridError
from resolver.faces.dns import DnsSettings
from resolver.faces.native import NativeSettings
from resolver.ratelimit import RateLimitSettings
from resolver.sites import PROTOCOLS
from resolver.walker import WalkSettings


class ConfigError(Exception):
    """The configuration file is missing, malformed, or has unknown or mistyped options."""


@dataclass(frozen=True)
class NodeSettings:
    name: str = "tierid"
    data_dir: str = "var/tierid"
    prefixes: tuple[str, ...] = ()
    server_admins: tuple[str, ...] = ()
    changelog_keep: int = 0
    operator_token_file: str = ""


@dataclass(frozen=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    tls_cert: str = ""
    tls_key: str = ""
    allow_insecure_auth: bool = False
    max_body_bytes: int = 1_048_576
    workers: int = 1
    uvloop: bool = True
    public_url: str = ""


@dataclass(frozen=True)
class StorageSettings:
    backend: str = "sqlite"
    path: str = ""


@dataclass(frozen=True)
class Config:
    node: NodeSettings = field(default_factory=NodeSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    limits: RecordLimits = field(default_factory=RecordLimits)
    resolver: WalkSettings = field(default_factory=WalkSettings)
    mirror: MirrorSettings = field(default_factory=MirrorSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    dns: DnsSettings = field(default_factory=DnsSettings)
    handle: NativeSettings = field(default_factory=NativeSettings)
    sessions: SessionSettings = field(default_factory=SessionSettings)
    ratelimit: RateLimitSettings = field(default_factory=RateLimitSettings)
    quotas: QuotaSettings = field(default_factory=QuotaSettings)
    snms: SnmsSettings = field(default_factory=SnmsSettings)
    #: folder that relative paths are resolved against
    base_dir: Path = Path(".")

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else self.base_dir / p

    @property
    def data_dir(self) -> Path:
        return self.path(self.node.data_dir)

    @property
    def storage_path(self) -> Path:
        return (
            self.path(self.storage.path) if self.storage.path else self.data_dir / "tierid.sqlite3"
        )


_SECTIONS = {
    "node": NodeSettings,
    "http": HttpSettings,
    "storage": StorageSettings,
    "limits": RecordLimits,
    "resolver": WalkSettings,
    "mirror": MirrorSettings,
    "cache": CacheSettings,
    "dns": DnsSettings,
    "handle": NativeSettings,
    "sessions": SessionSettings,
    "ratelimit": RateLimitSettings,
    "quotas": QuotaSettings,
    "snms": SnmsSettings,
}


def _section(name: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{name}] must be a table")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"unknown option(s) in [{name}]: {', '.join(unknown)}")
    values = {}
    for key, val in raw.items():
        default = getattr(cls(), key)
        if isinstance(default, tuple):
            if not isinstance(val, list) or not all(isinstance(v, str) for v in val):
                raise ConfigError(f"{name}.{key} must be a list of strings")
            val = tuple(val)
        elif isinstance(default, bool):
            if not isinstance(val, bool):
                raise ConfigError(f"{name}.{key} must be true or false")
        elif isinstance(default, int):
            if isinstance(val, bool) or not isinstance(val, int) or val < 0:
                raise ConfigError(f"{name}.{key} must be a non-negative integer")
        elif not isinstance(val, type(default)):
            raise ConfigError(f"{name}.{key} must be a {type(default).__name__}")
        values[key] = val
    return cls(**values)


def from_mapping(raw: dict[str, Any], base_dir: Path) -> Config:
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"unknown section(s): {', '.join(unknown)}")
    sections = {name: _section(name, cls, raw.get(name, {})) for name, cls in _SECTIONS.items()}
    config = Config(**sections, base_dir=base_dir)
    if config.storage.backend != "sqlite":
        raise ConfigError(f"storage.backend {config.storage.backend!r} is not available (sqlite)")
    if config.http.workers > 1 and config.mirror.primary:
        raise ConfigError("a mirror runs one process: http.workers must be 1")
    if config.mirror.primary and not (config.mirror.identity and config.mirror.secret_file):
        raise ConfigError("mirror.primary needs mirror.identity and mirror.secret_file")
    if config.dns.enabled:
        _check_dns(config.dns)
    if config.resolver.upstream_protocol not in PROTOCOLS:
        raise ConfigError(f"resolver.upstream_protocol must be one of {', '.join(PROTOCOLS)}")
    if not 0 < config.http.port < 65536:  # 70000 was listened on as 4464
        raise ConfigError("http.port must be from 1 to 65535")
    if config.handle.enabled:
        _check_address(config.handle.site_address or config.handle.host, "handle")
        if not 0 < config.handle.port < 65536:
            raise ConfigError("handle.port must be from 1 to 65535")
    for network in config.ratelimit.exempt:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise ConfigError(f"ratelimit.exempt: {network!r} is not a network") from exc
    for text in config.quotas.overrides:
        try:
            parse_override(text)
        except (ValueError, TieridError) as exc:
            raise ConfigError(f"quotas.overrides: {exc}") from exc
    if config.snms.token_ttl_s == 0:
        raise ConfigError("snms.token_ttl_s must be positive")
    if bool(config.http.tls_cert) != bool(config.http.tls_key):
        raise ConfigError("http.tls_cert and http.tls_key must be set together")
    return config


def _check_dns(settings: DnsSettings) -> None:
    try:
        zone = dns.name.from_text(settings.zone)
        dns.name.from_text(settings.nameserver)
        ipaddress.ip_address(settings.nameserver_address)
    except (ValueError, dns.exception.DNSException) as exc:
        raise ConfigError(f"[dns]: {exc}") from exc
    if zone == dns.name.root:
        raise ConfigError("dns.zone must not be the root")
    if not 512 <= settings.max_udp_payload <= 65535:
        raise ConfigError("dns.max_udp_payload must be from 512 to 65535")


def _check_address(address: str, section: str) -> None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError as exc:
        raise ConfigError(f"[{section}]: {address!r} is not an IP address") from exc
    if ip.is_unspecified:
        raise ConfigError(f"[{section}]: listening on {address}, site_address must be set")


def load(path: str | Path) -> Config:
    """Load a node configuration file.

    :raises ConfigError: on a missing file, bad TOML, or unknown/mistyped options.
    """
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {p}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: {exc}") from exc
    return from_mapping(raw, p.resolve().parent)
