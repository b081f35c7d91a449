"""One person in the state file: every delivery planned or sent to them, erasing them, and
forgetting old delivery rows, answers and attendance (the retention of `[state]
keep_deliveries`)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from mailer.store.answers import forget
from mailer.store.members import forget_member
from mailer.store.state import State
from mailer.store.suppression import erased_key


@dataclass(frozen=True)
class Delivery:
    """One email planned or sent to a person."""

    session: dt.date
    message: str
    kind: str
    state: str
    attempts: int
    address: str
    language: str
    message_id: str | None
    code: int | None
    reason: str | None
    cause: str | None
    created_at: str
    sent_at: str | None
    snapshot: dict[str, Any]  # what was known of them when it was planned (name, columns)


def deliveries_of(state: State, key: str) -> list[Delivery]:
    """Every delivery to the person `key`, oldest first."""
    rows = state.connection.execute(
        "SELECT d.session, d.message, s.kind, d.state, d.attempts, d.address, d.language, "
        "d.message_id, d.code, d.reason, d.cause, d.created_at, d.sent_at, d.person "
        "FROM deliveries d JOIN sends s USING (series, session, message) "
        "WHERE d.recipient = ? ORDER BY d.id",
        (key,),
    )
    fields = [name for name in Delivery.__dataclass_fields__ if name not in ("session", "snapshot")]
    return [
        Delivery(
            session=dt.date.fromisoformat(row[0]),
            snapshot=json.loads(row[13]),
            **dict(zip(fields, row[1:13], strict=True)),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Erased:
    deliveries: int  # delivery rows deleted
    suppression: bool  # their suppression row was replaced by a hash


def erase(state: State, key: str, now: dt.datetime) -> Erased:
    """Forget the person `key`: their delivery rows and their suppression row go; a hash of
    their address stays suppressed, so that a list that still holds them never mails them."""
    with state.transaction() as connection:
        connection.execute(  # the kept counts of their sends are no longer right
            "UPDATE sends SET settled = NULL, changes = changes + 1 WHERE EXISTS (SELECT 1 "
            "FROM deliveries d WHERE d.recipient = ? AND d.series = sends.series AND "
            "d.session = sends.session AND d.message = sends.message)",
            (key,),
        )
        deleted = connection.execute("DELETE FROM deliveries WHERE recipient = ?", (key,))
        suppression = connection.execute("DELETE FROM suppressions WHERE key = ?", (key,))
        connection.execute("DELETE FROM bounces WHERE key = ?", (key,))  # what the mailbox brought
        forget(connection, key=key)  # their answers and attendance
        forget_member(connection, key)  # kept lists, preferences, sign-up attempts
        connection.execute(  # what organisers did to them stays, without their address
            "UPDATE audit SET subject = REPLACE(subject, ?, '(erased)') WHERE subject LIKE ?",
            (key, f"%{key}%"),
        )
        connection.execute(
            "INSERT INTO suppressions (key, address, kind, reason, created_at) "
            "VALUES (?, '', 'erased', 'erased on request', ?) ON CONFLICT (key) DO NOTHING",
            (erased_key(key), now.astimezone(dt.UTC).isoformat()),
        )
        return Erased(deleted.rowcount, suppression.rowcount == 1)


def prune(state: State, series: str, before: dt.date) -> int:
    """Delete the delivery rows of the sessions before `before` (long past: nothing of theirs
    can be sent again); the sends' own rows stay. How many rows went."""
    with state.transaction() as connection:
        connection.execute(
            "UPDATE sends SET settled = NULL, changes = changes + 1 WHERE series = ? AND "
            "session < ?",
            (series, before.isoformat()),
        )
        cursor = connection.execute(
            "DELETE FROM deliveries WHERE series = ? AND session < ?", (series, before.isoformat())
        )
        forget(connection, series=series, before=before.isoformat())
        return cursor.rowcount
