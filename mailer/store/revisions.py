"""Keeping event revisions in the state file, so SEQUENCE rises exactly when an event changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from mailer.calendar.revisions import (
    Fingerprint,
    Revision,
    next_revision,
    series_fingerprint,
    session_fingerprint,
    session_key,
)
from mailer.config.settings import Config
from mailer.model import Occurrence
from mailer.store.state import State


def current_revision(
    state: State, series_id: str, fingerprint: Fingerprint, now: dt.datetime
) -> Revision:
    """The revision of an event as it looks now, recorded if it changed since last time."""
    with state.transaction() as connection:
        row = connection.execute(
            "SELECT sequence, stamp, significant, content FROM revisions "
            "WHERE series = ? AND event = ?",
            (series_id, fingerprint.key),
        ).fetchone()
        previous = None
        if row is not None:
            previous = Revision(
                row["sequence"],
                dt.datetime.fromisoformat(row["stamp"]),
                row["significant"],
                row["content"],
            )
        revision = next_revision(previous, now, fingerprint)
        if revision != previous:
            connection.execute(
                "INSERT INTO revisions (series, event, sequence, stamp, significant, content) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (series, event) DO UPDATE SET "
                "sequence = excluded.sequence, stamp = excluded.stamp, "
                "significant = excluded.significant, content = excluded.content",
                (
                    series_id,
                    fingerprint.key,
                    revision.sequence,
                    revision.stamp.isoformat(),
                    revision.significant,
                    revision.content,
                ),
            )
    return revision


def session_revision(
    state: State, config: Config, occurrence: Occurrence, now: dt.datetime
) -> Revision:
    """The current revision of one session's event."""
    fingerprint = session_fingerprint(config, occurrence)
    return current_revision(state, config.series.id, fingerprint, now)


def calendar_revisions(
    state: State, config: Config, occurrences: Iterable[Occurrence], now: dt.datetime
) -> dict[str, Revision]:
    """The current revisions of the series' event and of each session given (skipped aside)."""
    revisions = {}
    for occurrence in occurrences:
        if occurrence.status != "skipped":
            revision = session_revision(state, config, occurrence, now)
            revisions[session_key(occurrence)] = revision
    series = series_fingerprint(config)
    revisions[series.key] = current_revision(state, config.series.id, series, now)
    return revisions
