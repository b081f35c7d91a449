"""Signing up on the public page (double opt-in): asking, then confirming by the link.

Asking always gives the same answer ("check your inbox") whatever the address: new, already
on the list, unsubscribed, suppressed by an organiser or a bounce, or refused by the limits.
Only a well-formed request within the limits, for an address that may be mailed, gets a
confirmation email; the honeypot's bots get nothing. Confirming writes the person onto the
lists with the evidence of her consent.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mailer.audience.addresses import parse_address
from mailer.audience.signup import (
    SignupRequest,
    consent_digest,
    make_signup_token,
    read_form,
    read_signup_token,
)
from mailer.config.settings import Config
from mailer.errors import InvalidAddress, InvalidInput, InvalidToken
from mailer.messages.signup import confirmation_email
from mailer.messages.templates import TemplateSet
from mailer.model import Outgoing
from mailer.store.members import (
    Consent,
    Entry,
    confirm_signup,
    consent_of,
    keep_consent,
    may_send_confirmation,
)
from mailer.store.state import State
from mailer.store.suppression import suppression_of

log = logging.getLogger("mailer.signup")
CONFIRM_PATH = "/signup/confirm"
# what a person did herself (unsubscribing, erasure on her request), and undoes by confirming
MAY_REJOIN = ("unsubscribed", "erased")


def public_lists(config: Config) -> tuple[str, ...]:
    return tuple(m.name for m in config.mailing.lists if m.public)


def client_of(address: str) -> str:
    """Whom the limits count: an IPv4 address, or an IPv6 /64 (one subscriber's)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


@dataclass(frozen=True)
class Asked:
    """What the page answers: the form again (`problems`, for a form that cannot be read),
    or "check your inbox"; and the email to send, if one goes (composed by whoever sends it,
    after answering: the answer takes as long whether an email goes or not)."""

    problems: Mapping[str, str]
    email: Callable[[], Outgoing] | None
    why: str  # for the log: sent, limited, suppressed, bot, invalid


def ask(
    config: Config,
    templates: TemplateSet,
    state: State,
    form: Mapping[str, str],
    *,
    language: str,
    client: str,
    now: dt.datetime,
    signing_key: bytes,
) -> Asked:
    """A posted sign-up form. `language`: the page's (its consent text was shown)."""
    signup = config.signup
    if signup is None or config.http.base_url is None:
        raise InvalidInput("the sign-up page is off ([signup] in config.toml)")
    consent = Consent(
        consent_digest(signup.consent_version, signup.consent[language]),
        signup.consent_version,
        language,
        signup.consent[language],
    )
    reading = read_form(
        form,
        languages=(language, *config.series.languages),  # the page's, for a wrong one
        public=public_lists(config),
        consent=consent.digest,
        now=now,
        case_sensitive_local=config.mailing.case_sensitive_local,
    )
    if reading.bot:
        return Asked({}, None, "bot")
    if reading.request is None or reading.address is None:
        return Asked(reading.problems, None, "invalid")
    # every well-formed request counts against the limits, whatever becomes of it: the time
    # and the work are the same for every address
    allowed = may_send_confirmation(state, client_of(client), reading.address.key, signup, now)
    keep_consent(state, consent, now)  # the evidence of what she is agreeing to
    suppression = suppression_of(state, reading.address.key)
    if suppression is not None and suppression.kind not in MAY_REJOIN:
        return Asked({}, None, "suppressed")
    if not allowed:
        return Asked({}, None, "limited")
    token = make_signup_token(signing_key, config.series.id, reading.request)
    link = f"{config.http.base_url.rstrip('/')}{CONFIRM_PATH}/{token}"
    request = reading.request
    return Asked({}, lambda: confirmation_email(config, templates, request, link, now), "sent")


def read_confirmation(
    config: Config, token: str, *, now: dt.datetime, signing_key: bytes
) -> SignupRequest:
    """The request a confirmation link carries (InvalidToken: damaged, altered, expired)."""
    signup = config.signup
    if signup is None:
        raise InvalidToken("the sign-up page is off")
    return read_signup_token(
        signing_key, config.series.id, token, now=now, within=signup.confirm_within
    )


def confirm(
    config: Config, state: State, request: SignupRequest, *, client: str, now: dt.datetime
) -> bool:
    """She clicked her link and confirmed: onto the lists (those still public), with the
    consent she saw. True if she was not on them all already."""
    signup = config.signup
    lists = [name for name in request.lists if name in public_lists(config)]
    if signup is None or not lists:
        raise InvalidToken("these lists are no longer offered")
    try:
        address = parse_address(
            request.email, case_sensitive_local=config.mailing.case_sensitive_local
        )
    except InvalidAddress:
        raise InvalidToken("this confirmation link is damaged") from None
    language = request.language
    if language not in config.series.languages:
        language = config.series.default_language
    if consent_of(state, request.consent) is None:  # kept when she asked; erased since
        raise InvalidToken("this confirmation link is no longer valid")
    entry = Entry(address, request.name, language, request.timezone)
    new = confirm_signup(
        state, lists, entry, request.consent, asked_at=request.asked_at, client=client, now=now
    )
    log.info("sign-up confirmed: %s on %s", address.email, ", ".join(lists))
    return new
