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
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mailer.model import Recipient
from mailer.store.ledger_queries import (
    NOT_THEIRS,
    OPEN,
    OPEN_SQL,
    STATES,
    TO_SEND,
    Cause,
    DeliveryState,
    LedgerQueries,
    SendKey,
    SendStatus,
    restore_recipient,
    snapshot_recipient,
    stamp,
)

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


class Ledger(LedgerQueries):
    """The deliveries of every send, in the state file: planned, claimed, recorded."""

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
        with self.state.transaction() as connection:
            connection.execute(
                "INSERT INTO sends (series, session, message, kind, segments, deadline, "
                "created_at, updated_at, sequence, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET segments = excluded.segments, "
                "deadline = excluded.deadline, updated_at = excluded.updated_at, "
                "sequence = max(sequence, excluded.sequence), "
                "content = coalesce(content, excluded.content)",  # the text first planned
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
        return added

    @staticmethod
    def _insert(connection: sqlite3.Connection, rows: list[tuple[object, ...]]) -> int:
        before = connection.total_changes
        connection.executemany(
            "INSERT INTO deliveries (series, session, message, recipient, address, language, "
            "person, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            rows,
        )
        return connection.total_changes - before

    # -- sending -------------------------------------------------------------------------------

    def recover(self, key: SendKey, now: dt.datetime, max_attempts: int) -> int:
        """Rows left `sending` by a sender that died: fate unknown, to be sent again (or, once
        they had every attempt, failed: it may have arrived).

        Only call this holding the sender lock: then no other process is sending.
        """
        reason = "interrupted while sending: fate unknown"
        with self.state.transaction() as connection:
            recovered = connection.execute(
                "UPDATE deliveries SET state = CASE WHEN attempts >= ? THEN 'failed' "
                "ELSE 'unknown' END, cause = CASE WHEN attempts >= ? THEN 'unknown' END, "
                "reason = ?, updated_at = ? "
                "WHERE series = ? AND session = ? AND message = ? AND state = 'sending'",
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
        with self.state.transaction() as connection:
            for cap, window in caps:
                limit = min(limit, cap - self._sent_since(connection, now - window))
            if limit <= 0:
                return None
            rows = connection.execute(
                "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, "
                "updated_at = ? WHERE id IN (SELECT id FROM deliveries WHERE series = ? AND "
                "session = ? AND message = ? AND state IN ('pending', 'retry', 'unknown') AND "
                "attempts < ? AND (next_attempt IS NULL OR next_attempt <= ?) ORDER BY id "
                "LIMIT ?) RETURNING id, person, attempts, message_id, legacy_id",
                (stamp(now), *key.row, max_attempts, stamp(now), limit),
            ).fetchall()
        claimed = [
            Claimed(row[0], restore_recipient(row[1]), row[2], row[3], bool(row[4])) for row in rows
        ]
        claimed.sort(key=lambda item: item.id)
        return claimed

    def record(self, outcomes: Sequence[Outcome], now: dt.datetime) -> None:
        """Write what happened to deliveries, in one transaction."""
        if not outcomes:
            return
        when = stamp(now)
        with self.state.transaction() as connection:
            connection.executemany(
                "UPDATE deliveries SET state = ?, message_id = coalesce(?, message_id), "
                "code = ?, reason = ?, next_attempt = ?, updated_at = ?, cause = ?, "
                "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, "
                "attempts = CASE WHEN ? = 'pending' THEN max(attempts - 1, 0) ELSE attempts END "
                "WHERE id = ?",
                [
                    (
                        o.state,
                        o.message_id,
                        o.code,
                        o.reason,
                        stamp(o.next_attempt) if o.next_attempt else None,
                        when,
                        o.cause,
                        o.state,
                        when,
                        o.state,
                        o.id,
                    )
                    for o in outcomes
                ],
            )

    def skip_remaining(self, key: SendKey, reason: str, now: dt.datetime) -> int:
        """Mark every delivery not sent yet as skipped (too late, for one)."""
        with self.state.transaction() as connection:
            return connection.execute(
                "UPDATE deliveries SET state = 'skipped', reason = ?, updated_at = ? "
                f"WHERE series = ? AND session = ? AND message = ? AND state IN {OPEN_SQL}",
                (reason, stamp(now), *key.row),
            ).rowcount

    @staticmethod
    def _sent_since(connection: sqlite3.Connection, since: dt.datetime) -> int:
        """Messages sent (or being sent) since `since`, all sends together: for relay caps."""
        return int(
            connection.execute(
                "SELECT (SELECT count(*) FROM deliveries WHERE sent_at >= ?) + "
                "(SELECT count(*) FROM deliveries WHERE state = 'sending')",
                (stamp(since),),
            ).fetchone()[0]
        )
