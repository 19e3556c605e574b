"""Structured value data: HS_ADMIN, HS_VLIST, HS_SITE and HS_PUBKEY, in their binary form
(what is stored and sent on the wire) and Handle.Net's JSON form (what the REST API shows).

Each type has ``from_wire``/``to_wire`` and ``from_json``/``to_json``. Binary decoding
raises :class:`ProtocolError`; JSON decoding raises :class:`InvalidValue` naming the field.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass, field
from enum import IntFlag
from typing import Any

from resolver import wirebase as wb
from resolver.errors import InvalidValue, ProtocolError
from resolver.numbers import is_decimal

MAX_LIST = 10_000


class AdminPerm(IntFlag):
    """HS_ADMIN permission bits (int2 on the wire)."""

    ADD_HANDLE = 0x0001
    DELETE_HANDLE = 0x0002
    ADD_NA = 0x0004
    DELETE_NA = 0x0008
    MODIFY_VALUE = 0x0010
    REMOVE_VALUE = 0x0020
    ADD_VALUE = 0x0040
    MODIFY_ADMIN = 0x0080
    REMOVE_ADMIN = 0x0100
    ADD_ADMIN = 0x0200
    READ_VALUE = 0x0400
    LIST_HANDLES = 0x0800


ALL_ADMIN_PERMS = 0x0FFF
_PERM_NAMES = {p.name.lower(): p.value for p in AdminPerm}  # type: ignore[union-attr]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: Any, what: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not."""
    if not isinstance(text, str):
        raise InvalidValue(f"{what} must be a base64 string")
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except ValueError as exc:
        raise InvalidValue(f"{what} is not valid base64") from exc


def _int_from_json(obj: Any, what: str, lo: int = 0, hi: int = 0x7FFFFFFF) -> int:
    if isinstance(obj, bool):
        raise InvalidValue(f"{what} must be an integer")
    if isinstance(obj, str) and is_decimal(obj.strip()):
        obj = int(obj)
    if not isinstance(obj, int) or not lo <= obj <= hi:
        raise InvalidValue(f"{what} must be an integer from {lo} to {hi}")
    return obj


def _str_from_json(obj: Any, what: str, limit: int = 65_535) -> str:
    if not isinstance(obj, str) or not obj or len(obj) > limit:
        raise InvalidValue(f"{what} must be a non-empty string of at most {limit} characters")
    return obj


# --- HS_ADMIN ------------------------------------------------------------------------------


def admin_perms_to_json(perms: int) -> str:
    return format(perms & ALL_ADMIN_PERMS, "012b")


def admin_perms_from_json(obj: Any) -> int:
    """Accept a bit string (read from the right), an int, a bool, or a list of names."""
    if isinstance(obj, bool):
        return ALL_ADMIN_PERMS if obj else 0
    if isinstance(obj, int):
        if not 0 <= obj <= ALL_ADMIN_PERMS:
            raise InvalidValue("admin permissions out of range")
        return obj
    if isinstance(obj, str) and 0 < len(obj) <= 12 and set(obj) <= {"0", "1"}:
        return int(obj, 2)
    if isinstance(obj, list) and all(isinstance(n, str) for n in obj):
        perms = 0
        for name in obj:
            bit = _PERM_NAMES.get(name.lower())
            if bit is None:
                raise InvalidValue(f"unknown admin permission {name!r}")
            perms |= bit
        return perms
    raise InvalidValue("admin permissions must be a string of 12 bits, an integer or a list")


