"""What the send ledger says (read-only queries): counts, statuses, who was served, retries.

`mailer.store.ledger.Ledger` adds the writes (planning, claiming, recording).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from mailer.errors import StateError
from mailer.model import Recipient
from mailer.store.state import Connection, State

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


# forgets the kept counts of a send whose rows change (`LedgerQueries._settle`)
UNSETTLE = (
    "UPDATE sends SET settled = NULL, changes = changes + 1 WHERE series = ? AND session = ? "
    "AND message = ?"
)
OPEN_SQL = "(" + ", ".join(f"'{state}'" for state in OPEN) + ")"


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


Cause = Literal["recipient", "relay", "content", "internal", "unknown"]


NOT_THEIRS: tuple[Cause, ...] = ("relay", "content", "internal", "unknown")


@dataclass(frozen=True)
class SendStatus:
    """`mailer status`: one email of one session."""

    session: dt.date
    message: str
    kind: str
    deadline: dt.datetime
    counts: dict[str, int]
    # (state, reason, how many) of the deliveries not sent, commonest first; with the rest
    # of each state as one ("not tried yet", "other reasons"), they add up to the counts
    errors: list[tuple[str, str, int]]
    next_retry: dt.datetime | None


def snapshot_recipient(recipient: Recipient) -> str:
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


def restore_recipient(text: str) -> Recipient:
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


class LedgerQueries:
    """The deliveries of every send, in the state file: what they say."""

    def __init__(self, state: State) -> None:
        self.state = state

    @property
    def connection(self) -> Connection:
        """The state's connection (a new one after `state.reconnect()`)."""
        return self.state.connection

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

    def notified_content(self, series: str, session: dt.date) -> str | None:
        """The text (digest) of the latest email anyone was sent about the session (None: not
        known, or nobody was sent anything)."""
        row = self.connection.execute(
            "SELECT s.content FROM sends s WHERE s.series = ? AND s.session = ? AND "
            "s.kind != 'cancellation' AND EXISTS (SELECT 1 FROM deliveries d WHERE "
            "d.series = s.series AND d.session = s.session AND d.message = s.message AND "
            "d.state = 'sent') ORDER BY s.created_at DESC LIMIT 1",
            (series, session.isoformat()),
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def unfinished_update(self, series: str, session: dt.date) -> str | None:
        """The key of an update of this session that some of its people were sent and others
        are still owed (a send that stopped mid-way), if any."""
        row = self.connection.execute(
            "SELECT s.message FROM sends s WHERE s.series = ? AND s.session = ? AND "
            "s.kind = 'update' AND EXISTS (SELECT 1 FROM deliveries d WHERE d.series = s.series "
            "AND d.session = s.session AND d.message = s.message AND d.state IN "
            f"{OPEN_SQL}) ORDER BY s.sequence DESC, s.created_at DESC LIMIT 1",
            (series, session.isoformat()),
        ).fetchone()
        return None if row is None else str(row[0])

    def sent_before_keyed(self, series: str, session: dt.date) -> bool:
        """Whether emails of this session went out before Message-IDs (and invitations'
        ORGANIZER) were signed: its later emails keep the ORGANIZER those had."""
        row = self.connection.execute(
            "SELECT 1 FROM deliveries WHERE series = ? AND session = ? AND legacy_id = 1 "
            "AND state = 'sent' LIMIT 1",
            (series, session.isoformat()),
        ).fetchone()
        return row is not None

    def complete(self, key: SendKey) -> bool:
        """Whether the send exists and nothing in it is left to send (or retry)."""
        row = self.connection.execute(
            f"SELECT count(*), sum(CASE WHEN state IN {OPEN_SQL} THEN 1 ELSE 0 END) FROM "
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

    def too_late_early(self, key: SendKey, now: dt.datetime) -> int:
        """Deliveries skipped as too late while the deadline has not passed (see
        `reopen_too_late`)."""
        return int(
            self.connection.execute(
                "SELECT count(*) FROM deliveries d JOIN sends s ON s.series = d.series AND "
                "s.session = d.session AND s.message = d.message WHERE d.series = ? AND "
                "d.session = ? AND d.message = ? AND d.state = 'skipped' AND "
                "d.reason LIKE 'too late%' AND s.deadline > ?",
                (*key.row, stamp(now)),
            ).fetchone()[0]
        )

    def failed_not_theirs(self, key: SendKey) -> int:
        """Failed deliveries whose failure was not the recipient's own (see `reopen_failed`)."""
        marks = ", ".join("?" for _ in NOT_THEIRS)
        return int(
            self.connection.execute(
                "SELECT count(*) FROM deliveries WHERE series = ? AND session = ? AND "
                f"message = ? AND state = 'failed' AND cause IN ({marks})",
                (*key.row, *NOT_THEIRS),
            ).fetchone()[0]
        )

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

    def served(self, series: str, session: dt.date, message_prefix: str) -> list[Recipient]:
        """Who has been sent a message of this session whose key starts with the prefix."""
        rows = self.connection.execute(
            "SELECT person FROM deliveries WHERE id IN (SELECT min(id) FROM deliveries WHERE "
            "series = ? AND session = ? AND state = 'sent' AND message LIKE ? "
            "GROUP BY recipient) ORDER BY id",
            (series, session.isoformat(), message_prefix.replace("%", "") + "%"),
        )
        return [restore_recipient(row[0]) for row in rows]

    def status(self, series: str, session: dt.date | None = None) -> list[SendStatus]:
        """Every send of the series (or of one session), with counts and the commonest errors."""
        where, arguments = "series = ?", [series]
        if session is not None:
            where += " AND session = ?"
            arguments.append(session.isoformat())
        sends = self.connection.execute(
            f"SELECT session, message, kind, deadline, settled, changes FROM sends WHERE {where} "
            "ORDER BY session, created_at",
            arguments,
        ).fetchall()
        statuses, settled_now = [], []
        for session_text, message, kind, deadline, settled, changes in sends:
            key = SendKey(series, dt.date.fromisoformat(session_text), message)
            if settled is not None:  # nothing left to send: its counts, kept
                kept = json.loads(settled)
                counts = {str(k): int(v) for k, v in kept["counts"].items()}
                reasons = [(str(s), str(r), int(n)) for s, r, n in kept["reasons"]]
                upcoming = None
            else:
                counts = dict(self.counts(key))
                reasons = self._reasons(key, counts)
                upcoming = self.next_retry(key, 1 << 30)
                if counts and not any(counts.get(state) for state in OPEN):
                    settled_now.append((key, changes, counts, reasons))
            statuses.append(
                SendStatus(
                    key.session,
                    message,
                    kind,
                    dt.datetime.fromisoformat(deadline),
                    counts,
                    reasons,
                    upcoming,
                )
            )
        if settled_now:
            self._settle(settled_now)
        return statuses

    def _settle(
        self, sends: list[tuple[SendKey, int, dict[str, int], list[tuple[str, str, int]]]]
    ) -> None:
        """Keep the counts of the sends nothing is left to send of: they change only when
        their rows do (planned again, reopened, a person erased, old rows deleted), and each of
        those forgets them and counts a change (UNSETTLE): counts made before a change are not
        kept."""
        # a read-only state: counted again next time
        with contextlib.suppress(StateError), self.state.transaction(exclusive=False) as connection:
            for key, changes, counts, reasons in sends:
                connection.execute(
                    "UPDATE sends SET settled = ? WHERE series = ? AND session = ? AND "
                    "message = ? AND changes = ?",
                    (json.dumps({"counts": counts, "reasons": reasons}), *key.row, changes),
                )

    def _reasons(self, key: SendKey, counts: dict[str, int]) -> list[tuple[str, str, int]]:
        """Why the deliveries of each state other than sent are where they are: the five
        commonest reasons, and the rest of each state, so that they add up."""
        rows = self.connection.execute(
            "SELECT state, coalesce(code || ' ', '') || reason, count(*) AS n FROM deliveries "
            "WHERE series = ? AND session = ? AND message = ? AND reason IS NOT NULL "
            "AND state != 'sent' GROUP BY 1, 2 ORDER BY n DESC, 1, 2 LIMIT 5",
            key.row,
        ).fetchall()
        reasons = [(str(row[0]), str(row[1]), int(row[2])) for row in rows]
        for state in STATES:
            if state == "sent" or not counts.get(state):
                continue
            said = sum(n for s, _, n in reasons if s == state)
            if rest := counts[state] - said:
                other = "not tried yet" if state == "pending" and not said else "other reasons"
                reasons.append((state, other, rest))
        return reasons
