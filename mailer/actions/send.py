"""What the sending commands (send, status) and `mailer plan` do, returning data.

Each function takes what it uses; `mailer.cli` gets those from the workspace and shows the
result.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from mailer.audience.addresses import Address
from mailer.calendar.revisions import significant_digest
from mailer.errors import EXIT_INTERRUPTED, InvalidInput, MailerError, TooLate
from mailer.messages.checks import sample_recipients
from mailer.messages.templates import TemplateSet
from mailer.model import MessageKind, Occurrence, Recipient
from mailer.project.lists import list_columns
from mailer.project.load import Project
from mailer.recurrence import find_occurrence, occurrences
from mailer.sending.cadence import Job
from mailer.sending.engine import Engine
from mailer.sending.jobs import due_jobs, send_key
from mailer.sending.plan import SendPlan, SendRequest, plan_send
from mailer.sending.progress import RunResult, Tally
from mailer.sending.run import composer_for, run_send, send_proofs
from mailer.sending.workers import STOP_SIGNALS, Launch, processes_for, run_parallel
from mailer.store.ledger import Ledger, SendStatus
from mailer.store.location import StoreLocation
from mailer.store.revisions import session_revision
from mailer.store.state import State
from mailer.store.suppression import suppressed_keys
from mailer.transport.base import Transport


@contextlib.contextmanager
def sender(store: StoreLocation, *, lock: bool = True, wait: float = 0.0) -> Iterator[State]:
    """The state, with the sender lock held (LockHeld, exit 3, if another has it: SQLite;
    PostgreSQL needs none)."""
    held = store.sender_lock() if lock else None
    if held is not None:
        held.acquire(wait)
    try:
        with store.open() as state:
            yield state
    finally:
        if held is not None:
            held.release()


def run_blocking(
    project: Project,
    templates: TemplateSet,
    state: State,
    plan: SendPlan,
    *,
    signing_key: bytes,
    transport: Transport,
    clock: Callable[[], dt.datetime],
    on_progress: Callable[[Tally], None],
    limit: int | None = None,
    on_hard_stop: Callable[[], None] = lambda: None,
) -> RunResult:
    """Run a send to its end in this process. Ctrl-C, SIGTERM or SIGHUP (a dropped SSH session):
    stop cleanly; a second one: stop at once (the ledger makes that safe: what was in flight is
    sent again, same Message-ID)."""

    async def main() -> RunResult:
        loop = asyncio.get_running_loop()
        engines: list[Engine] = []

        def stop() -> None:
            if engines and not engines[0].stopping:
                engines[0].stop()
            else:
                on_hard_stop()
                os._exit(EXIT_INTERRUPTED)

        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, stop)
        try:
            return await run_send(
                project,
                templates,
                state,
                plan,
                signing_key=signing_key,
                transport=transport,
                clock=clock,
                on_progress=on_progress,
                on_engine=engines.append,
                limit=limit,
            )
        finally:
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)

    return asyncio.run(main())


def run(
    project: Project,
    templates: TemplateSet,
    state: State,
    send_plan: SendPlan,
    *,
    launch: Launch,
    transport: Callable[[], Transport],
    clock: Callable[[], dt.datetime],
    on_progress: Callable[[Tally], None],
    limit: int | None = None,
    on_hard_stop: Callable[[], None] = lambda: None,
) -> RunResult:
    """Send the recorded plan, in this process or in several (`[sending] processes`)."""
    configured = project.config.delivery.sending.processes
    processes = processes_for(send_plan.to_send, configured) if limit is None else 1
    if processes > 1:
        return run_parallel(
            project,
            templates,
            state,
            send_plan,
            processes,
            launch=launch,
            clock=clock,
            on_progress=on_progress,
            on_hard_stop=on_hard_stop,
        )
    return run_blocking(
        project,
        templates,
        state,
        send_plan,
        signing_key=launch.signing_key,
        transport=transport(),
        clock=clock,
        on_progress=on_progress,
        limit=limit,
        on_hard_stop=on_hard_stop,
    )


def proofs(
    project: Project,
    templates: TemplateSet,
    plan: SendPlan,
    address: Address,
    *,
    transport: Transport,
    now: dt.datetime,
    signing_key: bytes,
) -> list[tuple[str, str]]:
    """Send one copy per language to `address`."""
    return asyncio.run(
        send_proofs(
            project,
            templates,
            plan,
            address,
            transport=transport,
            now=now,
            signing_key=signing_key,
        )
    )


def sends_status(project: Project, state: State, day: dt.date | None) -> list[SendStatus]:
    """Every send of the series (or of the session on `day`), from the ledger."""
    if day is not None:
        day = find_occurrence(project.config.series, project.sessions, day).scheduled
    return Ledger(state).status(project.config.series.id, day)


def refuse_if_too_late(send_plan: SendPlan, now: dt.datetime) -> None:
    """A send past its deadline sends nothing and records nothing (so that a clock set wrong
    by mistake, `--now`, costs nobody their email)."""
    if send_plan.too_late(now):
        raise TooLate(
            f"too late: the deadline ({send_plan.deadline:%Y-%m-%d %H:%M %Z}) has "
            f"passed ({now.astimezone(send_plan.deadline.tzinfo):%Y-%m-%d %H:%M %Z} now), so "
            "nothing is sent and nothing recorded"
        )


@dataclass(frozen=True)
class SendSummary:
    text: str
    to_retry: int  # deliveries waiting for a retry after this run
    counts: dict[str, int]  # the whole send, by state


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
    return SendSummary(text + ".", to_retry, dict(sorted(counts.items())))


# -- the daemon's plan ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedJob:
    """A row of `mailer plan`."""

    job: Job
    state: str  # waiting, due, late, done, blocked
    recipients: int | None
    counts: dict[str, int]
    problem: str | None
    left_out: dict[str, int] = field(default_factory=dict)  # by answer, attendance


def daemon_plan(
    project: Project,
    templates: TemplateSet,
    state: State,
    *,
    now: dt.datetime,
    days: int,
    signing_key: Callable[[], bytes],
) -> list[PlannedJob]:
    """What the daemon will send in the next `days` (and what is due or missed now).

    Each email is planned as the daemon plans it (the segments now, against the ledger), so
    `recipients` is who is still to get it, and `done` means nobody is left.
    """
    rows = []
    ledger = Ledger(state)
    needs = templates.needs(project.config.series.languages, "followup")
    for job in due_jobs(project, state, now, horizon=dt.timedelta(days=days), needs=needs):
        key = send_key(project, job)
        counts = dict(ledger.counts(key))
        status: str = job.state(now)
        left_out: dict[str, int] = {}
        recipients, problem = None, job.blocked
        if job.blocked is not None:
            status = "done" if ledger.complete(key) else "blocked"
        elif job.kind == "warning":
            recipients = 0 if ledger.complete(key) else 1
            status = "done" if recipients == 0 else status
        elif status == "late":
            if job.deadline < now - dt.timedelta(days=1):
                continue
            status = "done" if ledger.complete(key) else "late"
        else:
            recipients, problem, left_out = _audience_and_problem(
                project, templates, state, job, now=now, signing_key=signing_key
            )
            if problem is not None:
                status = "blocked"
            elif recipients == 0 and counts:
                status = "done"
        rows.append(PlannedJob(job, status, recipients, counts, problem, left_out))
    return rows


def _audience_and_problem(
    project: Project,
    templates: TemplateSet,
    state: State,
    job: Job,
    *,
    now: dt.datetime,
    signing_key: Callable[[], bytes],
) -> tuple[int | None, str | None, dict[str, int]]:
    """How many people the job reaches, a template error that would stop it, and how many
    are left out by their answer or attendance, and why."""
    assert job.kind != "warning"
    request = SendRequest(
        job.occurrence.scheduled, job.kind, job.segments, message=job.message, deadline=job.deadline
    )
    try:
        planned = plan_send(project, state, request, now)
        composer = composer_for(project, templates, planned, now=now, signing_key=signing_key())
        columns = list_columns(project)
        for language in project.config.series.languages:
            for recipient in sample_recipients(
                language, columns, project.config.series.timezone.key
            ):
                composer.compose(recipient)
    except MailerError as error:
        first = error.problems[0] if isinstance(error, InvalidInput) and error.problems else None
        return None, str(first) if first else str(error), {}
    return planned.to_send, None, planned.resolution.left_out


# -- a session that moves or is cancelled ---------------------------------------------------


@dataclass(frozen=True)
class ChangeAudience:
    """Who the daemon emails when a session's time, place or status changes."""

    kind: MessageKind  # update or cancellation
    recipients: list[Recipient]  # everyone already sent an email about it, not suppressed
    suppressed: int
    automatic: bool  # [daemon] updates: the daemon sends it by itself

    def per_language(self) -> dict[str, int]:
        return dict(sorted(Counter(r.language for r in self.recipients).items()))


