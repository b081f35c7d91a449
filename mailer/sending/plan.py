"""Planning a send: who gets which email, compared with the ledger, then recorded.

`plan_send` resolves the audience and compares it with the ledger without writing anything (it
is what `--dry-run` shows, and what the organiser confirms); `record_plan` writes the rows, and
`mailer.sending.run` sends them (plan, then apply, as vdirsyncer does). `mailer send` and the
daemon both go through here, holding the sender lock.

When nobody is asked to confirm (`mailer send --yes`, the daemon), `plan_send(record=True)`
records the rows in the same pass over the lists (what the plan says is then what was written):
a 100,000-person list is read once, not twice, and no set of who is already in the ledger is
held in memory. A send whose deadline has passed records nothing either way.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mailer.audience.segments import Resolution
from mailer.calendar.revisions import Revision
from mailer.errors import InvalidInput, Problem, StaleContent
from mailer.messages.changes import told_content
from mailer.messages.compose import check_kind
from mailer.model import (
    EVERYONE,
    WAITING_LIST_KINDS,
    MessageKind,
    Occurrence,
    Recipient,
    Segment,
    SessionFacts,
)
from mailer.project.lists import ListReader, audience, segments_named
from mailer.project.load import Project
from mailer.recurrence import find_occurrence
from mailer.sending.cadence import update_key
from mailer.store.answers import session_facts
from mailer.store.ledger import NOT_THEIRS, OPEN, Ledger, SendKey
from mailer.store.revisions import session_revision
from mailer.store.session_files import saved_digest
from mailer.store.state import State
from mailer.store.suppression import suppressed_keys
from mailer.store.told import keep_told, last_told

FOLLOWUP_DEADLINE = dt.timedelta(days=7)  # a follow-up sent by hand may still go this long


@dataclass(frozen=True)
class SendRequest:
    day: dt.date
    kind: MessageKind
    segments: tuple[str, ...] = ()
    limit: int | None = None
    message: str | None = None  # the ledger key; default from the kind
    deadline: dt.datetime | None = None  # default: when the session starts
    resend_failed: bool = False  # send again what failed for a reason not the recipient's


TELLING = ("invitation", "reminder", "update")  # the emails that tell people the session


@dataclass
class SendPlan:
    """What a send would do, before anything is written."""

    key: SendKey
    kind: MessageKind
    occurrence: Occurrence
    revision: Revision
    segments: tuple[str, ...]
    deadline: dt.datetime
    # resolves the recipients afresh, streaming, from the lists (and the kept lists of the
    # state given: the one open when it is called)
    audience: Callable[[State], Iterator[Recipient]]
    people: int
    resolution: Resolution
    problems: list[Problem]
    existing: Counter[str] = field(default_factory=Counter)
    new: int = 0
    not_theirs: int = 0  # failed for a reason that is not the recipient's own
    too_late_early: int = 0  # skipped as too late by a clock ahead of this one
    resend_failed: bool = False
    recorded: bool = False  # the rows are in the ledger already (`plan_send(record=True)`)
    restored: bool = False  # an update of a session whose cancellation went out: back on
    # once recorded: what the ledger holds open for this email (other senders may have
    # planned the same rows at the same time: what is counted before is not what there is)
    open_after: int | None = None
    told: dict[str, Any] | None = None  # what the email tells of its session (kept with it)
    told_before: dict[str, Any] | None = None  # an update: what the emails before told

    @property
    def reopened(self) -> int:
        """Deliveries that recording the plan opens again."""
        return self.too_late_early + (self.not_theirs if self.resend_failed else 0)

    @property
    def to_send(self) -> int:
        """Deliveries this run would send: the new ones, those still pending or to retry, and
        those it opens again."""
        if self.open_after is not None:
            return self.open_after + self.reopened
        return self.new + sum(self.existing[s] for s in OPEN) + self.reopened

    def too_late(self, now: dt.datetime) -> bool:
        return now >= self.deadline


def message_key(kind: MessageKind, revision: Revision) -> str:
    """The ledger's name of an email: an update is per revision (see `update_key`)."""
    return update_key(revision) if kind == "update" else kind


