"""Sample emails of the shipped project: a composer for any kind, a sample person, and parsing
a composed email back strictly."""

from __future__ import annotations

import datetime as dt
import email
import email.message
import email.policy

from mailer.calendar.revisions import Revision
from mailer.messages.compose import Composer
from mailer.messages.templates import TemplateSet
from mailer.model import MessageKind, Occurrence, Outgoing, Recipient
from mailer.project.load import Project, load_project, load_sources
from mailer.recurrence import find_occurrence
from tests.support.project import REPO

KEY = b"compose-test-signing-key-0123456789"
NOW = dt.datetime(2021, 4, 6, 7, tzinfo=dt.UTC)
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
) -> Composer:
    return Composer(
        config=project.config,
        templates=TEMPLATES,
        occurrence=occurrence or session(project),
        kind=kind,
        message_key=kind,
        revision=revision,
        now=NOW,
        signing_key=KEY,
        field_names=frozenset({"organisation"}),
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
