"""Trust at the edges (the CLI in-process, a real SMTP server, a real state file): secrets are
checked before anything is recorded, proofs say what they are, `plan` counts who is still to
get an email, and a typo in a move, an address or a list encoding never passes unnoticed."""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.project import edit
from tests.support.sending import ledger, send, use_smtp
from tests.support.smtp_server import SmtpServer

Cli = Callable[..., tuple[int, str, str]]
KEY = "trust-tests-signing-key-0123456789"


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as running:
        yield running


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", KEY)


# -- secrets ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "short"])
def test_send_refuses_to_start_without_its_secret_before_touching_the_ledger(
    run_cli: Cli,
    project_dir: Path,
    server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
    key: str | None,
) -> None:
    if key is None:
        monkeypatch.delenv("MAILER_UNSUBSCRIBE_KEY", raising=False)
    else:
        monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", key)
    config = use_smtp(project_dir, server.port)
    code, out, err = send(run_cli, config)
    assert code == 2 and "MAILER_UNSUBSCRIBE_KEY" in err and out == ""
    assert "python3 -c" in err or "at least 16" in err
    assert not (project_dir / "state").exists() and server.received == []


def test_send_refuses_an_smtp_login_without_its_password(
    run_cli: Cli, project_dir: Path, server: SmtpServer, keyed: None
) -> None:
    config = use_smtp(project_dir, server.port, username="mailer")
    code, _, err = send(run_cli, config)
    assert code == 2 and "MAILER_SMTP_PASSWORD" in err and "at 'smtp.password_env'" in err
    assert not (project_dir / "state").exists()


# -- proofs -----------------------------------------------------------------------------------


def test_each_proof_has_its_own_message_id_a_marker_and_says_where_the_real_send_goes(
    run_cli: Cli, project_dir: Path, server: SmtpServer, keyed: None
) -> None:
    config = use_smtp(project_dir, server.port)
    code, out, err = send(run_cli, config, "--to", "organiser@example.org")
    assert code == 0, err
    assert "to send now" not in out and "Proofs of the invitation" in out
    assert "3 emails, one per language (fr, en, es)" in out
    assert "the real send goes to everyone: 20 people" in out
    messages = [
        email.message_from_bytes(m.data, policy=email.policy.default) for m in server.received
    ]
    assert len({str(m["Message-ID"]) for m in messages}) == 3
    subjects = sorted(str(m["Subject"]).split("]")[0] + "]" for m in messages)
    assert subjects == ["[PROOF]", "[PRUEBA]", "[ÉPREUVE]"]
    for message in messages:
        assert "the real send goes to everyone (20 people)" in " ".join(
            str(message["X-Mailer-Proof"]).split()
        )
        text = message.get_body(("plain",))
        assert text is not None and "(20)" not in str(text.get_content())[:40]
        assert str(text.get_content()).startswith("*** ")  # the banner first
    assert ledger(config) == Counter()  # recorded nowhere


# -- plan -------------------------------------------------------------------------------------


def test_plan_counts_who_is_still_to_get_an_email_after_a_one_off_send(
    run_cli: Cli, project_dir: Path, keyed: None
) -> None:
    config = project_dir / "config.toml"
    assert send(run_cli, config, "--segment", "partners")[0] == 0  # 5 people, one-off
    _, out, _ = run_cli(
        "--config", str(config), "--now", "2021-04-06T12:00:00+02:00", "plan", "--days", "20"
    )
    invitation = next(line for line in out.splitlines() if " invitation " in line)
    assert invitation.split()[-2:] == ["15", "waiting"], out  # not "done": 15 to get it
    once = ("--config", str(config), "--now", "2021-04-06T13:00:00+02:00", "daemon", "--once")
    assert run_cli(*once)[0] == 0
    _, out, _ = run_cli(
        "--config", str(config), "--now", "2021-04-06T13:10:00+02:00", "plan", "--days", "20"
    )
    invitation = next(line for line in out.splitlines() if " invitation " in line)
    assert invitation.split()[-2:] == ["0", "done"], out


# -- moves ------------------------------------------------------------------------------------


def _move(project_dir: Path, move: str) -> None:
    edit(project_dir / "sessions" / "2021-04-20.toml", "[title]", f"moved_to = {move}\n[title]")


