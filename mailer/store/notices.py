"""The notices emailed to the organiser, by problem: each is sent once, across restarts."""

from __future__ import annotations

import datetime as dt

from mailer.store.ledger_queries import stamp
from mailer.store.state import State


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


def mark_sent(state: State, key: str, message_id: str, now: dt.datetime) -> None:
    """The notice `key` was accepted by the relay."""
    when = stamp(now)
    with state.transaction() as connection:
        connection.execute(
            "INSERT INTO notices (key, subject, message_id, created_at, sent_at) "
            "VALUES (?, '', ?, ?, ?) ON CONFLICT (key) DO UPDATE SET sent_at = excluded.sent_at, "
            "message_id = excluded.message_id",
            (key, message_id, when, when),
        )
