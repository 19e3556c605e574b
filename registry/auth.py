"""Authentication: proving an ``index:handle`` identity.

HS_SECKEY (what Handle.Net's Basic auth and pyhandle use): the secret presented must equal
the identity record's HS_SECKEY value at that index (any index when the index is 0), or,
where the key was stored hashed as CNRI's tools do, its lowercase hex SHA-1. The identity
record must be stored on this node. Comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac

from registry.storage.base import ReadTxn
from resolver.errors import AuthenticationFailed
from resolver.handle import normalise
from resolver.message import Credentials, Identity
from resolver.values import HS_SECKEY


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
