"""What each command does, as functions of a workspace that return data (the CLI shows it).

Like khal's controllers: no printing and no argument parsing here, so the daemon and the tests
can call the same code as the command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
from collections.abc import Callable, Iterator
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
from mailer.engine import TOO_LATE, Engine, RunResult, Tally
from mailer.errors import InvalidInput, MailerError, Problem, TemplateError
from mailer.ics import Layout, series_calendar, session_calendar
from mailer.ledger import Ledger, SendStatus
from mailer.locks import sender_lock
from mailer.model import Occurrence
from mailer.project import Project
from mailer.recipients import Recipient
from mailer.recurrence import find_occurrence, occurrences
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
from mailer.sending import (
    SendPlan,
    SendRequest,
    make_transport,
    plan_send,
    record_plan,
    run_send,
    send_proofs,
)
from mailer.state import State
from mailer.suppression import Kind as SuppressionKind
from mailer.suppression import suppress, suppressed_keys, unsuppress
from mailer.templates import Kind
from mailer.tokens import InvalidToken, key_problem, read_token
from mailer.workers import processes_for, run_parallel
from mailer.workspace import Workspace

FEED_HORIZON = dt.timedelta(days=366)
EXIT_HARD_STOP = 130


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
    """The sessions a series calendar lists: all of a finite series; else up to a year ahead."""
    series = project.config.series
    horizon = now.astimezone(series.timezone).date() + FEED_HORIZON
    latest = max([horizon, *project.sessions])
    return occurrences(series, project.sessions, start=series.first, end=series.until or latest)


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


# -- sending ----------------------------------------------------------------------------------


@contextlib.contextmanager
def sender(workspace: Workspace, *, lock: bool = True, wait: float = 0.0) -> Iterator[State]:
    """The state file, with the sender lock held (LockHeld, exit 3, if another has it)."""
    project = workspace.project()
    database = project.path(project.config.database)
    held = sender_lock(database) if lock else None
    if held is not None:
        held.acquire(wait)
    try:
        with workspace.state() as state:
            yield state
    finally:
        if held is not None:
            held.release()


def run_blocking(
    workspace: Workspace,
    state: State,
    plan: SendPlan,
    *,
    on_progress: Callable[[Tally], None],
    limit: int | None = None,
    on_hard_stop: Callable[[], None] = lambda: None,
) -> RunResult:
    """Run a send to its end. Ctrl-C or SIGTERM: stop cleanly; a second one: stop at once
    (the ledger makes that safe: what was in flight is sent again, same Message-ID)."""
    transport = make_transport(workspace.project().config, workspace)

    async def main() -> RunResult:
        loop = asyncio.get_running_loop()
        engines: list[Engine] = []

        def stop() -> None:
            if engines and not engines[0].stopping:
                engines[0].stop()
            else:
                on_hard_stop()
                os._exit(EXIT_HARD_STOP)

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop)
        try:
            return await run_send(
                workspace,
                state,
                plan,
                transport=transport,
                on_progress=on_progress,
                on_engine=engines.append,
                limit=limit,
            )
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)

    return asyncio.run(main())


def run(
    workspace: Workspace,
    state: State,
    send_plan: SendPlan,
    *,
    on_progress: Callable[[Tally], None],
    limit: int | None = None,
    on_hard_stop: Callable[[], None] = lambda: None,
) -> RunResult:
    """Send the recorded plan, in this process or in several (`[sending] processes`)."""
    configured = workspace.project().config.delivery.sending.processes
    processes = processes_for(send_plan, configured) if limit is None else 1
    if processes > 1:
        return run_parallel(
            workspace,
            send_plan,
            processes,
            on_progress,
            simulated_now=workspace.now() if workspace.simulated_now else None,
        )
    return run_blocking(
        workspace, state, send_plan, on_progress=on_progress, limit=limit, on_hard_stop=on_hard_stop
    )


def proofs(workspace: Workspace, plan: SendPlan, address: str) -> list[tuple[str, str]]:
    """Send one copy per language to `address`."""
    transport = make_transport(workspace.project().config, workspace)
    return asyncio.run(send_proofs(workspace, plan, address, transport))


def sends_status(workspace: Workspace, day: dt.date | None) -> list[SendStatus]:
    project = workspace.project()
    if day is not None:
        day = find_occurrence(project.config.series, project.sessions, day).scheduled
    with workspace.state() as state:
        return Ledger(state).status(project.config.series.id, day)


def plan(workspace: Workspace, state: State, request: SendRequest) -> SendPlan:
    return plan_send(workspace, state, request, workspace.now())


def record(state: State, send_plan: SendPlan, now: dt.datetime) -> int:
    return record_plan(state, send_plan, now)


class TooLate(MailerError):
    """The send's deadline passed: what was not sent is marked skipped."""


def refuse_if_too_late(workspace: Workspace, state: State, send_plan: SendPlan) -> None:
    """A send past its deadline sends nothing; its unsent deliveries say "too late"."""
    now = workspace.now()
    if send_plan.too_late(now):
        record_plan(state, send_plan, now)  # so that `mailer status` shows it, as too late
        skipped = Ledger(state).skip_remaining(send_plan.key, TOO_LATE, now)
        raise TooLate(
            f"too late: the deadline ({send_plan.deadline:%Y-%m-%d %H:%M %Z}) has "
            f"passed, so nothing is sent; {skipped} unsent deliveries marked skipped"
        )


@dataclass(frozen=True)
class SendSummary:
    text: str
    to_retry: int  # deliveries waiting for a retry after this run


def summary(state: State, send_plan: SendPlan, max_attempts: int, tally: Tally) -> SendSummary:
    """What this run did, and the ledger's word on the whole send."""
    ledger = Ledger(state)
    counts = ledger.counts(send_plan.key)
    to_retry = ledger.to_retry(send_plan.key, max_attempts)
    text = (
        f"This run: {tally.sent} sent, {tally.failed} failed, {tally.retrying} to retry, "
        f"{tally.unknown} of unknown fate, {tally.skipped} skipped, in "
        f"{tally.elapsed():.1f} s.\nIn all: "
    )
    text += ", ".join(
        f"{counts.get(s, 0)} {s}"
        for s in ("sent", "failed", "retry", "unknown", "skipped", "pending")
        if counts.get(s, 0) or s in ("sent", "failed")
    )
    next_retry = ledger.next_retry(send_plan.key, max_attempts)
    if to_retry and next_retry is not None:
        text += (
            f". {to_retry} to try again from {next_retry:%Y-%m-%d %H:%M}Z: run the "
            "same command then (the daemon does it by itself)"
        )
    if counts.get("pending", 0):
        text += f". {counts['pending']} not sent yet: run the same command to send them"
    return SendSummary(text + ".", to_retry)
