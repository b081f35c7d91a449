"""Faults that are not the recipients' never fail, suppress or expose them: a relay down or
refusing TLS, 421 and 454 at every stage, a relay refusing everyone run after run, a fate that
stays unknown, and HEAD on an unsubscribe link. Afterwards everybody is served by the next run.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.sending import deliveries, ledger, send, suppressed, use_smtp
from tests.support.smtp_server import (
    Fault,
    SmtpServer,
    Stage,
    make_certificate,
    server_tls_context,
)

Cli = Callable[..., tuple[int, str, str]]
EVERYONE = 20


@pytest.fixture(autouse=True)
def signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", "faults-tests-signing-key-0123456789")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def nobody_failed(config: Path) -> None:
    assert ledger(config) == {"pending": EVERYONE}
    assert suppressed(config) == set()


def served_by_the_next_run(run_cli: Cli, config: Path, server: SmtpServer) -> None:
    code, out, err = send(run_cli, config)
    assert code == 0, err
    assert f"This run: {EVERYONE} sent, 0 failed" in out
    assert set(server.recorder.by_recipient().values()) == {1}
    assert ledger(config) == {"sent": EVERYONE}


def test_a_relay_down_fails_nobody_and_the_next_run_serves_everyone(
    run_cli: Cli, project_dir: Path
) -> None:
    port = free_port()
    config = use_smtp(project_dir, port)
    code, out, err = send(run_cli, config)
    assert code == 75 and "Traceback" not in err
    assert f"cannot connect to 127.0.0.1:{port}" in err and "nobody was marked failed" in err
    assert "0 failed" in out
    nobody_failed(config)
    with SmtpServer(port=port) as server:
        served_by_the_next_run(run_cli, config, server)


@pytest.mark.parametrize("connections", [5, 8])
def test_a_relay_down_stops_even_a_send_to_fewer_people_than_connections_with_75(
    run_cli: Cli, project_dir: Path, connections: int
) -> None:
    """Five speakers, five or eight connections: each gives up on its one message after its
    backoff; the run still says the relay was down (exit 75), and why."""
    port = free_port()
    config = project_dir / "config.toml"
    with config.open("a", encoding="utf-8") as file:  # the default [sending]
        file.write(
            f'\n[transport]\nkind = "smtp"\n\n[smtp]\nhost = "127.0.0.1"\nport = {port}\n'
            f'security = "none"\nconnections = {connections}\n'
        )
    code, out, err = send(run_cli, config, "--segment", "speakers")
    assert code == 75, (out, err)
    assert f"cannot connect to 127.0.0.1:{port}" in err and "nobody was marked failed" in err
    assert ledger(config) == {"pending": 5} and suppressed(config) == set()


def test_a_port_that_is_not_a_tcp_port_is_refused_by_check(run_cli: Cli, project_dir: Path) -> None:
    config = use_smtp(project_dir, 99999)
    code, _, err = run_cli("--config", str(config), "check", "--offline")
    assert code == 2 and "'smtp.port': 99999 is not a TCP port" in err


@pytest.mark.parametrize(
    ("stage", "reply"),
    [
        ("MAIL", "421 4.3.2 service shutting down"),
        ("RCPT", "421 4.3.2 service shutting down"),
        ("DATA", "421 4.3.2 service shutting down"),
        ("MAIL", "454 4.7.0 temporary failure"),
        ("RCPT", "454 4.7.0 temporary failure"),
        ("DATA", "454 4.7.0 temporary failure"),
        ("STARTTLS", "454 4.7.0 TLS not available now"),
    ],
)
def test_421_and_454_at_every_stage_are_the_relays_trouble_not_the_recipients(
    run_cli: Cli, project_dir: Path, tmp_path: Path, stage: Stage, reply: str
) -> None:
    tls = None
    settings: dict[str, object] = {}
    if stage == "STARTTLS":
        certificate, key = make_certificate(tmp_path)
        tls = server_tls_context(certificate, key)
        settings = {"security": "starttls", "ca_file": str(certificate)}
    with SmtpServer(tls=tls) as server:
        config = use_smtp(project_dir, server.port, **settings)
        server.add_fault(Fault(stage, reply=reply, times=None))
        code, _, err = send(run_cli, config)
        assert code == 75, err
        assert "nobody was marked failed" in err and "Traceback" not in err
        nobody_failed(config)
        server.recorder.faults.clear()  # the relay is fine again
        served_by_the_next_run(run_cli, config, server)


def test_a_certificate_that_does_not_verify_with_implicit_tls_fails_nobody(
    run_cli: Cli, project_dir: Path, tmp_path: Path
) -> None:
    certificate, key = make_certificate(tmp_path)
    with SmtpServer(implicit_tls=server_tls_context(certificate, key)) as server:
        config = use_smtp(project_dir, server.port, security="tls")
        code, _, err = send(run_cli, config)
        assert code == 2 and "cannot be verified" in err and "ca_file" in err
        nobody_failed(config)
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace('security = "tls"', f'security = "tls"\nca_file = "{certificate}"'),
            encoding="utf-8",
        )
        served_by_the_next_run(run_cli, config, server)


def test_starttls_against_an_implicit_tls_port_fails_nobody(
    run_cli: Cli, project_dir: Path, tmp_path: Path
) -> None:
    certificate, key = make_certificate(tmp_path)
    with SmtpServer(implicit_tls=server_tls_context(certificate, key)) as server:
        config = use_smtp(project_dir, server.port, security="starttls", ca_file=str(certificate))
        code, _, err = send(run_cli, config)
        assert code == 75 and "did not answer in time" in err
        nobody_failed(config)


def test_a_relay_refusing_everyone_run_after_run_fails_and_suppresses_nobody(
    run_cli: Cli, project_dir: Path
) -> None:
    with SmtpServer() as server:
        config = use_smtp(project_dir, server.port, connections=4)
        server.add_fault(Fault("RCPT", reply="550 5.1.1 no such user", times=None))
        for _ in range(3):  # each stopped run used to fail (and suppress) connections - 1
            code, _, err = send(run_cli, config)
            assert code == 2 and "refused the first" in err
            nobody_failed(config)
        server.recorder.faults.clear()
        served_by_the_next_run(run_cli, config, server)


def test_a_fate_that_stays_unknown_ends_failed_and_can_be_sent_again(
    run_cli: Cli, project_dir: Path
) -> None:
    with SmtpServer() as server:
        config = use_smtp(project_dir, server.port)
        server.add_fault(
            Fault("DATA", "drop_after_dot", recipient="luc.martin", times=None)
        )  # the message arrives, its acceptance never does
        send(run_cli, config)
        row = deliveries(config)["luc.martin@example.org"]
        assert (row["state"], row["cause"], row["attempts"]) == ("failed", "unknown", 4)
        assert "it may have arrived" in row["reason"]
        assert ledger(config) == {"sent": EVERYONE - 1, "failed": 1}  # done with: not due
        _, plan, _ = run_cli(
            "--config", str(config), "--now", "2021-04-06T14:00:00+02:00", "plan", "--days", "1"
        )
        invitation = next(line for line in plan.splitlines() if " invitation " in line)
        assert invitation.split()[-2:] == ["0", "done"]
        _, dry, _ = send(run_cli, config, "--dry-run")
        assert "1 failed for a reason that is not theirs" in dry and "--resend-failed" in dry
        server.recorder.faults.clear()
        code, _, err = send(run_cli, config, "--resend-failed")
        assert code == 0, err
        assert ledger(config) == {"sent": EVERYONE}
        ids = Counter(m.message_id for m in server.received if "luc.martin" in m.recipients[0])
        assert len(ids) == 1  # every copy with the same Message-ID: deduplicated downstream


def test_a_wrong_smtp_password_is_tried_once_per_run_and_exits_2(
    run_cli: Cli, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five connections, two mechanisms offered (PLAIN and LOGIN): one refused login stops
    the run (a relay that counts failures would lock the account), nobody failed."""
    with SmtpServer(password="the right one") as server:
        config = use_smtp(project_dir, server.port, connections=5, username="mailer")
        monkeypatch.setenv("MAILER_SMTP_PASSWORD", "a wrong one")
        code, _, err = send(run_cli, config)
        assert code == 2 and "refused the login of mailer: 535" in err, err
        assert server.recorder.commands["AUTH"] == 1
        nobody_failed(config)
        monkeypatch.setenv("MAILER_SMTP_PASSWORD", "the right one")
        served_by_the_next_run(run_cli, config, server)


