"""Addresses to suppress, from a file another tool exported (old unsubscribes and bounces):
one address per line, or a CSV file with an email column (Mailchimp's "Email Address"...).
Pure: takes the text; every unreadable line is a located problem."""

from __future__ import annotations

from dataclasses import dataclass

from mailer.audience.addresses import Address, excerpt, parse_address
from mailer.audience.csv_source import Record, header_name, read_table
from mailer.errors import InvalidAddress, Problem

EMAIL_HEADERS = ("email", "emailaddress", "mail", "address", "courriel")


@dataclass(frozen=True)
class Imported:
    addresses: list[tuple[int, Address]]  # (line, address), each address once
    problems: list[Problem]


def read_addresses(text: str, source: str, *, case_sensitive_local: bool = False) -> Imported:
    """The addresses of `text`; a line that holds no valid address is a problem."""
    lines = text.splitlines(keepends=True)
    first = next((line for line in lines if line.strip()), "")
    found: list[tuple[int, str]] = []
    problems: list[Problem] = []
    if any(sep in first for sep in (",", ";", "\t")) or "@" not in first:
        found, problems = _from_csv(lines, first, source)
    else:
        found = [(n, line.strip()) for n, line in enumerate(lines, 1) if line.strip()]
    addresses: list[tuple[int, Address]] = []
    seen: set[str] = set()
    for line, value in found:
        try:
            address = parse_address(value, case_sensitive_local=case_sensitive_local)
        except InvalidAddress as error:
            problems.append(
                Problem(
                    source, f"{excerpt(value)!r} is not a valid email address: {error}", line=line
                )
            )
            continue
        if address.key not in seen:
            seen.add(address.key)
            addresses.append((line, address))
    return Imported(addresses, problems)


def _from_csv(
    lines: list[str], header: str, source: str
) -> tuple[list[tuple[int, str]], list[Problem]]:
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
    found: list[tuple[int, str]] = []
    problems: list[Problem] = []
    for item in table.records:
        if isinstance(item, Record):
            found.append((item.line, item.values.get("email", "")))
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
