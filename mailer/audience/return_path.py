"""Signed addresses: VERP return paths (each email's envelope sender names that email), and
the ORGANIZER of meeting invitations (each names the person it invites).

`bounces@example.org` becomes `bounces+<id>.<date>.<mac>@example.org` for the email whose
Message-ID is `<id.date@domain>`, so that a bounce is attributed by the address it was sent
to, even when its body says nothing useful. The MAC (HMAC-SHA256, keyed like the unsubscribe
tokens) means nobody can make up a return path that suppresses someone else. Lower case only:
some relays fold the case of local parts.
"""

from __future__ import annotations

import base64
import datetime as dt
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


RSVP_MAC_BYTES = 6  # 48 bits, ten characters
RSVP = re.compile(r"^[^+@]+\+rsvp-(?P<mac>[a-z2-7]{10})@", re.IGNORECASE)


def _rsvp_mac(key: bytes, series_id: str, session: dt.date, recipient_key: str) -> str:
    message = f"mailer-rsvp\n{series_id}\n{session.isoformat()}\n{recipient_key}".encode()
    digest = hmac.digest(key, message, "sha256")[:RSVP_MAC_BYTES]
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def rsvp_address(
    key: bytes, series_id: str, session: dt.date, recipient_key: str, organizer: str
) -> str:
    """The ORGANIZER address of one person's invitation to one session: `organizer` with a
    subaddress signed for them (`rencontres+rsvp-<mac>@...`), where their calendar sends its
    reply. A reply that comes back to it, or quotes it, answers that person's invitation."""
    local, _, domain = organizer.rpartition("@")
    return f"{local}+rsvp-{_rsvp_mac(key, series_id, session, recipient_key)}@{domain}"


def is_rsvp_address(
    key: bytes, series_id: str, session: dt.date, recipient_key: str, address: str
) -> bool:
    """Whether `address` is the signed ORGANIZER of that person's invitation to that session."""
    found = RSVP.match(address.strip())
    expected = _rsvp_mac(key, series_id, session, recipient_key)
    return found is not None and hmac.compare_digest(found["mac"].lower(), expected)
