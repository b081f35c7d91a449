"""The state in an SQLite file: the embedded default.

One file, opened in WAL mode with `synchronous=FULL`, so a commit survives a `kill -9` or a power
cut. The schema is versioned with `PRAGMA user_version` and migrated forward on open; a file made
by a newer mailer is refused rather than misread. Every transaction takes the file's write lock
(`BEGIN IMMEDIATE`): one writer at a time, exclusive or not.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mailer.errors import StateError
from mailer.store.leases import check_fence
from mailer.store.schema import MIGRATIONS, SCHEMA_VERSION
from mailer.store.state import Connection, Dialect, State

SQLITE = Dialect(
    name="sqlite",
    clock="((julianday('now') - 2440587.5) * 86400.0)",
    skip_locked="",  # the writer holds the file's lock: nobody else is taking rows
    for_update="",
)


def state_error(path: Path, error: sqlite3.Error) -> StateError:
    """What an SQLite error means for the person running mailer, and what to do."""
    name = getattr(error, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_FULL") or "disk is full" in str(error) or _no_room(path):
        return StateError(
            f"the disk of the state file {path} is full: free some space and run again (what "
            "was recorded is kept; what was being sent is sent again, with the same Message-ID)"
        )
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")):
        return StateError(
            f"the state file {path} cannot be written ({error}): mailer needs to write it and "
            "the folder it is in (the locks and the journal are beside it); check the "
            "permissions, and that its file system is not mounted read-only"
        )
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return StateError(
            f"the state file {path} is damaged ({error}): restore it from a backup; mailer will "
            "not guess who was sent what (starting afresh would send everything again)"
        )
    if name.startswith("SQLITE_BUSY"):
        return StateError(f"the state file {path} is busy ({error}): try again in a moment")
    if name.startswith("SQLITE_IOERR"):
        return StateError(f"the state file {path} cannot be read or written: {error}")
    return StateError(f"the state file {path} failed: {error}")


class _Connection(sqlite3.Connection):
    """An SQLite connection whose errors are StateErrors that say what to do."""

    path: Path

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as error:
            raise state_error(self.path, error) from error

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.Error as error:
            raise state_error(self.path, error) from error


class SqliteState(State):
    """An open state file.

    A file that exists but is empty (0 bytes) is refused: an empty ledger would send every
    email again, so mailer only ever starts from nothing on a file it creates itself.
    """

    dialect = SQLITE

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = f"the state file {path}"
        try:
            if path.exists() and path.stat().st_size == 0 and not _wal_of(path).exists():
                raise StateError(
                    f"the state file {path} is empty (0 bytes): it was truncated or replaced; "
                    "restore it from a backup (mailer will not start from nothing, which would "
                    "send every email again), or delete it to start a new project's ledger"
                )
            _create_private(path)
            connection = sqlite3.connect(
                path,
                isolation_level=None,
                timeout=30.0,
                check_same_thread=False,
                factory=_Connection,
            )
            connection.path = path
            connection.row_factory = sqlite3.Row
            self.raw: sqlite3.Connection = connection
            self.connection: Connection = connection
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=FULL")
            self.connection.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.Error as error:
            raise state_error(path, error) from error
        except OSError as error:
            raise StateError(f"cannot create the state file {path}: {error.strerror}") from error

    def _migrate(self) -> None:
        """Bring the schema up to date; a state already at this version is only read (no
        write, no fsync: the state is opened for every round of the daemon)."""
        if self.schema_version == SCHEMA_VERSION:
            return
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
    def transaction(self, *, exclusive: bool = True) -> Iterator[Connection]:  # noqa: ARG002
        """An immediate (write-locked) transaction, committed on success, rolled back on error."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            if self.fence is not None:
                check_fence(self.connection, self, self.fence)
            yield self.connection
        except BaseException:
            with contextlib.suppress(StateError):  # a failed COMMIT may have ended it already
                self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def close(self) -> None:
        self.raw.close()


def _no_room(path: Path) -> bool:
    """Whether the state file's disk is (nearly) full: SQLite says "disk I/O error" when the
    journal beside it cannot grow."""
    try:
        return shutil.disk_usage(path.parent).free < _ROOM
    except OSError:
        return False


_ROOM = 1 << 20  # bytes: less free space than this is a full disk for the state file


def _wal_of(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def _create_private(path: Path) -> None:
    """Create the state file (and its folder) readable by this user only: it holds everyone's
    address. SQLite gives its -wal and -shm files the same mode. An existing file is left as the
    operator made it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def probe(path: Path) -> str:
    """The state file's schema version, read without writing anything (`mailer check`)."""
    if not path.exists():
        return f"SQLite, {path} (made at the first send)"
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise StateError(f"the state file {path} cannot be read: {error}") from error
    if version > SCHEMA_VERSION:
        raise StateError(
            f"the state file {path} has schema version {version}, newer than this mailer's "
            f"({SCHEMA_VERSION}); upgrade mailer"
        )
    return f"SQLite, {path} (schema version {version})"
