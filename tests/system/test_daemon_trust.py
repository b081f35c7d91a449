"""The real daemon: a due email starts on time whatever other sends are retrying, it does not
start without its secrets, a rehearsal sends no real mail, and a failed round is said."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.daemon import KEY, DaemonProcess, ledger_ids, wait_until
from tests.support.project import edit
from tests.support.sending import deliveries, use_smtp
from tests.support.smtp_server import Fault, SmtpServer

SESSION = dt.datetime(2021, 4, 20, 13, tzinfo=ZoneInfo("Europe/Paris"))
CADENCE_15_SECONDS_APART = """
[[cadence]]
kind = "invitation"
before = "PT3M"

[[cadence]]
kind = "reminder"
before = "PT2M45S"

"""


@pytest.fixture
def config(project_dir: Path) -> Iterator[Path]:
    edit(project_dir / "config.toml", 'listen = "127.0.0.1:8025"', 'listen = "127.0.0.1:0"')
    yield project_dir / "config.toml"


def _cadence(config: Path, cadence: str) -> None:
    text = config.read_text(encoding="utf-8")
    start, end = text.index("[[cadence]]"), text.index("[daemon]")
    config.write_text(text[:start] + cadence + text[end:], encoding="utf-8")


def test_a_reminder_starts_on_time_while_another_send_has_pending_retries(config: Path) -> None:
    """The invitation is greylisted for two people (451, retried 20 seconds later); the
    reminder falls due 15 seconds after the invitation, and starts on time."""
    with SmtpServer() as server:
        for who in ("luc.martin", "ana.garcia"):
            server.add_fault(Fault("RCPT", reply="451 4.7.1 greylisted", recipient=who, times=None))
        use_smtp(config.parent, server.port)
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace('retry_after = "PT0.2S"', 'retry_after = "PT20S"')
            .replace('retry_limit = "PT1S"', 'retry_limit = "PT20S"')
            .replace('wait_for_retries = "PT30S"', 'wait_for_retries = "PT10M"'),
            encoding="utf-8",
        )
        _cadence(config, CADENCE_15_SECONDS_APART)
        begin = SESSION - dt.timedelta(minutes=3, seconds=2)
        daemon = DaemonProcess(config, begin.isoformat())
        try:
            wait_until(lambda: "reminder:PT2M45S" in set(ledger_ids(config).values()), 40)
        finally:
            daemon.stop()
    reminder_due = SESSION - dt.timedelta(minutes=2, seconds=45)
    sent_as = ledger_ids(config)
    started = min(
        email.utils.parsedate_to_datetime(
            str(email.message_from_bytes(m.data, policy=email.policy.default)["Date"])
        )
        for m in server.received
        if sent_as.get(_message_id(m.data)) == "reminder:PT2M45S"
    )
    assert reminder_due <= started < reminder_due + dt.timedelta(seconds=5), daemon.log()
    assert deliveries(config)["luc.martin@example.org"]["state"] == "retry"  # waiting, as planned


def _message_id(data: bytes) -> str:
    return str(email.message_from_bytes(data, policy=email.policy.default)["Message-ID"])


@pytest.mark.parametrize("key", ["", "too-short"])
def test_the_daemon_does_not_start_without_its_secret(config: Path, key: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mailer", "--config", str(config), "daemon", "--once"],
        capture_output=True,
        text=True,
        env={**os.environ, "MAILER_UNSUBSCRIBE_KEY": key},
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "MAILER_UNSUBSCRIBE_KEY" in result.stderr and "Traceback" not in result.stderr
    assert not (config.parent / "state").exists()  # nothing touched


def test_a_rehearsal_sends_no_real_mail_unless_asked(config: Path) -> None:
    with SmtpServer() as server:
        use_smtp(config.parent, server.port)
        due = ("--now", "2021-04-06T13:00:00+02:00")
        rehearsal = _once(config, *due)
        assert rehearsal.returncode == 2 and "--real-mail" in rehearsal.stderr
        assert server.received == [] and not (config.parent / "state").exists()
        real = _once(config, *due, "--real-mail")
        assert real.returncode == 0, real.stderr
        assert len(server.received) == 20


def _once(config: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailer", "--config", str(config), *options, "daemon", "--once"],
        capture_output=True,
        text=True,
        env={**os.environ, "MAILER_UNSUBSCRIBE_KEY": KEY},
        timeout=120,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_round_with_the_relay_down_fails_nobody_exits_75_and_health_says_so(
    config: Path,
) -> None:
    port = _free_port()  # nothing listens there: the relay is down
    use_smtp(config.parent, port)
    due = "2021-04-06T13:00:00+02:00"
    result = _once(config, "--now", due, "--real-mail")
    assert result.returncode == 75, result.stderr
    assert "nobody was marked failed" in result.stderr and "Traceback" not in result.stderr
    assert {row["state"] for row in deliveries(config).values()} == {"pending"}
    daemon = DaemonProcess(config, due)
    try:
        report = wait_until(lambda: _degraded(daemon), 60, daemon.log)
        assert report["last_round"]["relay_down"] is True
        with SmtpServer(port=port) as server:  # the relay is back: the next round sends
            people = set(deliveries(config))
            wait_until(lambda: set(server.recorder.by_recipient()) >= people, 120, daemon.log)
            # and the organiser is told, once, that the send stopped
            organiser = "rencontres@icom-france.example.org"
            wait_until(lambda: server.recorder.by_recipient()[organiser] == 1, 30, daemon.log)
        assert {row["state"] for row in deliveries(config).values()} == {"sent"}
        assert len(server.received) == len(people) + 1
    finally:
        daemon.stop()


def _degraded(daemon: DaemonProcess) -> dict[str, Any] | None:
    report = daemon.health()
    return report if report.get("status") == "degraded" else None


def test_a_round_that_failed_a_send_exits_1_with_once(config: Path) -> None:
    with SmtpServer() as server:
        server.add_fault(Fault("MAIL", reply="550 5.7.1 sender not allowed", times=None))
        use_smtp(config.parent, server.port)
        result = _once(config, "--now", "2021-04-06T13:00:00+02:00", "--real-mail")
    assert result.returncode == 1, result.stderr
    assert "refused the sender" in result.stderr
    assert {row["state"] for row in deliveries(config).values()} == {"pending"}


@pytest.mark.parametrize("table", ["http", "web"])
def test_a_listen_address_in_use_is_said_with_exit_2_which_the_unit_does_not_restart(
    config: Path, table: str
) -> None:
    from tests.support.organisers import PASSWORD_HASH

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        if table == "http":
            edit(config, 'listen = "127.0.0.1:0"', f'listen = "127.0.0.1:{port}"')
        else:
            with config.open("a", encoding="utf-8") as file:
                file.write(
                    f'\n[web]\nlisten = "127.0.0.1:{port}"\n[[web.organisers]]\n'
                    f'email = "a@example.org"\nname = "A"\npassword_hash = "{PASSWORD_HASH}"\n'
                )
        result = subprocess.run(
            [sys.executable, "-m", "mailer", "--config", str(config), "daemon"],
            capture_output=True,
            text=True,
            env={**os.environ, "MAILER_UNSUBSCRIBE_KEY": KEY},
            timeout=60,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert f"at '{table}.listen': 127.0.0.1:{port} is in use by another program" in result.stderr
    assert "Traceback" not in result.stderr and "Internal error" not in result.stderr
    unit = (Path(__file__).parents[2] / "deploy" / "mailer.service").read_text(encoding="utf-8")
    prevented = next(line for line in unit.splitlines() if line.startswith("RestartPrevent"))
    assert "2" in prevented.split("=", 1)[1].split()  # systemd does not restart it every 10 s
