"""The send ledger (in the state file): who gets which email, and what became of it.

One row per (series, session, message, recipient), written when the send is planned and before
anything goes out. A row moves pending -> sending -> sent | retry | failed | unknown (| skipped,
when it became too late or the address was suppressed). Every change is committed durably
(WAL, synchronous=FULL), so after a `kill -9` at any instant every row is either sent or still
to send:

- a row becomes `sending` (committed) before its message is transmitted, and `sent` (committed)
  only after the server accepted it;
- rows found `sending` when a sender starts were in flight when the last one died: their fate is
  unknown, and they are sent again with the same Message-ID.

So a recipient can get a duplicate only of a message that was in flight at a crash or a lost
connection, at most `[sending] batch` of them, and a duplicate carries the Message-ID of its twin.
The snapshot of each recipient (language, name, columns) is kept in the row, so a resumed send
writes exactly what the first run would have.

The ledger is the queue. A sender takes rows as their `owner` under a lease (`lease_until`,
on the database's clock), renews it while it works, and records outcomes only for rows it still
owns. Rows whose lease ran out (their sender died, froze or lost the database) are `unknown`
to whoever claims next, and sent again with the same Message-ID. With SQLite one sender works
at a time (the sender lock); with PostgreSQL any number share a send, each skipping the rows
the others have locked, so the duplicates a lost sender can cause are its own claimed and
unrecorded rows: at most `[sending] batch`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mailer.model import Recipient
from mailer.store.ledger_queries import (
    NOT_THEIRS,
    OPEN,
    OPEN_SQL,
    STATES,
    TO_SEND,
    UNSETTLE,
    Cause,
    DeliveryState,
    LedgerQueries,
    SendKey,
    SendStatus,
    restore_recipient,
    snapshot_recipient,
    stamp,
)
from mailer.store.state import Connection, State, rows_source

__all__ = [
    "NOT_THEIRS",
    "OPEN",
    "STATES",
    "TO_SEND",
    "Cause",
    "Claimed",
    "DeliveryState",
    "Ledger",
    "Outcome",
    "SendKey",
    "SendStatus",
    "stamp",
]

_INSERT_BATCH = 1000
EXPIRED = "its sender stopped renewing its lease while sending: fate unknown"


def new_owner() -> str:
    """Who a sender is, in the rows it takes: its host, process, and a nonce."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Claimed:
    """A delivery taken to be sent now (its attempt already counted). `message_id` is the
    one an earlier attempt went with (a resend keeps it); `legacy`: planned before
    Message-IDs were keyed (see `mailer.messages.compose.MessageIds`)."""

    id: int
    recipient: Recipient
    attempts: int
    message_id: str | None = None
    legacy: bool = False


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery. A failure says whose doing it was (`cause`): the
    recipient's (their mailbox refused), or not (the relay, the content, a bug, a fate that
    stayed unknown): those can be sent again (`reopen_failed`)."""

    id: int
    state: DeliveryState
    message_id: str | None = None
    code: int | None = None
    reason: str | None = None
    next_attempt: dt.datetime | None = None
    cause: Cause | None = None


# an outcome as a row of the UPDATE's source, each value typed (NULLs and numbers mix)
OUTCOME_COLUMNS = (
    ("id", "BIGINT"),
    ("state", "TEXT"),
    ("message_id", "TEXT"),
    ("code", "INTEGER"),
    ("reason", "TEXT"),
    ("next_attempt", "TEXT"),
    ("cause", "TEXT"),
)
# a row a claim may take (attempts left: ?, its time come: ?); the first term is the partial
# index deliveries_due's own, word for word (SQLite uses the index only then)
DUE = (
    "state IN ('pending', 'retry', 'unknown') AND attempts < ? AND "
    "(next_attempt IS NULL OR next_attempt <= ?)"
)
RECORD_CHUNK = 200  # outcomes per UPDATE statement (SQLite: 500 SELECTs per UNION at most)
LOCKED_POLL = 1.0  # seconds before looking again at rows another's claim holds


class Ledger(LedgerQueries):
    """The deliveries of every send, in the state: planned, claimed, recorded. `owner` names
    this sender in the rows it takes, for `lease` seconds at a time."""

    def __init__(self, state: State, *, owner: str | None = None, lease: float = 30.0) -> None:
        super().__init__(state)
        self.owner = owner or new_owner()
        self.lease = lease
        # where the next claim of each send starts looking: after the last row it took (a scan
        # from the first id would step over every row sent before, claim after claim)
        self._after: dict[SendKey, int] = {}

    # -- planning ------------------------------------------------------------------------------

    def plan(
        self,
        key: SendKey,
        kind: str,
        *,
        segments: Sequence[str],
        deadline: dt.datetime,
        recipients: Iterable[Recipient],
        now: dt.datetime,
        sequence: int = 0,
        content: str | None = None,
    ) -> int:
        """Record a send and its recipients, in one transaction; returns how many are new.

        `sequence` is the session's revision the email describes, `content` its text's
        digest (`Revision.content`).

        Recipients already in the ledger for this email keep their row (and their state), so
        planning the same send again only adds the people who were not there before.
        """
        added = 0
        when = stamp(now)
        with self.state.transaction(exclusive=False) as connection:
            connection.execute(
                "INSERT INTO sends (series, session, message, kind, segments, deadline, "
                "created_at, updated_at, sequence, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (series, session, message) DO UPDATE SET "
                "segments = excluded.segments, deadline = excluded.deadline, "
                "updated_at = excluded.updated_at, sequence = CASE WHEN "
                "excluded.sequence > sends.sequence THEN excluded.sequence ELSE sends.sequence "
                # the text first planned
                "END, content = coalesce(sends.content, excluded.content)",
                (
                    *key.row,
                    kind,
                    json.dumps(list(segments)),
                    stamp(deadline),
                    when,
                    when,
                    sequence,
                    content,
                ),
            )
            batch: list[tuple[object, ...]] = []
            for recipient in recipients:
                batch.append(
                    (
                        *key.row,
                        recipient.key,
                        recipient.ascii_email or recipient.email,
                        recipient.language,
                        snapshot_recipient(recipient),
                        when,
                        when,
                    )
                )
                if len(batch) >= _INSERT_BATCH:
                    added += self._insert(connection, batch)
                    batch = []
            added += self._insert(connection, batch)
            if added:
                connection.execute(UNSETTLE, key.row)
        return added

    @staticmethod
    def _insert(connection: Connection, rows: list[tuple[object, ...]]) -> int:
        if not rows:
            return 0
        return connection.executemany(
            "INSERT INTO deliveries (series, session, message, recipient, address, language, "
            "person, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            rows,
        ).rowcount

    # -- sending -------------------------------------------------------------------------------

    def recover(self, key: SendKey, now: dt.datetime, max_attempts: int) -> int:
        """Rows left `sending` by a sender that died: fate unknown, to be sent again (or, once
        they had every attempt, failed: it may have arrived). A sender working alone (SQLite,
        holding the sender lock) takes every such row; with others at work, only those whose
        lease ran out.
        """
        reason = "interrupted while sending: fate unknown"
        expired = "" if self.state.one_sender else self._lease_ran_out()
        with self.state.transaction(exclusive=False) as connection:
            recovered = connection.execute(
                "UPDATE deliveries SET state = CASE WHEN attempts >= ? THEN 'failed' "
                "ELSE 'unknown' END, cause = CASE WHEN attempts >= ? THEN 'unknown' END, "
                "reason = ?, updated_at = ?, owner = NULL, lease_until = NULL "
                "WHERE id IN (SELECT id FROM deliveries WHERE series = ? AND session = ? AND "
                f"message = ? AND state = 'sending'{expired}{self.state.dialect.skip_locked})",
                (max_attempts, max_attempts, reason, stamp(now), *key.row),
            ).rowcount
            # fates that stayed unknown after every attempt: they are done with
            connection.execute(
                "UPDATE deliveries SET state = 'failed', cause = 'unknown', updated_at = ?, "
                "reason = coalesce(reason, '') || ' (after ' || attempts || ' attempts: "
                "it may have arrived)' WHERE series = ? AND session = ? AND message = ? AND "
                "state = 'unknown' AND attempts >= ?",
                (stamp(now), *key.row, max_attempts),
            )
            return recovered

    def reopen_failed(self, key: SendKey, causes: Sequence[Cause], now: dt.datetime) -> int:
        """Failed deliveries whose failure was not the recipient's own: to send again, with all
        their attempts (the Message-ID stays, so a copy that did arrive is recognised)."""
        marks = ", ".join("?" for _ in causes)
        with self.state.transaction() as connection:
            connection.execute(UNSETTLE, key.row)
            return connection.execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt = NULL, "
                "updated_at = ? WHERE series = ? AND session = ? AND message = ? AND "
                f"state = 'failed' AND cause IN ({marks})",
                (stamp(now), *key.row, *causes),
            ).rowcount

    def reopen_too_late(self, key: SendKey, now: dt.datetime) -> int:
        """Deliveries skipped as too late although the deadline has not passed (a rehearsal
        clock ahead of the real one marked them): to send after all."""
        with self.state.transaction() as connection:
            connection.execute(UNSETTLE, key.row)
            return connection.execute(
                "UPDATE deliveries SET state = 'pending', reason = NULL, updated_at = ? "
                "WHERE series = ? AND session = ? AND message = ? AND state = 'skipped' AND "
                "reason LIKE 'too late%' AND EXISTS (SELECT 1 FROM sends s WHERE "
                "s.series = deliveries.series AND s.session = deliveries.session AND "
                "s.message = deliveries.message AND s.deadline > ?)",
                (stamp(now), *key.row, stamp(now)),
            ).rowcount

    def claim(
        self,
        key: SendKey,
        limit: int,
        now: dt.datetime,
        max_attempts: int,
        caps: Sequence[tuple[int, dt.timedelta]] = (),
    ) -> list[Claimed] | None:
        """Take up to `limit` deliveries that are due, marking them `sending` (committed).

        `caps` are (messages, window) limits of the relay, counted over every send in the
        state file and checked in the same transaction, so processes sending together cannot
        exceed them. None when a cap is reached.
        """
        dialect = self.state.dialect
        with self.state.transaction(exclusive=False) as connection:
            if caps:  # the relay's count, by one claimer at a time
                connection.execute(
                    f"SELECT name FROM mutex WHERE name = 'writes'{dialect.for_update}"
                )
            for cap, window in caps:
                limit = min(limit, cap - self._sent_since(connection, now - window))
            if limit <= 0:
                return None
            # rows another sender took and stopped renewing: their fate is unknown
            connection.execute(
                "UPDATE deliveries SET state = CASE WHEN attempts >= ? THEN 'failed' ELSE "
                "'unknown' END, cause = CASE WHEN attempts >= ? THEN 'unknown' END, reason = ?, "
                "updated_at = ?, owner = NULL, lease_until = NULL WHERE id IN (SELECT id FROM "
                "deliveries WHERE series = ? AND session = ? AND message = ? AND "
                f"state = 'sending'{self._lease_ran_out()}{dialect.skip_locked})",
                (max_attempts, max_attempts, EXPIRED, stamp(now), *key.row),
            )
            rows = self._take(connection, key, limit, now, max_attempts)
            if len(rows) < limit and self._after.get(key):  # and before (retries, unknown)
                self._after[key] = 0
                rows += self._take(connection, key, limit - len(rows), now, max_attempts)
        claimed = [
            Claimed(row[0], restore_recipient(row[1]), row[2], row[3], bool(row[4])) for row in rows
        ]
        claimed.sort(key=lambda item: item.id)
        return claimed

    def _take(
        self, connection: Connection, key: SendKey, limit: int, now: dt.datetime, attempts: int
    ) -> list[Any]:
        """Mark up to `limit` due rows after this claimer's last one `sending`, in id order."""
        dialect = self.state.dialect
        rows = connection.execute(
            "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, "
            f"owner = ?, lease_until = {dialect.clock} + ?, updated_at = ? "
            "WHERE id IN (SELECT id FROM deliveries WHERE series = ? AND "
            f"session = ? AND message = ? AND id > ? AND {DUE} ORDER BY id "
            f"LIMIT ?{dialect.skip_locked}) "
            "RETURNING id, person, attempts, message_id, legacy_id",
            (
                self.owner,
                self.lease,
                stamp(now),
                *key.row,
                self._after.get(key, 0),
                attempts,
                stamp(now),
                limit,
            ),
        ).fetchall()
        if rows:
            self._after[key] = max(int(row[0]) for row in rows)
        return rows

    def held_elsewhere(self, key: SendKey, now: dt.datetime, max_attempts: int) -> float | None:
        """Seconds until the first lease of another sender's rows of this send runs out, or
        LOCKED_POLL when rows are due that a claim could not take (another sender's claim
        holds them, in a transaction not yet ended); None: nobody else holds any."""
        row = self.connection.execute(
            f"SELECT min(lease_until) - {self.state.dialect.clock} FROM deliveries "
            "WHERE series = ? AND session = ? AND message = ? AND state = 'sending' AND "
            "owner IS DISTINCT FROM ?",
            (*key.row, self.owner),
        ).fetchone()
        if row is not None and row[0] is not None:
            return max(float(row[0]), 0.0)
        due = self.connection.execute(
            "SELECT 1 FROM deliveries WHERE series = ? AND session = ? AND message = ? AND "
            f"{DUE} LIMIT 1",
            (*key.row, max_attempts, stamp(now)),
        ).fetchone()
        return None if due is None else LOCKED_POLL

    def renew(self) -> int:
        """Extend the lease of every row this sender is sending: how many it holds."""
        with self.state.transaction(exclusive=False) as connection:
            return connection.execute(
                f"UPDATE deliveries SET lease_until = {self.state.dialect.clock} + ? "
                "WHERE owner = ? AND state = 'sending'",
                (self.lease, self.owner),
            ).rowcount

    def record(self, outcomes: Sequence[Outcome], now: dt.datetime) -> int:
        """Write what happened to deliveries, in one transaction: only to the rows this sender
        still owns (another may have taken one whose lease ran out). How many were written."""
        if not outcomes:
            return 0
        when = stamp(now)
        ordered = sorted(outcomes, key=lambda outcome: outcome.id)  # locks in one order
        written = 0
        with self.state.transaction(exclusive=False) as connection:
            for start in range(0, len(ordered), RECORD_CHUNK):  # one statement per chunk
                chunk = ordered[start : start + RECORD_CHUNK]
                source, parameters = rows_source(
                    self.state.dialect,
                    OUTCOME_COLUMNS,
                    [
                        (
                            o.id,
                            o.state,
                            o.message_id,
                            o.code,
                            o.reason,
                            stamp(o.next_attempt) if o.next_attempt else None,
                            o.cause,
                        )
                        for o in chunk
                    ],
                )
                written += connection.execute(
                    "UPDATE deliveries SET state = v.state, "
                    "message_id = coalesce(v.message_id, deliveries.message_id), "
                    "code = v.code, reason = v.reason, "
                    "next_attempt = v.next_attempt, updated_at = ?, cause = v.cause, "
                    "sent_at = CASE WHEN v.state = 'sent' THEN ? ELSE deliveries.sent_at END, "
                    "attempts = CASE WHEN v.state = 'pending' AND deliveries.attempts > 0 "
                    "THEN deliveries.attempts - 1 ELSE deliveries.attempts END, "
                    f"owner = NULL, lease_until = NULL FROM {source} "
                    "WHERE deliveries.id = v.id AND deliveries.state = 'sending' "
                    "AND deliveries.owner IS NOT DISTINCT FROM ?",
                    [when, when, *parameters, self.owner],
                ).rowcount
        return written

    def skip_remaining(self, key: SendKey, reason: str, now: dt.datetime) -> int:
        """Mark every delivery not sent yet as skipped (too late, for one)."""
        with self.state.transaction() as connection:
            return connection.execute(
                "UPDATE deliveries SET state = 'skipped', reason = ?, updated_at = ? "
                f"WHERE series = ? AND session = ? AND message = ? AND state IN {OPEN_SQL}",
                (reason, stamp(now), *key.row),
            ).rowcount

    def _lease_ran_out(self) -> str:
        """The condition of a `sending` row whose sender stopped renewing its lease (rows from
        before leases have none)."""
        return f" AND (lease_until IS NULL OR lease_until < {self.state.dialect.clock})"

    @staticmethod
    def _sent_since(connection: Connection, since: dt.datetime) -> int:
        """Messages sent (or being sent) since `since`, all sends together: for relay caps."""
        return int(
            connection.execute(
                "SELECT (SELECT count(*) FROM deliveries WHERE sent_at >= ?) + "
                "(SELECT count(*) FROM deliveries WHERE state = 'sending')",
                (stamp(since),),
            ).fetchone()[0]
        )
