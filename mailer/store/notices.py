"""The notices emailed to the organiser, by problem: each is sent once, across restarts.

Most notices are found by the daemon itself and queued in its memory; those that something
else finds (a person lifting her own bounce suppression on the unsubscribe page) wait in the
state file (`queue_notice_in`) until the daemon sends them. Once sent, what a notice said of a
person is forgotten; only its key and when it went stay.
"""

from __future__ import annotations

import datetime as dt
import json

from mailer.store.ledger_queries import stamp
from mailer.store.state import Connection, State


def unsent(state: State, keys: list[str]) -> set[str]:
    """Those of `keys` not sent yet."""
    sent = {
        row[0]
        for row in state.connection.execute(
            f"SELECT key FROM notices WHERE sent_at IS NOT NULL AND key IN "
            f"({', '.join('?' * len(keys))})",
            keys,
        )
    }
    return set(keys) - sent


def queue_notice_in(
    connection: Connection,
    key: str,
    problem: str,
    fields: dict[str, object],
    now: dt.datetime,
) -> None:
    """A notice for the daemon to send (inside the caller's transaction, with what it is
    about); once per key."""
    connection.execute(
        "INSERT INTO notices (key, subject, created_at, problem, fields) VALUES (?, '', ?, ?, ?) "
        "ON CONFLICT (key) DO NOTHING",
        (key, stamp(now), problem, json.dumps(fields, ensure_ascii=False)),
    )


def waiting_notices(state: State) -> list[tuple[str, str, dict[str, object]]]:
    """The notices queued in the state file and not sent yet: (key, problem, fields)."""
    rows = state.connection.execute(
        "SELECT key, problem, fields FROM notices WHERE sent_at IS NULL AND problem IS NOT NULL "
        "ORDER BY created_at, key"
    )
    return [(row[0], row[1], json.loads(row[2] or "{}")) for row in rows]


def mark_sent(state: State, key: str, message_id: str, now: dt.datetime) -> None:
    """The notice `key` was accepted by the relay (what it said of anyone is forgotten)."""
    when = stamp(now)
    with state.transaction() as connection:
        connection.execute(
            "INSERT INTO notices (key, subject, message_id, created_at, sent_at) "
            "VALUES (?, '', ?, ?, ?) ON CONFLICT (key) DO UPDATE SET sent_at = excluded.sent_at, "
            "message_id = excluded.message_id, fields = NULL",
            (key, message_id, when, when),
        )
