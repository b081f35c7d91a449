"""Signing up (pure): reading the sign-up form, and the signed confirmation link.

The confirmation link carries the whole request (address, name, language, time zone, lists,
the consent text's digest, when it was asked), signed with the series' key: nothing is
written before the person clicks it, so a bot posting 10,000 addresses fills no table, and a
link cannot be altered (another address, another list) or used after `confirm_within`.
"""

from __future__ import annotations

import binascii
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mailer.audience.addresses import Address, parse_address
from mailer.audience.recipients import valid_zone
from mailer.audience.unsubscribe import MAC_BYTES, b64, unb64
from mailer.errors import InvalidAddress, InvalidToken

MAX_NAME = 200
HONEYPOT = "website"  # the field people do not see (and bots fill in)


@dataclass(frozen=True)
class SignupRequest:
    """What a person asked on the sign-up page, as her confirmation link carries it."""

    email: str
    name: str
    language: str
    timezone: str | None
    lists: tuple[str, ...]
    consent: str  # the digest of the consent text shown (see `consent_digest`)
    asked_at: dt.datetime


@dataclass(frozen=True)
class FormReading:
    """The sign-up form read: the request, or what to tell the person (per field)."""

    request: SignupRequest | None
    address: Address | None
    problems: Mapping[str, str]  # field -> problem ("email": "...")
    bot: bool  # the honeypot was filled in


def consent_digest(version: str, text: str) -> str:
    """The digest of one consent text (its version and words): kept with each person."""
    return hashlib.sha256(f"{version}\n{text}".encode()).hexdigest()[:32]


def read_form(
    form: Mapping[str, str],
    *,
    languages: Sequence[str],
    public: Sequence[str],
    consent: str,
    now: dt.datetime,
    case_sensitive_local: bool = False,
) -> FormReading:
    """Read the posted form. `public`: the lists offered; `consent`: the digest of the text
    shown in the chosen language."""
    problems: dict[str, str] = {}
    address = None
    try:
        typed = form.get("email", "")[:320]
        address = parse_address(typed, case_sensitive_local=case_sensitive_local)
    except InvalidAddress:
        problems["email"] = "address"
    name = " ".join(form.get("name", "").split())[:MAX_NAME]
    language = form.get("language", "")
    if language not in languages:
        language = languages[0]
    zone = form.get("timezone", "").strip()
    chosen = [name for name in public if form.get(f"list-{name}") == "1"]
    if len(public) == 1:
        chosen = list(public)
    if not chosen:
        problems["lists"] = "lists"
    if form.get("consent") != "1":
        problems["consent"] = "consent"
    request = None
    if not problems and address is not None:
        request = SignupRequest(
            address.email,
            name,
            language,
            zone if zone and valid_zone(zone) else None,
            tuple(chosen),
            consent,
            now.astimezone(dt.UTC).replace(microsecond=0),
        )
    return FormReading(request, address, problems, bool(form.get(HONEYPOT, "").strip()))


def _mac(key: bytes, series_id: str, payload: bytes) -> bytes:
    return hmac.digest(key, b"mailer-signup\n" + series_id.encode() + b"\n" + payload, "sha256")[
        :MAC_BYTES
    ]


def make_signup_token(key: bytes, series_id: str, request: SignupRequest) -> str:
    """The confirmation link's token: the request, then its MAC."""
    payload = json.dumps(
        [
            request.email,
            request.name,
            request.language,
            request.timezone,
            list(request.lists),
            request.consent,
            int(request.asked_at.timestamp()),
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    return f"{b64(payload)}.{b64(_mac(key, series_id, payload))}"


def read_signup_token(
    key: bytes, series_id: str, token: str, *, now: dt.datetime, within: dt.timedelta
) -> SignupRequest:
    """The request a genuine, unexpired token carries. InvalidToken (damaged, not ours) or
    InvalidToken with `expired` in its message."""
    try:
        encoded, encoded_mac = token.split(".")
        payload, mac = unb64(encoded), unb64(encoded_mac)
    except (ValueError, binascii.Error):
        raise InvalidToken("this confirmation link is damaged") from None
    if b64(payload) != encoded or b64(mac) != encoded_mac:
        raise InvalidToken("this confirmation link is damaged")
    if not hmac.compare_digest(mac, _mac(key, series_id, payload)):
        raise InvalidToken("this confirmation link is not valid")
    try:
        email, name, language, zone, lists, consent, stamp = json.loads(payload)
        asked = dt.datetime.fromtimestamp(int(stamp), dt.UTC)
    except (ValueError, TypeError):
        raise InvalidToken("this confirmation link is damaged") from None
    if now.astimezone(dt.UTC) > asked + within:
        raise InvalidToken("this confirmation link has expired")
    return SignupRequest(
        str(email), str(name), str(language), zone, tuple(map(str, lists)), str(consent), asked
    )