def plan_send(
    project: Project,
    state: State,
    request: SendRequest,
    now: dt.datetime,
    *,
    record: bool = False,
) -> SendPlan:
    """Resolve who would get the email, and what the ledger already says. Writes no delivery,
    unless `record` (and the deadline is still ahead): then the rows are written as they are
    resolved, and `record_plan` only opens again what it sends again."""
    config = project.config
    occurrence = find_occurrence(config.series, project.sessions, request.day)
    if occurrence.content is None:
        raise InvalidInput(
            f"the session of {occurrence.scheduled} has no file "
            f"({config.series.sessions_dir}/{occurrence.scheduled}.toml): "
            "nothing is sent with blanks"
        )
    check_kind(occurrence, request.kind)  # refused before anything is recorded
    refuse_stale_content(project, state, occurrence.scheduled)
    revision = session_revision(state, config, occurrence, now)
    key = SendKey(
        config.series.id,
        occurrence.scheduled,
        request.message or message_key(request.kind, revision),
    )
    ledger = Ledger(state)
    told = told_content(config, occurrence) if request.kind in TELLING else None
    told_before = last_told(state, key) if request.kind == "update" else None
    blocked = suppressed_keys(state, request.kind)
    if not request.segments and request.kind in ("update", "cancellation"):
        # whoever was sent something about this session may have it in their calendar (read
        # now: the plan outlives the state file it was made with, for the page that shows it)
        segments: tuple[str, ...] = ()
        served = ledger.served(config.series.id, occurrence.scheduled, "")

        def people(resolution: Resolution, reader: ListReader) -> Iterator[Recipient]:
            for recipient in served:
                if recipient.key in blocked:
                    resolution.suppressed += 1
                    continue
                if recipient.key == reader.organizer:
                    resolution.organizer += 1
                    continue
                counts = resolution.per_language
                counts[recipient.language] = counts.get(recipient.language, 0) + 1
                yield recipient

    else:
        segments = request.segments or (EVERYONE,)
        if request.kind in WAITING_LIST_KINDS:  # whoever the session's answers say
            segments = ()
            chosen = [waiting_list_segment(project, request.kind)]
        else:
            chosen = segments_named(project, segments)
        facts, skip = _facts(project, state, request.kind, occurrence, chosen)

        def people(resolution: Resolution, reader: ListReader) -> Iterator[Recipient]:
            found = audience(
                reader, chosen, blocked, resolution, occurrence.scheduled, facts=facts, skip=skip
            )
            return _with_attendance(found, facts) if request.kind == "followup" else found

    deadline = request.deadline or occurrence.start
    if request.kind == "followup":
        if now < occurrence.end:
            raise InvalidInput(
                f"the session of {occurrence.scheduled} has not ended: a follow-up goes after it"
            )
        deadline = request.deadline or max(now, occurrence.end) + FOLLOWUP_DEADLINE
    existing = ledger.counts(key)
    resolution, reader = Resolution(), ListReader(project, state)
    count = new = 0
    recorded = record and now < deadline
    if recorded:

        def counted() -> Iterator[Recipient]:
            nonlocal count
            for recipient in people(resolution, reader):
                count += 1
                yield recipient

        new = ledger.plan(
            key,
            request.kind,
            segments=segments,
            deadline=deadline,
            recipients=counted(),
            now=now,
            sequence=revision.sequence,
            content=revision.content,
        )
        if told is not None:
            keep_told(state, key, told, now)
    else:
        # A first pass counts (what the organiser confirms); recording resolves again,
        # streaming into the ledger: 100,000 recipients are never all in memory.
        known = ledger.recipients(key)
        for recipient in people(resolution, reader):
            count += 1
            new += recipient.key not in known
    return SendPlan(
        key,
        request.kind,
        occurrence,
        revision,
        segments,
        deadline,
        lambda opened: people(Resolution(), ListReader(project, opened)),
        count,
        resolution,
        [*reader.report.all_problems(), *resolution.merged],
        existing=existing,
        new=new,
        not_theirs=ledger.failed_not_theirs(key),
        too_late_early=ledger.too_late_early(key, now),
        resend_failed=request.resend_failed,
        recorded=recorded,
        open_after=sum(ledger.counts(key)[s] for s in OPEN) if recorded else None,
        restored=request.kind == "update"
        and bool(ledger.served(config.series.id, occurrence.scheduled, "cancellation")),
        told=told,
        told_before=told_before,
    )


