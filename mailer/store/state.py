"""The project's state file (SQLite): event revisions, the suppression list, the send ledger.

One file, opened in WAL mode with `synchronous=FULL`, so a commit survives a `kill -9` or a power
cut. The schema is versioned with `PRAGMA user_version` and migrated forward on open; a file made
by a newer mailer is refused rather than misread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mailer.errors import StateError

MIGRATIONS: tuple[str, ...] = (
    # 1: the last revision of every calendar event (SEQUENCE and DTSTAMP)
    """
    CREATE TABLE revisions (
        series TEXT NOT NULL,
        event TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        stamp TEXT NOT NULL,
        significant TEXT NOT NULL,
        content TEXT NOT NULL,
        PRIMARY KEY (series, event)
    );
    """,
    # 2: addresses never to mail again (unsubscribed, bounced, removed by hand)
    """
    CREATE TABLE suppressions (
        key TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('unsubscribed', 'bounced', 'manual')),
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 3: the send ledger: one row per (series, session, message, recipient), made when the send
    # is planned, before anything goes out
    """
    CREATE TABLE sends (
        series TEXT NOT NULL,
        session TEXT NOT NULL,
        message TEXT NOT NULL,
        kind TEXT NOT NULL,
        segments TEXT NOT NULL,
        deadline TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (series, session, message)
    );
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        series TEXT NOT NULL,
        session TEXT NOT NULL,
        message TEXT NOT NULL,
        recipient TEXT NOT NULL,
        address TEXT NOT NULL,
        language TEXT NOT NULL,
        person TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN
            ('pending', 'sending', 'sent', 'retry', 'failed', 'unknown', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT,
        message_id TEXT,
        code INTEGER,
        reason TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        sent_at TEXT,
        UNIQUE (series, session, message, recipient),
        FOREIGN KEY (series, session, message) REFERENCES sends (series, session, message)
    );
    CREATE INDEX deliveries_by_state ON deliveries (series, session, message, state);
    CREATE INDEX deliveries_by_sent_at ON deliveries (sent_at) WHERE sent_at IS NOT NULL;
    """,
    # 4: the revision (SEQUENCE) of the session each send was planned at, so that the daemon
    # knows whether those served have the latest time, place and status; and a person's
    # latest email, for the language of their unsubscribe page
    """
    ALTER TABLE sends ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX deliveries_by_recipient ON deliveries (recipient, id);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


class State:
    """An open state file. Use as a context manager, or call `close()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.connection = sqlite3.connect(
                path, isolation_level=None, timeout=30.0, check_same_thread=False
            )
            self.connection.row_factory = sqlite3.Row
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=FULL")
            self.connection.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as error:
            raise StateError(f"cannot use the state file {path}: {error}") from error
        except OSError as error:
            raise StateError(f"cannot create the state file {path}: {error.strerror}") from error

    def _migrate(self) -> None:
        with self.transaction() as connection:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StateError(
                    f"the state file {self.path} has schema version {version}, newer than this "
                    f"mailer's ({SCHEMA_VERSION}); upgrade mailer, or use another state file"
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def schema_version(self) -> int:
        return int(self.connection.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locked) transaction, committed on success, rolled back on error."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
