"""Sends an organiser paused (one SQL for both stores): a paused send is sent by nobody (the
organisers' pages, `mailer send`, any daemon) until it is resumed; its rest waits in the
ledger."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from mailer.store.ledger_queries import SendKey, stamp
from mailer.store.state import State


@dataclass(frozen=True)
class Pause:
    by: str
    at: dt.datetime


@dataclass(frozen=True)
class PausedSend:
    """A paused send, with what resuming it needs: its kind and segments as recorded."""

    session: dt.date
    message: str
    kind: str
    segments: tuple[str, ...]
    by: str
    at: dt.datetime


def pause(state: State, key: SendKey, by: str, now: dt.datetime) -> None:
    """Pause the send of `key` (pausing it again keeps who paused it first)."""
    with state.transaction() as connection:
        found = connection.execute(
            "SELECT 1 FROM paused WHERE series = ? AND session = ? AND message = ?",
            (key.series, key.session.isoformat(), key.message),
        ).fetchone()
        if found is None:
            connection.execute(
                "INSERT INTO paused (series, session, message, paused_by, paused_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (key.series, key.session.isoformat(), key.message, by, stamp(now)),
            )


def resume(state: State, key: SendKey) -> bool:
    """Lift the pause of `key`; whether it was paused."""
    with state.transaction() as connection:
        cursor = connection.execute(
            "DELETE FROM paused WHERE series = ? AND session = ? AND message = ?",
            (key.series, key.session.isoformat(), key.message),
        )
        return cursor.rowcount > 0


def paused(state: State, key: SendKey) -> Pause | None:
    """Who paused the send of `key`, and when; None when it is not paused."""
    row = state.connection.execute(
        "SELECT paused_by, paused_at FROM paused WHERE series = ? AND session = ? AND message = ?",
        (key.series, key.session.isoformat(), key.message),
    ).fetchone()
    return None if row is None else Pause(row[0], dt.datetime.fromisoformat(row[1]))


def paused_sends(state: State, series: str) -> list[PausedSend]:
    """The series' paused sends, the earliest session first."""
    rows = state.connection.execute(
        "SELECT p.session, p.message, s.kind, s.segments, p.paused_by, p.paused_at "
        "FROM paused p JOIN sends s ON s.series = p.series AND s.session = p.session "
        "AND s.message = p.message WHERE p.series = ? ORDER BY p.session, p.message",
        (series,),
    )
    return [
        PausedSend(
            dt.date.fromisoformat(session),
            message,
            kind,
            tuple(json.loads(segments)),
            by,
            dt.datetime.fromisoformat(at),
        )
        for session, message, kind, segments, by, at in rows
    ]