def _facts(
    project: Project, state: State, kind: MessageKind, occurrence: Occurrence, chosen: list[Segment]
) -> tuple[SessionFacts | None, frozenset[str]]:
    """What is known of people about the session, when segments or `[answers]
    skip_declined` need it (invitations and reminders leave out those who said no)."""
    skip = frozenset({"no"}) if project.config.answers.skip_declined else frozenset()
    if kind not in ("invitation", "reminder"):
        skip = frozenset()
    wanted = kind == "followup" or any(segment.uses_facts for segment in chosen)
    if not (skip or wanted):
        return None, skip
    return session_facts(state, project.config.series.id, occurrence.scheduled), skip


def waiting_list_segment(project: Project, kind: MessageKind) -> Segment:
    """Everyone on the lists who waits for a place (`waitlist`) or was given one (`place`)."""
    lists = project.config.mailing.list_names
    return Segment(kind, tuple(lists), answers=("waiting",) if kind == "waitlist" else ("place",))


def _with_attendance(found: Iterator[Recipient], facts: SessionFacts | None) -> Iterator[Recipient]:
    """A follow-up's people with `attended` (came) or `missed` (did not) among their fields,
    once the participants report is imported, for templates to thank or to catch up."""
    if facts is None or facts.attended is None:
        yield from found
        return
    for recipient in found:
        came = recipient.key in facts.attended
        yes, no = ("yes", "") if came else ("", "yes")
        yield recipient._replace(fields={**recipient.fields, "attended": yes, "missed": no})


def record_plan(state: State, plan: SendPlan, now: dt.datetime) -> int:
    """Write the plan's deliveries to the ledger (before anything is sent), and open again
    what it sends again: deliveries skipped as too late by a clock ahead of this one (a
    rehearsal), and, if asked, those failed for a reason that is not the recipient's own."""
    ledger = Ledger(state)
    if plan.told is not None:
        keep_told(state, plan.key, plan.told, now)
    if plan.too_late_early:
        ledger.reopen_too_late(plan.key, now)
    if plan.resend_failed and plan.not_theirs:
        ledger.reopen_failed(plan.key, NOT_THEIRS, now)
    if plan.recorded:
        return plan.new
    return ledger.plan(
        plan.key,
        plan.kind,
        segments=plan.segments,
        deadline=plan.deadline,
        recipients=plan.audience(state),
        now=now,
        sequence=plan.revision.sequence,
        content=plan.revision.content,
    )


def _nobody(_: State) -> Iterator[Recipient]:
    return iter(())


def plan_from_ledger(
    project: Project,
    state: State,
    key: SendKey,
    kind: MessageKind,
    now: dt.datetime,
    *,
    restored: bool = False,
) -> SendPlan:
    """The plan of a send someone else recorded (a worker process, a daemon that is not the
    leader): its recipients are in the ledger already, so it resolves nobody."""
    config = project.config
    occurrence = find_occurrence(config.series, project.sessions, key.session)
    refuse_stale_content(project, state, occurrence.scheduled)
    revision = session_revision(state, config, occurrence, now)
    deadline = Ledger(state).deadline(key)
    assert deadline is not None, "a send is recorded before anyone else sends it"
    return SendPlan(
        key,
        kind,
        occurrence,
        revision,
        (),
        deadline,
        _nobody,
        0,
        Resolution(),
        [],
        restored=restored,
        told_before=last_told(state, key) if kind == "update" else None,  # as its planner's
    )


def refuse_stale_content(project: Project, state: State, day: dt.date) -> None:
    """StaleContent unless this host read the session's file as it was saved last (on any
    host: `mailer.store.session_files`)."""
    name = f"{day}.toml"
    saved = saved_digest(state, name)
    if saved is None or project.digests.get(name) == saved[0]:
        return
    _, version, host = saved
    raise StaleContent(
        f"{project.config.series.sessions_dir}/{name} on this host is not the copy saved last "
        f"(version {version}, on {host}): nothing about this session is sent from here with "
        "stale content; the daemon brings this host's files up to date by itself (or copy "
        "the file here)"
    )
