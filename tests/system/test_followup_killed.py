"""The daemon (a real process, on a rehearsal clock, through a real SMTP server) sends the
follow-up of a session once its recording link is set, split by Zoom's participants report,
and is killed with SIGKILL in the middle of it: started again, it reaches everyone once (a
copy, if any, has the Message-ID of the first), each in their language."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.project import edit, write
from tests.support.sending import use_smtp
from tests.support.smtp_server import Fault, SmtpServer

KEY = "followup-test-signing-key-0123456789"
ORGANISER = "rencontres@icom-france.example.org"
REPORT = """\
Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest
Luc Martin,luc.martin@example.org,04/20/2021 12:58:00 PM,04/20/2021 02:30:00 PM,92,No
Carmen,CARMEN.GARCIA@example.org,04/20/2021 01:01:00 PM,04/20/2021 02:30:00 PM,89,Yes
"""


def daemon_once(config: Path, now: str) -> subprocess.Popen[bytes]:
    """`mailer --now NOW --real-mail daemon --once`: do what is due then, and exit."""
    environment = {**os.environ, "MAILER_UNSUBSCRIBE_KEY": KEY}
    command = ["--config", str(config), "--now", now, "--real-mail", "daemon", "--once"]
    return subprocess.Popen(
        [sys.executable, "-m", "mailer", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=environment,
    )


def followups(server: SmtpServer, since: int) -> list[email.message.EmailMessage]:
    """The emails received since `since` but the organiser's notices (missed reminders)."""
    return [
        email.message_from_bytes(m.data, policy=email.policy.default)
        for m in server.received[since:]
        if m.recipients != [ORGANISER]
    ]


def address(message: email.message.EmailMessage) -> str:
    return str(message["To"].addresses[0].addr_spec).lower()


def text(message: email.message.EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_a_follow_up_killed_midway_reaches_everyone_once_in_their_language(
    project_dir: Path, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    with SmtpServer() as server:
        config = use_smtp(project_dir, server.port, connections=1)
        invitation = daemon_once(config, "2021-04-06T11:01:00Z")
        assert invitation.wait(timeout=120) == 0, invitation.stderr.read()  # type: ignore[union-attr]
        invited = {m.recipients[0] for m in server.received if m.recipients != [ORGANISER]}
        assert len(invited) == 20
        report = write(project_dir / "participants.csv", REPORT)
        code, out, err = run_cli(
            "--config", str(config), "--now", "2021-04-20T15:00:00Z",
            "attendance", "import", str(report), "--session", "2021-04-20",
        )  # fmt: skip
        assert code == 0 and "2 people on the lists came" in out, err
        edit(
            project_dir / "sessions" / "2021-04-20.toml",
            "[title]",
            'recording = "https://example.org/recording"\n[title]',
        )
        before = len(server.received)
        server.add_fault(Fault("DATA", "slow", delay=0.3, times=None))  # time to kill it
        killed = daemon_once(config, "2021-04-20T15:31:00Z")
        deadline = time.monotonic() + 60
        while len(server.received) < before + 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        midway = len(server.received) - before
        assert 0 < midway < 20, midway
        server.recorder.faults.clear()
        again = daemon_once(config, "2021-04-20T15:40:00Z")
        assert again.wait(timeout=120) == 0, again.stderr.read()  # type: ignore[union-attr]
        sent = followups(server, before)
    unique = {str(m["Message-ID"]): m for m in sent}.values()  # a copy has its twin's ID
    by_person = Counter(address(m) for m in unique)
    assert set(by_person) == invited and set(by_person.values()) == {1}
    texts = {address(m): (str(m["Content-Language"]), text(m)) for m in sent}
    assert "Merci d’avoir participé" in texts["luc.martin@example.org"][1]
    assert texts["carmen.garcia@example.org"][0] == "es"
    assert "Gracias por participar" in texts["carmen.garcia@example.org"][1]
    assert "We missed you" in texts["aino.virtanen@example.org"][1]
    assert all("https://example.org/recording" in body for _, body in texts.values())


pytestmark = pytest.mark.soak
