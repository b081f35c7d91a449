"""The suppression list in the state file: addresses that are never mailed again."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mailer.audience.addresses import Address
from mailer.model import SuppressionKind
from mailer.store.state import State


@dataclass(frozen=True)
class Suppression:
    key: str
    address: str
    kind: SuppressionKind
    reason: str
    created_at: dt.datetime


def suppress(
    state: State, address: Address, kind: SuppressionKind, reason: str, now: dt.datetime
) -> bool:
    """Suppress an address; True if it was not already. The first reason recorded is kept."""
    with state.transaction() as connection:
        cursor = connection.execute(
            "INSERT INTO suppressions (key, address, kind, reason, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            (address.key, address.email, kind, reason, now.astimezone(dt.UTC).isoformat()),
        )
        return cursor.rowcount == 1


def unsuppress(state: State, key: str) -> bool:
    """Mail an address again; True if it was suppressed."""
    with state.transaction() as connection:
        return connection.execute("DELETE FROM suppressions WHERE key = ?", (key,)).rowcount == 1


def suppressed_keys(state: State) -> frozenset[str]:
    """The identity keys of every suppressed address."""
    rows = state.connection.execute("SELECT key FROM suppressions")
    return frozenset(row[0] for row in rows)


def suppression_count(state: State) -> int:
    """How many addresses are suppressed."""
    return int(state.connection.execute("SELECT count(*) FROM suppressions").fetchone()[0])


def suppressions(state: State) -> list[Suppression]:
    """Every suppression, oldest first."""
    rows = state.connection.execute(
        "SELECT key, address, kind, reason, created_at FROM suppressions ORDER BY created_at, key"
    )
    return [
        Suppression(
            row["key"],
            row["address"],
            row["kind"],
            row["reason"],
            dt.datetime.fromisoformat(row["created_at"]),
        )
        for row in rows
    ]
