"""The session files as last saved, kept in the state: with several hosts (PostgreSQL), what
every host sends is the content saved last, on whichever host it was saved.

A row per file: its text, a digest of it, a version that rises with each save, when and on
which host. A host publishes a file it saved (the organisers' editor) or found edited in its
folder; every host's daemon brings its folder up to the saved copies
(`mailer.project.shared_files`), and nothing is planned or sent from a host whose copy of a
session's file is not the saved one (`stale_content`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from mailer.store.state import State


@dataclass(frozen=True)
class Saved:
    name: str  # the file's name in the sessions folder: 2021-04-20.toml
    text: str
    digest: str
    version: int
    saved_at: dt.datetime
    saved_by: str  # the host


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def saved_files(state: State) -> dict[str, Saved]:
    rows = state.connection.execute(
        "SELECT name, text, digest, version, saved_at, saved_by FROM session_files"
    ).fetchall()
    return {
        row[0]: Saved(
            row[0], row[1], row[2], int(row[3]), dt.datetime.fromisoformat(row[4]), row[5]
        )
        for row in rows
    }


def saved_digest(state: State, name: str) -> tuple[str, int, str] | None:
    """(digest, version, host) of the saved copy of a file, if any was saved."""
    row = state.connection.execute(
        "SELECT digest, version, saved_by FROM session_files WHERE name = ?", (name,)
    ).fetchone()
    return None if row is None else (row[0], int(row[1]), row[2])


ANY = "*"  # `publish` whatever was saved before (an organiser's own save)


def publish(
    state: State, name: str, text: str, now: dt.datetime, host: str, *, over: str | None = ANY
) -> int | None:
    """Save a file's text as the one every host sends; its new version (unchanged when the
    text is the one saved already). `over`: the digest of the saved copy this edit was made
    from (None: there was none); if another host saved since, nothing is written (None)."""
    digest = digest_of(text)
    with state.transaction() as connection:
        row = connection.execute(
            "SELECT digest, version FROM session_files WHERE name = ?", (name,)
        ).fetchone()
        if row is not None and row[0] == digest:
            return int(row[1])
        if over != ANY and over != (None if row is None else row[0]):
            return None  # saved elsewhere meanwhile: the next sync sees both edits
        version = 1 if row is None else int(row[1]) + 1
        connection.execute(
            "INSERT INTO session_files (name, text, digest, version, saved_at, saved_by) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET text = excluded.text, "
            "digest = excluded.digest, version = excluded.version, "
            "saved_at = excluded.saved_at, saved_by = excluded.saved_by",
            (name, text, digest, version, now.astimezone(dt.UTC).isoformat(), host),
        )
        return version
