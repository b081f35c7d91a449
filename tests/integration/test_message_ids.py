"""Message-IDs are keyed, so that only a recipient's servers can quote one; the emails planned
before they were keyed keep the Message-ID they were (or will be) sent with, and a bounce that
quotes one of those still counts."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from mailer.actions.mailbox import read_inbox
from mailer.model import Recipient
from mailer.project.workspace import Workspace
from mailer.store.ledger_queries import snapshot_recipient
from mailer.store.schema import MIGRATIONS
from mailer.store.sqlite import SqliteState
from mailer.store.suppression import suppressed_keys
from tests.support.sending import Cli, send

KEY = "message-ids-signing-key-0123456789"
SERIES = "icom-france-solidarites-musees"
RETURN = "bounces@icom-france.example.org"
MARIE, LUC = "marie.dubois@example.org", "luc.martin@example.org"


def public_facts_id(address: str) -> str:
    """The Message-ID mailer made before they were keyed (anybody can compute it)."""
    facts = f"{SERIES}\n2021-04-20\ninvitation\n{address}".encode()
    return f"<{hashlib.sha256(facts).hexdigest()[:24]}.20210420@icom-france.example.org>"


def old_ledger(database: Path, people: list[str]) -> None:
    """A state file of the schema before keyed Message-IDs, with the invitation planned."""
    database.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(database)
    connection.executescript("".join(MIGRATIONS[:8]) + "PRAGMA user_version = 8;")
    when = "2021-04-06T07:00:00.000000+00:00"
    connection.execute(
        "INSERT INTO sends VALUES (?, '2021-04-20', 'invitation', 'invitation', '[\"everyone\"]',"
        " '2021-04-20T11:00:00.000000+00:00', ?, ?, 0)",
        (SERIES, when, when),
    )
    for address in people:
        person = Recipient(email=address, key=address, language="fr")
        connection.execute(
            "INSERT INTO deliveries (series, session, message, recipient, address, language, "
            "person, created_at, updated_at) VALUES (?, '2021-04-20', 'invitation', ?, ?, 'fr', "
            "?, ?, ?)",
            (SERIES, address, address, snapshot_recipient(person), when, when),
        )
    connection.commit()
    connection.close()


class Mailbox:
    """What `read_inbox` reads: messages in memory, and where each was filed."""

    def __init__(self, messages: list[bytes]) -> None:
        self.waiting = dict(enumerate(messages))
        self.filed: dict[int, str] = {}

    def messages(self) -> Iterator[tuple[int, bytes]]:
        yield from list(self.waiting.items())

    def file(self, uid: int, folder: str, *, flag: bool = False) -> None:  # noqa: ARG002
        self.filed[uid] = folder
        del self.waiting[uid]


def bounce(address: str, quoted: str) -> bytes:
    return (
        f"Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example.org\r\nTo: {RETURN}\r\n"
        f"Subject: Undelivered\r\nMessage-Id: <dsn.{hash(quoted + address)}@mx.example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        f"Final-Recipient: rfc822; {address}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {quoted}\r\n\r\n--b--\r\n"
    ).encode()


def test_emails_planned_before_keeping_their_message_id_and_bounces_quoting_them_count(
    run_cli: Cli, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", KEY)
    config = project_dir / "config.toml"
    with config.open("a", encoding="utf-8") as file:
        file.write(
            f'\n[sending]\nenvelope_from = "{RETURN}"\n\n[mailbox]\nhost = "127.0.0.1"\n'
            'user = "bounces"\n'
        )
    database = project_dir / "state" / "mailer.db"
    old_ledger(database, [MARIE])
    code, _, err = send(run_cli, config, "--segment", "everyone")
    assert code == 0, err
    sent = {}
    for path in (project_dir / "outbox" / "new").iterdir():
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        sent[str(message["To"]).rpartition("<")[2].rstrip(">")] = str(message["Message-ID"])
    assert len(sent) == 20
    assert sent[MARIE] == public_facts_id(MARIE)  # planned before: the same Message-ID
    assert sent[LUC] != public_facts_id(LUC)  # planned now: keyed
    assert all(sent[a] != public_facts_id(a) for a in sent if a != MARIE)

    space = Workspace(config, dt.datetime(2021, 4, 6, 12, tzinfo=dt.UTC))
    inbox = Mailbox(
        [
            bounce(MARIE, public_facts_id(MARIE)),  # her old email bounced: it counts
            bounce(LUC, public_facts_id(LUC)),  # computed: no email of ours had it
            bounce(LUC + ".x", sent[LUC]),  # his email, another address: proves nothing
        ]
    )
    with SqliteState(database) as state:
        done = read_inbox(space.project().config, state, inbox, KEY.encode(), space.now())
        assert set(suppressed_keys(state).keys) == {MARIE}
    assert done.outcomes == {"bounce": 1, "person": 2}
    assert list(inbox.filed.values()) == ["Processed", "For a person", "For a person"]
