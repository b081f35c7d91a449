"""What the daemon sends, and when: jobs derived from config, session files and the ledger.

Pure. Each job is one email of one session (its ledger key), with the instant it becomes due
and the deadline after which it is useless. Invitations and reminders come from `[[cadence]]`,
`before` the session's actual start (follow-ups `after` its end, waiting for the links they
print) (a moved session's reminders move with it, as emails
of their own, due again for everyone; a cancelled session gets none). A session whose file is
missing is *blocked* (never sent with blanks), and the organiser is warned `warn_missing`
before its invitation. An update or a cancellation is due as soon as those already served have
an older revision of the session than the current one, or the session was cancelled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from mailer.calendar.revisions import Revision
from mailer.config.settings import CadenceEntry, Config
from mailer.model import AFTERWARDS, Occurrence, SessionContent
from mailer.recurrence import occurrences

JobKind = Literal[
    "invitation", "reminder", "update", "cancellation", "followup", "waitlist", "place", "warning"
]
WARNING_MESSAGE = "warning:missing-file"


@dataclass(frozen=True)
class Job:
    kind: JobKind
    message: str  # the ledger key
    occurrence: Occurrence
    due: dt.datetime  # UTC
    deadline: dt.datetime  # UTC; never after the session starts
    segments: tuple[str, ...]  # () for updates and cancellations: whoever was served
    blocked: str | None = None

    @property
    def id(self) -> str:
        return f"{self.occurrence.scheduled.isoformat()}/{self.message}"

    def state(self, now: dt.datetime) -> Literal["waiting", "due", "late"]:
        if now < self.due:
            return "waiting"
        return "due" if now < self.deadline else "late"


def session_window(
    config: Config, now: dt.datetime, horizon: dt.timedelta, lookback: dt.timedelta
) -> tuple[dt.date, dt.date]:
    """The dates of the sessions whose jobs can matter between now - lookback and now + horizon."""
    longest = max((entry.before for entry in config.cadence), default=dt.timedelta(0))
    warn = config.daemon.warn_missing or dt.timedelta(0)
    zone = config.series.timezone
    # a follow-up matters until `after` + `send_by` past its session's end, a day at most
    # after the session's date
    latest = max(
        (e.after + e.send_by + dt.timedelta(days=1) for e in config.cadence if e.after is not None),
        default=dt.timedelta(0),
    )
    start = (now - lookback - latest).astimezone(zone).date()
    end = (now + horizon + longest + warn).astimezone(zone).date()
    return start, end


def cadence_jobs(
    config: Config,
    sessions: Mapping[dt.date, SessionContent],
    *,
    start: dt.date,
    end: dt.date,
    needs: frozenset[str] = frozenset(),
) -> list[Job]:
    """The invitations, reminders, follow-ups and missing-file warnings of the sessions from
    start to end. `needs`: the links (of AFTERWARDS) the follow-ups' templates print, which
    they wait for."""
    jobs = []
    for occurrence in occurrences(config.series, sessions, start=start, end=end):
        if not occurrence.takes_place:
            continue
        blocked = None
        if occurrence.content is None:
            blocked = (
                f"no session file ({config.series.sessions_dir}/"
                f"{occurrence.scheduled.isoformat()}.toml)"
            )
        begins = occurrence.start_utc
        for entry in config.cadence:
            if entry.after is not None:
                jobs.append(_followup(entry, occurrence, needs, blocked))
                continue
            due = begins - entry.before
            jobs.append(
                Job(
                    entry.kind,
                    reminder_key(entry.message, occurrence)
                    if entry.kind == "reminder"
                    else entry.message,
                    occurrence,
                    due,
                    min(due + entry.send_by, begins),
                    entry.segments,
                    blocked,
                )
            )
        warn = config.daemon.warn_missing
        invitations = [begins - e.before for e in config.cadence if e.kind == "invitation"]
        if blocked and warn is not None and invitations:
            first = min(invitations)
            jobs.append(Job("warning", WARNING_MESSAGE, occurrence, first - warn, first, ()))
    jobs.sort(key=lambda job: (job.due, job.id))
    return jobs


def _followup(
    entry: CadenceEntry, occurrence: Occurrence, needs: frozenset[str], blocked: str | None
) -> Job:
    """A follow-up: due `after` the session ended, until `send_by` after that; it waits
    (blocked) while a link its template prints is still missing from the session's file."""
    assert entry.after is not None and entry.kind == "followup"
    due = occurrence.end.astimezone(dt.UTC) + entry.after
    if blocked is None and occurrence.content is not None:
        missing = [name for name in AFTERWARDS if name in needs]
        missing = [name for name in missing if occurrence.content.afterwards(name) is None]
        if missing:
            blocked = (
                f"no {' or '.join(missing)} link yet (set it in the session's file or on its page)"
            )
    return Job(
        "followup", entry.message, occurrence, due, due + entry.send_by, entry.segments, blocked
    )


def reminder_key(message: str, occurrence: Occurrence) -> str:
    """The ledger key of a reminder: a moved session's reminders are those of its new date
    (`reminder:P1D@2021-04-27T11:00Z`), due again for everyone, even those reminded of the
    old date ("tomorrow", then "new date": they still need "tomorrow" before the new one)."""
    if occurrence.status != "moved":
        return message
    return f"{message}@{occurrence.start_utc:%Y-%m-%dT%H:%MZ}"


def update_key(revision: Revision) -> str:
    """The ledger key of an update: one per revision of the event (its SEQUENCE, and its
    text), so that each change is one email, whoever sends it (the daemon, or an organiser
    refreshing calendars after a reworded title)."""
    return f"update:{revision.sequence}:{revision.content[:6]}"


def change_job(
    config: Config,
    occurrence: Occurrence,
    revision: Revision,
    notified_sequence: int | None,
    now: dt.datetime,
    *,
    unfinished: str | None = None,
) -> Job | None:
    """The update or cancellation owed to those already served, if any: for a new revision,
    or `unfinished`, the key of one that did not reach everyone yet (a crash mid-way)."""
    if notified_sequence is None or not config.daemon.updates or occurrence.content is None:
        return None
    begins = occurrence.start_utc
    if occurrence.status == "cancelled":
        return Job("cancellation", "cancellation", occurrence, now, begins, ())
    if revision.sequence > notified_sequence:
        return Job("update", update_key(revision), occurrence, now, begins, ())
    if unfinished is not None and unfinished.startswith("update:"):
        return Job("update", unfinished, occurrence, now, begins, ())
    return None
