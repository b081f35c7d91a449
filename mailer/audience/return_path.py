"""VERP return paths: each email's envelope sender names that email, signed.

`bounces@example.org` becomes `bounces+<id>.<date>.<mac>@example.org` for the email whose
Message-ID is `<id.date@domain>`, so that a bounce is attributed by the address it was sent
to, even when its body says nothing useful. The MAC (HMAC-SHA256, keyed like the unsubscribe
tokens) means nobody can make up a return path that suppresses someone else. Lower case only:
some relays fold the case of local parts.
"""

from __future__ import annotations

import base64
import hmac
import re

MAC_BYTES = 5  # 40 bits: enough against guessing, short enough for a 64-octet local part
TAG = re.compile(r"^(?P<local>[^+@]+)\+(?P<id>[0-9a-f]{24}\.[0-9]{8})\.(?P<mac>[a-z2-7]{8})@")


def _mac(key: bytes, series_id: str, identifier: str) -> str:
    digest = hmac.digest(key, f"mailer-verp\n{series_id}\n{identifier}".encode(), "sha256")
    return base64.b32encode(digest[:MAC_BYTES]).decode("ascii").lower()


def verp_address(key: bytes, series_id: str, envelope: str, message_id: str) -> str:
    """The return path of the email `message_id` (`<id.date@domain>`) sent from `envelope`."""
    local, _, domain = envelope.rpartition("@")
    identifier = message_id.strip("<>").partition("@")[0]
    return f"{local}+{identifier}.{_mac(key, series_id, identifier)}@{domain}"


def read_verp(key: bytes, series_id: str, address: str, domain: str) -> str | None:
    """The Message-ID a genuine return path names (its Message-ID domain given), or None when
    `address` is not one of ours or its MAC is wrong."""
    found = TAG.match(address.strip().lower())
    if found is None:
        return None
    identifier = found["id"]
    if not hmac.compare_digest(found["mac"], _mac(key, series_id, identifier)):
        return None
    return f"<{identifier}@{domain}>"
