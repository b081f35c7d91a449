"""The suppression list in the state file: addresses that are never mailed again, or no longer
sent reminders (what the person chose on the unsubscribe page).

An erased person (`mailer person --erase`) is kept only as a hash of their address, so that a
list that still holds them never mails them again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Container
from dataclasses import dataclass
from typing import Any, Literal

from mailer.audience.addresses import Address
from mailer.model import MessageKind, SuppressionKind, SuppressionScope
from mailer.store.notices import queue_notice_in
from mailer.store.state import Connection, State

ERASED = "erased:"
Choice = Literal["all", "reminders", "resubscribe"]  # what the unsubscribe page offers


def erased_key(key: str) -> str:
    """The key an erased person is suppressed under: a hash of their address's key."""
    return ERASED + hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Suppression:
    key: str
    address: str
    kind: SuppressionKind
    reason: str
    created_at: dt.datetime
    scope: SuppressionScope = "all"


class Blocklist(Container[str]):
    """The keys not to mail with one kind of email: `key in blocklist`."""

    def __init__(self, keys: frozenset[str]) -> None:
        self.keys = keys
        self._hashed = any(key.startswith(ERASED) for key in keys)

    def __contains__(self, key: object) -> bool:
        if key in self.keys:
            return True
        return self._hashed and isinstance(key, str) and erased_key(key) in self.keys

    def __len__(self) -> int:
        return len(self.keys)


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat()


def suppress(
    state: State,
    address: Address,
    kind: SuppressionKind,
    reason: str,
    now: dt.datetime,
    *,
    scope: SuppressionScope = "all",
) -> bool:
    """Suppress an address; True if it was not already. The first reason recorded is kept,
    except that stopping everything widens a reminders-only choice."""
    with state.transaction() as connection:
        return suppress_in(connection, address, kind, reason, now, scope=scope)


def suppress_in(
    connection: Connection,
    address: Address,
    kind: SuppressionKind,
    reason: str,
    now: dt.datetime,
    *,
    scope: SuppressionScope = "all",
) -> bool:
    """`suppress`, inside a transaction of the caller's (one that records why, too)."""
    cursor = connection.execute(
        "INSERT INTO suppressions (key, address, kind, reason, created_at, scope) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET scope = 'all', "
        "kind = excluded.kind, reason = excluded.reason, created_at = excluded.created_at "
        "WHERE suppressions.scope = 'reminders' AND excluded.scope = 'all'",
        (address.key, address.email, kind, reason, _stamp(now), scope),
    )
    return cursor.rowcount == 1


def suppress_many(
    state: State, rows: list[tuple[Address, str, dt.datetime]], kind: SuppressionKind
) -> int:
    """Suppress many addresses in one transaction, each with why and since when (an import
    keeps what the other tool said); how many were not already."""
    if not rows:
        return 0
    with state.transaction() as connection:
        return connection.executemany(
            "INSERT INTO suppressions (key, address, kind, reason, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            [(a.key, a.email, kind, reason, _stamp(when)) for a, reason, when in rows],
        ).rowcount


def choose(state: State, address: Address, choice: Choice, now: dt.datetime) -> bool:
    """What a person chose on the unsubscribe page; True if it changed anything. They can undo
    their own unsubscribing there, and a suppression by bounce (an address whose owner clicks
    its own signed link evidently works again: the organiser is told, by a notice the daemon
    sends); an organiser's suppression stays."""
    if choice == "all":
        return suppress(state, address, "unsubscribed", "unsubscribe page", now)
    with state.transaction() as connection:
        row = connection.execute(
            "SELECT kind, scope, reason FROM suppressions WHERE key = ?", (address.key,)
        ).fetchone()
        if row is not None and row["kind"] == "bounced" and choice == "resubscribe":
            connection.execute("DELETE FROM suppressions WHERE key = ?", (address.key,))
            queue_notice_in(
                connection,
                f"lifted:{erased_key(address.key)}:{_stamp(now)}",  # no address once sent
                "lifted",
                {"address": address.email, "detail": row["reason"]},
                now,
            )
            return True
        if row is not None and row["kind"] != "unsubscribed":
            return False
        if choice == "resubscribe":
            deleted = connection.execute("DELETE FROM suppressions WHERE key = ?", (address.key,))
            return deleted.rowcount == 1
        if row is not None:
            updated = connection.execute(
                "UPDATE suppressions SET scope = 'reminders', reason = 'no reminders (page)', "
                "created_at = ? WHERE key = ? AND scope != 'reminders'",
                (_stamp(now), address.key),
            )
            return updated.rowcount == 1
        connection.execute(
            "INSERT INTO suppressions (key, address, kind, reason, created_at, scope) "
            "VALUES (?, ?, 'unsubscribed', 'no reminders (page)', ?, 'reminders')",
            (address.key, address.email, _stamp(now)),
        )
        return True


def unsuppress(state: State, key: str) -> bool:
    """Mail an address again; True if it was suppressed."""
    with state.transaction() as connection:
        return connection.execute("DELETE FROM suppressions WHERE key = ?", (key,)).rowcount == 1


def suppressed_keys(state: State, kind: MessageKind | None = None) -> Blocklist:
    """Who is not to be sent an email of `kind` (None: not to be sent anything at all)."""
    if kind == "reminder":
        rows = state.connection.execute("SELECT key FROM suppressions")
    else:
        rows = state.connection.execute("SELECT key FROM suppressions WHERE scope = 'all'")
    return Blocklist(frozenset(row[0] for row in rows))


def suppression_count(state: State) -> int:
    """How many addresses are suppressed."""
    return int(state.connection.execute("SELECT count(*) FROM suppressions").fetchone()[0])


def suppression_version(state: State) -> tuple[int, int, str | None]:
    """Something that changes whenever the suppression list does."""
    row = state.connection.execute(
        "SELECT count(*), coalesce(sum(CASE WHEN scope = 'reminders' THEN 1 ELSE 0 END), 0), "
        "max(created_at) FROM suppressions"
    ).fetchone()
    return int(row[0]), int(row[1]), row[2]


def _row(row: Any) -> Suppression:
    return Suppression(
        row["key"],
        row["address"],
        row["kind"],
        row["reason"],
        dt.datetime.fromisoformat(row["created_at"]),
        row["scope"],
    )


def suppressions(state: State) -> list[Suppression]:
    """Every suppression, oldest first."""
    rows = state.connection.execute(
        "SELECT key, address, kind, reason, created_at, scope FROM suppressions "
        "ORDER BY created_at, key"
    )
    return [_row(row) for row in rows]


def suppression_of(state: State, key: str) -> Suppression | None:
    """The suppression of one person, if any (an erased one is found by its hash)."""
    row = state.connection.execute(
        "SELECT key, address, kind, reason, created_at, scope FROM suppressions "
        "WHERE key IN (?, ?)",
        (key, erased_key(key)),
    ).fetchone()
    return None if row is None else _row(row)
