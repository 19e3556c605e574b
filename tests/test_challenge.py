"""Challenge-response: HS_SECKEY MACs and HS_PUBKEY signatures as Handle.Net v9 puts them on
the wire, checked against values computed here independently (hashlib, hmac, and the keys'
own cryptography objects), never only against the module itself."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import struct

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from resolver import challenge as ch
from resolver.challenge import MacAlgorithm as Mac
from resolver.errors import ProtocolError
from resolver.typed_data import pubkey_from_jwk, pubkey_to_json

NONCE = bytes(range(16))
DIGEST = hashlib.sha256(b"header and body of the request").digest()
SECRET = b"pump-admin-secret"


def arr(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jbig(n: int) -> bytes:  # Java BigInteger.toByteArray() of a positive number
    return n.to_bytes(n.bit_length() // 8 + 1, "big")


def flip(data: bytes, i: int) -> bytes:
    return data[:i] + bytes((data[i] ^ 0x01,)) + data[i + 1 :]


# --- HS_SECKEY -----------------------------------------------------------------------------


def expected_mac(alg: Mac, key: bytes, msg: bytes) -> bytes:
    """Util.doMac computed with hashlib/hmac only (PBKDF2 is built in its own tests)."""
    if alg in (Mac.MD5, Mac.SHA1, Mac.SHA256):
        return hashlib.new(alg.name.lower(), key + msg + key).digest()
    return hmac.new(key, msg, "sha1" if alg is Mac.HMAC_SHA1 else "sha256").digest()


def pbkdf2_answer(secret: bytes, salt: bytes, iterations: int, bits: int = 160) -> bytes:
    password = secret.decode("latin-1").encode("utf-8")
    derived = hashlib.pbkdf2_hmac("sha1", password, salt, iterations, bits // 8)
    mac = hmac.new(derived, NONCE + DIGEST, "sha1").digest()
    return b"\x22" + arr(salt) + struct.pack(">II", iterations, bits) + arr(mac)


@pytest.mark.parametrize("alg", list(Mac), ids=lambda a: a.name)
def test_seckey_round_trip_and_every_wrong_input_fails(alg: Mac) -> None:
    resp = ch.seckey_response(SECRET, NONCE, DIGEST, algorithm=alg, iterations=1000)
    assert resp[0] == alg
    assert ch.verify_seckey(SECRET, resp, NONCE, DIGEST)
    assert not ch.verify_seckey(SECRET + b"x", resp, NONCE, DIGEST)
    assert not ch.verify_seckey(SECRET, resp, flip(NONCE, 3), DIGEST)
    assert not ch.verify_seckey(SECRET, resp, NONCE, flip(DIGEST, 31))
    # the hash-type byte of the RC 402 digest is not part of the MAC input
    assert not ch.verify_seckey(SECRET, resp, NONCE, b"\x03" + DIGEST)
    for i in range(len(resp)):
        assert not ch.verify_seckey(SECRET, flip(resp, i), NONCE, DIGEST), i


@pytest.mark.parametrize("alg", [a for a in Mac if a is not Mac.PBKDF2_HMAC_SHA1], ids=str)
def test_seckey_known_answer_for_plain_macs(alg: Mac) -> None:
    want = bytes((alg,)) + expected_mac(alg, SECRET, NONCE + DIGEST)
    assert ch.seckey_response(SECRET, NONCE, DIGEST, algorithm=alg) == want
    assert ch.verify_seckey(SECRET, want, NONCE, DIGEST)


def test_pbkdf2_known_answer_maps_secret_bytes_the_java_way() -> None:
    secret = "Pümpe-ß".encode("latin-1")  # bytes >= 0x80: Java sends them as UTF-8 chars
    salt = bytes.fromhex("00112233445566778899aabbccddeeff")
    want = pbkdf2_answer(secret, salt, 10_000)
    got = ch.seckey_response(secret, NONCE, DIGEST, salt=salt, iterations=10_000)
    assert got == want
    assert ch.verify_seckey(secret, want, NONCE, DIGEST)
    # feeding the raw latin-1 bytes to PBKDF2 (the naive port) gives another answer
    derived = hashlib.pbkdf2_hmac("sha1", secret, salt, 10_000, 20)
    naive = want[:-20] + hmac.new(derived, NONCE + DIGEST, "sha1").digest()
    assert naive != want
    assert not ch.verify_seckey(secret, naive, NONCE, DIGEST)


def test_pbkdf2_default_salt_is_random_and_sixteen_bytes() -> None:
    a = ch.seckey_response(SECRET, NONCE, DIGEST, iterations=1000)
    b = ch.seckey_response(SECRET, NONCE, DIGEST, iterations=1000)
    assert a != b
    assert a[1:5] == struct.pack(">I", 16)
    assert a[21:29] == struct.pack(">II", 1000, 160)


def test_hashed_stored_secret_is_the_mac_key_as_cnri_uses_it() -> None:
    stored = hashlib.sha1(SECRET).hexdigest().encode()
    assert ch.hash_secret(SECRET) == stored
    hashed = ch.seckey_response(ch.hash_secret(SECRET), NONCE, DIGEST, iterations=1000)
    plain = ch.seckey_response(SECRET, NONCE, DIGEST, iterations=1000)
    assert ch.verify_seckey(stored, hashed, NONCE, DIGEST)
    assert not ch.verify_seckey(stored, plain, NONCE, DIGEST)
    assert ch.verify_seckey(SECRET, plain, NONCE, DIGEST)
    assert not ch.verify_seckey(SECRET, hashed, NONCE, DIGEST)


@pytest.mark.parametrize(
    ("salt", "iterations", "bits"),
    [
        (b"s" * 16, ch.MAX_PBKDF2_ITERATIONS + 1, 160),
        (b"s" * (ch.MAX_SALT_SIZE + 1), 1000, 160),
        (b"", 1000, 160),
        (b"s" * 16, 1000, 320),
        (b"s" * 16, 1000, 156),
        (b"s" * 16, 0, 160),
    ],
    ids=["iterations", "long-salt", "empty-salt", "key-bits", "odd-bits", "zero-iterations"],
)
def test_pbkdf2_costs_outside_the_bounds_are_refused(
    salt: bytes, iterations: int, bits: int
) -> None:
    if iterations == 0 or not salt:
        answer = b"\x22" + arr(salt) + struct.pack(">II", iterations, bits) + arr(b"m" * 20)
    else:
        answer = pbkdf2_answer(SECRET, salt, iterations, bits)  # a correct MAC all the same
    assert not ch.verify_seckey(SECRET, answer, NONCE, DIGEST)


def test_pbkdf2_answer_at_the_bound_verifies_and_past_it_cannot_be_made() -> None:
    at_bound = pbkdf2_answer(SECRET, b"s" * ch.MAX_SALT_SIZE, ch.MAX_PBKDF2_ITERATIONS)
    assert ch.verify_seckey(SECRET, at_bound, NONCE, DIGEST)
    with pytest.raises(ValueError):
        ch.seckey_response(SECRET, NONCE, DIGEST, iterations=ch.MAX_PBKDF2_ITERATIONS + 1)
    with pytest.raises(ValueError):
        ch.seckey_response(b"", NONCE, DIGEST)
    with pytest.raises(ValueError):
        ch.seckey_response(SECRET, NONCE, DIGEST, algorithm=0x07)  # type: ignore[arg-type]


def test_seckey_truncated_and_padded_answers_are_false() -> None:
    for alg in Mac:
        resp = ch.seckey_response(SECRET, NONCE, DIGEST, algorithm=alg, iterations=1000)
        for n in range(len(resp)):
            assert not ch.verify_seckey(SECRET, resp[:n], NONCE, DIGEST), (alg, n)
        assert not ch.verify_seckey(SECRET, resp + b"\0", NONCE, DIGEST)
    assert not ch.verify_seckey(b"", b"\x12" + bytes(20), NONCE, DIGEST)


@settings(max_examples=200)
@given(st.one_of(st.binary(max_size=120), st.binary(max_size=120).map(lambda b: b"\x22" + b)))
def test_seckey_garbage_is_false_never_an_exception(garbage: bytes) -> None:
    assert ch.verify_seckey(SECRET, garbage, NONCE, DIGEST) is False


def test_nonce_is_sixteen_random_bytes() -> None:
    nonces = {ch.new_nonce() for _ in range(50)}
    assert len(nonces) == 50 and {len(n) for n in nonces} == {ch.NONCE_SIZE} == {16}


# --- HS_PUBKEY -----------------------------------------------------------------------------

KINDS = ["rsa", "dsa", "ed25519", "p256"]


def _generate(kind: str):
    if kind == "rsa":
        return rsa.generate_private_key(65537, 2048)
    if kind == "dsa":
        return dsa.generate_private_key(2048)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple]:
    """Two keys of each type, generated once (DSA and RSA generation is slow)."""
    return {kind: (_generate(kind), _generate(kind)) for kind in KINDS}


def check_signature(kind: str, key, resp: bytes, name: str) -> None:
    """The answer is byte-array name + byte-array signature over nonce || bare digest."""
    assert resp[: 4 + len(name)] == arr(name.encode())
    sig = resp[4 + len(name) :]
    assert sig[:4] == struct.pack(">I", len(sig) - 4)
    sig, msg, pub = sig[4:], NONCE + DIGEST, key.public_key()
    algo = hashes.SHA1() if name == "SHA1" else hashes.SHA256()
    if kind == "rsa":
        pub.verify(sig, msg, padding.PKCS1v15(), algo)
    elif kind == "dsa":
        pub.verify(sig, msg, algo)
    elif kind == "p256":
        pub.verify(sig, msg, ec.ECDSA(algo))
    else:
        pub.verify(sig, msg)


@pytest.mark.parametrize("kind", KINDS)
def test_each_key_type_signs_and_verifies(kind: str, keys: dict) -> None:
    key, other = keys[kind]
    wire, other_wire = ch.pubkey_to_wire(key), ch.pubkey_to_wire(other)
    resp = ch.pubkey_response(key, NONCE, DIGEST)
    check_signature(kind, key, resp, "Ed25519" if kind == "ed25519" else "SHA-256")
    assert ch.verify_pubkey(wire, resp, NONCE, DIGEST)
    assert not ch.verify_pubkey(other_wire, resp, NONCE, DIGEST)
    assert not ch.verify_pubkey(wire, resp, flip(NONCE, 0), DIGEST)
    assert not ch.verify_pubkey(wire, resp, NONCE, flip(DIGEST, 0))
    assert not ch.verify_pubkey(wire, resp, NONCE, b"\x03" + DIGEST)
    assert not ch.verify_pubkey(wire, flip(resp, len(resp) - 1), NONCE, DIGEST)


@pytest.mark.parametrize("kind", ["rsa", "dsa"])
@pytest.mark.parametrize("spelling", ["SHA1", "SHA-1", "\x02"])
def test_sha1_answers_in_every_cnri_spelling(kind: str, spelling: str, keys: dict) -> None:
    key = keys[kind][0]
    resp = ch.pubkey_response(key, NONCE, DIGEST, hash_name="SHA-1")
    check_signature(kind, key, resp, "SHA1")  # written the way CNRI writes it
    relabelled = arr(spelling.encode()) + resp[8:]
    assert ch.verify_pubkey(ch.pubkey_to_wire(key), relabelled, NONCE, DIGEST)


@pytest.mark.parametrize(
    ("kind", "label"),
    [("rsa", "MD5"), ("rsa", "Ed25519"), ("dsa", "MD5"), ("p256", "SHA1"), ("ed25519", "SHA-256")],
)
def test_hash_not_allowed_for_the_key_type_is_refused(kind: str, label: str, keys: dict) -> None:
    key = keys[kind][0]
    with pytest.raises(ValueError):
        ch.pubkey_response(key, NONCE, DIGEST, hash_name=label)
    resp = ch.pubkey_response(key, NONCE, DIGEST)
    name_len = struct.unpack(">I", resp[:4])[0]
    relabelled = arr(label.encode()) + resp[4 + name_len :]
    assert not ch.verify_pubkey(ch.pubkey_to_wire(key), relabelled, NONCE, DIGEST)


@pytest.mark.parametrize("kind", KINDS)
def test_pubkey_answer_truncations_are_false(kind: str, keys: dict) -> None:
    key = keys[kind][0]
    wire, resp = ch.pubkey_to_wire(key), ch.pubkey_response(key, NONCE, DIGEST)
    for n in range(0, len(resp), 3):
        assert not ch.verify_pubkey(wire, resp[:n], NONCE, DIGEST)
    assert not ch.verify_pubkey(wire, resp + b"\0", NONCE, DIGEST)


@settings(max_examples=150)
@given(st.binary(max_size=200))
def test_pubkey_garbage_answer_and_key_are_false(garbage: bytes) -> None:
    key_wire = ch.pubkey_to_wire(ed25519.Ed25519PrivateKey.from_private_bytes(bytes(32)))
    assert ch.verify_pubkey(key_wire, garbage, NONCE, DIGEST) is False
    assert ch.verify_pubkey(garbage, garbage, NONCE, DIGEST) is False


@settings(max_examples=150)
@given(st.binary(max_size=200))
def test_pubkey_from_wire_raises_only_protocol_error(garbage: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        ch.pubkey_from_wire(garbage)


def _jwk(kind: str, key) -> dict:
    """The key's JWK, built here from its numbers."""
    pub = key.public_key()
    if kind == "rsa":
        n = pub.public_numbers()
        return {"kty": "RSA", "n": b64u(n.n.to_bytes(256, "big")), "e": b64u(b"\x01\x00\x01")}
    if kind == "dsa":
        d = pub.public_numbers()
        p = d.parameter_numbers
        size = lambda v: v.to_bytes((v.bit_length() + 7) // 8, "big")  # noqa: E731
        return {
            "kty": "DSA",
            "y": b64u(size(d.y)),
            "p": b64u(size(p.p)),
            "q": b64u(size(p.q)),
            "g": b64u(size(p.g)),
        }
    if kind == "p256":
        n = pub.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64u(n.x.to_bytes(32, "big")),
            "y": b64u(n.y.to_bytes(32, "big")),
        }
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}


