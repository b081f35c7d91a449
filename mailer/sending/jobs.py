"""Which jobs are due, from the files and the state: the cadence's invitations, reminders and
follow-ups (`mailer.sending.cadence`, pure), the updates and cancellations owed to those
already emailed, and the emails of a session's waiting list. What `mailer plan` shows and the
daemon does."""

from __future__ import annotations

import datetime as dt

from mailer.model import Occurrence
from mailer.project.load import Project
from mailer.recurrence import occurrences
from mailer.sending.cadence import Job, cadence_jobs, change_job, session_window
from mailer.store.answers import session_facts
from mailer.store.ledger import Ledger, SendKey
from mailer.store.revisions import session_revision
from mailer.store.state import State

HORIZON = dt.timedelta(days=60)


def due_jobs(
    project: Project,
    state: State,
    now: dt.datetime,
    horizon: dt.timedelta = HORIZON,
    *,
    needs: frozenset[str] = frozenset(),
) -> list[Job]:
    """Every job that matters from `missed_lookback` ago to `horizon` ahead: the cadence's,
    and the updates and cancellations owed to those already served (from the ledger)."""
    config = project.config
    start, end = session_window(config, now, horizon, config.daemon.missed_lookback)
    jobs = [
        job
        for job in cadence_jobs(config, project.sessions, start=start, end=end, needs=needs)
        if job.due <= now + horizon
    ]
    ledger = Ledger(state)
    # every session, cancelled ones included: those have no cadence jobs, but may owe a
    # cancellation to the people already invited
    for occurrence in occurrences(config.series, project.sessions, start=start, end=end):
        if occurrence.content is None:
            continue
        revision = session_revision(state, config, occurrence, now)
        notified = ledger.notified_sequence(config.series.id, occurrence.scheduled)
        unfinished = ledger.unfinished_update(config.series.id, occurrence.scheduled)
        change = change_job(config, occurrence, revision, notified, now, unfinished=unfinished)
        if change is not None:
            jobs.append(change)
        jobs.extend(waiting_list_jobs(state, config.series.id, occurrence, now))
    jobs.sort(key=lambda job: (job.due, job.id))
    return jobs


def waiting_list_jobs(
    state: State, series: str, occurrence: Occurrence, now: dt.datetime
) -> list[Job]:
    """A session with `capacity` that has not begun: an email to those who wait for a place,
    and one to those a place was given to (each person once: the ledger)."""
    content = occurrence.content
    if content is None or content.capacity is None or not occurrence.takes_place:
        return []
    begins = occurrence.start_utc
    if begins <= now:
        return []
    facts = session_facts(state, series, occurrence.scheduled)
    jobs = []
    if facts.waiting:
        jobs.append(Job("waitlist", "waitlist", occurrence, now, begins, ()))
    if facts.promoted:
        jobs.append(Job("place", "place", occurrence, now, begins, ()))
    return jobs


def send_key(project: Project, job: Job) -> SendKey:
    """The ledger key of a job's email."""
    return SendKey(project.config.series.id, job.occurrence.scheduled, job.message)
