"""What `mailer person` does: everything held about one person, exporting it, erasing it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mailer.audience.addresses import Address
from mailer.model import Recipient
from mailer.project.lists import ListReader
from mailer.project.load import Project
from mailer.recurrence import occurrences
from mailer.store.inbox import mailbox_facts
from mailer.store.members import Member, Preferences, memberships, preferences_of
from mailer.store.people import Delivery, Erased, deliveries_of, erase
from mailer.store.state import State
from mailer.store.suppression import Suppression, suppression_of


@dataclass(frozen=True)
class Row:
    """One row of a mailing list that holds the person."""

    list_name: str
    recipient: Recipient


@dataclass(frozen=True)
class PersonReport:
    """The "did Marie get it?" answer: where they are, what they chose, what they were sent."""

    address: Address
    rows: list[Row]
    segments: list[str]  # for the next session (a segment may depend on its date)
    session: dt.date | None  # that session
    suppression: Suppression | None
    deliveries: list[Delivery]
    mailbox: dict[str, list[dict[str, object]]]  # bounces, answers, attendance
    memberships: list[Member] = dataclasses.field(default_factory=list)  # kept lists, evidence
    preferences: Preferences | None = None  # what she changed on her preferences page

    @property
    def language(self) -> str | None:
        return self.rows[0].recipient.language if self.rows else None


def list_rows(project: Project, state: State, key: str) -> list[Row]:
    """The rows of the lists (files and kept lists) whose person is `key`, in list order."""
    reader = ListReader(project, state)
    return [
        Row(name, recipient)
        for name in project.config.mailing.list_names
        for recipient in reader.read(name)
        if recipient.key == key
    ]


def person(project: Project, state: State, address: Address, now: dt.datetime) -> PersonReport:
    """Everything about the person at `address`."""
    config = project.config
    rows = list_rows(project, state, address.key)
    today = now.astimezone(config.series.timezone).date()
    coming = occurrences(config.series, project.sessions, start=today, limit=1)
    following = coming[0] if coming else None
    session = following.scheduled if following is not None else None
    segments = []
    if rows:
        first = rows[0].recipient  # the data of their first row is what is sent
        on = {row.list_name for row in rows}
        for segment in config.mailing.segments:
            if on & set(segment.lists) and segment.matcher(session)(first):
                segments.append(segment.name)
    return PersonReport(
        address,
        rows,
        segments,
        session,
        suppression_of(state, address.key),
        deliveries_of(state, address.key),
        mailbox_facts(state, address.key),
        memberships(state, address.key),
        preferences_of(state, address.key),
    )


def _plain(value: object) -> Any:
    """A value as JSON can hold it."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(str(v) for v in value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def person_record(report: PersonReport) -> dict[str, Any]:
    """`mailer person --json` and `--export`: every fact held about the person."""
    return {
        "address": report.address.email,
        "language": report.language,
        "lists": [
            {
                "list": row.list_name,
                "row": row.recipient.source,
                "email": row.recipient.email,
                "name": row.recipient.name,
                "language": row.recipient.language,
                "tags": _plain(row.recipient.tags),
                "timezone": row.recipient.timezone,
                "columns": _plain(row.recipient.fields),
            }
            for row in report.rows
        ],
        "segments": report.segments,
        "segments_for_session": _plain(report.session),
        "suppression": None
        if report.suppression is None
        else _plain(dataclasses.asdict(report.suppression)),
        "emails": [_plain(dataclasses.asdict(d)) for d in report.deliveries],
        "bounces": report.mailbox["bounces"],
        "answers": report.mailbox["answers"],
        "attended": report.mailbox["attended"],
        "signups": [_plain(dataclasses.asdict(m)) for m in report.memberships],
        "preferences": None
        if report.preferences is None
        else _plain(dataclasses.asdict(report.preferences)),
    }


@dataclass(frozen=True)
class Erasure:
    erased: Erased
    still_on: list[str]  # list rows that still hold them ("recipients/members.csv:4")


def erase_person(project: Project, state: State, address: Address, now: dt.datetime) -> Erasure:
    """Forget the person (see `mailer.store.people.erase`), and say which list rows still hold
    them: mailer does not edit the organiser's files, but never mails that address again."""
    erased = erase(state, address.key, now)
    return Erasure(erased, [row.recipient.source for row in list_rows(project, state, address.key)])
