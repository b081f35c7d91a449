"""The organisers' pages in the state file: who is logged in, and the audit log.

A login session is kept by the SHA-256 of its cookie (a copy of the state file logs nobody
in), with its own CSRF token and the account it was opened for: an account whose password
hash changed, or that left config.toml, is logged out at its next request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from mailer.store.ledger_queries import stamp
from mailer.store.state import State


@dataclass(frozen=True)
class LoginSession:
    organiser: str  # the account's email
    account: str  # a digest of the password hash it was opened with
    csrf: str
    expires: dt.datetime


@dataclass(frozen=True)
class AuditEntry:
    at: dt.datetime
    organiser: str
    action: str
    subject: str
    detail: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(state: State, token: str, session: LoginSession, now: dt.datetime) -> None:
    """Record a new login session (and forget the expired ones)."""
    with state.transaction() as connection:
        connection.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (stamp(now),))
        connection.execute(
            "INSERT INTO web_sessions (token_hash, organiser, account, csrf, created_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                token_hash(token),
                session.organiser,
                session.account,
                session.csrf,
                stamp(now),
                stamp(session.expires),
            ),
        )


def find_session(state: State, token: str, now: dt.datetime) -> LoginSession | None:
    """The live login session of a cookie, or None."""
    row = state.connection.execute(
        "SELECT organiser, account, csrf, expires_at FROM web_sessions "
        "WHERE token_hash = ? AND expires_at > ?",
        (token_hash(token), stamp(now)),
    ).fetchone()
    if row is None:
        return None
    return LoginSession(row[0], row[1], row[2], dt.datetime.fromisoformat(row[3]))


def close_session(state: State, token: str) -> None:
    with state.transaction() as connection:
        connection.execute("DELETE FROM web_sessions WHERE token_hash = ?", (token_hash(token),))


def audit(
    state: State, organiser: str, action: str, *, subject: str, detail: str, now: dt.datetime
) -> None:
    """Write down what an organiser did (kept for good: mailer never deletes it)."""
    with state.transaction() as connection:
        connection.execute(
            "INSERT INTO audit (at, organiser, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
            (stamp(now), organiser, action, subject, detail),
        )


def audit_log(state: State, limit: int = 200, subject: str | None = None) -> list[AuditEntry]:
    """The latest entries first (of one subject, e.g. a session's date, if given)."""
    where, parameters = ("WHERE subject = ?", (subject, limit)) if subject else ("", (limit,))
    rows = state.connection.execute(
        f"SELECT at, organiser, action, subject, detail FROM audit {where} "
        "ORDER BY id DESC LIMIT ?",
        parameters,
    )
    return [AuditEntry(dt.datetime.fromisoformat(r[0]), *r[1:]) for r in rows]