@pytest.mark.parametrize("kind", KINDS)
def test_pubkey_wire_round_trip_and_jwk_agree(kind: str, keys: dict) -> None:
    key = keys[kind][0]
    wire = ch.pubkey_to_wire(key)
    assert ch.pubkey_to_wire(key.public_key()) == wire
    back = ch.pubkey_from_wire(wire)
    assert back.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert ch.pubkey_to_wire(back) == wire
    jwk = _jwk(kind, key)
    assert pubkey_from_jwk(jwk) == wire
    assert pubkey_to_json(wire) == {"format": "key", "value": jwk}


def test_rsa_and_dsa_bytes_are_cnris_layout(keys: dict) -> None:
    r = keys["rsa"][0].public_key().public_numbers()
    assert ch.pubkey_to_wire(keys["rsa"][0]) == (
        arr(b"RSA_PUB_KEY") + b"\0\0" + arr(jbig(r.e)) + arr(jbig(r.n)) + bytes(4)
    )
    d = keys["dsa"][0].public_key().public_numbers()
    p = d.parameter_numbers
    fields = b"".join(arr(jbig(v)) for v in (p.q, p.p, p.g, d.y))
    assert ch.pubkey_to_wire(keys["dsa"][0]) == arr(b"DSA_PUB_KEY") + b"\0\0" + fields
    assert len(jbig(r.n)) == 257  # the sign byte Java adds to a 2048-bit modulus


