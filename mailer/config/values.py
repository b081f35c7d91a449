"""What makes a single value of config.toml valid: a time zone, a language code, an address."""

from __future__ import annotations

import zoneinfo

from babel import Locale, UnknownLocaleError

from mailer.audience.addresses import parse_address
from mailer.config.tables import did_you_mean
from mailer.errors import InvalidAddress


def zone_problem(name: str) -> tuple[str, str | None] | None:
    """(message, hint) when `name` is not an IANA time zone known here, else None."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return (
            f"'{name}' is not an IANA time zone",
            did_you_mean(name, zoneinfo.available_timezones())
            or "Use a name like Europe/Paris or America/New_York.",
        )
    return None


def language_problem(code: str) -> str | None:
    """Why `code` is not a language Babel knows (fr, en, es, pt-BR...), or None."""
    try:
        Locale.parse(code.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return f"'{code}' is not a known language code (use ISO 639 codes like fr, en, es, pt-BR)"
    return None


def address_problem(address: str) -> str | None:
    """Why `address` is not a valid email address (syntax only, no network), or None."""
    try:
        parse_address(address)
    except InvalidAddress as error:
        return str(error)
    return None
