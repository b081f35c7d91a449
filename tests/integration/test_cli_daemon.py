"""`mailer plan` (what the daemon will do) and `mailer daemon`'s refusals, from the CLI."""

from __future__ import annotations

import json
import logging
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailer.errors import EXIT_CONFLICT, EXIT_INVALID_INPUT
from mailer.store.locks import sender_lock
from tests.support.project import REPO, edit

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def signing_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The key, and the daemon's logging setup undone after each test (it runs in-process)."""
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", "a-signing-key-for-the-tests")
    logger = logging.getLogger("mailer")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_plan_lists_the_coming_emails_in_local_time_and_utc(
    run_cli: Cli, config_path: Path
) -> None:
    code, out, err = run_cli(
        "--config", str(config_path), "--now", "2021-04-01T10:00:00+02:00", "plan", "--json"
    )
    assert (code, err) == (0, "")
    rows = json.loads(out)
    april = [(r["email"], r["due"], r["due_utc"], r["status"]) for r in rows]
    assert april[:3] == [
        ("invitation", "2021-04-06T13:00:00+02:00", "2021-04-06T11:00:00Z", "waiting"),
        ("reminder:P1D", "2021-04-19T13:00:00+02:00", "2021-04-19T11:00:00Z", "waiting"),
        ("reminder:PT1H", "2021-04-20T12:00:00+02:00", "2021-04-20T10:00:00Z", "waiting"),
    ]
    assert {r["recipients"] for r in rows[:3]} == {20}
    # May has no session file yet: the organiser is warned, and the invitation is blocked
    may = {r["email"]: r for r in rows if r["session"] == "2021-05-18"}
    assert may["warning:missing-file"]["due_utc"] == "2021-04-27T11:00:00Z"
    assert may["warning:missing-file"]["status"] == "waiting"

    code, out, _ = run_cli(
        "--config", str(config_path), "--now", "2021-04-01T10:00:00+02:00", "plan", "--days", "40"
    )
    assert code == 0
    assert "Tue 2021-04-06 13:00 CEST" in out and "04-06 11:00Z" in out
    assert "2021-05-18 invitation: no session file (sessions/2021-05-18.toml)" in out


def test_plan_shows_what_a_broken_template_blocks(run_cli: Cli, config_path: Path) -> None:
    edit(
        config_path.parent / "templates" / "en" / "reminder.txt",
        "{{ session.title }}",
        "{{ session.titel }}",
    )
    code, out, _ = run_cli(
        "--config", str(config_path), "--now", "2021-04-01T10:00:00+02:00", "plan", "--json"
    )
    assert code == 0
    (reminder, *_) = [r for r in json.loads(out) if r["email"] == "reminder:P1D"]
    assert reminder["status"] == "blocked" and "titel" in reminder["blocked_by"]


def test_the_daemon_refuses_to_start_on_a_bad_config(run_cli: Cli, config_path: Path) -> None:
    edit(config_path, 'before = "P1D"', 'before = "one day"')
    code, out, err = run_cli("--config", str(config_path), "daemon")
    assert code == 2 and out == ""
    assert "cadence" in err and "one day" in err and "Traceback" not in err


def test_once_does_what_is_due_now_and_nothing_twice(run_cli: Cli, config_path: Path) -> None:
    outbox = config_path.parent / "outbox" / "new"
    due = ("--config", str(config_path), "--now", "2021-04-06T13:00:00+02:00", "daemon")
    assert run_cli(*due, "--once")[0] == 0
    assert len(list(outbox.iterdir())) == 20  # the invitation of 2021-04-20, to everyone
    assert run_cli(*due, "--once")[0] == 0
    assert len(list(outbox.iterdir())) == 20
    early = ("--config", str(config_path), "--now", "2021-04-18T13:00:00+02:00", "daemon")
    assert run_cli(*early, "--once")[0] == 0  # the reminders are not due yet
    assert len(list(outbox.iterdir())) == 20


def test_once_while_another_sender_works_exits_75(run_cli: Cli, config_path: Path) -> None:
    with sender_lock(config_path.parent / "state" / "mailer.db"):
        code, _, err = run_cli(
            "--config", str(config_path), "--now", "2021-04-06T13:00:00+02:00", "daemon", "--once"
        )
    assert code == 75 and "another sender holds the lock" in err
    assert not (config_path.parent / "outbox" / "new").exists()


def test_the_systemd_unit_runs_options_that_exist_and_knows_our_exit_codes(
    run_cli: Cli,
) -> None:
    unit = (REPO / "deploy" / "mailer.service").read_text(encoding="utf-8")
    settings = dict(
        line.split("=", 1) for line in unit.splitlines() if re.match(r"^[A-Z]\w+=", line)
    )
    program, *arguments = shlex.split(settings["ExecStart"])
    assert program.endswith("/.venv/bin/mailer")
    code, out, _ = run_cli(*arguments, "--help")
    assert code == 0 and "SIGHUP reloads" in out
    assert settings["RestartPreventExitStatus"].split() == [
        str(EXIT_INVALID_INPUT),
        str(EXIT_CONFLICT),
    ]
    assert settings["KillSignal"] == "SIGTERM" and "-HUP" in settings["ExecReload"]
    environment = (REPO / "deploy" / "mailer.env.example").read_text(encoding="utf-8")
    assert "MAILER_UNSUBSCRIBE_KEY=" in environment and "MAILER_SMTP_PASSWORD=" in environment


def test_json_logs_are_one_object_per_line(run_cli: Cli, config_path: Path) -> None:
    due = ("--config", str(config_path), "--now", "2021-04-06T13:00:00+02:00")
    code, _, err = run_cli(*due, "daemon", "--once", "--log-format", "json")
    assert code == 0
    entries = [json.loads(line) for line in err.splitlines()]
    assert len(entries) >= 3
    assert all(set(entry) >= {"time", "level", "logger", "message"} for entry in entries)
    assert any("20 sent now" in entry["message"] for entry in entries)