def test_cnri_rsa_key_without_the_trailing_int_still_reads(keys: dict) -> None:
    wire = ch.pubkey_to_wire(keys["rsa"][0])
    assert ch.pubkey_to_wire(ch.pubkey_from_wire(wire[:-4])) == wire


def _ec_wire(curve: bytes, point: bytes) -> bytes:
    return arr(b"EC_PUB_KEY") + b"\0\0" + arr(curve) + arr(point)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        arr(b"SM2_PUB_KEY") + b"\0\0" + arr(b"\x30\x00"),
        arr(b"RSA_PUB_KEY") + b"\0\0" + arr(b"\x03") + arr(b"\x00\xc5"),  # 8-bit modulus
        arr(b"Ed25519_PUB_KEY") + b"\0\0" + arr(bytes(31)),
        _ec_wire(b"P-384", b"\x04" + bytes(96)),
        _ec_wire(b"P-256", b"\x04" + bytes(64)),  # not on the curve
        _ec_wire(b"P-256", b"\x02" + bytes(32)),  # compressed
        arr(b"DSA_PUB_KEY") + b"\0\0" + arr(b"\x07") * 4,  # parameters out of range
    ],
    ids=[
        "empty",
        "unknown-type",
        "tiny-rsa",
        "short-ed25519",
        "p384",
        "off-curve",
        "compressed",
        "bad-dsa",
    ],
)
def test_malformed_pubkey_raises_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        ch.pubkey_from_wire(data)
    assert not ch.verify_pubkey(data, arr(b"SHA-256") + arr(b"sig"), NONCE, DIGEST)


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_or_padded_pubkey_raises_protocol_error(kind: str, keys: dict) -> None:
    wire = ch.pubkey_to_wire(keys[kind][0])
    cut = len(wire) - 4 if kind == "rsa" else len(wire)  # RSA may lack its trailing int4
    for n in list(range(0, 40)) + [cut - 1]:
        with pytest.raises(ProtocolError):
            ch.pubkey_from_wire(wire[:n])
    with pytest.raises(ProtocolError):
        ch.pubkey_from_wire(wire + b"\0")


