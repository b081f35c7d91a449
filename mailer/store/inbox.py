"""What the mailbox brought, in the state file: each incoming email's outcome (so that it is
processed once, across runs and crashes), the bounces counted per address, the calendar
replies per session and person.

Each incoming email is recorded in one transaction with its effect (a suppression, a bounce
counted, a reply): the mailbox marks it done only after that commits, and an email already
recorded is only filed again, never counted twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from mailer.audience.addresses import Address
from mailer.calendar.replies import CalendarReply
from mailer.store.answers import attendance_of, record_answer, said_word
from mailer.store.ledger_queries import stamp
from mailer.store.state import Connection, State
from mailer.store.suppression import suppress_in

Outcome = Literal["bounce", "unsubscribe", "reply", "person"]


@dataclass(frozen=True)
class Bounce:
    address: Address
    permanent: bool
    status: str
    diagnostic: str
    message_id: str | None  # the email that bounced, when known


@dataclass(frozen=True)
class Sent:
    """The delivery an incoming email refers to."""

    key: str
    address: str
    session: dt.date
    message: str
    message_id: str


def outcome_of(state: State, key: str) -> Outcome | None:
    """What was made of the incoming email `key`, if it was processed already."""
    row = state.connection.execute("SELECT outcome FROM inbox WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def _record(
    connection: Connection, key: str, outcome: Outcome, detail: str, now: dt.datetime
) -> None:
    connection.execute(
        "INSERT INTO inbox (key, outcome, detail, processed_at) VALUES (?, ?, ?, ?)",
        (key, outcome, detail, stamp(now)),
    )


def record_for_a_person(state: State, key: str, why: str, now: dt.datetime) -> None:
    with state.transaction() as connection:
        _record(connection, key, "person", why, now)


def record_unsubscribe(state: State, key: str, address: Address, now: dt.datetime) -> bool:
    """An emailed unsubscribe: True if the address was not suppressed already."""
    with state.transaction() as connection:
        _record(connection, key, "unsubscribe", "emailed unsubscribe", now)
        return suppress_in(connection, address, "unsubscribed", "emailed unsubscribe", now)


def record_bounces(
    state: State,
    key: str,
    bounces: list[Bounce],
    now: dt.datetime,
    *,
    soft_limit: int,
    window: dt.timedelta,
) -> list[tuple[Address, str]]:
    """Count the bounces of one incoming email; suppress who bounced hard, or soft
    `soft_limit` times within `window`. The addresses suppressed now, with why."""
    suppressed: list[tuple[Address, str]] = []
    day = now.astimezone(dt.UTC).date().isoformat()
    with state.transaction() as connection:
        _record(connection, key, "bounce", f"{len(bounces)} bounced", now)  # no addresses
        for bounce in bounces:
            connection.execute(
                "INSERT INTO bounces (inbox, key, address, permanent, status, diagnostic, "
                "message_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (inbox, key) DO NOTHING",
                (
                    key,
                    bounce.address.key,
                    bounce.address.email,
                    int(bounce.permanent),
                    bounce.status,
                    bounce.diagnostic,
                    bounce.message_id,
                    stamp(now),
                ),
            )
            said = " ".join(filter(None, (bounce.status, bounce.diagnostic)))[:200]
            if bounce.permanent:
                reason = f"bounced {day}: {said or 'a permanent failure'}"
            else:
                since = stamp(now - window)
                count = connection.execute(
                    "SELECT count(DISTINCT coalesce(message_id, inbox)) FROM bounces "
                    "WHERE key = ? AND permanent = 0 AND received_at >= ?",
                    (bounce.address.key, since),
                ).fetchone()[0]
                if count < soft_limit:
                    continue
                reason = f"{count} soft bounces in {window.days} days (last {day}: {said})"
            if suppress_in(connection, bounce.address, "bounced", reason, now):
                suppressed.append((bounce.address, reason))
    return suppressed


def record_reply(
    state: State,
    key: str,
    reply: CalendarReply,
    address: Address,
    now: dt.datetime,
    *,
    capacity: int | None = None,
) -> None:
    """A calendar reply (`mailer.store.answers`: the later answer wins, unless it answers an
    older version of the event than the one recorded)."""
    with state.transaction() as connection:
        _record(connection, key, "reply", f"{reply.answer} {reply.session}", now)
        record_answer(
            connection,
            series=reply.series,
            session=reply.session,
            key=address.key,
            address=address.email,
            answer=reply.answer,
            sequence=reply.sequence,
            source="calendar",
            now=now,
            capacity=capacity,
        )


def sent_as(state: State, message_id: str) -> Sent | None:
    """The delivery whose email had this Message-ID."""
    row = state.connection.execute(
        "SELECT recipient, address, session, message FROM deliveries WHERE message_id = ? LIMIT 1",
        (message_id,),
    ).fetchone()
    if row is None:
        return None
    return Sent(row[0], row[1], dt.date.fromisoformat(row[2]), row[3], message_id)


def was_sent(state: State, series: str, session: dt.date | None, key: str) -> bool:
    """Whether this person was sent an email about this session (None: about any)."""
    if session is None:
        row = state.connection.execute(
            "SELECT 1 FROM deliveries WHERE recipient = ? AND series = ? AND state = 'sent' "
            "LIMIT 1",
            (key, series),
        ).fetchone()
    else:
        row = state.connection.execute(
            "SELECT 1 FROM deliveries WHERE series = ? AND session = ? AND recipient = ? "
            "AND state = 'sent' LIMIT 1",
            (series, session.isoformat(), key),
        ).fetchone()
    return row is not None


def mailbox_facts(state: State, key: str) -> dict[str, list[dict[str, object]]]:
    """What came back about one person: their bounces, answers, the sessions they came to."""
    bounces = state.connection.execute(
        "SELECT permanent, status, diagnostic, message_id, received_at FROM bounces "
        "WHERE key = ? ORDER BY received_at",
        (key,),
    )
    answered = state.connection.execute(
        "SELECT session, answer, answered_at, source, waiting_since FROM answers WHERE key = ? "
        "ORDER BY session",
        (key,),
    )
    return {
        "bounces": [
            {
                "hard": bool(row[0]),
                "status": row[1],
                "diagnostic": row[2],
                "message_id": row[3],
                "at": row[4],
            }
            for row in bounces
        ],
        "answers": [
            {
                "session": row[0],
                "answer": said_word(row[1], row[4]),
                "at": row[2],
                "via": row[3],
            }
            for row in answered
        ],
        "attended": attendance_of(state, key),
    }
