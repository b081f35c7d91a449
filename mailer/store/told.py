"""What each send told people of its session (one SQL for both stores): the session's content
as the send first planned it, so that an update can say what changed since."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from mailer.store.ledger_queries import SendKey, stamp
from mailer.store.state import State


def keep_told(state: State, key: SendKey, content: dict[str, Any], now: dt.datetime) -> None:
    """Keep what the send of `key` tells (the first time it is planned; later plans of the
    same email tell the same)."""
    with state.transaction(exclusive=False) as connection:
        connection.execute(
            "INSERT INTO told (series, session, message, content, told_at) VALUES "
            "(?, ?, ?, ?, ?) ON CONFLICT (series, session, message) DO NOTHING",
            (*key.row, json.dumps(content, ensure_ascii=False, sort_keys=True), stamp(now)),
        )


def last_told(state: State, key: SendKey) -> dict[str, Any] | None:
    """What the latest other send of `key`'s session told (None when none did)."""
    row = state.connection.execute(
        "SELECT content FROM told WHERE series = ? AND session = ? AND message <> ? "
        "ORDER BY told_at DESC, message DESC LIMIT 1",
        key.row,
    ).fetchone()
    if row is None:
        return None
    found: dict[str, Any] = json.loads(row[0])
    return found
