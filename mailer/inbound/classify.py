"""What an incoming email is, for mailer: a bounce, an emailed unsubscribe, a calendar reply,
or something for a person (an auto-reply, a human reply, spam). Pure: the bytes in, a verdict
out; what to do with it is `mailer.actions.mailbox`'s job.

The order matters. Delivery reports first (Exim marks its bounces auto-replied); then calendar
replies and unsubscribes, which carry proof (a UID of ours, a signed token); then auto-replies,
which RFC 3834 sends to the return path too, so they must not count as bounces; last, a message
that came back to a signed return path from a mailer daemon is a bounce even if its body is
useless.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from mailer.audience.return_path import read_verp
from mailer.audience.unsubscribe import read_token
from mailer.calendar.replies import CalendarReply, read_reply
from mailer.errors import InvalidToken
from mailer.inbound.bounces import BounceReport, Failure, original_id, read_bounce

ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc")
UNSUBSCRIBE = re.compile(r"\bunsubscribe\s+(?P<token>[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)", re.I)
AUTO_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[ -]?(reply|response)|autoreply|"
    r"absence|absent|réponse automatique|respuesta automática|fuera de la oficina|"
    r"abwesenheit|auto:)",
    re.IGNORECASE,
)
DAEMONS = ("mailer-daemon@", "postmaster@", "mail-daemon@", "mdaemon@")


@dataclass(frozen=True)
class Bounced:
    report: BounceReport
    returned_for: str | None  # the Message-ID a signed return path names
    why: str = "a bounce"


@dataclass(frozen=True)
class Unsubscribed:
    address: str
    why: str = "an emailed unsubscribe"


@dataclass(frozen=True)
class Replied:
    """A calendar reply, with what may prove that its attendee sent it: the addresses it was
    delivered to (a signed ORGANIZER of theirs?) and, when the receiving server vouches for
    it, its sender (DMARC or aligned DKIM passed)."""

    reply: CalendarReply
    addressed_to: tuple[str, ...] = ()
    authenticated: str | None = None
    why: str = "a calendar reply"


@dataclass(frozen=True)
class ForAPerson:
    why: str  # "an auto-reply", "a forged unsubscribe token", "a reply or other mail"
    suspicious: bool = False  # worth a warning in the log
    named: tuple[str, ...] = ()  # the addresses it names (a bounce that proves nothing)


Verdict = Bounced | Unsubscribed | Replied | ForAPerson


@dataclass(frozen=True)
class Context:
    """What classifying needs to know of the series."""

    key: bytes  # the signing key of unsubscribe tokens and return paths
    series_id: str
    domain: str  # of our Message-IDs
    authserv_id: str | None = None  # whose Authentication-Results are believed


def parse(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, _class=EmailMessage, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def message_key(message: EmailMessage, data: bytes) -> str:
    """What identifies an incoming email across runs (its Message-ID, or its bytes' hash), so
    that it is processed once however often it is seen."""
    identifier = str(message.get("Message-ID", "")).strip()
    if identifier:
        return "id:" + identifier
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _envelope_addresses(message: EmailMessage) -> list[str]:
    """The addresses the email was delivered or written to. The raw values: the address
    parser of `email` raises on some broken headers (an IndexError in its local-part parser,
    found by fuzzing), and an address is all we need."""
    wanted = {header.casefold() for header in ENVELOPE_HEADERS}
    return [
        part.strip().rpartition("<")[2].rstrip(">").strip()
        for name, value in message.raw_items()
        if name.casefold() in wanted
        for part in str(value).split(",")
    ]


def _returned_for(message: EmailMessage, context: Context) -> str | None:
    for address in _envelope_addresses(message):
        found = read_verp(context.key, context.series_id, address, context.domain)
        if found is not None:
            return found
    return None


def _results(header: str) -> tuple[str, dict[str, dict[str, str]]]:
    """An Authentication-Results header (RFC 8601): its authserv-id, and per method (dkim,
    dmarc...) its result and properties, the first of each method."""
    text = re.sub(r"\([^()]*\)", " ", header)  # comments
    first, *parts = text.split(";")
    found: dict[str, dict[str, str]] = {}
    for part in parts:
        words = part.split()
        if not words or "=" not in words[0]:
            continue
        method, _, result = words[0].partition("=")
        values = dict(word.partition("=")[::2] for word in words[1:] if "=" in word)
        found.setdefault(method.lower(), {"result": result.lower(), **values})
    return (first.split() or [""])[0].lower(), found


def _authenticated_sender(message: EmailMessage, authserv_id: str | None) -> str | None:
    """The From address, if our receiving server (the topmost Authentication-Results header
    with our authserv-id) says DMARC passed for its domain, or DKIM passed for a domain
    aligned with it; otherwise None."""
    if authserv_id is None:
        return None
    sender = _raw(message, "From").strip().rpartition("<")[2].rstrip(">").strip()
    domain = sender.rpartition("@")[2].lower()
    if not domain:
        return None
    for header in message.get_all("Authentication-Results") or []:
        server, methods = _results(str(header))
        if server != authserv_id.lower():
            continue
        dmarc, dkim = methods.get("dmarc", {}), methods.get("dkim", {})
        if dmarc.get("result") == "pass" and dmarc.get("header.from", domain).lower() == domain:
            return sender
        signer = dkim.get("header.d", "").lower()
        if (
            dkim.get("result") == "pass"
            and signer
            and (domain == signer or domain.endswith("." + signer))
        ):
            return sender
        return None  # only the topmost of ours: a sender can write headers below it
    return None


def _auto_reply(message: EmailMessage) -> bool:
    submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        submitted != "no"
        or any(message.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Autoresponse"))
        or precedence in ("auto_reply", "junk", "bulk", "list")
        or bool(AUTO_SUBJECT.match(str(message.get("Subject", ""))))
    )


def _raw(message: EmailMessage, name: str) -> str:
    """A header's first value as written: the address parser of `email` raises on some
    broken address headers (IndexError, found by fuzzing), and the text is all we need."""
    wanted = name.casefold()
    return next((str(value) for key, value in message.raw_items() if key.casefold() == wanted), "")


def _from_a_daemon(message: EmailMessage) -> bool:
    sender = _raw(message, "From").lower()
    return_path = _raw(message, "Return-Path").strip()
    return return_path == "<>" or any(daemon in sender for daemon in DAEMONS)


def _calendar_reply(message: EmailMessage) -> CalendarReply | None:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            data = part.get_payload(decode=True)
            if isinstance(data, bytes) and (reply := read_reply(data)) is not None:
                return reply
    return None


def classify(message: EmailMessage, context: Context) -> Verdict:
    """What `message` is (see the module's docstring for the order)."""
    returned_for = _returned_for(message, context)
    report = read_bounce(message)
    if report is not None:
        return Bounced(report, returned_for)
    reply = _calendar_reply(message)
    if reply is not None and reply.series == context.series_id:
        return Replied(
            reply,
            tuple(_envelope_addresses(message)),
            _authenticated_sender(message, context.authserv_id),
        )
    if found := UNSUBSCRIBE.search(str(message.get("Subject", ""))):
        try:
            return Unsubscribed(read_token(context.key, context.series_id, found["token"]))
        except InvalidToken:
            return ForAPerson("a forged or damaged unsubscribe token", suspicious=True)
    if _auto_reply(message):
        return ForAPerson("an auto-reply")
    if returned_for is not None and _from_a_daemon(message):  # a bounce that says nothing
        failure = Failure("", "", False, "a bounce with no report (counted as soft)")
        return Bounced(BounceReport((failure,), original_id(message)), returned_for)
    return ForAPerson("a reply or other mail")
