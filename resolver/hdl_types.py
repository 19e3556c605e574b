"""Handle protocol messages (RFC 3652 as Handle.Net v9 speaks it): the plain objects both codec
twins produce and accept, the protocol constants, and the version rules.

They live apart from the codecs so that ``except ProtocolError`` and ``isinstance(body,
ResolutionResponse)`` work whichever twin (``resolver._hdl_codec`` or
``resolver.hdl_codec_py``) decoded the message. Numbers are kept as plain ints (compare them
with the enums below), because building enum members per message costs more than the rest of
a header.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from resolver.errors import ProtocolError
from resolver.typed_data import SiteInfo
from resolver.values import HandleValue

#: The highest protocol version we speak (Handle.Net 9 speaks 2.11; IDIS SDKs speak 2.10).
VERSION = (2, 11)

ENVELOPE_SIZE = 20
HEADER_SIZE = 24
#: Largest MessageLength a peer may declare (CNRI's MAX_MESSAGE_LENGTH).
MAX_MESSAGE_LENGTH = 262_144
#: UDP carries at most 512 bytes: a 20-byte envelope and 492 bytes of the message.
UDP_PACKET_SIZE = 512
UDP_PAYLOAD_SIZE = UDP_PACKET_SIZE - ENVELOPE_SIZE


class OpCode(IntEnum):
    """Operation codes (CNRI numbering)."""

    RESERVED = 0
    RESOLUTION = 1
    GET_SITE_INFO = 2
    CREATE_HANDLE = 100
    DELETE_HANDLE = 101
    ADD_VALUE = 102
    REMOVE_VALUE = 103
    MODIFY_VALUE = 104
    LIST_HANDLES = 105
    LIST_NAS = 106
    RESPONSE_TO_CHALLENGE = 200
    VERIFY_CHALLENGE = 201
    HOME_NA = 300
    UNHOME_NA = 301
    LIST_HOMED_NAS = 302
    SESSION_SETUP = 400
    SESSION_TERMINATE = 401
    SESSION_EXCHANGEKEY = 402
    GET_NEXT_TXN_ID = 1000
    RETRIEVE_TXN_LOG = 1001
    DUMP_HANDLES = 1002
    BACKUP_SERVER = 1003


class MessageFlag(IntFlag):
    """Envelope flags (high bits of byte 2; its low two bits are the suggested major)."""

    CP = 0x80  # compressed
    EC = 0x40  # encrypted
    TC = 0x20  # truncated: a multi-packet UDP request


class OpFlag(IntFlag):
    """Header operation flags (RFC names; CNRI's in the comments)."""

    AT = 0x8000_0000  # AUTH: authoritative, primary sites only, no caches
    CT = 0x4000_0000  # CERT: sign the response
    ENC = 0x2000_0000  # ENCR: encrypt the response
    REC = 0x1000_0000  # RECU: the server may recurse
    CA = 0x0800_0000  # CACR: a cache should certify
    CN = 0x0400_0000  # CONT: more response messages follow
    KC = 0x0200_0000  # KPAL: keep the connection open
    PO = 0x0100_0000  # PUBL: public values only
    RD = 0x0080_0000  # RRDG: the response carries a digest of the request
    OVRW = 0x0040_0000  # overwrite when exists (create, add value)
    MINT = 0x0020_0000  # mint a new suffix on create
    DNRF = 0x0010_0000  # do not refer
    TRUSTED_QUERY = 0x0000_0002  # IDIS: ask for trusted resolution
    TRUSTED_RESULT = 0x0000_0001  # IDIS: trusted verification succeeded


class HashType(IntEnum):
    """The first byte of a request digest: which hash the digest is."""

    MD5_OLD_FORMAT = 0  # no hash byte: an int4-length-prefixed MD5 digest
    MD5 = 1
    SHA1 = 2
    SHA256 = 3


DIGEST_SIZES = {HashType.MD5: 16, HashType.SHA1: 20, HashType.SHA256: 32}
_HASHES = {
    HashType.MD5_OLD_FORMAT: "md5",
    HashType.MD5: "md5",
    HashType.SHA1: "sha1",
    HashType.SHA256: "sha256",
}


# --- versions ------------------------------------------------------------------------------


def effective_version(major: int, minor: int) -> tuple[int, int]:
    """The version whose rules apply: very old clients wrote major 5 and mean 2.0."""
    return (2, 0) if major == 5 else (major, minor)


def negotiate(peer: tuple[int, int], ours: tuple[int, int] = VERSION) -> tuple[int, int]:
    """The version to write into a message for ``peer``: the lower of the peer's (as its
    HS_SITE advertises, or as its envelope suggests) and ours."""
    return min(effective_version(*peer), ours)


def digest_type_for(version: tuple[int, int]) -> HashType:
    """The request digest a peer of ``version`` expects: SHA-256 from 2.7, SHA-1 from 2.1."""
    if version >= (2, 7):
        return HashType.SHA256
    if version >= (2, 1):
        return HashType.SHA1
    return HashType.MD5_OLD_FORMAT


# --- envelope, header, digest, credential --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Envelope:
    """The 20-byte envelope without MessageLength (the codec writes and checks that).

    ``major``/``minor`` are this message's version; ``suggested_*`` the highest the sender
    speaks (0 = not given, as old clients send). ``flags`` holds :class:`MessageFlag` bits.
    ``sequence`` is the packet number of a multi-packet UDP message.
    """

    major: int = VERSION[0]
    minor: int = VERSION[1]
    suggested_major: int = VERSION[0]
    suggested_minor: int = VERSION[1]
    flags: int = 0
    session_id: int = 0
    request_id: int = 0
    sequence: int = 0

    @property
    def version(self) -> tuple[int, int]:
        return effective_version(self.major, self.minor)

    @property
    def suggested_version(self) -> tuple[int, int]:
        """What the sender speaks at best; the message's own version when it suggests none,
        or suggests a major version below 2 (which no Handle client speaks: a reply in it
        would be unreadable, while the message itself proves the sender reads its own)."""
        if self.suggested_major < 2:
            return self.version
        return effective_version(self.suggested_major, self.suggested_minor)

    def reply(self, ours: tuple[int, int] = VERSION) -> Envelope:
        """The envelope of the answer to this message: same session and request ids, the
        negotiated version, and our own best version as the suggestion."""
        major, minor = negotiate(self.suggested_version, ours)
        return Envelope(major, minor, ours[0], ours[1], 0, self.session_id, self.request_id, 0)


@dataclass(frozen=True, slots=True)
class Header:
    """The 24-byte header without BodyLength. ``rc`` is 0 in requests; ``flags`` holds
    :class:`OpFlag` bits; ``site_serial`` 0xFFFF means "unknown" (Java's -1)."""

    opcode: int
    rc: int = 0
    flags: int = 0
    site_serial: int = 0xFFFF
    recursion: int = 0
    expiration: int = 0


@dataclass(frozen=True, slots=True)
class RequestDigest:
    """The digest a response carries (RD flag) of the request's header and body, so that
    the client knows the server answered exactly what it sent."""

    hash_type: int
    digest: bytes

    def matches(self, request: bytes) -> bool:
        """Whether this is the digest of the encoded ``request`` message."""
        if self.hash_type not in _HASHES:
            return False
        mine = digest_request(request, HashType(self.hash_type))
        return hmac.compare_digest(mine.digest, self.digest)


def digest_request(request: bytes, hash_type: HashType = HashType.SHA256) -> RequestDigest:
    """The digest of an encoded request message: over its header and body, not the envelope
    nor the credential.

    :raises ProtocolError: if ``request`` is shorter than its header says.
    """
    if len(request) < ENVELOPE_SIZE + HEADER_SIZE:
        raise ProtocolError("request too short to digest")
    end = ENVELOPE_SIZE + HEADER_SIZE + int.from_bytes(request[40:44], "big")
    if end > len(request):
        raise ProtocolError("request shorter than its body length")
    digest = hashlib.new(_HASHES[hash_type], request[ENVELOPE_SIZE:end]).digest()
    return RequestDigest(int(hash_type), digest)


@dataclass(frozen=True, slots=True)
class Credential:
    """A message signature (CT flag, sessions, replication). ``session_counter`` sits where
    the RFC has the signer index; ``signature_type`` is ``HS_SIGNED`` or ``HS_MAC``."""

    signature_type: str
    hash_algorithm: str
    signature: bytes
    session_counter: int = 0
    signer_handle: str = ""
    version: int = 0
    flags: int = 0


# --- bodies --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResolutionRequest:
    """OC 1: values of ``handle`` with any of ``indexes`` or ``types`` (none: all values)."""

    handle: str
    indexes: tuple[int, ...] = ()
    types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResolutionResponse:
    handle: str
    values: tuple[HandleValue, ...] = ()


@dataclass(frozen=True, slots=True)
class HandleRequest:
    """The body of every request that names only a handle: get site info (usually ``/``),
    delete handle, list handles (``0.NA/x``), home and unhome (``0.NA/x``), list homed NAs."""

    handle: str


@dataclass(frozen=True, slots=True)
class ValuesRequest:
    """Create handle, add value, modify value (matched by index)."""

    handle: str
    values: tuple[HandleValue, ...]


@dataclass(frozen=True, slots=True)
class RemoveValuesRequest:
    handle: str
    indexes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ChallengeAnswer:
    """OC 200: the requester's proof. ``signature`` is the signed response as sent: for
    HS_PUBKEY a byte-array hash algorithm and a byte-array signature, for HS_SECKEY a
    digest-algorithm byte and the MAC."""

    auth_type: str
    key_handle: str
    key_index: int
    signature: bytes


@dataclass(frozen=True, slots=True)
class SiteInfoResponse:
    """OC 2 answered: the answering site's HS_SITE record."""

    site: SiteInfo


@dataclass(frozen=True, slots=True)
class CreatedHandle:
    """OC 100 answered with MINT: the handle the server minted."""

    handle: str


@dataclass(frozen=True, slots=True)
class HandleList:
    """List handles / list homed NAs answered (50 per message, CN on all but the last)."""

    handles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Referral:
    """RC 302/303: ask the service of ``handle``, or the sites in ``values`` (HS_SITE,
    HS_SERV, HS_SITE.PREFIX). A prefix referral has an empty handle."""

    handle: str
    values: tuple[HandleValue, ...] = ()


@dataclass(frozen=True, slots=True)
class Challenge:
    """RC 402: sign this nonce (with the request digest the message carries)."""

    nonce: bytes


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """Any other response code: a message for humans (may be empty)."""

    message: str = ""


@dataclass(frozen=True, slots=True)
class RawBody:
    """A body this codec does not interpret (sessions, replication, verify challenge)."""

    data: bytes


Body = (
    ResolutionRequest
    | ResolutionResponse
    | HandleRequest
    | ValuesRequest
    | RemoveValuesRequest
    | ChallengeAnswer
    | SiteInfoResponse
    | CreatedHandle
    | HandleList
    | Referral
    | Challenge
    | ErrorBody
    | RawBody
)


@dataclass(frozen=True, slots=True)
class Message:
    """One protocol message. ``body`` is None where the protocol sends an empty one (most
    successful writes). ``digest`` is present exactly when a response has the RD flag."""

    envelope: Envelope
    header: Header
    body: Body | None = None
    digest: RequestDigest | None = None
    credential: Credential | None = None
