"""Who is coming: answering by link, the headcount, importing who came.

What `mailer answers`, `mailer attendance import`, the answer page of the daemon's public side
and the organisers' pages do, as data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass

from mailer.audience.addresses import Address
from mailer.audience.attendance import Participant, Report, match, read_report
from mailer.errors import InvalidInput
from mailer.model import ANSWER_WORDS, Occurrence
from mailer.project.lists import ListReader
from mailer.project.load import Project
from mailer.recurrence import find_occurrence, occurrences
from mailer.store.answers import (
    Answered,
    AnswerRow,
    answers,
    headcount,
    record_answer,
    record_attendance,
    unanswered,
)
from mailer.store.revisions import session_revision
from mailer.store.state import State


def sessions_from(project: Project, now: dt.datetime, first: dt.date) -> list[Occurrence]:
    """The sessions from `first` on that have not begun, within a year: what "every coming
    session" answers for."""
    config = project.config
    end = (now + dt.timedelta(days=366)).date()
    return [
        occurrence
        for occurrence in occurrences(config.series, project.sessions, start=first, end=end)
        if occurrence.takes_place and occurrence.start > now
    ]


def answer_by_link(
    project: Project,
    state: State,
    address: Address,
    session: dt.date,
    said: str,
    *,
    now: dt.datetime,
    every_coming: bool = False,
) -> dict[dt.date, Answered]:
    """Record a person's answer (yes, maybe, no) for a session, or for it and every session
    after it that has not begun. Each in one exclusive transaction: at a session's capacity,
    a yes waits, and a no gives the first waiting their place."""
    config = project.config
    answer = ANSWER_WORDS[said]
    chosen = find_occurrence(config.series, project.sessions, session)
    sessions = sessions_from(project, now, session) if every_coming else [chosen]
    done = {}
    for occurrence in sessions:
        revision = session_revision(state, config, occurrence, now)
        content = occurrence.content
        with state.transaction() as connection:
            done[occurrence.scheduled] = record_answer(
                connection,
                series=config.series.id,
                session=occurrence.scheduled,
                key=address.key,
                address=address.email,
                answer=answer,
                sequence=revision.sequence,
                source="link",
                now=now,
                capacity=content.capacity if content is not None else None,
            )
    return done


@dataclass(frozen=True)
class Headcount:
    """One session's answers: the counts, and who (those who did not answer last)."""

    session: dt.date
    counts: Counter[str]
    rows: list[AnswerRow]


def session_headcount(project: Project, state: State, session: dt.date) -> Headcount:
    """Who is coming to a session (NotFound for a date that is not one)."""
    find_occurrence(project.config.series, project.sessions, session)
    series = project.config.series.id
    counts = headcount(state, series, [session])[session]
    rows = answers(state, series, session) + unanswered(state, series, session)
    return Headcount(session, counts, rows)


def answers_csv(rows: list[AnswerRow]) -> str:
    """The answers as a CSV file for a spreadsheet; a cell that starts like a formula is
    written with a ' before it, so that a spreadsheet shows it and does not compute it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["address", "name", "answer", "via", "at"])
    for row in rows:
        cells = (row.address, row.name, row.said, row.source, row.at)
        writer.writerow("'" + cell if cell[:1] in ("=", "+", "-", "@") else cell for cell in cells)
    return out.getvalue()


@dataclass(frozen=True)
class AttendanceImport:
    """What importing a participants report did."""

    session: dt.date
    report: Report
    matched: list[Participant]
    unknown: list[Participant]  # in the report, on no list: not kept


def import_attendance(
    project: Project, state: State, text: str, source: str, *, session: dt.date, now: dt.datetime
) -> AttendanceImport:
    """Read a Zoom participants report, match it to the lists by address, and keep who came
    (replacing an earlier report of the session). InvalidInput if it is not such a report."""
    occurrence = find_occurrence(project.config.series, project.sessions, session)
    if not occurrence.takes_place:
        raise InvalidInput(f"the session of {session} did not take place ({occurrence.status})")
    if occurrence.start > now:
        raise InvalidInput(f"the session of {session} has not taken place yet")
    report = read_report(text, source)
    if errors := [p for p in report.problems if p.severity == "error"]:
        raise InvalidInput("the participants report cannot be read", errors)
    reader = ListReader(project, state)
    people = {
        recipient.key: recipient
        for name in project.config.mailing.list_names
        for recipient in reader.read(name)
    }
    matched = match(report, people)
    record_attendance(state, project.config.series.id, session, matched.known, now)
    return AttendanceImport(session, report, matched.known, matched.unknown)
