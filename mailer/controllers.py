"""What each command does, as functions of a workspace that return data (the CLI shows it).

Like khal's controllers: no printing and no argument parsing here, so the daemon and the tests
can call the same code as the command line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from mailer.addresses import Address
from mailer.audience import (
    ListReader,
    SegmentSummary,
    audience,
    check_lists,
    list_columns,
    segments_named,
    summarize,
)
from mailer.compose import Composer
from mailer.errors import InvalidInput, MailerError, Problem, TemplateError
from mailer.ics import Layout, series_calendar, session_calendar
from mailer.model import Occurrence
from mailer.project import Project
from mailer.recipients import Recipient
from mailer.recurrence import calendar_window, find_occurrence, occurrences
from mailer.revision_store import calendar_revisions, session_revision
from mailer.samples import (
    SAMPLE_KEY,
    Preview,
    check_emails,
    preview_occurrence,
    sample_recipients,
    write_preview,
)
from mailer.segments import Resolution
from mailer.suppression import Kind as SuppressionKind
from mailer.suppression import suppress, suppressed_keys, unsuppress
from mailer.templates import Kind
from mailer.tokens import InvalidToken, key_problem, read_token
from mailer.workspace import Workspace


@dataclass(frozen=True)
class CheckReport:
    warnings: list[Problem]
    sessions: int
    lists: int
    languages: int
    key_problem: str | None


def check(workspace: Workspace) -> CheckReport:
    """Validate everything; raises InvalidInput (exit 2) listing every problem."""
    project = workspace.project()
    config = project.config
    warnings = check_lists(project)
    problems = check_emails(
        config, workspace.templates(), project.sessions, list_columns(project), workspace.now()
    )
    if problems:
        raise TemplateError("some emails cannot be rendered", [*problems, *warnings])
    variable = config.unsubscribe.key_env
    return CheckReport(
        warnings,
        len(project.sessions),
        len(config.mailing.lists),
        len(config.series.languages),
        key_problem(workspace.environ.get(variable), variable),
    )


def coming_sessions(workspace: Workspace, start: dt.date | None, count: int) -> list[Occurrence]:
    """`count` sessions from `start` (default: today in the series' zone)."""
    project = workspace.project()
    series = project.config.series
    first_day = start or workspace.now().astimezone(series.timezone).date()
    return occurrences(series, project.sessions, start=first_day, limit=count)


def session_ics(workspace: Workspace, day: dt.date, language: str | None) -> bytes:
    """The .ics of one session, with its current revision (recorded in the state file)."""
    project = workspace.project()
    config = project.config
    occurrence = find_occurrence(config.series, project.sessions, day)
    if occurrence.status == "skipped":
        raise InvalidInput(f"{day} is skipped: there is no session that day")
    with workspace.state() as state:
        revision = session_revision(state, config, occurrence, workspace.now())
    return session_calendar(config, occurrence, workspace.language(language), revision)


def series_window(project: Project, now: dt.datetime) -> list[Occurrence]:
    """The sessions a series calendar lists (see recurrence.calendar_window)."""
    return calendar_window(project.config.series, project.sessions, now)


def series_ics(workspace: Workspace, language: str | None, layout: Layout) -> bytes:
    """The whole series as one calendar."""
    project = workspace.project()
    now = workspace.now()
    window = series_window(project, now)
    with workspace.state() as state:
        revisions = calendar_revisions(state, project.config, window, now)
    return series_calendar(
        project.config, window, workspace.language(language), revisions, layout=layout
    )


def _suppressed(workspace: Workspace) -> frozenset[str]:
    with workspace.state() as state:
        return suppressed_keys(state)


def segments_summary(
    workspace: Workspace, session: dt.date | None
) -> tuple[list[SegmentSummary], list[Problem]]:
    """Every segment's counts by language, and the lists' problems."""
    reader = ListReader(workspace.project())
    summaries, merged = summarize(reader, _suppressed(workspace), session)
    return summaries, [*reader.report.all_problems(), *merged]


def segment_members(
    workspace: Workspace, segment: str, session: dt.date | None
) -> tuple[list[Recipient], Resolution, list[Problem]]:
    """Who one segment reaches, what resolving found, and the lists' problems."""
    project = workspace.project()
    reader = ListReader(project)
    resolution = Resolution()
    people = list(
        audience(
            reader, segments_named(project, [segment]), _suppressed(workspace), resolution, session
        )
    )
    return people, resolution, [*reader.report.all_problems(), *resolution.merged]


def suppress_by_hand(
    workspace: Workspace, address: str | None, token: str | None, reason: str
) -> tuple[Address, bool]:
    """Suppress an address (or the one an unsubscribe token names); True if it is new."""
    if (address is None) == (token is None):
        raise InvalidInput("give either an ADDRESS or --token")
    kind: SuppressionKind = "manual"
    if token is not None:
        series_id = workspace.project().config.series.id
        try:
            address = read_token(workspace.signing_key(), series_id, token)
        except InvalidToken as error:
            raise InvalidInput(str(error)) from None
        kind, reason = "unsubscribed", "unsubscribe token"
    assert address is not None
    parsed = workspace.address(address)
    with workspace.state() as state:
        return parsed, suppress(state, parsed, kind, reason, workspace.now())


def unsuppress_by_hand(workspace: Workspace, address: str) -> tuple[Address, bool]:
    parsed = workspace.address(address)
    with workspace.state() as state:
        return parsed, unsuppress(state, parsed.key)


def signing_key_or_sample(workspace: Workspace) -> tuple[bytes, str | None]:
    """The real signing key, or the sample one with a warning (for previews only)."""
    try:
        return workspace.signing_key(), None
    except MailerError as error:
        return SAMPLE_KEY, f"{error}; the preview's unsubscribe links use a sample key"


def preview(
    workspace: Workspace,
    day: dt.date,
    kind: Kind,
    languages: tuple[str, ...],
    *,
    folder: Path,
    key: bytes,
) -> list[Preview]:
    """Write the email of `kind` for a sample recipient in each language."""
    project = workspace.project()
    config = project.config
    occurrence = preview_occurrence(config, project.sessions, day)
    now = workspace.now()
    with workspace.state() as state:
        revision = session_revision(state, config, occurrence, now)
    columns = list_columns(project)
    composer = Composer(
        config=config,
        templates=workspace.templates(),
        occurrence=occurrence,
        kind=kind,
        message_key=kind,
        revision=revision,
        now=now,
        signing_key=key,
        field_names=columns,
    )
    return [
        write_preview(
            composer, sample_recipients(code, columns, config.series.timezone.key)[0], folder
        )
        for code in languages
    ]
