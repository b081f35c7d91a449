"""Real mailer processes in a hostile environment: a full disk (outbox or state file), a
read-only or damaged state file, a dropped SSH session (SIGHUP), a thousand slow HTTP clients.
Each gets a clear message or a clean stop, never a traceback, and nobody is failed for it."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import DaemonProcess, ledger_states, wait_until
from tests.support.disks import remount, small_disk
from tests.support.project import edit
from tests.support.sending import NOW, big_list, use_smtp
from tests.support.smtp_server import Fault, SmtpServer

KEY = "hostile-tests-signing-key-0123456789"
EVERYONE = 20


def mailer(config: Path, *arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`mailer ARGUMENTS` as a process of its own, with its secret."""
    return subprocess.run(
        [sys.executable, "-m", "mailer", "--config", str(config), *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "MAILER_UNSUBSCRIBE_KEY": KEY},
        timeout=timeout,
        check=False,
    )


SEND = ("--now", NOW, "send", "2021-04-20", "--kind", "invitation", "--yes")


def send(config: Path) -> subprocess.CompletedProcess[str]:
    return mailer(config, *SEND)


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr and "Internal error" not in result.stderr, result.stderr


@pytest.fixture
def config(project_dir: Path) -> Path:
    return project_dir / "config.toml"


def test_an_outbox_whose_disk_fills_up_stops_the_send_and_fails_nobody(
    config: Path, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk", "200k") as disk:
        edit(config, "[state]", f'[transport]\noutbox = "{disk}/outbox"\n\n[state]')
        started = time.monotonic()
        result = send(config)
        no_traceback(result)
        assert result.returncode == 75 and "cannot take more emails" in result.stderr
        assert time.monotonic() - started < 60  # it exits
        states = ledger_states(config)
        assert set(states) <= {"sent", "pending"} and 0 < states["pending"] < EVERYONE
        remount(disk, "size=20m")
        result = send(config)
        assert result.returncode == 0, result.stderr
        assert ledger_states(config) == {"sent": EVERYONE}
        assert len(list((disk / "outbox" / "new").iterdir())) == EVERYONE
        assert list((disk / "outbox" / "tmp").iterdir()) == []  # no half-written email


def test_a_state_file_on_a_full_disk_says_so_and_sends_nothing(
    config: Path, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk", "4m") as disk:
        edit(config, 'database = "state/mailer.db"', f'database = "{disk}/mailer.db"')
        assert mailer(config, "status").returncode == 0  # the state file exists
        with (disk / "filler").open("wb", buffering=0) as filler, contextlib.suppress(OSError):
            while True:  # until the disk is full
                filler.write(b"x" * 4096)
                filler.flush()
        result = send(config)
        no_traceback(result)
        assert result.returncode == 1 and "is full: free some space" in result.stderr
        assert not (config.parent / "outbox" / "new").exists() or not any(
            (config.parent / "outbox" / "new").iterdir()
        )
        (disk / "filler").unlink()
        result = send(config)
        assert result.returncode == 0, result.stderr


def test_a_read_only_state_folder_says_so(config: Path, tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "10m") as disk:
        edit(config, 'database = "state/mailer.db"', f'database = "{disk}/mailer.db"')
        assert mailer(config, "status").returncode == 0  # the state file exists
        remount(disk, "ro")
        for arguments in (("status",), SEND):
            result = mailer(config, *arguments)
            no_traceback(result)
            assert result.returncode in (1, 2), result.stderr
            assert "cannot be written" in result.stderr or "cannot create the lock" in result.stderr
        remount(disk, "rw")


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"", "is empty (0 bytes)"), (b"not a database at all" * 200, "is damaged")],
)
def test_an_empty_or_damaged_state_file_is_refused_not_started_afresh(
    config: Path, content: bytes, expected: str
) -> None:
    state = config.parent / "state" / "mailer.db"
    state.parent.mkdir()
    state.write_bytes(content)
    for arguments in (("status",), SEND):
        result = mailer(config, *arguments)
        no_traceback(result)
        assert result.returncode == 1 and expected in result.stderr
    assert not (config.parent / "outbox").exists()  # nothing was sent again to everyone
    assert state.read_bytes() == content


def test_sighup_stops_a_send_cleanly_like_sigterm(config: Path) -> None:
    big_list(config.parent / "recipients" / "members.csv", 400)
    with SmtpServer() as server:
        server.add_fault(Fault("DATA", "slow", delay=0.02, times=None))
        use_smtp(config.parent, server.port, connections=2)
        process = subprocess.Popen(
            [sys.executable, "-m", "mailer", "--config", str(config), "--real-mail", *SEND],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "MAILER_UNSUBSCRIBE_KEY": KEY},
        )
        wait_until(lambda: len(server.received) > 30, 60)
        process.send_signal(signal.SIGHUP)  # the SSH session dropped
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130, err
        assert "Traceback" not in err
        states = ledger_states(config)
        assert "sending" not in states and "unknown" not in states, states  # a clean stop
        assert sum(states.values()) == states["sent"] + states["pending"]
        received = len(server.received)
        assert received == states["sent"]  # what arrived is what the ledger says
        server.recorder.faults.clear()
        finish = mailer(
            config,
            "--now",
            NOW,
            "--real-mail",
            "send",
            "2021-04-20",
            "--kind",
            "invitation",
            "--yes",
        )
        assert finish.returncode == 0, finish.stderr
        assert set(server.recorder.by_recipient().values()) == {1}  # nobody twice


@pytest.fixture
def slow_clients() -> Iterator[list[socket.socket]]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    sockets: list[socket.socket] = []
    try:
        yield sockets
    finally:
        for opened in sockets:
            opened.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_thousand_slow_clients_neither_exhaust_the_daemon_nor_flood_its_log(
    config: Path, slow_clients: list[socket.socket]
) -> None:
    edit(config, 'listen = "127.0.0.1:8025"', 'listen = "127.0.0.1:0"')
    daemon = DaemonProcess(config, "2021-04-01T10:00:00+02:00")
    try:
        for _ in range(1100):  # each sends half a request line, and waits
            client = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
            slow_clients.append(client)
            with contextlib.suppress(ConnectionError):  # beyond the limit: closed at once
                client.sendall(b"GET /heal")
        started = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{daemon.port}/health", timeout=10) as r:
            assert r.status == 200
        assert time.monotonic() - started < 5
        descriptors = len(list(Path(f"/proc/{daemon.process.pid}/fd").iterdir()))
        assert descriptors < 400, descriptors  # about the connection limit, not 1,100
        lines = daemon.log().splitlines()
        assert sum("HTTP connections beyond" in line for line in lines) <= 2, lines
        assert len(lines) < 20, lines
    finally:
        assert daemon.stop() == 0
