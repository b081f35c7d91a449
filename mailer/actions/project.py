"""What the commands about the series do (check, dates, ics, preview), returning data.

Like khal's controllers: no printing and no argument parsing here, so the daemon, the tests and
the CLI call the same code. Each function takes what it uses; `mailer.cli` gets those from the
workspace and shows the result.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailer.calendar.ics import Layout, series_calendar, session_calendar
from mailer.config.placeholders import placeholder_problems
from mailer.config.sessions import moves_into_the_past
from mailer.errors import ConfigError, InvalidInput, Problem, TemplateError
from mailer.messages.checks import check_emails, preview_occurrence, sample_recipients
from mailer.messages.compose import Composer
from mailer.messages.templates import TemplateSet
from mailer.model import MessageKind, Occurrence, Recipient
from mailer.project.lists import ListCount, check_lists, list_columns
from mailer.project.load import Project
from mailer.recurrence import calendar_window, find_occurrence, next_occurrence, occurrences
from mailer.store.ledger import SendKey
from mailer.store.revisions import calendar_revisions, session_revision
from mailer.store.state import State
from mailer.store.told import last_told


@dataclass(frozen=True)
class CheckReport:
    warnings: list[Problem]
    sessions: int
    lists: list[ListCount]
    languages: int


def check(
    project: Project,
    templates: TemplateSet,
    *,
    now: dt.datetime,
    secret_problems: Sequence[Problem] = (),
    offline: bool = False,
    service_problems: Sequence[Problem] = (),
) -> CheckReport:
    """Validate everything; raises InvalidInput (exit 2) listing every problem.

    `secret_problems` are what is wrong with the secrets (a missing or weak signing key): a
    problem like any other, or, `offline` (checking a project away from its server), warnings.
    `service_problems`: what the systemd unit would stop the daemon doing (`check --service`).
    """
    config = project.config
    secrets = [
        dataclasses.replace(problem, severity="warning" if offline else "error")
        for problem in secret_problems
    ]
    lists, list_warnings = check_lists(project)
    warnings = [
        *list_warnings,
        *placeholder_problems(config, project.sessions),
        *(p for p in secrets if not p.is_error),
    ]
    today = now.astimezone(config.series.timezone).date()
    if past := moves_into_the_past(project.sessions, today):
        raise ConfigError("some sessions would move into the past", [*past, *warnings])
    problems = check_emails(config, templates, project.sessions, list_columns(project), now)
    if problems:
        raise TemplateError("some emails cannot be rendered", [*problems, *warnings, *secrets])
    if errors := [problem for problem in secrets if problem.is_error]:
        raise ConfigError(
            "sending needs its secrets and its state; mailer check --offline checks the rest "
            "without them",
            [*errors, *warnings, *service_problems],
        )
    if service_problems:
        raise ConfigError("the service cannot run as its unit says", [*service_problems, *warnings])
    return CheckReport(warnings, len(project.sessions), lists, len(config.series.languages))


def series_language(project: Project, language: str | None) -> str:
    """`language` if the series has it, the default language if None; else InvalidInput."""
    series = project.config.series
    if language is None:
        return series.default_language
    if language not in series.languages:
        raise InvalidInput(
            f"'{language}' is not a language of the series "
            f"(choose one of {', '.join(series.languages)})"
        )
    return language


def coming_sessions(
    project: Project, start: dt.date | None, count: int, *, now: dt.datetime
) -> list[Occurrence]:
    """`count` sessions from `start` (default: today in the series' zone)."""
    series = project.config.series
    first_day = start or now.astimezone(series.timezone).date()
    return occurrences(series, project.sessions, start=first_day, limit=count)


def session_ics(
    project: Project, state: State, day: dt.date, language: str, *, now: dt.datetime
) -> bytes:
    """The .ics of one session, with its current revision (recorded in the state file)."""
    config = project.config
    occurrence = find_occurrence(config.series, project.sessions, day)
    if occurrence.status == "skipped":
        raise InvalidInput(f"{day} is skipped: there is no session that day")
    revision = session_revision(state, config, occurrence, now)
    return session_calendar(config, occurrence, language, revision)


def series_ics(
    project: Project, state: State, language: str, layout: Layout, *, now: dt.datetime
) -> bytes:
    """The whole series as one calendar."""
    window = calendar_window(project.config.series, project.sessions, now)
    revisions = calendar_revisions(state, project.config, window, now)
    return series_calendar(project.config, window, language, revisions, layout=layout)


@dataclass(frozen=True)
class Preview:
    """Where a preview was written."""

    eml: Path
    html: Path
    ics: Path | None  # None: the email has no calendar part (a meeting invitation's reminder)


def write_preview(composer: Composer, recipient: Recipient, folder: Path) -> Preview:
    """Write the email for `recipient` as .eml, its HTML as .html, and its .ics if it has
    one (an earlier preview's .ics of the same name is removed, not left to mislead)."""
    outgoing = composer.compose(recipient)
    stem = f"{composer.occurrence.scheduled.isoformat()}-{composer.kind}-{recipient.language}"
    folder.mkdir(parents=True, exist_ok=True)
    eml, html, ics = (folder / f"{stem}.{suffix}" for suffix in ("eml", "html", "ics"))
    eml.write_bytes(outgoing.data)
    html.write_text(composer.render(recipient)[2], encoding="utf-8")
    calendar = composer.calendar(recipient.language, recipient)
    if not calendar:
        ics.unlink(missing_ok=True)
        return Preview(eml, html, None)
    ics.write_bytes(calendar)
    return Preview(eml, html, ics)


def preview(
    project: Project,
    templates: TemplateSet,
    state: State,
    day: dt.date,
    *,
    kind: MessageKind,
    languages: tuple[str, ...],
    folder: Path,
    key: bytes,
    now: dt.datetime,
) -> list[Preview]:
    """Write the email of `kind` for a sample recipient in each language."""
    composer, sample = preview_composer(project, templates, state, day, kind=kind, key=key, now=now)
    return [write_preview(composer, sample(code), folder) for code in languages]


def preview_composer(
    project: Project,
    templates: TemplateSet,
    state: State,
    day: dt.date,
    *,
    kind: MessageKind,
    key: bytes,
    now: dt.datetime,
) -> tuple[Composer, Callable[[str], Recipient]]:
    """What composes the previews of an email, and the sample recipient of each language."""
    config = project.config
    occurrence = preview_occurrence(config, project.sessions, day)
    revision = session_revision(state, config, occurrence, now)
    columns = list_columns(project)
    composer = Composer(
        config=config,
        templates=templates,
        occurrence=occurrence,
        kind=kind,
        message_key=kind,
        revision=revision,
        now=now,
        signing_key=key,
        field_names=columns,
        next_session=next_occurrence(config.series, project.sessions, occurrence),
        told=last_told(state, SendKey(config.series.id, day, kind)) if kind == "update" else None,
    )

    def sample(language: str) -> Recipient:
        return sample_recipients(language, columns, config.series.timezone.key)[0]

    return composer, sample


@dataclass(frozen=True)
class PreviewParts:
    """One email as its recipient gets it: subject, text, HTML, and its calendar file."""

    recipient: Recipient
    subject: str
    text: str
    html: str
    ics: bytes


def preview_parts(composer: Composer, recipient: Recipient) -> PreviewParts:
    subject, text, html = composer.render(recipient)
    return PreviewParts(
        recipient, subject, text, html, composer.calendar(recipient.language, recipient)
    )
