"""PIPELINING (RFC 2920): when the relay offers it, MAIL, RCPT and DATA go in one write and
their replies are read together (half the round trips of a send); without it, one by one. Both
ways, every refusal means what it meant, and nobody is lost or sent twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.sending import ledger, send, use_smtp
from tests.support.smtp_server import Fault, SmtpServer

Cli = Callable[..., tuple[int, str, str]]
EVERYONE = 20


@pytest.fixture(autouse=True)
def signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", "pipelining-tests-signing-key-0123456789")


@pytest.fixture(params=[True, False], ids=["pipelining", "one-by-one"])
def server(request: pytest.FixtureRequest) -> Iterator[SmtpServer]:
    with SmtpServer(pipelining=request.param) as running:
        yield running


def envelopes_in_one_read(server: SmtpServer) -> int:
    return sum(
        1
        for read in server.recorder.reads
        if b"MAIL FROM:" in read and b"RCPT TO:" in read and b"DATA\r\n" in read
    )


def test_the_envelope_goes_in_one_write_only_when_offered(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    assert send(run_cli, config)[0] == 0
    assert set(server.recorder.by_recipient().values()) == {1}
    assert len(server.received) == EVERYONE
    together = envelopes_in_one_read(server)
    assert together == (EVERYONE if server.pipelining else 0), together


def test_refusals_mean_the_same_either_way(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    server.add_fault(Fault("RCPT", reply="550 5.1.1 no such user", recipient="luc.martin"))
    server.add_fault(Fault("RCPT", reply="452 4.2.2 over quota", recipient="anna.smith", times=1))
    server.add_fault(Fault("DATA", reply="554 5.7.1 refused", recipient="john.carter"))
    server.add_fault(Fault("MAIL", reply="451 4.3.0 try again", times=1))
    code, _, err = send(run_cli, config)
    assert code == 0, err
    assert ledger(config) == {"sent": 18, "failed": 2}
    received = server.recorder.by_recipient()
    assert received["anna.smith@example.org"] == 1  # the retry after 452
    assert "luc.martin@example.org" not in received and "john.carter@example.org" not in received
    assert set(received.values()) == {1}


def test_a_server_that_opens_data_after_refusing_the_recipient(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    """Some servers answer 354 to a pipelined DATA even when no recipient was accepted: they
    get an empty message, and the connection goes on with the next email."""
    config = use_smtp(project_dir, server.port, connections=1)
    server.add_fault(Fault("RCPT", reply="550 5.1.1 no such user", recipient="luc.martin"))
    server.add_fault(Fault("DATA", action="open_data", recipient="nobody", times=None))
    code, _, err = send(run_cli, config)
    assert code == 0, err
    assert ledger(config) == {"sent": EVERYONE - 1, "failed": 1}
    assert len(server.received) == EVERYONE - 1
    empty_messages = sum(read == b".\r\n" for read in server.recorder.reads)
    assert empty_messages == (1 if server.pipelining else 0)
