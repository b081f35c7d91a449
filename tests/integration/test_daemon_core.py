"""The daemon's logic over simulated months, in seconds: DST, a moved session, a cancelled
one, a missing file, a restart in the middle, downtime."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from mailer.daemon.leadership import give_up_leadership
from mailer.daemon.reloading import Reloader, daemon_core
from mailer.model import Outgoing
from mailer.project.workspace import Workspace
from mailer.sending.due import DaemonCore
from mailer.store.ledger import SendKey
from mailer.store.pauses import pause, paused, resume
from mailer.transport.base import Transport
from mailer.transport.memory import MemoryTransport
from tests.support.daemon import ledger_ids
from tests.support.project import edit, write

UTC = dt.UTC
ON_BOTH_STORES = True  # every test here runs on SQLite and on PostgreSQL
SESSION = """
[title]
fr = "Titre {n}"
en = "Title {n}"
es = "Título {n}"
"""


FOLLOWUP = """
[[cadence]]
kind = "followup"
after = "PT3H"
segments = ["everyone"]
"""


class Simulation:
    """A daemon whose clock the test moves, sending into memory."""

    def __init__(self, project_dir: Path, start: dt.datetime) -> None:
        self.project_dir = project_dir
        self.now = start
        self.outbox = MemoryTransport()
        self.sent_at: dict[str, dt.datetime] = {}
        self.core = self.restart()

    def clock(self) -> dt.datetime:
        return self.now

    def transport(self, _: Workspace) -> Callable[[], Transport]:
        return lambda: self.outbox

    def restart(self) -> DaemonCore:
        """A new daemon process: nothing kept but the files and the state file (the one
        before stopped cleanly: it gave the leadership up)."""
        if hasattr(self, "core"):
            give_up_leadership(self.core)
        workspace = Workspace(
            self.project_dir / "config.toml",
            clock=self.clock,
            environ={"MAILER_UNSUBSCRIBE_KEY": "simulation-key-0123456789"},
        )
        self.core = daemon_core(workspace, transport_for=self.transport)
        self.reloader = Reloader(workspace, self.core, self.transport)
        return self.core

    def run_until(self, end: dt.datetime, *, every: dt.timedelta = dt.timedelta(hours=6)) -> None:
        """Wake when the daemon asks to, and at least every `every`, until `end`."""
        while self.now < end:
            self.reloader.refresh()  # as the daemon does at each wake-up
            before = len(self.outbox.sent)
            asyncio.run(self.core.run_due(self.now))
            for message in self.outbox.sent[before:]:
                self.sent_at[message.message_id] = self.now
            upcoming = self.core.next_wakeup(self.now)
            step = self.now + every
            self.now = min(upcoming, step) if upcoming and upcoming > self.now else step
            self.now = min(self.now, end)

    def emails(self) -> list[tuple[str, str, str, dt.datetime]]:
        """(session date, kind of email, recipient, when sent) for everything sent, the kind as
        the ledger recorded it."""
        sent_as = ledger_ids(self.project_dir / "config.toml")
        found = []
        for message in self.outbox.sent:
            parsed = email.message_from_bytes(message.data, policy=email.policy.default)
            if message.message_id.startswith("<notice."):  # to the organiser, not in the ledger
                subject, when = str(parsed["Subject"]), self.sent_at[message.message_id]
                found.append((subject, "notice", message.recipient, when))
                continue
            key = sent_as[message.message_id]
            kind = key.split(":")[0]
            session = str(parsed["Message-ID"]).split(".")[1].split("@")[0]
            found.append((session, kind, message.recipient, self.sent_at[message.message_id]))
        return found


@pytest.fixture
def simulated(project_dir: Path) -> Path:
    """The shipped project with files for four sessions around the change to summer time
    (without its follow-up: tests/integration/test_who_is_coming.py has those)."""
    edit(project_dir / "config.toml", 'warn_missing = "P7D"', 'warn_missing = "P3D"')
    edit(project_dir / "config.toml", FOLLOWUP, "")
    for day, number in (("2021-02-16", 4), ("2021-03-16", 5), ("2021-05-18", 7)):
        write(project_dir / "sessions" / f"{day}.toml", SESSION.format(n=number))
    return project_dir


def per_recipient(
    emails: list[tuple[str, str, str, dt.datetime]], session: str, kind: str
) -> Counter[str]:
    return Counter(r for s, k, r, _ in emails if s == session and k == kind)


def test_months_of_a_series_run_by_the_daemon(simulated: Path) -> None:
    sim = Simulation(simulated, dt.datetime(2021, 1, 25, tzinfo=UTC))
    sim.run_until(dt.datetime(2021, 3, 1, tzinfo=UTC))
    # the April session is moved by a week, after its reminders were planned but before sent
    sim.run_until(dt.datetime(2021, 4, 8, tzinfo=UTC))
    edit(
        simulated / "sessions" / "2021-04-20.toml",
        "[title]",
        "moved_to = { date = 2021-04-27 }\n[title]",
    )
    sim.restart()  # the daemon is restarted (a reload, for the core)
    sim.run_until(dt.datetime(2021, 5, 10, tzinfo=UTC))
    # the May session is cancelled after its invitation went out
    edit(simulated / "sessions" / "2021-05-18.toml", "[title]", 'status = "cancelled"\n[title]')
    sim.run_until(dt.datetime(2021, 6, 30, tzinfo=UTC))
    emails = sim.emails()
    everyone = 20

    for session in ("20210216", "20210316"):
        for kind in ("invitation", "reminder"):
            counts = per_recipient(emails, session, kind)
            assert len(counts) == everyone, (session, kind)
            assert set(counts.values()) == ({1} if kind == "invitation" else {2}), (session, kind)
    # one hour before, in UTC, on both sides of the change to summer time (2021-03-28)
    winter = [t for s, k, _, t in emails if s == "20210316" and k == "reminder"]
    assert dt.datetime(2021, 3, 16, 11, tzinfo=UTC) in winter  # 12:00 CET
    # the moved session: one invitation, one update, and reminders at the new time
    moved = "20210420"
    assert set(per_recipient(emails, moved, "invitation").values()) == {1}
    assert set(per_recipient(emails, moved, "update").values()) == {1}
    reminders = sorted({t for s, k, _, t in emails if s == moved and k == "reminder"})
    assert reminders == [
        dt.datetime(2021, 4, 26, 11, tzinfo=UTC),
        dt.datetime(2021, 4, 27, 10, tzinfo=UTC),
    ]  # 12:00 CEST, a week later
    # the cancelled session: invitation, then one cancellation each, and no reminders
    cancelled = "20210518"
    assert set(per_recipient(emails, cancelled, "invitation").values()) == {1}
    assert set(per_recipient(emails, cancelled, "cancellation").values()) == {1}
    assert not per_recipient(emails, cancelled, "reminder")
    # June has no file: never sent with blanks, and the organiser was warned once; each
    # email missed (January's reminders, the daemon started late) or blocked, told once
    assert not [e for e in emails if e[0] == "20210615"]
    notices = [(s, r, t.isoformat()) for s, k, r, t in emails if k == "notice"]
    organiser = "rencontres@icom-france.example.org"
    missed = "[mailer] L’envoi « rappel » du 2021-01-19 n’a pas pu partir à temps"
    blocked = "[mailer] L’envoi « {} » du 2021-06-15 est bloqué"
    no_file = "[mailer] La séance 8 (2021-06-15) n’a pas encore de fichier"
    assert notices == [
        (missed, organiser, "2021-01-25T00:00:00+00:00"),  # one each: the day and the hour
        (missed, organiser, "2021-01-25T00:00:00+00:00"),
        (no_file, organiser, "2021-05-29T11:00:00+00:00"),  # the invitation is due 06-01
        (blocked.format("invitation"), organiser, "2021-06-01T11:00:00+00:00"),
        (blocked.format("rappel"), organiser, "2021-06-14T11:00:00+00:00"),
        (blocked.format("rappel"), organiser, "2021-06-15T10:00:00+00:00"),
    ]


def test_a_file_that_arrives_late_is_sent_late_within_send_by(simulated: Path) -> None:
    (simulated / "sessions" / "2021-03-16.toml").unlink()
    sim = Simulation(simulated, dt.datetime(2021, 2, 20, tzinfo=UTC))
    sim.run_until(dt.datetime(2021, 3, 5, tzinfo=UTC))  # invitation due 03-02 11:00Z: blocked
    assert not [e for e in sim.emails() if e[0] == "20210316"]
    write(simulated / "sessions" / "2021-03-16.toml", SESSION.format(n=5))
    sim.run_until(dt.datetime(2021, 3, 6, tzinfo=UTC))
    invited = [t for s, k, _, t in sim.emails() if s == "20210316" and k == "invitation"]
    assert len(invited) == 20 and min(invited) == dt.datetime(2021, 3, 5, tzinfo=UTC)


def test_downtime_catches_up_what_is_still_useful_and_reports_the_rest(
    simulated: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = Simulation(simulated, dt.datetime(2021, 2, 1, tzinfo=UTC))
    sim.run_until(dt.datetime(2021, 2, 10, tzinfo=UTC))  # the invitation of 02-16 is out
    # the daemon is down from 02-10 to 02-15 20:00Z: the 1-day reminder (due 02-15 12:00Z,
    # useful until 02-16 00:00Z) is caught up; the invitation of 03-16 was not due yet
    sim.now = dt.datetime(2021, 2, 15, 20, tzinfo=UTC)
    sim.restart()
    sim.run_until(dt.datetime(2021, 2, 15, 21, tzinfo=UTC))
    caught_up = [t for s, k, _, t in sim.emails() if s == "20210216" and k == "reminder"]
    assert len(caught_up) == 20 and set(caught_up) == {dt.datetime(2021, 2, 15, 20, tzinfo=UTC)}
    # down again through the 1-hour reminder (due 02-16 11:00Z, useful until 11:30Z)
    sim.now = dt.datetime(2021, 2, 16, 11, 45, tzinfo=UTC)
    sim.restart()
    with caplog.at_level("WARNING", logger="mailer.daemon"):
        sim.run_until(dt.datetime(2021, 2, 16, 12, tzinfo=UTC))
    assert len([e for e in sim.emails() if e[0] == "20210216" and e[1] == "reminder"]) == 20
    assert any(
        "MISSED: the reminder of 2021-02-16" in record.message
        and "not sent at all (was the daemon stopped?)" in record.message
        for record in caplog.records
    )


def test_a_double_fire_or_a_restart_sends_nothing_twice(simulated: Path) -> None:
    sim = Simulation(simulated, dt.datetime(2021, 2, 2, 12, tzinfo=UTC))
    for _ in range(3):
        asyncio.run(sim.core.run_due(sim.now))
        sim.restart()
    invitations = [m for m in sim.outbox.sent if isinstance(m, Outgoing)]
    assert len(invitations) == 20


def test_a_paused_email_waits_for_its_resumption_and_then_goes_once(simulated: Path) -> None:
    sim = Simulation(simulated, dt.datetime(2021, 2, 2, 10, tzinfo=UTC))
    key = SendKey(sim.core.config.series.id, dt.date(2021, 2, 16), "invitation")
    with sim.core.state() as state:
        pause(state, key, "marie@icom-france.example.org", sim.now)
    sim.run_until(dt.datetime(2021, 2, 4, tzinfo=UTC))  # due on 02-02: an organiser paused it
    assert [m for m in sim.outbox.sent if isinstance(m, Outgoing)] == []
    with sim.core.state() as state:
        assert resume(state, key) and paused(state, key) is None
    sim.run_until(dt.datetime(2021, 2, 5, tzinfo=UTC))
    invited = Counter(r for _, kind, r, _ in sim.emails() if kind == "invitation")
    assert len(invited) == 20 and set(invited.values()) == {1}  # everyone, once


def test_someone_added_to_a_list_after_the_invitation_gets_it_too(simulated: Path) -> None:
    sim = Simulation(simulated, dt.datetime(2021, 2, 2, 10, tzinfo=UTC))
    sim.run_until(dt.datetime(2021, 2, 3, tzinfo=UTC))  # the invitation of 02-16 is out
    assert len(sim.outbox.sent) == 20
    sim.run_until(dt.datetime(2021, 2, 4, tzinfo=UTC))  # and nothing more while nothing changes
    assert len(sim.outbox.sent) == 20
    members = simulated / "recipients" / "members.csv"
    with members.open("a", encoding="utf-8") as file:
        file.write("late.comer@example.org,Late Comer,en,member,,\n")
    sim.run_until(dt.datetime(2021, 2, 4, 12, tzinfo=UTC))
    late = [(recipient, kind) for _, kind, recipient, _ in sim.emails()[20:]]
    assert late == [("late.comer@example.org", "invitation")]


def test_a_session_moved_after_its_reminder_went_is_reminded_again_before_its_new_date(
    simulated: Path,
) -> None:
    """Told "tomorrow", then "new date": everyone gets the reminders of the new date too (they
    were skipped: the reminders were already "sent"), and `mailer plan` shows them."""
    sim = Simulation(simulated, dt.datetime(2021, 4, 1, tzinfo=UTC))
    sim.run_until(dt.datetime(2021, 4, 19, 12, tzinfo=UTC))  # the day-before reminder went
    edit(
        simulated / "sessions" / "2021-04-20.toml",
        "[title]",
        "moved_to = { date = 2021-04-27 }\n[title]",
    )
    sim.restart()
    sim.run_until(dt.datetime(2021, 4, 28, tzinfo=UTC))
    emails = sim.emails()
    session = "20210420"
    assert set(per_recipient(emails, session, "update").values()) == {1}
    reminders = Counter(t for s, k, _, t in emails if s == session and k == "reminder")
    assert reminders == {
        dt.datetime(2021, 4, 19, 11, tzinfo=UTC): 20,  # the old date's day before
        dt.datetime(2021, 4, 26, 11, tzinfo=UTC): 20,  # the new date's day before
        dt.datetime(2021, 4, 27, 10, tzinfo=UTC): 20,  # and its hour before
    }
    assert set(per_recipient(emails, session, "reminder").values()) == {3}


@pytest.mark.parametrize("method", ["publish", "request"])
def test_new_join_details_reach_everyone_invited_and_a_new_text_waits_for_the_organiser(
    simulated: Path, method: str, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    """A passcode changed with the same link left people outside (0 emails): it is an update
    for everyone, in both modes. A reworded title sends nothing by itself, `mailer plan` says
    the calendars hold the older text, and the update the organiser sends then carries the
    same SEQUENCE with a newer DTSTAMP (which libical, Thunderbird and sabre apply)."""
    import icalendar

    config = simulated / "config.toml"
    edit(config, 'method = "publish"', f'method = "{method}"')
    session = simulated / "sessions" / "2021-04-20.toml"
    sim = Simulation(simulated, dt.datetime(2021, 4, 5, tzinfo=UTC))
    sim.run_until(dt.datetime(2021, 4, 8, tzinfo=UTC))  # the invitation went, to 20
    assert len(per_recipient(sim.emails(), "20210420", "invitation")) == 20
    edit(session, "[title]", 'zoom = { passcode = "999111" }\n[title]')
    sim.run_until(dt.datetime(2021, 4, 9, tzinfo=UTC))
    updates = [m for m in sim.outbox.sent if "999111" in m.data.decode("utf-8", "replace")]
    assert len(updates) == 20  # everyone already invited hears of the new passcode
    assert set(per_recipient(sim.emails(), "20210420", "update").values()) == {1}

    before = len(sim.outbox.sent)
    text = session.read_text(encoding="utf-8")
    for line in ('fr = "Les réseaux', 'en = "Are professional', 'es = "¿Son las'):
        text = text.replace(line, line[:6] + "Reworded: " + line[6:], 1)
    session.write_text(text, encoding="utf-8")
    sim.run_until(dt.datetime(2021, 4, 10, tzinfo=UTC))
    assert len(sim.outbox.sent) == before  # wording alone: nothing by itself
    now = ("--config", str(config), "--now", "2021-04-10T10:00:00+02:00")
    code, out, _ = run_cli(*now, "plan", "--days", "20")
    assert code == 0 and "2021-04-20: calendars hold an older text of session 6" in out
    environment = {"MAILER_UNSUBSCRIBE_KEY": "simulation-key-0123456789"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        code, out, err = run_cli(*now, "send", "2021-04-20", "--kind", "update", "--yes")
    assert code == 0, err
    assert "20 sent" in out
    outbox = sorted((simulated / "outbox" / "new").iterdir(), key=lambda p: p.stat().st_mtime)
    stamps = []
    for path in outbox[-20:]:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        (part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"][:1]
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        (event,) = icalendar.Calendar.from_ical(payload).events
        stamps.append((int(str(event["SEQUENCE"])), event.DTSTAMP))
        assert str(event["SUMMARY"]).startswith("Reworded: ")
    sequences = {sequence for sequence, _ in stamps}
    assert sequences == {1}  # the passcode change's SEQUENCE: the same
    assert min(stamp for _, stamp in stamps) >= dt.datetime(2021, 4, 9, tzinfo=UTC)  # newer
    code, out, _ = run_cli(*now, "plan", "--days", "20")
    assert "older text" not in out
