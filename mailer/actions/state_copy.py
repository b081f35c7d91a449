"""`mailer state copy FROM TO`: an existing state moved to another store (SQLite into
PostgreSQL, or back), all or nothing.

The series stops first: with an SQLite source, its sender and daemon locks are taken for the
whole copy (a run in progress makes the copy refuse); with a PostgreSQL source, a daemon that
leads or a sender whose rows are under a live lease makes it refuse. The source is read in one
transaction. Everything is written in one transaction of the target, which must be empty (a
copy never merges two histories); before it commits, each table's rows are counted on both
sides, and any difference rolls everything back. The leader's lease is not copied (a daemon
of the new store takes it); ids keep their values, and the target's next ids come after them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from mailer.errors import StateError
from mailer.store.leases import LEADER, holder_of
from mailer.store.location import StoreLocation
from mailer.store.schema import TABLES
from mailer.store.state import Connection, State

COPIED = tuple(table for table in TABLES if table != "leases")
CHUNK = 2000  # rows read and written at a time


@dataclass(frozen=True)
class Copied:
    source: str
    target: str
    counts: dict[str, int]  # rows copied, by table (all verified)


def copy_state(source: StoreLocation, target: StoreLocation) -> Copied:
    """Copy every row of `source` into the empty `target` (see the module's docstring)."""
    if source.describe() == target.describe():
        raise StateError(f"FROM and TO are the same store ({source.describe()})")
    with contextlib.ExitStack() as stack:
        stack.enter_context(source.sender_lock())  # SQLite: no run while it copies
        stack.enter_context(source.daemon_lock())
        reading = stack.enter_context(source.open())
        writing = stack.enter_context(target.open())
        _refuse_live_work(reading, source.describe())
        with reading.transaction() as read, writing.transaction() as write:
            if held := {table: n for table in COPIED if (n := _count(write, table))}:
                rows = ", ".join(f"{table} {n}" for table, n in held.items())
                raise StateError(
                    f"{target.describe()} already holds rows ({rows}): a copy goes only into "
                    "an empty state, never merged with another; point TO at a new database, "
                    "schema or file"
                )
            counts = {table: _copy_table(read, write, writing, table) for table in COPIED}
            for table, copied in counts.items():
                there, here = _count(read, table), _count(write, table)
                if not there == here == copied:
                    raise StateError(
                        f"the copy of {table} does not add up ({there} rows in FROM, {copied} "
                        f"copied, {here} in TO): nothing was written"
                    )
    return Copied(source.describe(), target.describe(), counts)


def _refuse_live_work(state: State, where: str) -> None:
    """With PostgreSQL no lock says who runs: a leader's live lease or rows being sent do."""
    if state.one_sender:  # SQLite: its locks are held
        return
    holder, _, remaining = holder_of(state, LEADER)
    if holder is not None and remaining > 0:
        raise StateError(
            f"a daemon leads on {where} (its lease runs {remaining:.0f} s more): stop the "
            "daemons on every host first, then copy"
        )
    dialect = state.dialect
    busy = state.connection.execute(
        f"SELECT count(*) FROM deliveries WHERE state = 'sending' AND owner IS NOT NULL "
        f"AND lease_until > {dialect.clock}"
    ).fetchone()[0]
    if busy:
        raise StateError(
            f"{busy} deliveries are being sent from {where}: wait for the senders to end "
            "(or stop them), then copy"
        )


def _count(connection: Connection, table: str) -> int:
    return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _copy_table(read: Connection, write: Connection, writing: State, table: str) -> int:
    cursor = read.execute(f"SELECT * FROM {table} ORDER BY 1")
    columns = [column[0] for column in cursor.description]
    insert = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    )
    copied = 0
    while rows := cursor.fetchmany(CHUNK):
        write.executemany(insert, [tuple(row) for row in rows])
        copied += len(rows)
    writing.renumber(write, table)
    return copied
