"""Zoom's participants report: who came to a session.

Pure: it reads the text of the CSV file Zoom exports (Reports > Usage > Participants, or the
meeting's own report), in either of its shapes: the participants' table alone, or after a
block describing the meeting (Meeting ID, Topic, Start Time...) and a blank line. The table's
columns are found by their names: `Name (Original Name)`, `User Email` (or `Email`), `Join
Time`, `Leave Time`, `Duration (Minutes)` (or `Total Duration (Minutes)`). A person who left
and came back has several rows: they are added up, by address (case-insensitive). Rows
without an address (phone dial-ins, guests who gave none) cannot be matched, and are said.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from mailer.audience.addresses import parse_address
from mailer.errors import InvalidAddress, Problem
from mailer.model import Recipient


@dataclass(frozen=True)
class Participant:
    """One person of the report, their rows added up."""

    email: str
    key: str
    name: str
    minutes: int
    joined: str  # the first join time, as the report writes it
    left: str  # the last leave time


@dataclass
class Report:
    """What a participants report says."""

    participants: list[Participant] = field(default_factory=list)
    without_address: list[str] = field(default_factory=list)  # names of rows with no email
    problems: list[Problem] = field(default_factory=list)


def _column(header: list[str], *starts: str) -> int | None:
    for index, name in enumerate(header):
        cleaned = name.strip().lstrip("\ufeff").casefold()
        if any(cleaned.startswith(start) for start in starts):
            return index
    return None


def read_report(text: str, source: str) -> Report:
    """The participants of a Zoom report (see the module's docstring)."""
    report = Report()
    rows = list(csv.reader(io.StringIO(text)))
    start = next(
        (
            number
            for number, row in enumerate(rows)
            if _column(row, "user email", "email") is not None
            and _column(row, "name") is not None
            and _column(row, "duration", "total duration") is not None
        ),
        None,
    )
    if start is None:
        report.problems.append(
            Problem(
                source,
                "this is not a Zoom participants report: no row names the columns "
                "'Name (Original Name)', 'User Email' and 'Duration (Minutes)'",
                hint="Export it from Zoom: Reports > Usage > the meeting's participants > "
                "Export (CSV).",
            )
        )
        return report
    header = rows[start]
    name_at = _column(header, "name")
    email_at = _column(header, "user email", "email")
    minutes_at = _column(header, "duration", "total duration")
    join_at = _column(header, "join time")
    leave_at = _column(header, "leave time")
    assert name_at is not None and email_at is not None and minutes_at is not None
    people: dict[str, Participant] = {}
    for number, row in enumerate(rows[start + 1 :], start=start + 2):
        if not any(value.strip() for value in row):
            continue
        cells = dict(enumerate(value.strip() for value in row))

        def cell(at: int | None, cells: dict[int, str] = cells) -> str:
            return cells.get(at, "") if at is not None else ""

        name, email, minutes = cell(name_at), cell(email_at), cell(minutes_at)
        if not email:
            report.without_address.append(name or f"line {number}")
            continue
        try:
            address = parse_address(email)
            spent = int(float(minutes or "0"))
        except (InvalidAddress, ValueError) as error:
            report.problems.append(
                Problem(
                    source, f"this row cannot be read: {error}", line=number, severity="warning"
                )
            )
            continue
        before = people.get(address.key)
        if before is None:
            people[address.key] = Participant(
                address.email, address.key, name, spent, cell(join_at), cell(leave_at)
            )
        else:
            people[address.key] = Participant(
                before.email,
                before.key,
                before.name or name,
                before.minutes + spent,
                before.joined,  # the report lists rows as they happened
                cell(leave_at) or before.left,
            )
    report.participants = list(people.values())
    return report


@dataclass(frozen=True)
class Matched:
    """The report against the lists: who is known, who is not."""

    known: list[Participant]
    unknown: list[Participant]


def match(report: Report, people: dict[str, Recipient]) -> Matched:
    """Split the report's participants into those on the lists (`people`, by key) and not."""
    known = [p for p in report.participants if p.key in people]
    unknown = [p for p in report.participants if p.key not in people]
    return Matched(known, unknown)
