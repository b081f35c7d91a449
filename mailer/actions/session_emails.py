"""What the daemon sends by itself for one session (its cadence), and which of those are done:
what the Send page tells an organiser before a send of her own."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mailer.model import Occurrence
from mailer.project.load import Project
from mailer.sending.cadence import cadence_jobs
from mailer.sending.jobs import send_key
from mailer.store.ledger import Ledger
from mailer.store.state import State


@dataclass(frozen=True)
class DaemonEmail:
    message: str  # the ledger key: "invitation", "reminder:P1D"...
    due: dt.datetime
    done: bool


def daemon_emails(project: Project, state: State, occurrence: Occurrence) -> list[DaemonEmail]:
    """The emails the daemon sends for `occurrence` by its cadence, in order, each done or not
    (an organiser's own send is another email beside them, unless it is one of them)."""
    day = occurrence.scheduled
    ledger = Ledger(state)
    jobs = cadence_jobs(project.config, project.sessions, start=day, end=day)
    return [
        DaemonEmail(job.message, job.due, ledger.complete(send_key(project, job)))
        for job in sorted(jobs, key=lambda j: j.due)
        if job.occurrence.scheduled == day and job.kind != "warning"
    ]
