"""The project's state: event revisions, the suppression list, the send ledger, the mailbox's
findings, the organisers' logins. One interface, two stores: an SQLite file (the embedded
default, `mailer.store.sqlite`) and a PostgreSQL schema (`mailer.store.postgres`), where any
number of senders and daemons on any hosts share the work.

The services (`ledger`, `suppression`, `revisions`...) write one SQL for both: `?` parameters,
standard SQL, and the few things the two engines say differently taken from `State.dialect`
(the database's clock, row locks skipped by others). A transaction is `exclusive` (the
default: one writer at a time, as SQLite always is) or not (claims and records of deliveries,
which lock only their own rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mailer.store.leases import Held


class Cursor(Protocol):
    """What a statement gives back: rows indexable by position and by column name."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ..., /) -> list[Any]: ...

    @property
    def description(self) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection to the state, with `?` parameters whatever the store."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Cursor: ...


@dataclass(frozen=True)
class Dialect:
    """What the two stores write differently, as SQL fragments."""

    name: str
    # seconds since the epoch on the database's clock (leases are measured by it)
    clock: str
    # after a SELECT of rows to take: skip those another sender has locked
    skip_locked: str
    # after a SELECT of a row to hold until the transaction ends
    for_update: str
    # first in a transaction that holds the leader's lease row: a process frozen inside it
    # loses it (and the lock) soon, so that a takeover waits seconds, not minutes
    brief: str = ""
    # many rows passed as one array per column (PostgreSQL's unnest), rather than a UNION of
    # one SELECT per row (`rows_source`)
    arrays: bool = False


def rows_source(
    dialect: Dialect, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
) -> tuple[str, list[Any]]:
    """Rows given as parameters, as a table `v` with typed `columns` (name, SQL type) to
    join in one statement: (the FROM item, its parameters)."""
    names = ", ".join(name for name, _ in columns)
    if dialect.arrays:
        arrays = ", ".join(f"CAST(? AS {kind}[])" for _, kind in columns)
        return f"unnest({arrays}) AS v({names})", [
            list(column) for column in zip(*rows, strict=True)
        ]
    first = ", ".join(f"CAST(? AS {kind}) AS {name}" for name, kind in columns)
    rest = ", ".join(f"CAST(? AS {kind})" for _, kind in columns)
    selects = " UNION ALL ".join([f"SELECT {first}"] + [f"SELECT {rest}"] * (len(rows) - 1))
    return f"({selects}) AS v", [value for row in rows for value in row]


class State:
    """An open state. Use as a context manager, or call `close()`."""

    connection: Connection
    dialect: Dialect
    where: str  # what the messages call it: "the state file state/mailer.db", "PostgreSQL ..."
    # whether a sender works alone (SQLite: it holds the sender lock): then what it finds
    # `sending` was left by a sender that died, whatever its lease says
    one_sender = True
    # a leader's writes: every transaction first checks that this lease is still its own
    # (`mailer.store.leases.check_fence`), and is refused (NotLeader) if not
    fence: Held | None = None

    def renumber(self, connection: Connection, table: str) -> None:
        """After rows were copied in with their ids: the next id made is above them (SQLite's
        INTEGER PRIMARY KEY is; PostgreSQL's identity columns are told)."""

    def reconnect(self) -> None:
        """A new connection after the last one was lost (StateUnavailable)."""

    def transaction(self, *, exclusive: bool = True) -> AbstractContextManager[Connection]:
        """A transaction, committed on success, rolled back on error. `exclusive`: one writer
        at a time (read-modify-write of anything); not exclusive: only the rows written are
        locked (claims and records of deliveries, planning)."""
        raise NotImplementedError

    @property
    def schema_version(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def notify_work(self) -> None:
        """Tell the senders waiting elsewhere that work was planned (nothing to tell with a
        single host)."""

    def __enter__(self) -> State:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
