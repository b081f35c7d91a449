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
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from mailer.model import Recipient
from mailer.store.state import State

DeliveryState = Literal["pending", "sending", "sent", "retry", "failed", "unknown", "skipped"]
STATES: tuple[DeliveryState, ...] = (
    "pending",
    "sending",
    "sent",
    "retry",
    "failed",
    "unknown",
    "skipped",
)
TO_SEND: tuple[DeliveryState, ...] = ("pending", "retry", "unknown")
OPEN: tuple[DeliveryState, ...] = (*TO_SEND, "sending")  # not done with: still to send
_OPEN_SQL = "(" + ", ".join(f"'{state}'" for state in OPEN) + ")"
_INSERT_BATCH = 1000


def stamp(moment: dt.datetime) -> str:
    """A UTC timestamp that sorts as text."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class SendKey:
    """One email of one session: `message` is `invitation`, `reminder:P1D`, `update:3`..."""

    series: str
    session: dt.date
    message: str

    @property
    def row(self) -> tuple[str, str, str]:
        return self.series, self.session.isoformat(), self.message


@dataclass(frozen=True)
class Claimed:
    """A delivery taken to be sent now (its attempt already counted)."""

    id: int
    recipient: Recipient
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery."""

    id: int
    state: DeliveryState
    message_id: str | None = None
    code: int | None = None
    reason: str | None = None
    next_attempt: dt.datetime | None = None


@dataclass(frozen=True)
class SendStatus:
    """`mailer status`: one email of one session."""

    session: dt.date
    message: str
    kind: str
    deadline: dt.datetime
    counts: dict[str, int]
    errors: list[tuple[str, int]]  # (reason, how many), most frequent first
    next_retry: dt.datetime | None


def _snapshot(recipient: Recipient) -> str:
    return json.dumps(
        [
            recipient.email,
            recipient.key,
            recipient.language,
            recipient.name,
            sorted(recipient.tags),
            recipient.timezone,
            dict(recipient.fields),
            recipient.source,
            recipient.ascii_email,
        ],
        ensure_ascii=False,
    )


def _restore(text: str) -> Recipient:
    email, key, language, name, tags, zone, fields, source, ascii_email = json.loads(text)
    return Recipient(
        email=email,
        key=key,
        language=language,
        name=name,
        tags=frozenset(tags),
        timezone=zone,
        fields=fields,
        source=source,
        ascii_email=ascii_email,
    )