@pytest.mark.parametrize(
    ("move", "now", "expected"),
    [
        (
            "{ date = 2012-04-20 }",  # a mistyped year: an error whenever it is checked
            "2021-04-01T10:00:00+02:00",
            "the session of 2021-04-20 moves to 2012-04-20, before the series begins",
        ),
        (
            "{ date = 2012-04-20 }",
            "2021-05-01T10:00:00+02:00",  # once the session is past too (was a warning)
            "the session of 2021-04-20 moves to 2012-04-20, before the series begins",
        ),
        (
            "{ date = 2021-05-18 }",
            "2021-04-01T10:00:00+02:00",
            "the session moves to 2021-05-18, the day of the session of 2021-05-18",
        ),
        (
            '{ date = 2021-04-25, start = "02:30", end = "04:00" }',
            "2021-04-01T10:00:00+02:00",
            None,  # exists: fine
        ),
        (
            '{ date = 2021-03-28, start = "02:30", end = "04:00" }',
            "2021-03-01T10:00:00+01:00",
            "02:30 on 2021-03-28 does not exist in Europe/Paris",
        ),
        (
            '{ date = 2021-10-31, start = "02:30", end = "04:00" }',
            "2021-03-01T10:00:00+01:00",
            "02:30 on 2021-10-31 occurs twice in Europe/Paris",
        ),
    ],
)
def test_a_move_into_the_past_onto_another_session_or_to_a_dst_hour_is_an_error(
    run_cli: Cli, project_dir: Path, keyed: None, *, move: str, now: str, expected: str | None
) -> None:
    _move(project_dir, move)
    code, _, err = run_cli("--config", str(project_dir / "config.toml"), "--now", now, "check")
    if expected is None:
        assert code == 0, err
        return
    assert code == 2 and expected in err, err
    assert "sessions/2021-04-20.toml:" in err and "at 'moved_to'" in err  # file, line, key


def test_a_move_beyond_the_next_session_is_a_warning(
    run_cli: Cli, project_dir: Path, keyed: None
) -> None:
    _move(project_dir, "{ date = 2021-06-22 }")
    code, _, err = run_cli(
        "--config", str(project_dir / "config.toml"), "--now", "2021-04-01T10:00:00+02:00", "check"
    )
    assert code == 0
    assert "warning: at 'moved_to': the session of 2021-04-20 moves to 2021-06-22, beyond" in err


# -- lists ------------------------------------------------------------------------------------


def test_suppressing_an_address_on_no_list_says_so_and_what_was_meant(
    run_cli: Cli, project_dir: Path
) -> None:
    config = str(project_dir / "config.toml")
    code, out, err = run_cli("--config", config, "suppress", "luc.martn@example.org")
    assert code == 0 and "luc.martn@example.org is now suppressed." in out
    assert "is on none of the mailing lists" in err
    assert "Did you mean luc.martin@example.org?" in err
    code, _, err = run_cli("--config", config, "suppress", "luc.martin@example.org")
    assert code == 0 and err == ""


def test_check_says_how_many_rows_of_each_list_were_skipped(
    run_cli: Cli, project_dir: Path, keyed: None
) -> None:
    members = project_dir / "recipients" / "members.csv"
    members.write_text(
        members.read_text(encoding="utf-8") + "not-an-address,Nobody,fr\n,,\n", encoding="utf-8"
    )
    code, out, err = run_cli("--config", str(project_dir / "config.toml"), "check")
    assert code == 0, err
    assert "members: 11 people (" in out and "members.csv: 12 rows, 1 skipped (see above))" in out
    assert "members.csv:13: warning: 'not-an-address' is not a valid email address" in err


def test_a_line_pasted_from_a_latin1_file_is_named_and_the_advice_spares_the_others(
    run_cli: Cli, project_dir: Path, keyed: None
) -> None:
    members = project_dir / "recipients" / "members.csv"
    members.write_bytes(members.read_bytes() + "zoe@example.org,Zoé Lefèvre,fr\n".encode("cp1252"))
    code, _, err = run_cli("--config", str(project_dir / "config.toml"), "check")
    assert code == 2
    assert "members.csv:13: this file is UTF-8 except 1 line (13)" in err
    assert "do not convert the whole file" in err and "iconv" not in err


def test_a_clock_ahead_of_time_costs_nobody_their_email(
    run_cli: Cli, project_dir: Path, keyed: None
) -> None:
    """A rehearsal after the session marks its emails too late; the real clock, before the
    deadline, sends them after all."""
    config = str(project_dir / "config.toml")
    assert send(run_cli, project_dir / "config.toml", "--limit", "5")[0] == 0
    late = run_cli("--config", config, "--now", "2021-04-15T10:00:00+02:00", "daemon", "--once")
    assert late[0] == 0
    _, status, _ = run_cli("--config", config, "status")
    assert "15 skipped: too late" in status
    code, out, err = send(run_cli, project_dir / "config.toml")  # 2021-04-06: in time
    assert code == 0, err
    assert "15 marked too late by a clock ahead of this one: sent after all" in out
    assert "This run: 15 sent" in out
