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

RSA_PUB_KEY = "RSA_PUB_KEY"
DSA_PUB_KEY = "DSA_PUB_KEY"
#: tierid's extensions (CNRI's vocabulary has no elliptic-curve or Edwards keys)
EC_PUB_KEY = "EC_PUB_KEY"
ED25519_PUB_KEY = "Ed25519_PUB_KEY"
#: EC_PUB_KEY curves: name -> coordinate size in bytes
EC_CURVES = {"P-256": 32}
_MAX_KEY_FIELD = 8192

#: key type -> (JWK kty, field names in wire order)
_KEY_FIELDS = {
    DSA_PUB_KEY: ("DSA", ("q", "p", "g", "y")),
    RSA_PUB_KEY: ("RSA", ("e", "n")),
    EC_PUB_KEY: ("EC", ("crv", "point")),
    ED25519_PUB_KEY: ("OKP", ("x",)),
}
_NUMBER_ORDER = ("n", "e", "y", "p", "q", "g")  # JWK member order of Handle.Net's JSON


def _java_bigint(n: int) -> bytes:
    """Java BigInteger.toByteArray() of a non-negative number (sign byte when needed)."""
    return n.to_bytes(n.bit_length() // 8 + 1, "big")


def _unsigned(raw: bytes) -> bytes:
    return raw.lstrip(b"\0") or b"\0"


@dataclass(frozen=True, slots=True)
class PubKeyData:
    """An HS_PUBKEY value as CNRI's ``Util.getBytesFromPublicKey`` lays it out: UTF8 key type,
    int2 flags (0), then the type's fields, each a byte-array. RSA (e, n, then an unused int4)
    and DSA (q, p, g, y) fields are Java ``BigInteger.toByteArray()`` bytes; ``EC_PUB_KEY``
    holds the curve name and the uncompressed point, ``Ed25519_PUB_KEY`` the 32 raw key bytes.
    """

    key_type: str
    fields: tuple[bytes, ...]

    def field(self, name: str) -> bytes:
        """One field's bytes, by its name (``n``, ``q``, ``crv``, ``point``, ``x``...)."""
        return self.fields[_KEY_FIELDS[self.key_type][1].index(name)]

    def number(self, name: str) -> int:
        """An RSA or DSA number, read as Java's ``new BigInteger(1, bytes)`` does."""
        return int.from_bytes(self.field(name), "big")

    @classmethod
    def from_numbers(cls, key_type: str, numbers: dict[str, int]) -> PubKeyData:
        """An RSA or DSA key from its numbers (``e``/``n`` or ``q``/``p``/``g``/``y``)."""
        names = _KEY_FIELDS[key_type][1]
        return cls(key_type, tuple(_java_bigint(numbers[name]) for name in names))

    def to_wire(self) -> bytes:
        out = [wb.utf8(self.key_type), wb.u16(0), *map(wb.byte_array, self.fields)]
        if self.key_type == RSA_PUB_KEY:
            out.append(wb.u32(0))  # CNRI sizes its buffer one int4 too large; the zeros stay
        return b"".join(out)

    @classmethod
    def from_wire(cls, data: bytes) -> PubKeyData:
        """:raises ProtocolError: truncated data, an unknown key type or curve, a bad point."""
        r = wb.Reader(data)
        key_type = r.utf8(64)
        if key_type not in _KEY_FIELDS:
            raise ProtocolError(f"unsupported public key type {key_type!r}")
        r.u16()  # flags, reserved (CNRI ignores them too)
        fields = tuple(r.byte_array(_MAX_KEY_FIELD) for _ in _KEY_FIELDS[key_type][1])
        if key_type == RSA_PUB_KEY and r.remaining == 4:
            r.u32()
        r.expect_end()
        key = cls(key_type, fields)
        if key_type == EC_PUB_KEY:
            size = EC_CURVES.get(fields[0].decode("ascii", "replace"))
            if size is None:
                raise ProtocolError(f"unsupported curve {fields[0][:16]!r}")
            if len(fields[1]) != 1 + 2 * size or fields[1][0] != 4:
                raise ProtocolError("an EC public key needs an uncompressed point")
        elif key_type == ED25519_PUB_KEY and len(fields[0]) != 32:
            raise ProtocolError("an Ed25519 public key has 32 bytes")
        return key

    def to_jwk(self) -> dict[str, Any]:
        kty, names = _KEY_FIELDS[self.key_type]
        jwk: dict[str, Any] = {"kty": kty}
        if self.key_type == EC_PUB_KEY:
            point = self.field("point")
            size = (len(point) - 1) // 2
            jwk["crv"] = self.field("crv").decode("ascii")
            jwk["x"], jwk["y"] = b64url(point[1 : 1 + size]), b64url(point[1 + size :])
        elif self.key_type == ED25519_PUB_KEY:
            jwk["crv"], jwk["x"] = "Ed25519", b64url(self.field("x"))
        else:
            for name in sorted(names, key=_NUMBER_ORDER.index):
                jwk[name] = b64url(_unsigned(self.field(name)))
        return jwk

    @classmethod
    def from_jwk(cls, jwk: Any) -> PubKeyData:
        """:raises InvalidValue: not a JWK of kty RSA, DSA, EC (P-256) or OKP (Ed25519)."""
        types = {kty: name for name, (kty, _) in _KEY_FIELDS.items()}
        if not isinstance(jwk, dict) or jwk.get("kty") not in types:
            raise InvalidValue("key data must be a JWK with kty RSA, DSA, EC or OKP")
        key_type = types[jwk["kty"]]

        def member(name: str) -> bytes:
            return unb64(jwk.get(name, ""), f"JWK field {name!r}")

        if key_type == EC_PUB_KEY:
            crv = jwk.get("crv")
            x, y = member("x"), member("y")
            if crv not in EC_CURVES or not len(x) == len(y) == EC_CURVES[crv]:
                raise InvalidValue(f"EC JWK needs crv {'/'.join(EC_CURVES)} and full x and y")
            return cls(key_type, (crv.encode("ascii"), b"\x04" + x + y))
        if key_type == ED25519_PUB_KEY:
            x = member("x")
            if jwk.get("crv") != "Ed25519" or len(x) != 32:
                raise InvalidValue("OKP JWK needs crv Ed25519 and a 32-byte x")
            return cls(key_type, (x,))
        numbers = {n: int.from_bytes(member(n), "big") for n in _KEY_FIELDS[key_type][1]}
        return cls.from_numbers(key_type, numbers)


def pubkey_to_json(data: bytes) -> dict[str, Any]:
    """``{"format": "key", "value": JWK}`` for the key types above, else base64."""
    try:
        return {"format": "key", "value": PubKeyData.from_wire(data).to_jwk()}
    except ProtocolError:
        return {"format": "base64", "value": base64.b64encode(data).decode("ascii")}


def pubkey_from_jwk(jwk: Any) -> bytes:
    """HS_PUBKEY value data for a JWK.

    :raises InvalidValue: see :meth:`PubKeyData.from_jwk`.
    """
    return PubKeyData.from_jwk(jwk).to_wire()


# --- HS_SITE -------------------------------------------------------------------------------

#: HS_SITE interface protocols
PROTO_UDP, PROTO_TCP, PROTO_HTTP, PROTO_HTTPS = 0, 1, 2, 3
_PROTOCOLS = {PROTO_UDP: "UDP", PROTO_TCP: "TCP", PROTO_HTTP: "HTTP", PROTO_HTTPS: "HTTPS"}
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