def test_throttling_of_a_few_recipients_holds_back_nobody_else(
    run_cli: Cli, project_dir: Path
) -> None:
    """300 people, one in twenty refused once with "451 4.7.1 try again later": every one
    arrives once, and the send takes about what it takes unthrottled (each refusal halved
    the rate and paused every connection: 300 emails took minutes)."""
    from tests.support.sending import big_list

    big_list(project_dir / "recipients" / "members.csv", 300)
    for other in ("partners.csv", "speakers.csv"):
        (project_dir / "recipients" / other).write_text("email\n", encoding="utf-8")
    original = (project_dir / "config.toml").read_text(encoding="utf-8")
    timings = []
    for throttled in (False, True):
        (project_dir / "config.toml").write_text(original, encoding="utf-8")
        shutil.rmtree(project_dir / "state", ignore_errors=True)
        with SmtpServer() as server:
            if throttled:
                for number in range(0, 300, 20):
                    server.add_fault(
                        Fault("RCPT", reply="451 4.7.1 try again later", recipient=f"n.{number}@")
                    )
            config = use_smtp(project_dir, server.port)
            started = time.monotonic()
            code, out, err = send(run_cli, config)
            timings.append(time.monotonic() - started)
            assert code == 0, err
            assert "300 sent" in out
            assert set(server.recorder.by_recipient().values()) == {1}
            assert len(server.recorder.by_recipient()) == 300
    assert timings[1] < timings[0] + 5, timings


def test_status_after_a_relay_outage_says_why_for_every_delivery_it_counts(
    run_cli: Cli, project_dir: Path
) -> None:
    """ "9 pending" beside "8 x cannot connect" did not add up: the reasons of each state
    now do, with those never tried said as such."""
    import re

    config = use_smtp(project_dir, free_port())
    assert send(run_cli, config)[0] == 75
    code, out, _ = run_cli("--config", str(config), "status")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("2021-04-20  invitation"))
    pending = int(row.split()[3])
    assert pending == EVERYONE
    said = re.findall(r"invitation: (\d+) pending: (.+)", out)
    assert sum(int(count) for count, _ in said) == pending, out
    assert any("cannot connect" in reason for _, reason in said), out
    code, out, _ = run_cli("--config", str(config), "status", "--json")
    (invitation,) = json.loads(out)
    total = sum(e["count"] for e in invitation["errors"] if e["state"] == "pending")
    assert total == invitation["counts"]["pending"]
