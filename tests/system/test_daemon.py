"""The real `mailer daemon`, as a process, against a real SMTP server: it sends when the
invitation is due and not before, survives `kill -9`, stops cleanly on SIGTERM, refuses a
broken config on SIGHUP while the old one keeps running, and will not run twice."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.daemon import (
    KEY,
    DaemonProcess,
    ledger_ids,
    ledger_states,
    sent_dates,
    wait_until,
)
from tests.support.project import edit, soak_rounds
from tests.support.sending import big_list, use_smtp
from tests.support.smtp_server import Fault, SmtpServer

DUE = "2021-04-06T13:00:00+02:00"  # the invitation of 2021-04-20: 14 days before 13:00
PEOPLE = 1500


@pytest.fixture
def project(project_dir: Path) -> Iterator[tuple[Path, SmtpServer]]:
    """The shipped project with 1,500 members, sending to a real server that answers slowly
    (so that a send lasts long enough to be interrupted), its web side on any free port."""
    big_list(project_dir / "recipients" / "members.csv", PEOPLE)
    for other in ("partners.csv", "speakers.csv"):
        (project_dir / "recipients" / other).write_text("email\n", encoding="utf-8")
    edit(project_dir / "config.toml", 'listen = "127.0.0.1:8025"', 'listen = "127.0.0.1:0"')
    with SmtpServer() as server:
        server.add_fault(Fault("DATA", "slow", delay=0.004, times=None))
        use_smtp(project_dir, server.port, connections=4, deadline=10)
        yield project_dir / "config.toml", server


def more_than(server: SmtpServer, count: int) -> Callable[[], bool]:
    return lambda: len(server.received) > count


SECONDS_APART = """
[[cadence]]
kind = "invitation"
before = "PT3M"

[[cadence]]
kind = "reminder"
before = "PT2M45S"

[[cadence]]
kind = "reminder"
before = "PT2M30S"

"""
SESSION = dt.datetime(2021, 4, 20, 13, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.mark.soak
def test_the_daemon_sends_when_due_survives_kill_9_and_stops_cleanly(
    project: tuple[Path, SmtpServer],
) -> None:
    """An invitation 3 minutes before the session and reminders 15 seconds apart; the daemon
    starts 3 seconds before the invitation is due, and is killed with SIGKILL mid-way."""
    config, server = project
    text = config.read_text(encoding="utf-8")
    start, end = text.index("[[cadence]]"), text.index("[daemon]")
    config.write_text(text[:start] + SECONDS_APART + text[end:], encoding="utf-8")
    kills = soak_rounds(2)
    begin, clock = SESSION - dt.timedelta(minutes=3, seconds=3), time.monotonic()

    def now() -> str:  # the simulated clock goes on across restarts, as the real one would
        return (begin + dt.timedelta(seconds=time.monotonic() - clock)).isoformat()

    daemon = DaemonProcess(config, now())
    for number in range(kills):
        wait_until(more_than(server, 300 + number * 3 * PEOPLE // kills), 60, daemon.log)
        assert daemon.stop(signal.SIGKILL) == -signal.SIGKILL
        daemon = DaemonProcess(config, now())
    wait_until(lambda: ledger_states(config) == {"sent": 3 * PEOPLE}, 120, daemon.log)

    sent_as = ledger_ids(config)
    dates = sent_dates(server)
    assert set(dates) == set(sent_as)  # every email the ledger says is sent arrived
    for message, before in (
        ("invitation", 180),
        ("reminder:PT2M45S", 165),
        ("reminder:PT2M30S", 150),
    ):
        due = SESSION - dt.timedelta(seconds=before)
        first = min(d for i, d in dates.items() if sent_as[i] == message)
        assert due <= first < due + dt.timedelta(seconds=10), message  # on time, never early
    copies = server.recorder.message_ids()
    duplicates = sum(copies.values()) - 3 * PEOPLE
    print(f"\n{kills} kills, {duplicates} duplicates of {3 * PEOPLE} emails")
    assert duplicates <= 5 * kills  # [sending] batch per crash, each the same Message-ID

    # a broken edit, then SIGHUP: refused, said in the log and by /health, still running
    good = config.read_text(encoding="utf-8")
    config.write_text(good.replace("[series]", "[series]\nrepeat = 3", 1), encoding="utf-8")
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for_log(r"the new configuration is refused")
    assert "repeat" in daemon.log()
    status, health = daemon.probe("/health")  # alive: an uptime probe pages nobody for a typo
    assert status == 200 and health["status"] == "degraded" and "refused" in health["config"]
    status, attention = daemon.probe("/health/attention")  # needs a person, said apart
    assert status == 503 and attention["attention"] == ["config"]
    assert daemon.process.poll() is None
    organiser = "rencontres@icom-france.example.org"  # told once, in the series' first language

    def notices() -> list[EmailMessage]:
        return [
            message_from_bytes(m.data, _class=EmailMessage, policy=policy.default)
            for m in list(server.received)
            if m.recipients == [organiser]
        ]

    wait_until(lambda: len(notices()) == 1, 30, daemon.log)
    notice = notices()[0]
    assert notice["Content-Language"] == "fr" and "repeat" in notice.get_content()
    config.write_text(good, encoding="utf-8")
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for_log(r"reloaded the configuration")
    health = daemon.health()
    assert health["status"] == "ok" and "config" not in health
    assert health["scheduler"] == "running" and health["ledger"] == "ok"
    assert daemon.probe("/health/attention")[0] == 200
    # the next wake-up on the rehearsal's clock (in 2021), and on this machine's
    assert dt.datetime.fromisoformat(health["next_fire"]).year == SESSION.year
    assert dt.datetime.fromisoformat(health["next_fire_wall"]) > dt.datetime.now(dt.UTC)

    assert daemon.stop() == 0
    assert "stopped" in daemon.log() and "Traceback" not in daemon.log()


def test_sigterm_in_the_middle_of_a_send_leaves_nothing_unknown(
    project: tuple[Path, SmtpServer],
) -> None:
    config, server = project
    daemon = DaemonProcess(config, DUE)
    wait_until(lambda: len(server.received) > 100, 60, daemon.log)
    assert daemon.stop() == 0
    states = ledger_states(config)
    # messages in flight finished and were recorded: the ledger is exactly what the server has
    assert set(states) == {"sent", "pending"}
    assert states["sent"] == len(server.received) == len(set(server.recorder.by_recipient()))
    daemon = DaemonProcess(config, "2021-04-06T13:10:00+02:00")
    wait_until(lambda: ledger_states(config) == {"sent": PEOPLE}, 120, daemon.log)
    assert daemon.stop() == 0
    assert Counter(server.recorder.by_recipient().values()) == {1: PEOPLE}  # no duplicates


def test_a_second_daemon_on_the_same_state_is_refused(project: tuple[Path, SmtpServer]) -> None:
    config, _ = project
    daemon = DaemonProcess(config, "2021-04-01T12:00:00+02:00")
    second = subprocess.run(
        [sys.executable, "-m", "mailer", "--config", str(config), "daemon"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "MAILER_UNSUBSCRIBE_KEY": KEY},
    )
    assert second.returncode == 3
    assert "holds the daemon lock" in second.stderr and "Traceback" not in second.stderr
    assert daemon.health()["status"] == "ok"
    assert daemon.stop() == 0
