"""Delivery status notifications: who a bounce says failed, how (hard or soft), and why.

RFC 3464 reports (`multipart/report; report-type=delivery-status`: Postfix, Exchange, Gmail,
most relays) are read field by field. Anything else (Exim's plain text, qmail, old Exchange,
Yahoo) goes to flufl.bounce's detectors, the ones Mailman has relied on for twenty years. The
quoted original (message/rfc822 or text/rfc822-headers) gives the bounced email's Message-ID.

Hard or soft: a 5.x.x status is permanent except 5.2.2 (mailbox full, which empties); 4.x.x
is temporary. A report that only says "delayed" is a warning, not a failure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.policy import default

from flufl.bounce import all_failures

STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
MESSAGE_ID = re.compile(r"^Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
SOFT_WHEN_PERMANENT = {"5.2.2"}  # mailbox full: counted as soft, as most senders do


@dataclass(frozen=True)
class Failure:
    address: str  # as the report writes it
    status: str  # "5.1.1"; "" when the report gives none
    permanent: bool
    diagnostic: str  # what the receiving server said, on one line


@dataclass(frozen=True)
class BounceReport:
    failures: tuple[Failure, ...]
    original_id: str | None  # the Message-ID of the email that bounced, if quoted
    delayed: bool = False  # only a delay warning: nothing has failed yet


def _one_line(text: object) -> str:
    return " ".join(str(text or "").split())[:300]


def _address(field: object) -> str:
    """`rfc822; marie@example.org` -> `marie@example.org`."""
    value = str(field or "").partition(";")[2] or str(field or "")
    return value.strip().strip("<>").strip()


def _permanent(status: str) -> bool:
    return status.startswith("5") and status not in SOFT_WHEN_PERMANENT


def _status_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    text = part.get_payload(decode=True)  # some relays base64 the report
    if not isinstance(text, bytes):
        return []
    blocks = re.split(r"\r?\n\s*\r?\n", text.decode("utf-8", "replace").strip())
    return [HeaderParser(policy=default).parsestr(block) for block in blocks]


def _from_report(part: Message) -> tuple[list[Failure], bool]:
    failures: list[Failure] = []
    delayed = False
    for block in _status_blocks(part)[1:]:  # the first block is about the message
        action = str(block.get("Action", "")).strip().lower()
        address = _address(block.get("Original-Recipient") or block.get("Final-Recipient"))
        if not address:
            continue
        if action == "delayed":
            delayed = True
            continue
        if action != "failed":
            continue
        diagnostic = _one_line(block.get("Diagnostic-Code", "")).partition(";")
        said = diagnostic[2].strip() or diagnostic[0]
        found = STATUS.search(str(block.get("Status", ""))) or STATUS.search(said)
        status = ".".join(found.groups()) if found else ""
        failures.append(Failure(address, status, _permanent(status) if status else True, said))
    return failures, delayed


def original_id(message: Message) -> str | None:
    """The Message-ID of the quoted original, wherever the bounce quotes it."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            first = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(first, Message) and (identifier := first.get("Message-ID")):
                return str(identifier).strip()
        if kind in ("text/rfc822-headers", "text/plain") and (
            found := MESSAGE_ID.search(_text_of(part))
        ):
            return found[1]
    return None


def _text_of(part: Message) -> str:
    """A part's text, decoded by its charset; UTF-8 when the charset is unknown or absent."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    try:
        return data.decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:  # a charset Python does not know: bounces come from anywhere
        return data.decode("utf-8", "replace")


def _body_text(message: Message) -> str:
    return "\n".join(
        _text_of(part) for part in message.walk() if part.get_content_maintype() == "text"
    )


def _from_text(text: str, address: str, *, permanent: bool) -> Failure:
    """The failure of `address` in a plain-text bounce: the status and the server's words
    near it; without a status, `permanent` (what the detector or header said) decides."""
    at = text.lower().find(address.lower())
    window = text[at : at + 600] if at >= 0 else text[:2000]
    found = STATUS.search(window)
    lines = [line.strip() for line in window.splitlines() if re.search(r"\b[45]\d\d\b", line)]
    status = ".".join(found.groups()) if found else ""
    hard = _permanent(status) if status else permanent
    return Failure(address, status, hard, _one_line(lines[0] if lines else ""))


def read_bounce(message: EmailMessage) -> BounceReport | None:
    """What a bounce says, or None if `message` is not one."""
    failures: list[Failure] = []
    delayed = False
    reported = False
    for part in message.walk():
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            reported = True
            found, late = _from_report(part)
            failures += found
            delayed = delayed or late
    if not reported:
        try:
            temporary, permanent = all_failures(message)
        except Exception:  # a heuristic that trips on odd input must not stop the mailbox
            temporary, permanent = frozenset(), frozenset()
        text = _body_text(message)
        for raw, is_permanent in [(a, True) for a in permanent] + [(a, False) for a in temporary]:
            address = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            failures.append(_from_text(text, address, permanent=is_permanent))
        for header in message.get_all("X-Failed-Recipients") or []:  # Exim, Gmail
            for address in (a.strip() for a in str(header).split(",")):
                if address and all(f.address != address for f in failures):
                    failures.append(_from_text(text, address, permanent=True))
    if not failures and not delayed:
        return None
    return BounceReport(tuple(failures), original_id(message), delayed=delayed and not failures)