def test_unsupported_curve_cannot_be_encoded_or_signed_with() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ValueError):
        ch.pubkey_to_wire(key)
    with pytest.raises(ValueError):
        ch.pubkey_response(key, NONCE, DIGEST)


# --- private keys --------------------------------------------------------------------------

PKCS8 = (serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8)
TRADITIONAL = (serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL)
OPENSSH = (serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH)


@pytest.mark.parametrize(
    ("kind", "fmt"),
    [
        ("rsa", PKCS8),
        ("rsa", TRADITIONAL),
        ("p256", TRADITIONAL),
        ("ed25519", OPENSSH),
        ("dsa", PKCS8),
    ],
    ids=["pkcs8", "pkcs1", "sec1", "openssh", "dsa-pkcs8"],
)
@pytest.mark.parametrize("password", [None, b"k3y pass"], ids=["clear", "encrypted"])
def test_load_private_key_formats(
    kind: str, fmt: tuple, password: bytes | None, keys: dict
) -> None:
    if fmt is OPENSSH and password is not None:
        pytest.importorskip("bcrypt")  # cryptography needs it for encrypted OpenSSH keys
    key = keys[kind][0]
    enc = (
        serialization.NoEncryption()
        if password is None
        else serialization.BestAvailableEncryption(password)
    )
    pem = key.private_bytes(*fmt, enc)
    loaded = ch.load_private_key(pem, password)
    assert ch.pubkey_to_wire(loaded) == ch.pubkey_to_wire(key)
    resp = ch.pubkey_response(loaded, NONCE, DIGEST)
    assert ch.verify_pubkey(ch.pubkey_to_wire(key), resp, NONCE, DIGEST)
    if password is not None:
        with pytest.raises(ch.KeyLoadError):
            ch.load_private_key(pem, b"wrong")
        with pytest.raises(ch.KeyLoadError):
            ch.load_private_key(pem)


def test_load_private_key_refuses_garbage_and_other_curves() -> None:
    with pytest.raises(ch.KeyLoadError):
        ch.load_private_key(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ch.KeyLoadError):
        ch.load_private_key(b"\x30\x03\x02\x01\x00")
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        *PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ch.KeyLoadError):
        ch.load_private_key(p384)
