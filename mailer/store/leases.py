"""Named leases in the state: the daemons' leader (PostgreSQL: any number of daemons on any
hosts, one leader at a time).

A lease is a row: who holds it, until when (seconds since the epoch, on the database's clock),
and an epoch that rises each time it changes hands. The holder renews it well before it runs
out; another takes it only once it has. Every write only a leader may make (planning, notices,
updates and cancellations, retention) runs in a transaction that first checks, and with
PostgreSQL locks (FOR SHARE), the leader's row at the holder's epoch: a takeover waits for
such a transaction to end, and a leader whose lease ran out has its writes refused (NotLeader)
rather than landing after the new leader's. Not an advisory lock: those fence nothing, and
strand behind a pooler.

With SQLite one daemon runs at a time (the daemon lock): it takes the lease whoever had it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailer.errors import NotLeader
from mailer.store.state import Connection, State

LEADER = "leader"


@dataclass(frozen=True)
class Held:
    """A lease held: by whom, at which epoch (the fence of its writes)."""

    name: str
    holder: str
    epoch: int


def hold(state: State, name: str, holder: str, lease: float, *, steal: bool = False) -> Held | None:
    """Take the lease `name`, or renew it if `holder` has it; None while another holds it
    (`steal`: take it anyway: the daemon lock says nobody else runs)."""
    dialect = state.dialect
    with state.transaction(exclusive=False) as connection:
        if dialect.brief:
            connection.execute(dialect.brief)
        connection.execute(
            "INSERT INTO leases (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,)
        )
        row = connection.execute(
            f"SELECT holder, epoch, CASE WHEN expires > {dialect.clock} THEN 1 ELSE 0 END "
            f"FROM leases WHERE name = ?{dialect.for_update}",
            (name,),
        ).fetchone()
        current, epoch, alive = row[0], int(row[1]), bool(row[2])
        if current == holder and alive:
            connection.execute(
                f"UPDATE leases SET expires = {dialect.clock} + ? WHERE name = ?", (lease, name)
            )
            return Held(name, holder, epoch)
        if alive and not steal:
            return None
        connection.execute(
            f"UPDATE leases SET holder = ?, epoch = ?, expires = {dialect.clock} + ? "
            "WHERE name = ?",
            (holder, epoch + 1, lease, name),
        )
        return Held(name, holder, epoch + 1)


def holder_of(state: State, name: str) -> tuple[str | None, int, float]:
    """(who holds the lease, its epoch, seconds before it runs out: negative if it has)."""
    row = state.connection.execute(
        f"SELECT holder, epoch, expires - {state.dialect.clock} FROM leases WHERE name = ?",
        (name,),
    ).fetchone()
    if row is None:
        return None, 0, -1.0
    return row[0], int(row[1]), float(row[2])


def release(state: State, held: Held) -> None:
    """Give the lease up (a clean stop): another may take it at once."""
    with state.transaction(exclusive=False) as connection:
        connection.execute(
            "UPDATE leases SET expires = 0 WHERE name = ? AND holder = ? AND epoch = ?",
            (held.name, held.holder, held.epoch),
        )


def check_fence(connection: Connection, state: State, held: Held) -> None:
    """In a transaction: refuse it (NotLeader) unless `held` is still the lease, live; with
    PostgreSQL the row stays locked until the transaction ends, so a takeover waits for it."""
    dialect = state.dialect
    if dialect.brief:
        connection.execute(dialect.brief)
    share = " FOR SHARE" if dialect.for_update else ""
    row = connection.execute(
        f"SELECT 1 FROM leases WHERE name = ? AND holder = ? AND epoch = ? AND "
        f"expires > {dialect.clock}{share}",
        (held.name, held.holder, held.epoch),
    ).fetchone()
    if row is None:
        raise NotLeader(
            f"this daemon is no longer the leader (epoch {held.epoch} of {held.holder}): "
            "another took over; its write is refused"
        )