@dataclass(frozen=True, slots=True)
class AdminRef:
    """An HS_ADMIN value: ``index:handle`` may do what ``permissions`` allow."""

    handle: str
    index: int
    permissions: int

    def to_wire(self) -> bytes:
        return wb.u16(self.permissions) + wb.utf8(self.handle) + wb.u32(self.index)

    @classmethod
    def from_wire(cls, data: bytes) -> AdminRef:
        r = wb.Reader(data)
        perms = r.u16()
        handle = r.utf8(1024)
        index = r.u32()
        if r.remaining == 2:  # pre-7.3 records carry two legacy zero bytes
            r.u16()
        r.expect_end()
        return cls(handle, index, perms)

    def to_json(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "index": self.index,
            "permissions": admin_perms_to_json(self.permissions),
        }

    @classmethod
    def from_json(cls, obj: Any) -> AdminRef:
        if not isinstance(obj, dict):
            raise InvalidValue("admin data must be an object with handle, index, permissions")
        return cls(
            _str_from_json(obj.get("handle"), "admin handle", 255),
            _int_from_json(obj.get("index", 0), "admin index"),
            admin_perms_from_json(obj.get("permissions", "011111110011")),
        )


# --- HS_VLIST ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VList:
    """An HS_VLIST value: a group of ``index:handle`` references (admin groups)."""

    members: tuple[tuple[str, int], ...]

    def to_wire(self) -> bytes:
        out = [wb.u32(len(self.members))]
        for handle, index in self.members:
            out.append(wb.utf8(handle) + wb.u32(index))
        return b"".join(out)

    @classmethod
    def from_wire(cls, data: bytes) -> VList:
        r = wb.Reader(data)
        n = r.count(MAX_LIST)
        members = tuple((r.utf8(1024), r.u32()) for _ in range(n))
        r.expect_end()
        return cls(members)

    def to_json(self) -> list[dict[str, Any]]:
        return [{"handle": h, "index": i} for h, i in self.members]

    @classmethod
    def from_json(cls, obj: Any) -> VList:
        if not isinstance(obj, list) or len(obj) > MAX_LIST:
            raise InvalidValue("vlist data must be a list of {handle, index}")
        members = []
        for item in obj:
            if not isinstance(item, dict):
                raise InvalidValue("vlist entries must be objects with handle and index")
            members.append(
                (
                    _str_from_json(item.get("handle"), "vlist handle", 255),
                    _int_from_json(item.get("index", 0), "vlist index"),
                )
            )
        return cls(tuple(members))


# --- HS_PUBKEY -----------------------------------------------------------------------------


