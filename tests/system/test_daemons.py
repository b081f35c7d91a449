"""Two daemons on two hosts (two project folders), one PostgreSQL state: real `mailer daemon`
processes, a real PostgreSQL server, a recording SMTP server.

The organiser edits a session file on the host that does not lead: every email carries the
edited text (the leader's host takes the saved copy before its round). The leader is killed
(SIGKILL), then frozen (SIGSTOP), a few seconds before a reminder is due: the other daemon
takes over and the reminder goes within a lease and a check interval of its time; nobody gets
any email twice; the frozen leader, running again, finds that it no longer leads and sends
nothing (its fenced writes would be refused: tests/integration/test_store_contract.py::
test_one_leader_at_a_time_and_a_leader_s_writes_fenced_by_its_epoch).
"""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.daemon import DaemonProcess, ledger_ids, sent_dates, wait_until
from tests.support.postgres import use_postgres
from tests.support.project import edit
from tests.support.sending import big_list, use_smtp
from tests.support.smtp_server import SmtpServer

pytestmark = pytest.mark.soak
PEOPLE = 200
LEASE = 3.0
CHECK_EVERY = 2.0
SESSION = dt.datetime(2021, 4, 20, 13, tzinfo=ZoneInfo("Europe/Paris"))
CADENCE = """
[[cadence]]
kind = "invitation"
before = "PT2M"

[[cadence]]
kind = "reminder"
before = "PT1M40S"

[[cadence]]
kind = "reminder"
before = "PT1M20S"

"""
TITLE = 'en = "Are professional networks instruments of solidarity?"'
EDITED = 'en = "Networks: the text saved on the other host"'
EMAILS = {"invitation": 120, "reminder:PT1M40S": 100, "reminder:PT1M20S": 80}


def two_hosts(project_dir: Path, url: str, port: int) -> tuple[Path, Path]:
    """The shipped project with PEOPLE members and the cadence above, its state in
    PostgreSQL, copied to a second folder (a second host)."""
    big_list(project_dir / "recipients" / "members.csv", PEOPLE)
    for other in ("partners.csv", "speakers.csv"):
        (project_dir / "recipients" / other).write_text("email\n", encoding="utf-8")
    config = project_dir / "config.toml"
    edit(config, 'listen = "127.0.0.1:8025"', 'listen = "127.0.0.1:0"')
    edit(config, "updates = true", f'updates = true\ncheck_every = "PT{CHECK_EVERY:g}S"')
    text = config.read_text(encoding="utf-8")
    start, end = text.index("[[cadence]]"), text.index("[daemon]")
    config.write_text(text[:start] + CADENCE + text[end:], encoding="utf-8")
    use_smtp(project_dir, port, connections=2, deadline=10)
    use_postgres(config, url, lease=f"PT{LEASE:g}S")
    host = project_dir.parent / "second-host"
    shutil.copytree(project_dir, host)
    return config, host / "config.toml"


def leader_of(daemons: list[DaemonProcess]) -> DaemonProcess | None:
    leading = [d for d in daemons if d.process.poll() is None and d.health().get("leader")]
    assert len(leading) <= 1, "two daemons lead at once"
    return leading[0] if leading else None


def test_the_leader_killed_or_frozen_before_a_reminder_and_it_still_goes_once(
    project_dir: Path, postgres_url: str
) -> None:
    with SmtpServer() as server:
        first, second = two_hosts(project_dir, postgres_url, server.port)
        # 24 s before the invitation: two daemons start and elect a leader, the other one
        # syncs the session files, then the edit on its host must be published and read by
        # the leader before it plans the invitation
        begin, clock = SESSION - dt.timedelta(minutes=2, seconds=24), time.monotonic()

        def now() -> str:  # one clock for both hosts, going on across restarts
            return (begin + dt.timedelta(seconds=time.monotonic() - clock)).isoformat()

        def due(message: str) -> float:  # seconds from now until `message` is due
            at = SESSION - dt.timedelta(seconds=EMAILS[message])
            return (at - dt.datetime.fromisoformat(now())).total_seconds()

        started: list[DaemonProcess] = []  # none left running, whatever happens

        def start(config: Path) -> DaemonProcess:
            started.append(DaemonProcess(config, now()))
            return started[-1]

        try:
            daemons = [start(first), start(second)]
            leader = wait_until(lambda: leader_of(daemons), 20, daemons[0].log)
            # the organiser edits the session on the other host once its daemon took the saved
            # copies (a round: it syncs the files first): the leader sends that text
            other = daemons[1] if leader is daemons[0] else daemons[0]
            wait_until(lambda: other.health().get("rounds", 0) >= 2, 20, other.log)
            follower = first if leader is daemons[1] else second
            edit(follower.parent / "sessions" / "2021-04-20.toml", TITLE, EDITED)

            def sent(message: str) -> int:
                return Counter(ledger_ids(first).values())[message]

            wait_until(lambda: sent("invitation") == PEOPLE, 60, leader.log)

            # kill -9: the leader dies 3 seconds before the first reminder
            time.sleep(max(due("reminder:PT1M40S") - 3, 0))
            assert leader.stop(signal.SIGKILL) == -signal.SIGKILL
            survivor = next(d for d in daemons if d is not leader)
            wait_until(lambda: sent("reminder:PT1M40S") == PEOPLE, 30, survivor.log)
            assert leader_of([survivor]) is survivor
            daemons = [survivor, start(first if leader is daemons[0] else second)]

            # SIGSTOP: the new leader is frozen 3 seconds before the second reminder
            frozen = survivor
            time.sleep(max(due("reminder:PT1M20S") - 3, 0))
            frozen.process.send_signal(signal.SIGSTOP)
            try:
                other = daemons[1]
                wait_until(lambda: sent("reminder:PT1M20S") == PEOPLE, 30, other.log)
                assert leader_of([other]) is other
            finally:
                frozen.process.send_signal(signal.SIGCONT)
            woken = len(frozen.log())
            frozen.wait_for_log(r"no longer leads", timeout=15)
            time.sleep(CHECK_EVERY * 2)  # its rounds after waking up: as a follower
            assert leader_of(daemons) is other
            for daemon in daemons:
                assert daemon.stop() == 0
                assert "Traceback" not in daemon.log()
        finally:
            for daemon in started:
                if daemon.process.poll() is None:
                    daemon.process.kill()

        dates = sent_dates(server)
        sent_as = ledger_ids(first)
        for message, before in EMAILS.items():
            on_time = SESSION - dt.timedelta(seconds=before)
            first_one = min(d for i, d in dates.items() if sent_as.get(i) == message)
            late = (first_one - on_time).total_seconds()
            assert 0 <= late <= LEASE + CHECK_EVERY + 2, (message, late)  # the Date: whole s
        for received in server.received:  # never a stale copy, whichever host sent it
            assert b"Are professional networks instruments" not in received.data
        english = [m for m in server.received if b"Content-Language: en" in m.data]
        assert english and all(b"the text saved on the other host" in m.data for m in english)
        copies = server.recorder.message_ids()
        assert sum(copies.values()) == len(copies) == 3 * PEOPLE, "an email went twice"
        after = frozen.log()[woken:]
        assert "sending the reminder" not in after, after
