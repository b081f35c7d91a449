"""Who is coming: each person's answer about each session, and who came.

One row per person and session in `answers`, whichever way they answered (a calendar REPLY
read by `mailer mailbox`, or a one-click link of an email): the later answer wins, unless it
answers an older version (SEQUENCE) of the event than the one already recorded. A session
with a `capacity` puts a yes beyond it on a waiting list (`waiting_since`), and the first
waiting is given the place of someone who no longer comes (`promoted_at`), in the same
transaction: two answers at once never make more yeses than places. The daemon writes to
those who wait, and to those given a place (`mailer.sending.due`). `attendance` holds the imported
participants report of a session (Zoom's), by person.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from mailer.audience.attendance import Participant
from mailer.model import SAID, Answer, SessionFacts
from mailer.store.ledger_queries import restore_recipient, stamp
from mailer.store.state import Connection, State


@dataclass(frozen=True)
class Answered:
    """What recording an answer did."""

    answer: Answer
    waiting: bool  # a yes, on the waiting list of a full session
    promoted: tuple[str, ...] = ()  # addresses given a place it freed


def said_word(answer: str, waiting: object) -> str:
    """yes, maybe or no for a stored answer; waiting for a yes on the waiting list."""
    return "waiting" if waiting else SAID[answer]


# the people emailed about a session (its `d.series`, `d.session`) who did not answer
_UNANSWERED = (
    "FROM deliveries d WHERE d.series = ? AND d.session = ? AND d.state = 'sent' AND NOT "
    "EXISTS (SELECT 1 FROM answers a WHERE a.series = d.series AND a.session = d.session AND "
    "a.key = d.recipient)"
)


def _name_of(connection: Connection, key: str) -> str:
    """The name the latest email to this person was written with ('' if none)."""
    row = connection.execute(
        "SELECT person FROM deliveries WHERE recipient = ? ORDER BY id DESC LIMIT 1", (key,)
    ).fetchone()
    return restore_recipient(row[0]).name if row is not None else ""


def record_answer(
    connection: Connection,
    *,
    series: str,
    session: dt.date,
    key: str,
    address: str,
    answer: Answer,
    sequence: int,
    source: str,
    now: dt.datetime,
    capacity: int | None = None,
) -> Answered:
    """Record an answer in the caller's (exclusive) transaction."""
    day = session.isoformat()
    before = connection.execute(
        "SELECT answer, waiting_since, sequence FROM answers WHERE series = ? AND session = ? "
        "AND key = ?",
        (series, day, key),
    ).fetchone()
    if before is not None and sequence < before[2]:
        return Answered(before[0], before[1] is not None)  # answers an older event
    waiting = None
    if answer == "accepted" and capacity is not None:
        if before is not None and before[0] == "accepted":
            waiting = before[1]  # a yes again keeps its place (or its turn)
        elif _confirmed(connection, series, day) >= capacity:
            waiting = stamp(now)
    connection.execute(
        "INSERT INTO answers (series, session, key, address, answer, sequence, answered_at, "
        "source, waiting_since, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (series, session, key) DO UPDATE SET answer = excluded.answer, "
        "sequence = excluded.sequence, answered_at = excluded.answered_at, "
        "source = excluded.source, waiting_since = excluded.waiting_since, "
        "promoted_at = CASE WHEN excluded.answer = 'accepted' THEN answers.promoted_at END",
        (series, day, key, address, answer, sequence, stamp(now), source, waiting,
         _name_of(connection, key)),
    )  # fmt: skip
    promoted: list[str] = []
    if capacity is not None:
        free = capacity - _confirmed(connection, series, day)
        if free > 0:
            rows = connection.execute(
                "SELECT key, address FROM answers WHERE series = ? AND session = ? AND "
                "answer = 'accepted' AND waiting_since IS NOT NULL ORDER BY waiting_since, key "
                "LIMIT ?",
                (series, day, free),
            ).fetchall()
            for row in rows:
                connection.execute(
                    "UPDATE answers SET waiting_since = NULL, promoted_at = ? WHERE series = ? "
                    "AND session = ? AND key = ?",
                    (stamp(now), series, day, row[0]),
                )
                promoted.append(row[1])
    return Answered(answer, waiting is not None, tuple(promoted))


def _confirmed(connection: Connection, series: str, day: str) -> int:
    row = connection.execute(
        "SELECT count(*) FROM answers WHERE series = ? AND session = ? AND answer = 'accepted' "
        "AND waiting_since IS NULL",
        (series, day),
    ).fetchone()
    return int(row[0])


def answer_of(state: State, series: str, session: dt.date, key: str) -> str | None:
    """What one person answered about one session (yes, maybe, no, waiting; None: nothing)."""
    row = state.connection.execute(
        "SELECT answer, waiting_since FROM answers WHERE series = ? AND session = ? AND key = ?",
        (series, session.isoformat(), key),
    ).fetchone()
    return None if row is None else said_word(row[0], row[1])