class Ledger:
    """The deliveries of every send, in the state file."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.connection = state.connection

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
    ) -> int:
        """Record a send and its recipients, in one transaction; returns how many are new.

        `sequence` is the session's revision the email describes.

        Recipients already in the ledger for this email keep their row (and their state), so
        planning the same send again only adds the people who were not there before.
        """
        added = 0
        when = stamp(now)
        with self.state.transaction() as connection:
            connection.execute(
                "INSERT INTO sends (series, session, message, kind, segments, deadline, "
                "created_at, updated_at, sequence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET segments = excluded.segments, "
                "deadline = excluded.deadline, updated_at = excluded.updated_at, "
                "sequence = max(sequence, excluded.sequence)",
                (*key.row, kind, json.dumps(list(segments)), stamp(deadline), when, when, sequence),
            )
            batch: list[tuple[object, ...]] = []
            for recipient in recipients:
                batch.append(
                    (
                        *key.row,
                        recipient.key,
                        recipient.ascii_email or recipient.email,
                        recipient.language,
                        _snapshot(recipient),
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

    def notified_sequence(self, series: str, session: dt.date) -> int | None:
        """The latest revision of the session that anyone was sent an email about (None if
        nobody was sent anything yet)."""
        row = self.connection.execute(
            "SELECT max(s.sequence) FROM sends s WHERE s.series = ? AND s.session = ? AND "
            "s.kind != 'cancellation' AND EXISTS (SELECT 1 FROM deliveries d WHERE "
            "d.series = s.series AND d.session = s.session AND d.message = s.message AND "
            "d.state = 'sent')",
            (series, session.isoformat()),
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def complete(self, key: SendKey) -> bool:
        """Whether the send exists and nothing in it is left to send (or retry)."""
        row = self.connection.execute(
            f"SELECT count(*), sum(state IN {_OPEN_SQL}) FROM "
            "deliveries WHERE series = ? AND session = ? AND message = ?",
            key.row,
        ).fetchone()
        return bool(row[0]) and not row[1]

    def language_of(self, recipient: str) -> str | None:
        """The language of the latest email to this person (their identity key), if any."""
        row = self.connection.execute(
            "SELECT language FROM deliveries WHERE recipient = ? ORDER BY id DESC LIMIT 1",
            (recipient,),
        ).fetchone()
        return None if row is None else str(row[0])

    def recipients(self, key: SendKey) -> set[str]:
        """The identity keys of everyone already in the ledger for this email."""
        rows = self.connection.execute(
            "SELECT recipient FROM deliveries WHERE series = ? AND session = ? AND message = ?",
            key.row,
        )
        return {row[0] for row in rows}

    def deadline(self, key: SendKey) -> dt.datetime | None:
        row = self.connection.execute(
            "SELECT deadline FROM sends WHERE series = ? AND session = ? AND message = ?", key.row
        ).fetchone()
        return None if row is None else dt.datetime.fromisoformat(row[0])

    # -- sending -------------------------------------------------------------------------------

    def recover(self, key: SendKey, now: dt.datetime) -> int:
        """Rows left `sending` by a sender that died: fate unknown, to be sent again.

        Only call this holding the sender lock: then no other process is sending.
        """
        with self.state.transaction() as connection:
            return connection.execute(
                "UPDATE deliveries SET state = 'unknown', reason = ?, updated_at = ? "
                "WHERE series = ? AND session = ? AND message = ? AND state = 'sending'",
                ("interrupted while sending: fate unknown", stamp(now), *key.row),
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
                "LIMIT ?) RETURNING id, person, attempts",
                (stamp(now), *key.row, max_attempts, stamp(now), limit),
            ).fetchall()
        claimed = [Claimed(row[0], _restore(row[1]), row[2]) for row in rows]
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
                "code = ?, reason = ?, next_attempt = ?, updated_at = ?, "
                "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, "
                "attempts = CASE WHEN ? = 'pending' THEN attempts - 1 ELSE attempts END "
                "WHERE id = ?",
                [
                    (
                        o.state,
                        o.message_id,
                        o.code,
                        o.reason,
                        stamp(o.next_attempt) if o.next_attempt else None,
                        when,
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
                f"WHERE series = ? AND session = ? AND message = ? AND state IN {_OPEN_SQL}",
                (reason, stamp(now), *key.row),
            ).rowcount

    # -- what the ledger says ------------------------------------------------------------------

    def totals(self) -> Counter[str]:
        """Deliveries by state, over every send in the state file."""
        rows = self.connection.execute("SELECT state, count(*) FROM deliveries GROUP BY state")
        return Counter({row[0]: row[1] for row in rows})

    def counts(self, key: SendKey) -> Counter[str]:
        rows = self.connection.execute(
            "SELECT state, count(*) FROM deliveries WHERE series = ? AND session = ? AND "
            "message = ? GROUP BY state",
            key.row,
        )
        return Counter({row[0]: row[1] for row in rows})

    def to_retry(self, key: SendKey, max_attempts: int) -> int:
        """Deliveries that failed for now and will be tried again after a delay."""
        return int(
            self.connection.execute(
                "SELECT count(*) FROM deliveries WHERE series = ? AND session = ? AND message = ? "
                "AND state IN ('retry', 'unknown') AND attempts < ?",
                (*key.row, max_attempts),
            ).fetchone()[0]
        )

    def next_retry(self, key: SendKey, max_attempts: int) -> dt.datetime | None:
        row = self.connection.execute(
            "SELECT min(next_attempt) FROM deliveries WHERE series = ? AND session = ? AND "
            "message = ? AND state IN ('retry', 'unknown') AND attempts < ?",
            (*key.row, max_attempts),
        ).fetchone()
        return dt.datetime.fromisoformat(row[0]) if row and row[0] else None

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

    def served(self, series: str, session: dt.date, message_prefix: str) -> list[Recipient]:
        """Who has been sent a message of this session whose key starts with the prefix."""
        rows = self.connection.execute(
            "SELECT person FROM deliveries WHERE series = ? AND session = ? AND state = 'sent' "
            "AND message LIKE ? GROUP BY recipient ORDER BY min(id)",
            (series, session.isoformat(), message_prefix.replace("%", "") + "%"),
        )
        return [_restore(row[0]) for row in rows]

    def status(self, series: str, session: dt.date | None = None) -> list[SendStatus]:
        """Every send of the series (or of one session), with counts and the commonest errors."""
        where, arguments = "series = ?", [series]
        if session is not None:
            where += " AND session = ?"
            arguments.append(session.isoformat())
        sends = self.connection.execute(
            f"SELECT session, message, kind, deadline FROM sends WHERE {where} "
            "ORDER BY session, created_at",
            arguments,
        ).fetchall()
        statuses = []
        for session_text, message, kind, deadline in sends:
            key = SendKey(series, dt.date.fromisoformat(session_text), message)
            errors = self.connection.execute(
                "SELECT coalesce(code || ' ', '') || reason, count(*) AS n FROM deliveries "
                "WHERE series = ? AND session = ? AND message = ? AND reason IS NOT NULL "
                "AND state != 'sent' GROUP BY 1 ORDER BY n DESC, 1 LIMIT 5",
                key.row,
            ).fetchall()
            statuses.append(
                SendStatus(
                    key.session,
                    message,
                    kind,
                    dt.datetime.fromisoformat(deadline),
                    dict(self.counts(key)),
                    [(row[0], row[1]) for row in errors],
                    self.next_retry(key, 1 << 30),
                )
            )
        return statuses
