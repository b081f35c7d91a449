"""Addresses to suppress, from a file another tool exported (old unsubscribes and bounces):
one address per line, or a CSV file with an email column (Mailchimp's "Email Address"...),
and, when the export says them, when and why each was unsubscribed or cleaned (Mailchimp's
UNSUB_TIME or CLEAN_TIME, UNSUB_REASON and UNSUB_REASON_OTHER; their times are UTC).
Pure: takes the text; every unreadable line is a located problem."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mailer.audience.addresses import Address, excerpt, parse_address
from mailer.audience.csv_source import Record, header_name, read_table
from mailer.errors import InvalidAddress, Problem

EMAIL_HEADERS = ("email", "emailaddress", "mail", "address", "courriel")
TIME_HEADERS = ("unsubtime", "cleantime")  # Mailchimp's (header_name: no case, no "_")
REASON_HEADERS = ("unsubreason", "unsubreasonother")


@dataclass(frozen=True)
class Row:
    """One address of the file, and what the file says of it."""

    line: int
    address: Address
    when: dt.datetime | None = None  # when it was unsubscribed or cleaned, if said
    reason: str | None = None  # why, if said


@dataclass(frozen=True)
class Imported:
    addresses: list[Row]  # each address once
    problems: list[Problem]


@dataclass(frozen=True)
class _Found:
    line: int
    value: str
    when: str = ""
    reason: str = ""


def read_addresses(text: str, source: str, *, case_sensitive_local: bool = False) -> Imported:
    """The addresses of `text`; a line that holds no valid address is a problem."""
    lines = text.splitlines(keepends=True)
    first = next((line for line in lines if line.strip()), "")
    found: list[_Found] = []
    problems: list[Problem] = []
    if any(sep in first for sep in (",", ";", "\t")) or "@" not in first:
        found, problems = _from_csv(lines, first, source)
    else:
        found = [_Found(n, line.strip()) for n, line in enumerate(lines, 1) if line.strip()]
    addresses: list[Row] = []
    seen: set[str] = set()
    for item in found:
        try:
            address = parse_address(item.value, case_sensitive_local=case_sensitive_local)
        except InvalidAddress as error:
            problems.append(
                Problem(
                    source,
                    f"{excerpt(item.value)!r} is not a valid email address: {error}",
                    line=item.line,
                )
            )
            continue
        when = None
        if item.when:
            try:
                when = dt.datetime.fromisoformat(item.when).replace(tzinfo=dt.UTC)
            except ValueError:
                message = f"{excerpt(item.when)!r} is not a date and time"
                problems.append(Problem(source, message, line=item.line))
                continue
        if address.key not in seen:
            seen.add(address.key)
            addresses.append(Row(item.line, address, when, item.reason or None))
    return Imported(addresses, problems)


def _from_csv(lines: list[str], header: str, source: str) -> tuple[list[_Found], list[Problem]]:
    from_csv = _email_column(header)
    if from_csv is None:
        return [], [
            Problem(
                source,
                "no column of email addresses in the header line",
                line=1,
                hint=f"Name it one of: {', '.join(EMAIL_HEADERS)}; or give one address per line.",
            )
        ]
    try:
        table = read_table(lines, source, columns=[("email", (from_csv,))])
    except ValueError as error:
        return [], [Problem(source, str(error), line=1)]
    found: list[_Found] = []
    problems: list[Problem] = []
    for item in table.records:
        if isinstance(item, Record):
            values = item.values
            when = next((values[name] for name in TIME_HEADERS if values.get(name)), "")
            reason = ": ".join(values[name] for name in REASON_HEADERS if values.get(name))
            found.append(_Found(item.line, values.get("email", ""), when, reason))
        else:
            problems.append(item)
    return found, problems


def _email_column(header: str) -> str | None:
    """The header's column of addresses, as written."""
    for separator in (",", ";", "\t"):
        names = [name.strip().strip('"') for name in header.strip("\ufeff\r\n").split(separator)]
        for name in names:
            if header_name(name) in EMAIL_HEADERS:
                return name
    return None
