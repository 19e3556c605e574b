"""Secret key files (HS_SECKEY secrets): read one, or create a random one readable only by
its owner."""

from __future__ import annotations

import secrets
from pathlib import Path


def read_or_create_secret(path: Path) -> bytes:
    """The secret in ``path``; a new random one (mode 600) if the file does not exist."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(18).encode("ascii")
    path.write_bytes(secret)
    path.chmod(0o600)
    return secret