def _java_bigint(n: int) -> bytes:
    """Java BigInteger.toByteArray() of a non-negative number (sign byte when needed)."""
    return n.to_bytes(n.bit_length() // 8 + 1, "big")


_KEY_FIELDS = {"DSA_PUB_KEY": ("DSA", ("q", "p", "g", "y")), "RSA_PUB_KEY": ("RSA", ("e", "n"))}
_KTY_TO_TYPE = {kty: (name, fields) for name, (kty, fields) in _KEY_FIELDS.items()}


def pubkey_to_json(data: bytes) -> dict[str, Any]:
    """``{"format": "key", "value": JWK}`` for DSA/RSA keys, else ``{"format": "base64"}``."""
    try:
        r = wb.Reader(data)
        key_type = r.utf8(64)
        r.u16()
        kty, names = _KEY_FIELDS[key_type]
        numbers = {name: int.from_bytes(r.byte_array(8192), "big") for name in names}
        if key_type == "RSA_PUB_KEY" and r.remaining == 4:
            r.u32()  # CNRI appends an unused int4 after the modulus
        r.expect_end()
    except (ProtocolError, KeyError):
        return {"format": "base64", "value": base64.b64encode(data).decode("ascii")}
    jwk: dict[str, Any] = {"kty": kty}
    for name in sorted(numbers, key=("n", "e", "y", "p", "q", "g").index):
        n = numbers[name]
        jwk[name] = b64url(n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big"))
    return {"format": "key", "value": jwk}


def pubkey_from_jwk(jwk: Any) -> bytes:
    if not isinstance(jwk, dict) or jwk.get("kty") not in _KTY_TO_TYPE:
        raise InvalidValue("key data must be a JWK with kty RSA or DSA")
    key_type, names = _KTY_TO_TYPE[jwk["kty"]]
    out = [wb.utf8(key_type), wb.u16(0)]
    for name in names:
        raw = unb64(jwk.get(name, ""), f"JWK field {name!r}")
        out.append(wb.byte_array(_java_bigint(int.from_bytes(raw, "big"))))
    if key_type == "RSA_PUB_KEY":
        out.append(wb.u32(0))
    return b"".join(out)


# --- HS_SITE -------------------------------------------------------------------------------

_PROTOCOLS = {0: "UDP", 1: "TCP", 2: "HTTP", 3: "HTTPS"}
_PROTOCOL_CODES = {name: code for code, name in _PROTOCOLS.items()}
HASH_BY_ALL = 2


def _ip_to_wire(address: str) -> bytes:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError as exc:
        raise InvalidValue(f"server address {address!r} is not an IP address") from exc
    if ip.version == 4:
        return bytes(12) + ip.packed  # ::a.b.c.d, not ::ffff:a.b.c.d (CNRI errata)
    return ip.packed


def _ip_from_wire(raw: bytes) -> str:
    if raw[:12] == bytes(12):
        return str(ipaddress.IPv4Address(raw[12:]))
    return str(ipaddress.IPv6Address(raw))


@dataclass(frozen=True, slots=True)
class Interface:
    """One listener of a server: service type bits (1 admin, 2 query), protocol, port."""

    service_type: int
    protocol: int
    port: int

    @property
    def query(self) -> bool:
        return bool(self.service_type & 2)

    @property
    def admin(self) -> bool:
        return bool(self.service_type & 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "admin": self.admin,
            "protocol": _PROTOCOLS.get(self.protocol, str(self.protocol)),
            "port": self.port,
        }

    @classmethod
    def from_json(cls, obj: Any) -> Interface:
        if not isinstance(obj, dict):
            raise InvalidValue("site interface must be an object")
        proto = obj.get("protocol", "TCP")
        code = _PROTOCOL_CODES.get(str(proto).upper())
        if code is None:
            raise InvalidValue(f"unknown interface protocol {proto!r}")
        service = (2 if obj.get("query", True) else 0) | (1 if obj.get("admin", False) else 0)
        return cls(service, code, _int_from_json(obj.get("port"), "interface port", 1, 65535))


@dataclass(frozen=True, slots=True)
class Server:
    server_id: int
    address: str
    public_key: bytes
    interfaces: tuple[Interface, ...]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"serverId": self.server_id, "address": self.address}
        out["publicKey"] = pubkey_to_json(self.public_key)
        out["interfaces"] = [i.to_json() for i in self.interfaces]
        return out

    @classmethod
    def from_json(cls, obj: Any) -> Server:
        if not isinstance(obj, dict):
            raise InvalidValue("site server must be an object")
        key = obj.get("publicKey")
        if key is None:
            key_bytes = b""
        elif isinstance(key, dict) and key.get("format") == "key":
            key_bytes = pubkey_from_jwk(key.get("value"))
        elif isinstance(key, dict) and key.get("format") == "base64":
            key_bytes = unb64(key.get("value", ""), "server publicKey")
        else:
            raise InvalidValue("server publicKey must be {format: key|base64, value}")
        address = _str_from_json(obj.get("address"), "server address", 64)
        _ip_to_wire(address)
        interfaces = obj.get("interfaces", [])
        if not isinstance(interfaces, list) or len(interfaces) > 64:
            raise InvalidValue("server interfaces must be a list")
        return cls(
            _int_from_json(obj.get("serverId", 1), "serverId"),
            address,
            key_bytes,
            tuple(Interface.from_json(i) for i in interfaces),
        )


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """An HS_SITE value: the servers that answer for a prefix (a primary site or a mirror)."""

    serial: int = 1
    primary: bool = True
    multi_primary: bool = False
    attributes: tuple[tuple[str, str], ...] = ()
    servers: tuple[Server, ...] = ()
    version: int = 1
    protocol_version: tuple[int, int] = (2, 10)
    hash_option: int = HASH_BY_ALL
    hash_filter: bytes = field(default=b"")

    def to_wire(self) -> bytes:
        mask = (0x80 if self.primary else 0) | (0x40 if self.multi_primary else 0)
        out = [
            wb.u16(self.version),
            bytes(self.protocol_version),
            wb.u16(self.serial),
            bytes((mask, self.hash_option)),
            wb.byte_array(self.hash_filter),
            wb.u32(len(self.attributes)),
        ]
        out.extend(wb.utf8(name) + wb.utf8(value) for name, value in self.attributes)
        out.append(wb.u32(len(self.servers)))
        for s in self.servers:
            out += [wb.u32(s.server_id), _ip_to_wire(s.address), wb.byte_array(s.public_key)]
            out.append(wb.u32(len(s.interfaces)))
            out.extend(bytes((i.service_type, i.protocol)) + wb.u32(i.port) for i in s.interfaces)
        return b"".join(out)

    @classmethod
    def from_wire(cls, data: bytes) -> SiteInfo:
        r = wb.Reader(data)
        version = r.u16()
        proto = (r.u8(), r.u8())
        serial = r.u16()
        mask, hash_option = r.u8(), r.u8()
        hash_filter = r.byte_array(1024)
        attributes = tuple((r.utf8(4096), r.utf8(65536)) for _ in range(r.count(MAX_LIST)))
        servers = []
        for _ in range(r.count(MAX_LIST)):
            server_id = r.u32()
            address = _ip_from_wire(r.raw(16))
            key = r.byte_array(65536)
            interfaces = tuple(Interface(r.u8(), r.u8(), r.u32()) for _ in range(r.count(256)))
            servers.append(Server(server_id, address, key, interfaces))
        r.expect_end()
        return cls(
            serial,
            bool(mask & 0x80),
            bool(mask & 0x40),
            attributes,
            tuple(servers),
            version,
            proto,
            hash_option,
            hash_filter,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "protocolVersion": f"{self.protocol_version[0]}.{self.protocol_version[1]}",
            "serialNumber": self.serial,
            "primarySite": self.primary,
            "multiPrimary": self.multi_primary,
        }
        if self.hash_option != HASH_BY_ALL:
            out["hashOption"] = self.hash_option
        if self.hash_filter:
            out["hashFilter"] = base64.b64encode(self.hash_filter).decode("ascii")
        out["attributes"] = [{"name": n, "value": v} for n, v in self.attributes]
        out["servers"] = [s.to_json() for s in self.servers]
        return out

    @classmethod
    def from_json(cls, obj: Any) -> SiteInfo:
        if not isinstance(obj, dict):
            raise InvalidValue("site data must be an object")
        proto_text = str(obj.get("protocolVersion", "2.10"))
        try:
            major, minor = (int(p) for p in proto_text.split("."))
        except ValueError as exc:
            raise InvalidValue(f"bad protocolVersion {proto_text!r}") from exc
        attrs = obj.get("attributes", [])
        if not isinstance(attrs, list) or not all(isinstance(a, dict) for a in attrs):
            raise InvalidValue("site attributes must be a list of {name, value}")
        servers = obj.get("servers", [])
        if not isinstance(servers, list) or not servers:
            raise InvalidValue("site must list at least one server")
        return cls(
            serial=_int_from_json(obj.get("serialNumber", 1), "serialNumber", 0, 0xFFFF),
            primary=bool(obj.get("primarySite", True)),
            multi_primary=bool(obj.get("multiPrimary", False)),
            attributes=tuple(
                (_str_from_json(a.get("name"), "attribute name"), str(a.get("value", "")))
                for a in attrs
            ),
            servers=tuple(Server.from_json(s) for s in servers),
            version=_int_from_json(obj.get("version", 1), "site version", 0, 0xFFFF),
            protocol_version=(major & 0xFF, minor & 0xFF),
            hash_option=_int_from_json(obj.get("hashOption", HASH_BY_ALL), "hashOption", 0, 255),
            hash_filter=unb64(obj["hashFilter"], "hashFilter") if obj.get("hashFilter") else b"",
        )
