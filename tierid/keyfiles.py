"""Secret key files (HS_SECKEY secrets): read one, or create a random one readable only by
its owner."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    """Write a new file only its owner may read: created with mode 600, so it is never
    readable by others, not even between writing and a chmod, and never over an existing
    file (a key is not replaced by accident).

    :raises FileExistsError: if ``path`` exists.
    :raises OSError: if it cannot be written (a missing folder, no permission).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def read_or_create_secret(path: Path) -> bytes:
    """The secret in ``path``; a new random one (mode 600) if the file does not exist."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(18).encode("ascii")
    write_private(path, secret)
    return secret
