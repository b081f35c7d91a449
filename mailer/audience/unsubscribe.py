"""Signed links: unsubscribe tokens (HMAC-SHA256 over the series and the address, keyed from
the environment), and answer tokens (the same, and the session the email is about).

A token names one address for one series. It cannot be forged without the key, and it cannot be
made to name another address or series: the MAC covers both. The address travels in the token
(base64url), so the unsubscribe page needs no lookup; it is the recipient's own address, in a
link sent to that recipient.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac

from mailer.errors import InvalidToken

MAC_BYTES = 16
MINIMUM_KEY_LENGTH = 16


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, series_id: str, address: str) -> bytes:
    message = f"mailer-unsubscribe\n{series_id}\n{address}".encode()
    return hmac.digest(key, message, "sha256")[:MAC_BYTES]


def make_token(key: bytes, series_id: str, address: str) -> str:
    """The unsubscribe token of `address` (its identity key) in this series."""
    return f"{b64(address.encode())}.{b64(_mac(key, series_id, address))}"


def read_token(key: bytes, series_id: str, token: str) -> str:
    """The address a genuine token names. Raises InvalidToken for anything else."""
    try:
        encoded_address, encoded_mac = token.split(".")  # exactly: no spaces around it
        address = unb64(encoded_address).decode("utf-8")
        mac = unb64(encoded_mac)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidToken("this unsubscribe link is damaged") from None
    if b64(address.encode()) != encoded_address or b64(mac) != encoded_mac:
        raise InvalidToken("this unsubscribe link is damaged")  # one spelling per token
    if not hmac.compare_digest(mac, _mac(key, series_id, address)):
        raise InvalidToken("this unsubscribe link is not valid")
    return address


def _answer_mac(key: bytes, series_id: str, session: dt.date, address: str) -> bytes:
    message = f"mailer-answer\n{series_id}\n{session.isoformat()}\n{address}".encode()
    return hmac.digest(key, message, "sha256")[:MAC_BYTES]


def make_answer_token(key: bytes, series_id: str, session: dt.date, address: str) -> str:
    """The token of `address`'s answer links about one session (`YYYYMMDD.address.mac`)."""
    mac = _answer_mac(key, series_id, session, address)
    return f"{session:%Y%m%d}.{b64(address.encode())}.{b64(mac)}"


def read_answer_token(key: bytes, series_id: str, token: str) -> tuple[dt.date, str]:
    """The session and address a genuine answer token names. InvalidToken for anything else
    (another session's or another person's token cannot be made from it: the MAC covers
    both)."""
    try:
        day, encoded_address, encoded_mac = token.split(".")
        session = dt.datetime.strptime(day, "%Y%m%d").date()  # noqa: DTZ007 (a date)
        address = unb64(encoded_address).decode("utf-8")
        mac = unb64(encoded_mac)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidToken("this answer link is damaged") from None
    if (
        f"{session:%Y%m%d}" != day
        or b64(address.encode()) != encoded_address
        or (b64(mac) != encoded_mac)
    ):
        raise InvalidToken("this answer link is damaged")
    if not hmac.compare_digest(mac, _answer_mac(key, series_id, session, address)):
        raise InvalidToken("this answer link is not valid")
    return session, address


def key_problem(value: str | None, variable: str) -> str | None:
    """Why the signing key from `variable` cannot be used, or None."""
    if not value:
        return (
            f"the unsubscribe signing key is not set: export {variable}=<a long random "
            "secret> (for example: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if len(value) < MINIMUM_KEY_LENGTH:
        return f"{variable} is too short: use at least {MINIMUM_KEY_LENGTH} random characters"
    return None