def change_audience(
    project: Project, state: State, before: Occurrence, after: Occurrence
) -> ChangeAudience | None:
    """Who gets an email if the session `before` becomes `after` (None: the change is not one
    calendars must hear of, or nobody was sent anything about it yet)."""
    config = project.config
    if significant_digest(config, before) == significant_digest(config, after):
        return None
    kind: MessageKind = "cancellation" if after.status == "cancelled" else "update"
    blocked = suppressed_keys(state, kind)
    served = Ledger(state).served(config.series.id, before.scheduled, "")
    if not served:
        return None
    chosen = [r for r in served if r.key not in blocked]
    return ChangeAudience(kind, chosen, len(served) - len(chosen), config.daemon.updates)


def older_texts(project: Project, state: State, *, now: dt.datetime, days: int) -> list[Occurrence]:
    """The coming sessions whose text changed (a reworded title, new speakers) since the
    last email about them: people's calendars hold the older text until an update is sent
    (no email goes by itself for wording: `mailer send DATE --kind update` sends it, with the
    same SEQUENCE and a newer DTSTAMP, which calendars apply)."""
    config = project.config
    ledger = Ledger(state)
    today = now.astimezone(config.series.timezone).date()
    found = []
    for occurrence in occurrences(
        config.series, project.sessions, start=today, end=today + dt.timedelta(days=days)
    ):
        if occurrence.content is None or not occurrence.takes_place:
            continue
        told = ledger.notified_content(config.series.id, occurrence.scheduled)
        if told is None:
            continue
        revision = session_revision(state, config, occurrence, now)
        if revision.content != told:
            found.append(occurrence)
    return found
