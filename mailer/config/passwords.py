"""Organisers' password hashes: scrypt (RFC 7914), in the PHC string format.

`$scrypt$ln=17,r=8,p=1$<salt>$<hash>` (base64 without padding, as passlib writes it), made
by `mailer hash-password`; config.toml holds only these. Pure: the salt is given (the CLI
draws it from the system's random source), and hashlib computes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

LOG_N = 17  # n = 2**17, r = 8: 128 MiB and about 0.3 s a try (OWASP's minimum is 2**17)
MIN_LOG_N = 14  # what config.toml accepts (older or lighter hashes), 16 MiB
MAX_LOG_N = 20  # beyond this, one login would take seconds and a GiB
SALT_BYTES = 16
_HASH = re.compile(
    r"^\$scrypt\$ln=(?P<ln>\d{1,2}),r=(?P<r>\d{1,2}),p=(?P<p>\d{1,2})"
    r"\$(?P<salt>[A-Za-z0-9+/]{16,})\$(?P<hash>[A-Za-z0-9+/]{32,})$"
)


@dataclass(frozen=True)
class ScryptHash:
    log_n: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, log_n: int, r: int, p: int, *, size: int) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=2**log_n,
        r=r,
        p=p,
        maxmem=129 * r * 2**log_n + 2**20,  # what these parameters need, and a margin
        dklen=size,
    )


def hash_password(password: str, salt: bytes, *, log_n: int = LOG_N, r: int = 8) -> str:
    """The PHC string of `password` with `salt` (SALT_BYTES random bytes)."""
    if len(salt) < SALT_BYTES:
        raise ValueError(f"a salt of at least {SALT_BYTES} bytes")
    digest = _scrypt(password, salt, log_n, r, 1, size=32)
    return f"$scrypt$ln={log_n},r={r},p=1${_b64(salt)}${_b64(digest)}"


def parse_hash(text: str) -> ScryptHash | str:
    """The parts of a PHC scrypt string, or why it is not one we accept."""
    match = _HASH.match(text.strip())
    if match is None:
        return "this is not a password hash made by `mailer hash-password` ($scrypt$ln=...)"
    log_n, r, p = int(match["ln"]), int(match["r"]), int(match["p"])
    if not MIN_LOG_N <= log_n <= MAX_LOG_N or not 1 <= r <= 32 or not 1 <= p <= 4:
        return (
            f"the hash's cost (ln={log_n}, r={r}, p={p}) is outside what mailer accepts "
            f"(ln {MIN_LOG_N} to {MAX_LOG_N}, r 1 to 32, p 1 to 4)"
        )
    try:
        salt, digest = _unb64(match["salt"]), _unb64(match["hash"])
    except ValueError:
        return "the hash's salt or digest is not base64"
    return ScryptHash(log_n, r, p, salt, digest)


def verify_password(password: str, text: str) -> bool:
    """Whether `password` is the one `text` (a PHC scrypt string) was made from."""
    parsed = parse_hash(text)
    if isinstance(parsed, str):
        return False
    candidate = _scrypt(
        password, parsed.salt, parsed.log_n, parsed.r, parsed.p, size=len(parsed.digest)
    )
    return hmac.compare_digest(candidate, parsed.digest)
