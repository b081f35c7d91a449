"""Where a project's state is: an SQLite file (the default) or a PostgreSQL schema, and the
locks that go with each.

SQLite: one host; `flock` locks beside the file make one sender and one daemon at a time.
PostgreSQL: any number of senders and daemons on any hosts: senders share a send through
leases on the rows they take (no lock), daemons elect a leader (`mailer.store.leases`).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mailer.store.locks import FileLock, daemon_lock, mailbox_lock, sender_lock

if TYPE_CHECKING:
    from mailer.store.postgres import WorkSignal
    from mailer.store.state import State


class Lock(Protocol):
    def acquire(self, wait: float = 0.0) -> None: ...

    def release(self) -> None: ...

    @property
    def held(self) -> bool: ...


class NoLock:
    """The lock a store does not need."""

    held = True

    def acquire(self, wait: float = 0.0) -> None:
        pass

    def release(self) -> None:
        pass

    def __enter__(self) -> NoLock:
        return self

    def __exit__(self, *_: object) -> None:
        pass


@dataclass(frozen=True)
class SqliteLocation:
    path: Path

    shared = False  # one host

    def open(self) -> State:
        from mailer.store.sqlite import SqliteState  # noqa: PLC0415 - the store in use only

        return SqliteState(self.path)

    def sender_lock(self) -> FileLock:
        return sender_lock(self.path)

    def daemon_lock(self) -> FileLock:
        return daemon_lock(self.path)

    def mailbox_lock(self) -> FileLock:
        return mailbox_lock(self.path)

    @property
    def local_folder(self) -> Path:
        """Where this host keeps what is its own (compiled templates)."""
        return self.path.parent

    def local_writes(self) -> tuple[Path, str]:
        """The folder the daemon writes the state in, and why."""
        return self.path.parent, "the state file, its journal and its locks"

    def describe(self) -> str:
        return f"SQLite, {self.path}"

    def probe(self) -> str:
        """Which store, and that it can be used (StateError if not), writing nothing."""
        from mailer.store.sqlite import probe  # noqa: PLC0415 - the store in use only

        return probe(self.path)

    def work_signal(self) -> None:
        """None: one daemon works alone, and knows what it planned."""
        return


@dataclass(frozen=True)
class PostgresLocation:
    url: str  # without a password: PGPASSWORD or PGPASSFILE give it
    schema: str
    local_folder: Path

    shared = True  # senders and daemons on any hosts

    def open(self) -> State:
        from mailer.store.postgres import PostgresState  # noqa: PLC0415 - psycopg when used

        return PostgresState(self)

    def sender_lock(self) -> NoLock:
        return NoLock()  # senders share a send: each takes rows under a lease

    def daemon_lock(self) -> NoLock:
        return NoLock()  # daemons elect a leader in the database

    def mailbox_lock(self) -> NoLock:
        return NoLock()  # each incoming email is recorded once, whoever reads it

    def local_writes(self) -> tuple[Path, str]:
        return self.local_folder, "the compiled templates (the state is in PostgreSQL)"

    def probe(self) -> str:
        """Which store, and that it can be reached (StateUnavailable if not), writing nothing."""
        from mailer.store.postgres import probe  # noqa: PLC0415 - psycopg when used

        return probe(self)

    def work_signal(self) -> WorkSignal:
        """What wakes a daemon when another planned work (LISTEN/NOTIFY)."""
        from mailer.store.postgres import WorkSignal  # noqa: PLC0415 - psycopg when used

        return WorkSignal(self)

    def describe(self) -> str:
        parts = urllib.parse.urlsplit(self.url)
        where = parts.hostname or "the local socket"
        port = f":{parts.port}" if parts.port else ""
        database = parts.path.lstrip("/") or "(the user's database)"
        return f"PostgreSQL, {where}{port}/{database}, schema {self.schema}"


StoreLocation = SqliteLocation | PostgresLocation
