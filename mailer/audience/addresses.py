"""Email addresses (validated by email-validator, syntax only) and text made safe for headers.

Validating 100,000 addresses one by one with email-validator costs about two seconds, two thirds
of it re-validating the same few domains. The common case, a plain ASCII address (dot-atom local
part, ASCII host name), takes a fast path: the local part is checked against RFC 5322's dot-atom
grammar, a plain host name (letters, digits and hyphens, a letter TLD) by the same rules as
email-validator's, and any other domain by email-validator, its verdict cached. Everything else
(quoted or non-ASCII local parts, internationalised domains, anything odd) goes to
email-validator whole, which is imported only then (its import costs a send of 1,000 a tenth of
its time). tests/unit/test_addresses.py checks with hypothesis that every path agrees with
email-validator.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailer.errors import InvalidAddress

if TYPE_CHECKING:
    from email_validator import ValidatedEmail

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_FAST_ADDRESS = re.compile(rf"^({_ATEXT}+(?:\.{_ATEXT}+)*)@([A-Za-z0-9.-]+)$")
_ROLE_MAILBOXES = frozenset({"abuse", "postmaster"})  # case-insensitive by RFC 5321/2142
_MAX_LOCAL = 64
_MAX_ADDRESS = 254
# Characters that would end a header line or spoof what is shown: controls (Cc: CR, LF, TAB,
# NUL, NEL...), line and paragraph separators (Zl, Zp), bidirectional overrides, a stray BOM.
# (Unicode categories Cc, Zl and Zp are exactly these ranges.)
_SPACE_RUN = re.compile(" {2,}")
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


@dataclass(frozen=True)
class Address:
    """A valid address: as written (normalised), its ASCII form if any, and its identity."""

    email: str
    ascii_email: str | None
    key: str


_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
# email-validator's SPECIAL_USE_DOMAIN_NAMES (a test checks they are the same)
SPECIAL_USE = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def _plain_domain(domain: str) -> str | None:
    """A plain host name as email-validator writes it (in lower case), if email-validator
    would accept it; None when email-validator must judge it (valid or not)."""
    lowered = domain.lower()
    labels = lowered.split(".")
    if len(lowered) > 253 or len(labels) < 2:
        return None
    if labels[-1] in SPECIAL_USE or not labels[-1].isalpha():
        return None
    for label in labels:  # RFC 1035 labels, and no R-LDH label ("ab--c": Punycode or reserved)
        if not _HOST_LABEL.match(label) or label[2:4] == "--":
            return None
    return lowered


def _validated(text: str) -> ValidatedEmail:
    from email_validator import EmailNotValidError, validate_email  # noqa: PLC0415 - see above

    try:
        return validate_email(text, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidAddress(str(error)) from None


@functools.lru_cache(maxsize=4096)
def _domain(domain: str) -> tuple[str, str] | str:
    """(normalised domain, ASCII domain), or the reason the domain is invalid."""
    plain = _plain_domain(domain)
    if plain is not None:
        return plain, plain
    try:
        checked = _validated(f"a@{domain}")
    except InvalidAddress as error:
        return str(error)
    return checked.domain, checked.ascii_domain


def parse_address(text: str, *, case_sensitive_local: bool = False) -> Address:
    """Validate and normalise an address. Raises InvalidAddress with a readable reason.

    Two addresses are the same person when their keys are equal: the domain is compared without
    case, and the local part too unless `case_sensitive_local`.
    """
    candidate = text.strip()
    ascii_email: str | None
    match = _FAST_ADDRESS.match(candidate)
    if match and len(match.group(1)) <= _MAX_LOCAL and len(candidate) <= _MAX_ADDRESS:
        domain = _domain(match.group(2))
        if isinstance(domain, str):
            raise InvalidAddress(domain)
        local = match.group(1)
        if local.lower() in _ROLE_MAILBOXES:
            local = local.lower()
        normalised, ascii_domain = domain
        email, ascii_email = f"{local}@{normalised}", f"{local}@{ascii_domain}"
    else:
        if not candidate:
            raise InvalidAddress("the address is empty")
        checked = _validated(candidate)
        local, ascii_domain = checked.local_part, checked.ascii_domain
        email, ascii_email = checked.normalized, checked.ascii_email
    key_local = local if case_sensitive_local else local.lower()
    return Address(email=email, ascii_email=ascii_email, key=f"{key_local}@{ascii_domain.lower()}")


def clean_text(value: str) -> tuple[str, bool]:
    """`value` with every character that could break or spoof a header replaced by a space.

    Returns the cleaned text (runs of spaces collapsed, ends stripped) and whether anything
    had to be replaced. No-break spaces, which French names may contain, are kept.
    """
    if value.isprintable() and "  " not in value:  # nothing _UNSAFE matches is printable
        return value.strip(), False
    replaced, count = _UNSAFE.subn(" ", value)
    if count or "  " in replaced:
        replaced = _SPACE_RUN.sub(" ", replaced)
    return replaced.strip(), count > 0


def excerpt(text: str, limit: int = 80) -> str:
    """`text` on one line, cut to `limit` characters (with how long it was): what a message
    may quote of a value, however long the value."""
    flat = clean_text(text)[0]
    if len(flat) <= limit:
        return flat
    return f"{flat[:limit]}... ({len(flat):,} characters)"
