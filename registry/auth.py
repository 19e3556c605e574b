"""Authentication: proving an ``index:handle`` identity, with a secret (HTTP Basic) or by
answering a challenge of the binary protocol (HS_SECKEY MAC or HS_PUBKEY signature,
:mod:`resolver.challenge`).

HS_SECKEY (what Handle.Net's Basic auth and pyhandle use): the secret presented must equal
the identity record's HS_SECKEY value at that index (any index when the index is 0), or,
where the key was stored hashed as CNRI's tools do, its lowercase hex SHA-1. The identity
record must be stored on this node. Comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac

from registry.storage.base import ReadTxn
from resolver.challenge import verify_pubkey, verify_seckey
from resolver.errors import AuthenticationFailed
from resolver.handle import normalise
from resolver.hdl_types import ChallengeAnswer
from resolver.message import Credentials, Identity
from resolver.values import HS_PUBKEY, HS_SECKEY


def verify_secret(txn: ReadTxn, creds: Credentials) -> Identity:
    """The identity the credentials prove.

    :raises AuthenticationFailed: unknown identity, no key at that index, or a wrong secret.
    """
    ident = creds.identity
    record = txn.get(normalise(ident.handle))
    if record is None:
        raise AuthenticationFailed(f"identity {ident} is not known here")
    hashed = hashlib.sha1(creds.secret).hexdigest().encode("ascii")
    for v in record.values:
        if v.type.upper() != HS_SECKEY or ident.index not in (0, v.index):
            continue
        if hmac.compare_digest(v.data, creds.secret) or hmac.compare_digest(v.data, hashed):
            return Identity(record.handle, v.index)
    raise AuthenticationFailed(f"authentication failed for {ident}")


def key_print(txn: ReadTxn, identity: Identity) -> str | None:
    """A fingerprint of the key value ``identity`` names (its index of its record), or None
    when there is none. A login session or token carries the print of the key it was
    proven with and holds only while the print is the same: removing or replacing the key
    revokes what it proved."""
    record = txn.get(normalise(identity.handle))
    for v in record.values if record is not None else ():
        if v.index == identity.index and v.type.upper() in _PROOFS:
            return hashlib.sha256(v.type.upper().encode() + b"\0" + v.data).hexdigest()[:32]
    return None


_PROOFS = {HS_SECKEY: verify_seckey, HS_PUBKEY: verify_pubkey}


def verify_challenge(
    txn: ReadTxn, answer: ChallengeAnswer, nonce: bytes, digest: bytes
) -> Identity:
    """The identity an answer to a challenge proves: a key of its type at its index (any
    index when 0) of the identity record, stored on this node, checks the signed response.

    :raises AuthenticationFailed: unknown identity or type, or no key that checks.
    """
    ident = Identity(answer.key_handle, answer.key_index)
    key_type = answer.auth_type.upper()
    check = _PROOFS.get(key_type)
    if check is None:
        raise AuthenticationFailed(f"unknown authentication type {answer.auth_type!r}")
    record = txn.get(normalise(ident.handle))
    if record is None:
        raise AuthenticationFailed(f"identity {ident} is not known here")
    for v in record.values:
        matches = v.type.upper() == key_type and ident.index in (0, v.index)
        if matches and check(v.data, answer.signature, nonce, digest):
            return Identity(record.handle, v.index)
    raise AuthenticationFailed(f"authentication failed for {ident}")