def headcount(
    state: State, series: str, sessions: Iterable[dt.date]
) -> dict[dt.date, Counter[str]]:
    """Per session: yes, maybe, no, waiting, and none (emailed about it, and no answer)."""
    counts: dict[dt.date, Counter[str]] = {}
    for session in sessions:
        day = session.isoformat()
        count: Counter[str] = Counter()
        rows = state.connection.execute(
            "SELECT answer, waiting_since IS NOT NULL, count(*) FROM answers WHERE series = ? "
            "AND session = ? GROUP BY answer, waiting_since IS NOT NULL",
            (series, day),
        )
        for answer, waiting, number in rows:
            count[said_word(answer, waiting)] += number
        silent = state.connection.execute(
            f"SELECT count(DISTINCT d.recipient) {_UNANSWERED}", (series, day)
        ).fetchone()[0]
        count["none"] = int(silent)
        counts[session] = count
    return counts


@dataclass(frozen=True)
class AnswerRow:
    """One person's answer, for the headcount's list."""

    address: str
    name: str
    said: str  # yes, maybe, no, waiting
    source: str  # link or calendar
    at: str


def answers(state: State, series: str, session: dt.date) -> list[AnswerRow]:
    """Everyone who answered about a session, by answer (yes first), then address."""
    rows = state.connection.execute(
        "SELECT address, name, answer, waiting_since IS NOT NULL, source, answered_at "
        "FROM answers WHERE series = ? AND session = ?",
        (series, session.isoformat()),
    )
    found = [AnswerRow(row[0], row[1], said_word(row[2], row[3]), row[4], row[5]) for row in rows]
    order = {"yes": 0, "waiting": 1, "maybe": 2, "no": 3}
    return sorted(found, key=lambda row: (order[row.said], row.address))


def unanswered(state: State, series: str, session: dt.date) -> list[AnswerRow]:
    """Everyone emailed about the session who did not answer, by address."""
    rows = state.connection.execute(
        f"SELECT DISTINCT d.address, d.person {_UNANSWERED}", (series, session.isoformat())
    )
    found = {row[0]: restore_recipient(row[1]).name for row in rows}
    return [AnswerRow(address, name, "none", "", "") for address, name in sorted(found.items())]


def session_facts(state: State, series: str, session: dt.date) -> SessionFacts:
    """What segments by answer and attendance need about one session."""
    day = session.isoformat()
    given: dict[str, str] = {}
    waiting, promoted = set(), set()
    for key, answer, wait, place in state.connection.execute(
        "SELECT key, answer, waiting_since, promoted_at FROM answers WHERE series = ? AND "
        "session = ?",
        (series, day),
    ):
        given[key] = answer
        if wait is not None:
            waiting.add(key)
        elif place is not None and answer == "accepted":
            promoted.add(key)
    attended = None
    if attendance_imported(state, series, session) is not None:
        attended = frozenset(
            row[0]
            for row in state.connection.execute(
                "SELECT key FROM attendance WHERE series = ? AND session = ?", (series, day)
            )
        )
    return SessionFacts(given, frozenset(waiting), attended, frozenset(promoted))


def answers_version(state: State, series: str) -> tuple[object, ...]:
    """Something that changes whenever an answer or an attendance report does (a send to a
    segment by answer is looked at again then)."""
    row = state.connection.execute(
        "SELECT count(*), max(answered_at), max(promoted_at), max(waiting_since) FROM answers "
        "WHERE series = ?",
        (series,),
    ).fetchone()
    imported = state.connection.execute(
        "SELECT max(imported_at) FROM attendance_reports WHERE series = ?", (series,)
    ).fetchone()
    return (*tuple(row), imported[0])


def attendance_imported(state: State, series: str, session: dt.date) -> str | None:
    """When the session's participants report was imported (None: not yet)."""
    row = state.connection.execute(
        "SELECT imported_at FROM attendance_reports WHERE series = ? AND session = ?",
        (series, session.isoformat()),
    ).fetchone()
    return None if row is None else str(row[0])


def record_attendance(
    state: State,
    series: str,
    session: dt.date,
    attendees: Iterable[Participant],
    now: dt.datetime,
) -> int:
    """Replace the session's attendance with this report's; how many people it holds."""
    day = session.isoformat()
    with state.transaction() as connection:
        connection.execute("DELETE FROM attendance WHERE series = ? AND session = ?", (series, day))
        rows = [
            (series, day, a.key, a.email, a.name, a.minutes, a.joined, a.left) for a in attendees
        ]
        connection.executemany(
            "INSERT INTO attendance (series, session, key, address, name, minutes, joined_at, "
            "left_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        connection.execute(
            "INSERT INTO attendance_reports (series, session, imported_at, people) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (series, session) DO UPDATE SET "
            "imported_at = excluded.imported_at, people = excluded.people",
            (series, day, stamp(now), len(rows)),
        )
    return len(rows)


def attendance_of(state: State, key: str) -> list[dict[str, object]]:
    """The sessions a person came to, as imported."""
    rows = state.connection.execute(
        "SELECT session, minutes FROM attendance WHERE key = ? ORDER BY session", (key,)
    )
    return [{"session": row[0], "minutes": row[1]} for row in rows]


def forget(
    connection: Connection, *, key: str | None = None, series: str = "", before: str = ""
) -> None:
    """Delete the answers and attendance of a person (`key`), or of a series' sessions
    before a date (retention), in the caller's transaction."""
    for table in ("answers", "attendance"):
        if key is not None:
            connection.execute(f"DELETE FROM {table} WHERE key = ?", (key,))
        else:
            connection.execute(
                f"DELETE FROM {table} WHERE series = ? AND session < ?", (series, before)
            )
