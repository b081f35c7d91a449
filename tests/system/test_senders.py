"""Many senders on one send, with the state in PostgreSQL: real `mailer send` processes, a real
PostgreSQL server the tests start and stop, a recording SMTP server.

- three senders share a send; one is killed (SIGKILL) at random instants and started again:
  nobody is lost, and the duplicates are only of messages in flight or unrecorded at a kill,
  each with its twin's Message-ID, at most `[sending] batch` per kill;
- PostgreSQL stopped (`-m immediate`, a crash) in the middle of a send and started again: the
  send finishes by itself, nobody lost;
- a sender frozen (SIGSTOP) for longer than its lease: the others take its rows, and once it
  runs again it sends nothing (checked by when the messages arrived).
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.support.postgres import Postgres, use_postgres
from tests.support.project import soak_rounds
from tests.support.sending import big_list, ledger, mailer_send, use_smtp
from tests.support.smtp_server import SmtpServer

pytestmark = pytest.mark.soak
BATCH = 20  # the duplicates a killed sender can cause: its claimed and unrecorded rows
LEASE = "PT3S"


def project(project_dir: Path, url: str, port: int, recipients: int) -> Path:
    """The shipped project with `recipients` members, its state in PostgreSQL, its relay the
    recording server (4 connections per sender, one process each, batches of BATCH)."""
    big_list(project_dir / "recipients" / "members.csv", recipients)
    for other in ("partners.csv", "speakers.csv"):
        (project_dir / "recipients" / other).write_text("email\n", encoding="utf-8")
    config = use_smtp(project_dir, port, connections=4, deadline=10)
    text = config.read_text(encoding="utf-8")
    sending = f"batch = {BATCH}\nprocesses = 1"
    config.write_text(text.replace("batch = 5", sending), encoding="utf-8")
    return use_postgres(config, url, lease=LEASE)


def finish(config: Path) -> None:
    """Run a sender until the send is done (75: retries due, run again)."""
    for _ in range(10):
        process = mailer_send(config)
        _, err = process.communicate(timeout=300)
        if process.returncode == 0 and not ledger(config).keys() - {"sent"}:
            return
        assert process.returncode in (0, 75), err.decode()
    raise AssertionError(f"the send did not finish: {ledger(config)}")


def check_everyone_once_but_twins(
    server: SmtpServer, recipients: int, bound: int, context: str
) -> int:
    """Everyone got it; every copy of one person's email has one Message-ID; the duplicates
    are at most `bound`. How many duplicates there were."""
    received = server.recorder.by_recipient()
    everyone = {f"person.{n}@example.org" for n in range(recipients)}
    assert set(received) == everyone, f"{context}: someone was lost"
    ids: dict[str, set[str]] = {}
    for message in server.received:
        ids.setdefault(message.recipients[0], set()).add(message.message_id)
    assert all(len(found) == 1 for found in ids.values()), f"{context}: a twin with another id"
    duplicates = sum(count - 1 for count in received.values())
    assert duplicates <= bound, f"{context}: {duplicates} duplicates, more than {bound}"
    return duplicates


def test_three_senders_share_a_send_and_one_killed_loses_nobody(
    project_dir: Path, postgres_url: str
) -> None:
    seed = int(os.environ.get("MAILER_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    recipients = 20_000
    kills = 0
    with SmtpServer() as server:
        config = project(project_dir, postgres_url, server.port, recipients)
        senders = [mailer_send(config) for _ in range(3)]
        for _ in range(soak_rounds(3)):
            time.sleep(rng.uniform(1.0, 3.0))
            victim = rng.randrange(3)
            if senders[victim].poll() is not None:
                break
            senders[victim].send_signal(signal.SIGKILL)
            senders[victim].wait(timeout=30)
            kills += 1
            senders[victim] = mailer_send(config)
        for sender in senders:
            _, err = sender.communicate(timeout=600)
            assert sender.returncode in (0, 75), f"seed {seed}: {err.decode()}"
        finish(config)
        owners = ledger(config, "owner")
        duplicates = check_everyone_once_but_twins(
            server, recipients, kills * BATCH, f"seed {seed}"
        )
    print(f"\nseed {seed}: {kills} kills, {duplicates} duplicates")
    assert ledger(config) == {"sent": recipients}
    assert owners == {None: recipients}  # nobody holds anything at the end


def test_postgresql_stopped_mid_send_and_started_again_loses_nobody(
    project_dir: Path, postgres_server: Postgres, postgres_url: str
) -> None:
    recipients = 4000
    with SmtpServer() as server:
        config = project(project_dir, postgres_url, server.port, recipients)
        sender = mailer_send(config)
        deadline = time.monotonic() + 60
        while len(server.received) < 500 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sender.poll() is None, "the send ended before the crash"
        postgres_server.stop("immediate")  # a crash: no checkpoint, recovery at start
        time.sleep(4)
        arrived_while_down = len(server.received)
        postgres_server.start()
        _, err = sender.communicate(timeout=300)
        assert sender.returncode == 0, err.decode()  # it finished by itself
        assert "the state waits" in err.decode() or "unreachable" in err.decode()
        check_everyone_once_but_twins(server, recipients, BATCH, "restart")
    assert ledger(config) == {"sent": recipients}
    assert arrived_while_down < recipients


def test_a_sender_frozen_past_its_lease_sends_nothing_once_it_runs_again(
    project_dir: Path, postgres_url: str
) -> None:
    recipients = 3000
    with SmtpServer() as server:
        config = project(project_dir, postgres_url, server.port, recipients)
        frozen, other = mailer_send(config), mailer_send(config)
        deadline = time.monotonic() + 60
        while len(server.received) < 300 and time.monotonic() < deadline:
            time.sleep(0.02)
        frozen.send_signal(signal.SIGSTOP)
        try:
            _, err = other.communicate(timeout=300)  # it takes the frozen one's rows, once
            assert other.returncode == 0, err.decode()  # their lease ran out
            assert ledger(config) == {"sent": recipients}
            thawed = len(server.received)
        finally:
            frozen.send_signal(signal.SIGCONT)
        _, err = frozen.communicate(timeout=120)
        assert frozen.returncode in (0, 75), err.decode()
        assert len(server.received) == thawed, "the frozen sender sent after its lease"
        check_everyone_once_but_twins(server, recipients, BATCH + 4, "frozen")


def test_two_senders_keep_to_the_relay_s_rate_together(
    project_dir: Path, postgres_url: str
) -> None:
    """[smtp] rate is the relay's, whoever sends: two senders at once take turns at it (each
    alone would go at the whole rate, and the two at twice it)."""
    recipients, rate = 400, 40
    with SmtpServer() as server:
        config = project(project_dir, postgres_url, server.port, recipients)
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("[smtp]\n", f"[smtp]\nrate = {rate}\n", 1), "utf-8")
        start = time.monotonic()
        senders = [mailer_send(config), mailer_send(config)]
        for sender in senders:
            _, err = sender.communicate(timeout=120)
            assert sender.returncode == 0, err.decode()
        elapsed = time.monotonic() - start
        check_everyone_once_but_twins(server, recipients, 0, "rate")
    # the first batch goes at once; the rest waits its turn: at least (400 - 20) / 40 s
    assert elapsed >= (recipients - BATCH) / rate, f"{elapsed:.1f} s: faster than the rate"
