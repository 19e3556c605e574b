"""Challenge-response authentication as Handle.Net v9 does it on the wire: what a client
puts in the ``signedResponse`` of its OC 200 answer, and how a server checks it. No I/O.

What CNRI signs or MACs (read in the Handle.Net 9.2.0 sources, GitHub mirror
``MistraR/handle``): ``nonce || requestDigest``, where ``requestDigest`` is the bare digest
of the RC 402 answer, **without** its hash-type byte. ``AbstractResponse.takeDigestOfRequest``
keeps the hash type apart (``rdHashType``) from the digest bytes; the client then calls
``signer.update(nonce); signer.update(requestDigest)`` (``PublicKeyAuthenticationInfo``) or
``Util.doMac(alg, concat(nonce, requestDigest), key)`` (``SecretKeyAuthenticationInfo``),
and the server checks the same bytes (``HandleServer.verifyChallenge``,
``verifyIdentityAndGetIndex``). So ``digest`` here is always the bare digest.

HS_SECKEY (``Util.doMac``): ``signedResponse`` = 1 algorithm byte + MAC. MD5/SHA1/SHA256
hash ``key || message || key``; HMAC-SHA1/HMAC-SHA256 key the HMAC with the secret;
PBKDF2-HMAC-SHA1 (what v9 clients send) writes ``byte-array salt, int4 iterations, int4
keyLenBits, byte-array HMAC-SHA1(PBKDF2(secret, salt, iterations, keyLenBits), message)``
and the server re-derives with the salt and counts the client sent. Java hands PBKDF2 the
secret as chars 0-255, which it encodes as UTF-8 (``Util.doPBKDF2``). Protocol < 2.1 clients
send a bare MD5 with no algorithm byte; that format is not supported here.

Hashed secrets: the server keys the MAC with the HS_SECKEY value's data as stored, whatever
it holds (``verifyChallenge`` passes ``secretKeyValue.getData()``). When the tools store a
key "hashed" (the lowercase hex of SHA-1(secret), ``Encoder.encodeSecretKey``), the *client*
must hash too and use that hex as its key (``SecretKeyAuthenticationInfo(..., hash=true)``):
see :func:`hash_secret`. :func:`verify_seckey` does the same, so it accepts both kinds of
stored value with no guessing.

HS_PUBKEY: ``signedResponse`` = ``byte-array hashAlgId, byte-array signature``. CNRI sends
``"SHA-256"`` (or ``"SHA1"`` for DSA before 2.11) and accepts ``SHA1``/``SHA-1``/``SHA256``
and the one-byte codes 2 and 3 (``Util.getSigIdFromHashAlgId``). RSA is PKCS#1 v1.5, DSA a
DER ``SEQUENCE{r, s}``. Neither CNRI 9.2 nor the IDIS SDKs (CAICT ID-SDK, Teleinfo
id-pointer-sdk, which adds only ``SM2_PUB_KEY``) name EC or Ed25519 HS_PUBKEY values, so
``EC_PUB_KEY`` (P-256, ECDSA with SHA-256, DER) and ``Ed25519_PUB_KEY`` (``"Ed25519"``, the
message signed as is) are tierid's own. The layouts live in ``typed_data.PubKeyData``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import warnings
from enum import IntEnum

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.utils import CryptographyDeprecationWarning

from resolver import wirebase as wb
from resolver.errors import ProtocolError, TieridError
from resolver.typed_data import (
    DSA_PUB_KEY,
    EC_PUB_KEY,
    ED25519_PUB_KEY,
    RSA_PUB_KEY,
    PubKeyData,
)

with warnings.catch_warnings():
    # Handle.Net's tools made DSA keys for years and identities still hold them, so they are
    # verified; cryptography warns at each use of its DSA classes (every CLI run printed it)
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    DSAPublicKey, DSAPrivateKey = dsa.DSAPublicKey, dsa.DSAPrivateKey
    DSAPublicNumbers, DSAParameterNumbers = dsa.DSAPublicNumbers, dsa.DSAParameterNumbers

PublicKey = rsa.RSAPublicKey | DSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PrivateKey = (
    rsa.RSAPrivateKey | DSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
)

NONCE_SIZE = 16
#: What a server accepts in a PBKDF2 answer, so that a client cannot make it burn CPU.
MAX_PBKDF2_ITERATIONS = 100_000
MAX_SALT_SIZE = 64
MAX_PBKDF2_KEY_BITS = 160  # one HMAC-SHA1 block, what CNRI clients ask for
MIN_RSA_BITS, MAX_RSA_BITS = 1024, 16384


class KeyLoadError(TieridError):
    """The private key could not be read (bad encoding, wrong password, unsupported type)."""


def new_nonce() -> bytes:
    """16 random bytes for an RC 402 challenge."""
    return secrets.token_bytes(NONCE_SIZE)


def _message(nonce: bytes, digest: bytes) -> bytes:
    if not isinstance(nonce, bytes | bytearray) or not isinstance(digest, bytes | bytearray):
        raise TypeError("nonce and digest must be bytes")
    return bytes(nonce) + bytes(digest)


# --- HS_SECKEY -----------------------------------------------------------------------------


class MacAlgorithm(IntEnum):
    """The algorithm byte that starts an HS_SECKEY answer (CNRI ``Common.HASH_CODE_*``)."""

    MD5 = 0x01
    SHA1 = 0x02
    SHA256 = 0x03  # accepted by CNRI's Util.doMac, never sent by its clients
    HMAC_SHA1 = 0x12
    HMAC_SHA256 = 0x13
    PBKDF2_HMAC_SHA1 = 0x22


_SANDWICH = {MacAlgorithm.MD5: "md5", MacAlgorithm.SHA1: "sha1", MacAlgorithm.SHA256: "sha256"}
_HMAC = {MacAlgorithm.HMAC_SHA1: "sha1", MacAlgorithm.HMAC_SHA256: "sha256"}


def hash_secret(secret: bytes) -> bytes:
    """The key to use for an HS_SECKEY stored hashed: lowercase hex of SHA-1(secret)."""
    return hashlib.sha1(secret).hexdigest().encode("ascii")


def _pbkdf2_ok(salt_size: int, iterations: int, bits: int) -> bool:
    return (
        0 < salt_size <= MAX_SALT_SIZE
        and 0 < iterations <= MAX_PBKDF2_ITERATIONS
        and 0 < bits <= MAX_PBKDF2_KEY_BITS
        and bits % 8 == 0
    )


def _pbkdf2_mac(key: bytes, salt: bytes, iterations: int, bits: int, message: bytes) -> bytes:
    password = key.decode("latin-1").encode("utf-8")  # Java: byte -> char 0-255 -> UTF-8
    kdf = PBKDF2HMAC(hashes.SHA1(), length=bits // 8, salt=salt, iterations=iterations)
    return hmac.digest(kdf.derive(password), message, "sha1")


def _mac(algorithm: MacAlgorithm, key: bytes, message: bytes) -> bytes:
    if algorithm in _SANDWICH:
        return hashlib.new(_SANDWICH[algorithm], key + message + key).digest()
    return hmac.digest(key, message, _HMAC[algorithm])


def seckey_response(
    secret: bytes,
    nonce: bytes,
    digest: bytes,
    *,
    algorithm: MacAlgorithm = MacAlgorithm.PBKDF2_HMAC_SHA1,
    salt: bytes | None = None,
    iterations: int = 10_000,
) -> bytes:
    """The ``signedResponse`` of an HS_SECKEY answer to the challenge ``nonce``/``digest``.

    :param secret: the key bytes; pass :func:`hash_secret` of the secret when the identity's
        HS_SECKEY value is stored hashed.
    :param salt: PBKDF2 salt (16 random bytes when None).
    :raises ValueError: empty secret, unknown algorithm, or PBKDF2 parameters outside what
        :func:`verify_seckey` accepts.
    :raises TypeError: nonce or digest is not bytes.
    """
    message = _message(nonce, digest)
    algorithm = MacAlgorithm(algorithm)
    if not secret:
        raise ValueError("the secret is empty")
    if algorithm is not MacAlgorithm.PBKDF2_HMAC_SHA1:
        return _seckey_bytes(algorithm, _mac(algorithm, bytes(secret), message))
    salt = secrets.token_bytes(16) if salt is None else bytes(salt)
    bits = MAX_PBKDF2_KEY_BITS
    if not _pbkdf2_ok(len(salt), iterations, bits):
        raise ValueError(
            f"PBKDF2 needs 1 to {MAX_SALT_SIZE} salt bytes and 1 to {MAX_PBKDF2_ITERATIONS}"
            " iterations"
        )
    mac = _pbkdf2_mac(bytes(secret), salt, iterations, bits, message)
    return _seckey_bytes(algorithm, mac, salt, iterations, bits)


def _seckey_bytes(
    algorithm: MacAlgorithm, mac: bytes, salt: bytes = b"", iterations: int = 0, bits: int = 0
) -> bytes:
    """Algorithm byte, then the MAC; for PBKDF2 its parameters, then the MAC as a byte-array."""
    if algorithm is not MacAlgorithm.PBKDF2_HMAC_SHA1:
        return bytes((algorithm,)) + mac
    params = wb.byte_array(salt) + wb.u32(iterations) + wb.u32(bits)
    return bytes((algorithm,)) + params + wb.byte_array(mac)


def verify_seckey(stored: bytes, response: bytes, nonce: bytes, digest: bytes) -> bool:
    """Whether ``response`` answers the challenge with the key ``stored`` (an HS_SECKEY
    value's data, plain or hashed: it is the MAC key as it is). Malformed answers, PBKDF2
    costs over the bounds and empty keys are False; comparisons are constant-time.

    :raises TypeError: nonce or digest is not bytes.
    """
    message = _message(nonce, digest)
    if not stored or not response:
        return False
    try:
        algorithm = MacAlgorithm(response[0])
    except ValueError:
        return False
    if algorithm is not MacAlgorithm.PBKDF2_HMAC_SHA1:
        return hmac.compare_digest(_mac(algorithm, bytes(stored), message), bytes(response[1:]))
    try:
        r = wb.Reader(bytes(response), 1)
        salt = r.byte_array(MAX_SALT_SIZE)
        iterations, bits = r.u32(), r.u32()
        mac = r.byte_array(64)
        r.expect_end()
    except ProtocolError:
        return False
    if not _pbkdf2_ok(len(salt), iterations, bits) or len(mac) != 20:
        return False
    return hmac.compare_digest(_pbkdf2_mac(bytes(stored), salt, iterations, bits, message), mac)


#: Handle.Net's names for the MAC algorithms in its HTTP ``Authorization: Handle`` header
SECKEY_ALGORITHMS = {
    "MD5": MacAlgorithm.MD5,
    "SHA1": MacAlgorithm.SHA1,
    "SHA-1": MacAlgorithm.SHA1,
    "SHA256": MacAlgorithm.SHA256,
    "SHA-256": MacAlgorithm.SHA256,
    "HMAC-SHA1": MacAlgorithm.HMAC_SHA1,
    "HMAC-SHA256": MacAlgorithm.HMAC_SHA256,
    "PBKDF2-HMAC-SHA1": MacAlgorithm.PBKDF2_HMAC_SHA1,
}


def seckey_wire(
    alg: str, mac: bytes, *, salt: bytes = b"", iterations: int = 0, bits: int = 0
) -> bytes:
    """The ``signedResponse`` of an HS_SECKEY answer given as separate fields, as Handle's
    HTTP ``Authorization: Handle`` header sends it (``alg``, ``signature`` and for PBKDF2
    ``salt``, ``iterations``, ``length``), so :func:`verify_seckey` checks it.

    :raises ValueError: an unknown ``alg``.
    """
    algorithm = SECKEY_ALGORITHMS.get(alg.upper())
    if algorithm is None:
        raise ValueError(f"unknown HS_SECKEY algorithm {alg!r}")
    return _seckey_bytes(algorithm, mac, salt, iterations, bits)


def pubkey_wire(alg: str, signature: bytes) -> bytes:
    """The ``signedResponse`` of an HS_PUBKEY answer given as separate fields (HTTP)."""
    return wb.utf8(alg) + wb.byte_array(signature)


# --- HS_PUBKEY -----------------------------------------------------------------------------

#: hashAlgId spellings CNRI accepts -> the one it writes
_HASH_IDS = {
    b"SHA-256": "SHA-256",
    b"SHA256": "SHA-256",
    b"\x03": "SHA-256",
    b"SHA1": "SHA1",
    b"SHA-1": "SHA1",
    b"\x02": "SHA1",
    b"Ed25519": "Ed25519",
}
_HASHES = {"SHA-256": hashes.SHA256, "SHA1": hashes.SHA1}
#: key type -> hash algorithms allowed with it (the first is the default)
_ALLOWED = {
    RSA_PUB_KEY: ("SHA-256", "SHA1"),
    DSA_PUB_KEY: ("SHA-256", "SHA1"),
    EC_PUB_KEY: ("SHA-256",),
    ED25519_PUB_KEY: ("Ed25519",),
}


def _key_type(key: PublicKey | PrivateKey) -> str:
    """:raises ValueError: a key type or curve HS_PUBKEY cannot carry."""
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return RSA_PUB_KEY
    if isinstance(key, DSAPublicKey | DSAPrivateKey):
        return DSA_PUB_KEY
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return ED25519_PUB_KEY
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        if isinstance(key.curve, ec.SECP256R1):
            return EC_PUB_KEY
        raise ValueError(f"unsupported curve {key.curve.name}; use P-256")
    raise ValueError(f"unsupported key type {type(key).__name__}")


def pubkey_to_wire(key: PublicKey | PrivateKey) -> bytes:
    """HS_PUBKEY value data for a key (a private key gives its public half).

    :raises ValueError: a key type or curve HS_PUBKEY cannot carry.
    """
    key_type = _key_type(key)
    pub = key.public_key() if isinstance(key, PrivateKey) else key
    if isinstance(pub, rsa.RSAPublicKey):
        n = pub.public_numbers()
        return PubKeyData.from_numbers(key_type, {"e": n.e, "n": n.n}).to_wire()
    if isinstance(pub, DSAPublicKey):
        d = pub.public_numbers()
        p = d.parameter_numbers
        return PubKeyData.from_numbers(key_type, {"q": p.q, "p": p.p, "g": p.g, "y": d.y}).to_wire()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        point = pub.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return PubKeyData(key_type, (b"P-256", point)).to_wire()
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PubKeyData(key_type, (raw,)).to_wire()


def pubkey_from_wire(data: bytes) -> PublicKey:
    """The public key in HS_PUBKEY value data.

    :raises ProtocolError: malformed data, an unsupported key type, or a key that is not
        valid (a point off the curve, DSA parameters or an RSA size out of range).
    """
    info = PubKeyData.from_wire(data)
    try:
        if info.key_type == RSA_PUB_KEY:
            n = info.number("n")
            if not MIN_RSA_BITS <= n.bit_length() <= MAX_RSA_BITS:
                raise ValueError(f"RSA modulus of {n.bit_length()} bits")
            return rsa.RSAPublicNumbers(info.number("e"), n).public_key()
        if info.key_type == DSA_PUB_KEY:
            p, q, g, y = (info.number(name) for name in "pqgy")
            return DSAPublicNumbers(y, DSAParameterNumbers(p, q, g)).public_key()
        if info.key_type == EC_PUB_KEY:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), info.field("point"))
        return ed25519.Ed25519PublicKey.from_public_bytes(info.field("x"))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ProtocolError(f"invalid {info.key_type}: {exc}") from exc


def sign(
    private_key: PrivateKey, nonce: bytes, digest: bytes, *, hash_name: str | None = None
) -> tuple[str, bytes]:
    """The hash algorithm's name (as CNRI writes it) and the signature over ``nonce ||
    digest`` (or ``nonce || cnonce`` for an HTTP login).

    :param hash_name: ``"SHA-256"`` (the default, any spelling CNRI knows) or ``"SHA1"`` for
        RSA/DSA, ``"SHA-256"`` for P-256; Ed25519 keys sign with ``"Ed25519"`` only.
    :raises ValueError: an unsupported key, or a hash not allowed for the key type.
    :raises TypeError: not a private key, or nonce or digest is not bytes.
    """
    message = _message(nonce, digest)
    if not isinstance(private_key, PrivateKey):
        raise TypeError("sign takes a private key")
    key_type = _key_type(private_key)
    allowed = _ALLOWED[key_type]
    name = allowed[0] if hash_name is None else _HASH_IDS.get(hash_name.encode(), hash_name)
    if name not in allowed:
        raise ValueError(f"{hash_name!r} is not allowed with {key_type}")
    if isinstance(private_key, rsa.RSAPrivateKey):
        sig = private_key.sign(message, padding.PKCS1v15(), _HASHES[name]())
    elif isinstance(private_key, DSAPrivateKey):
        sig = private_key.sign(message, _HASHES[name]())
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        sig = private_key.sign(message, ec.ECDSA(_HASHES[name]()))
    else:
        sig = private_key.sign(message)
    return name, sig


def pubkey_response(
    private_key: PrivateKey, nonce: bytes, digest: bytes, *, hash_name: str | None = None
) -> bytes:
    """The ``signedResponse`` of an HS_PUBKEY answer: ``byte-array hashAlgId`` and
    ``byte-array signature`` over ``nonce || digest`` (see :func:`sign`).

    :raises ValueError, TypeError: as :func:`sign`.
    """
    return pubkey_wire(*sign(private_key, nonce, digest, hash_name=hash_name))


def verify_pubkey(pubkey_data: bytes, response: bytes, nonce: bytes, digest: bytes) -> bool:
    """Whether ``response`` is a signature of ``nonce || digest`` by the key in
    ``pubkey_data`` (an HS_PUBKEY value's data) with a hash allowed for that key type.
    Malformed or unsupported keys and answers are False.

    :raises TypeError: nonce or digest is not bytes.
    """
    message = _message(nonce, digest)
    try:
        key = pubkey_from_wire(pubkey_data)
        r = wb.Reader(bytes(response))
        name = _HASH_IDS.get(r.byte_array(32))
        sig = r.byte_array(4096)
        r.expect_end()
    except ProtocolError:
        return False
    if name not in _ALLOWED[_key_type(key)]:
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, message, padding.PKCS1v15(), _HASHES[name]())
        elif isinstance(key, DSAPublicKey):
            key.verify(sig, message, _HASHES[name]())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, message, ec.ECDSA(_HASHES[name]()))
        else:
            key.verify(sig, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def load_private_key(pem: bytes, password: bytes | None = None) -> PrivateKey:
    """A private key from PEM (PKCS#8, PKCS#1, SEC1 or OpenSSH) or DER bytes.

    :raises KeyLoadError: unreadable data, a wrong or missing password, or a key type
        HS_PUBKEY cannot carry (only RSA, DSA, P-256 and Ed25519).
    """
    try:
        if b"-----BEGIN OPENSSH PRIVATE KEY-----" in pem:
            key = serialization.load_ssh_private_key(pem, password)
        elif pem.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(pem, password)
        else:
            key = serialization.load_der_private_key(pem, password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(f"cannot read the private key: {exc}") from None
    if not isinstance(key, PrivateKey):
        raise KeyLoadError(f"unsupported key type {type(key).__name__}")
    try:
        _key_type(key)
    except ValueError as exc:
        raise KeyLoadError(str(exc)) from None
    return key
