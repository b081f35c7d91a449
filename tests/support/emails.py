"""Sample emails of the shipped project: a composer for any kind, a sample person, and parsing
a composed email back strictly."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.message
import email.policy

from mailer.calendar.revisions import Revision
from mailer.messages.compose import Composer
from mailer.messages.templates import TemplateSet
from mailer.model import MessageKind, Move, Occurrence, Outgoing, Recipient
from mailer.project.load import Project, load_project, load_sources
from mailer.recurrence import find_occurrence, next_occurrence
from tests.support.project import REPO

KEY = b"compose-test-signing-key-0123456789"
NOW = dt.datetime(2021, 4, 6, 7, tzinfo=dt.UTC)
START = dt.datetime(2021, 4, 20, 11, tzinfo=dt.UTC)  # the session of the samples, 13:00 in Paris
REVISION = Revision(2, dt.datetime(2021, 4, 1, 8, tzinfo=dt.UTC), "", "")
SHIPPED = load_project(REPO / "config.toml")
TEMPLATES = TemplateSet(load_sources(REPO / "templates"))


def session(project: Project = SHIPPED, day: dt.date = dt.date(2021, 4, 20)) -> Occurrence:
    return find_occurrence(project.config.series, project.sessions, day)


def composer(
    kind: MessageKind = "invitation",
    occurrence: Occurrence | None = None,
    project: Project = SHIPPED,
    revision: Revision = REVISION,
    now: dt.datetime = NOW,
) -> Composer:
    occurrence = occurrence or session(project)
    return Composer(
        config=project.config,
        templates=TEMPLATES,
        occurrence=occurrence,
        kind=kind,
        message_key=kind,
        revision=revision,
        now=now,
        signing_key=KEY,
        field_names=frozenset({"organisation"}),
        next_session=next_occurrence(project.config.series, project.sessions, occurrence),
    )


def person(language: str = "fr", **changes: object) -> Recipient:
    base = Recipient(
        email="chloe.lefevre@example.org",
        key="chloe.lefevre@example.org",
        language=language,
        name="Chloé Lefèvre",
        timezone=None,
        fields={"organisation": "Université (exemple)"},
    )
    return base._replace(**changes)  # type: ignore[arg-type]


def parsed(outgoing: Outgoing) -> email.message.EmailMessage:
    message = email.message_from_bytes(outgoing.data, policy=email.policy.strict)
    assert isinstance(message, email.message.EmailMessage)
    assert not message.defects and not any(part.defects for part in message.walk())
    return message


def body(message: email.message.EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    return str(part.get_content())


def cancelled(occurrence: Occurrence) -> Occurrence:
    return dataclasses.replace(occurrence, status="cancelled")


def moved(occurrence: Occurrence) -> Occurrence:
    assert occurrence.content is not None
    to = Move(dt.date(2021, 4, 27), dt.time(13), dt.time(14, 30))
    week = dt.timedelta(days=7)
    return dataclasses.replace(
        occurrence,
        status="moved",
        start=occurrence.start + week,
        end=occurrence.end + week,
        content=dataclasses.replace(occurrence.content, moved_to=to),
    )


def composers_as_sent(project: Project = SHIPPED) -> dict[str, Composer]:
    """A composer for each email a recipient can get, as it is when due: the invitation two
    weeks before, the reminders a day and an hour before, an update, a move and a
    cancellation."""
    here = session(project)
    day, hour = dt.timedelta(days=1), dt.timedelta(hours=1)
    return {
        "invitation": composer("invitation", here, project, now=START - 14 * day),
        "reminder:P1D": composer("reminder", here, project, now=START - day),
        "reminder:PT1H": composer("reminder", here, project, now=START - hour),
        "update": composer("update", here, project, now=START - 3 * day),
        "update:moved": composer("update", moved(here), project, now=START - 3 * day),
        "cancellation": composer("cancellation", cancelled(here), project, now=START),
    }


def emails_as_sent(
    language: str, project: Project = SHIPPED, recipient: Recipient | None = None
) -> dict[str, tuple[str, str, str]]:
    """(subject, text, html) of each email of `composers_as_sent`, for `recipient`."""
    recipient = recipient or person(language)
    return {name: made.render(recipient) for name, made in composers_as_sent(project).items()}
