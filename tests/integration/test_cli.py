"""The command line: exit codes, messages, JSON, and never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mailer import __version__
from tests.support.project import REPO, edit, write

Cli = Callable[..., tuple[int, str, str]]


def test_check_passes_on_the_shipped_project(run_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", "a-signing-key-for-the-tests")
    code, out, err = run_cli("--config", str(REPO / "config.toml"), "check")
    # the person on two lists, said as `recipients` and `send` say it
    assert code == 0 and err == (
        "recipients/partners.csv:6: warning: marie.dubois@example.org is also at "
        "recipients/members.csv:2: one email, with the data of that first row.\n"
    ).replace("recipients/", f"{REPO}/recipients/")
    *lists, store, ok = out.splitlines()
    assert ok.startswith("OK: ") and "1 session file" in ok and "3 mailing lists" in ok
    assert store.startswith("state: SQLite, ") and "state/mailer.db (" in store  # said, not made
    assert [line.split(":")[0] for line in lists] == ["members", "partners", "speakers"]
    assert "members: 11 people (" in lists[0] and "members.csv: 11 rows)" in lists[0]


@pytest.mark.parametrize("key", [None, "short-key"])
def test_check_refuses_a_missing_or_weak_signing_key_unless_offline(
    run_cli: Cli, monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    if key is None:
        monkeypatch.delenv("MAILER_UNSUBSCRIBE_KEY", raising=False)
    else:
        monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", key)
    code, out, err = run_cli("--config", str(REPO / "config.toml"), "check")
    assert code == 2 and "OK" not in out
    assert "config.toml: at 'unsubscribe.key_env':" in err and "MAILER_UNSUBSCRIBE_KEY" in err
    assert "secrets.token_urlsafe" in err or "at least 16 random characters" in err
    code, out, err = run_cli("--config", str(REPO / "config.toml"), "check", "--offline")
    assert code == 0 and out.splitlines()[-1].startswith("OK: ")
    assert "config.toml: warning: at 'unsubscribe.key_env':" in err


def test_check_fails_with_exit_2_and_located_messages(run_cli: Cli, config_path: Path) -> None:
    edit(config_path, 'timezone = "Europe/Paris"', 'timezone = "Mars/Olympus"')
    code, out, err = run_cli("--config", str(config_path), "check")
    assert code == 2 and out == ""
    assert f"{config_path}:7: at 'series.timezone': 'Mars/Olympus' is not an IANA time zone" in err
    assert err.rstrip().endswith("Error: the project has problems (1 problem).")
    assert "Traceback" not in err


def test_version(run_cli: Cli) -> None:
    assert run_cli("--version")[:2] == (0, f"mailer, version {__version__}\n")


def test_dates_json_lists_number_date_instants_and_status(run_cli: Cli) -> None:
    code, out, _ = run_cli(
        "--config",
        str(REPO / "config.toml"),
        "dates",
        "--from",
        "2021-04-01",
        "--count",
        "2",
        "--json",
    )
    assert code == 0
    first, second = json.loads(out)
    assert first == {
        "number": 6,
        "date": "2021-04-20",
        "status": "scheduled",
        "start": "2021-04-20T13:00:00+02:00",
        "end": "2021-04-20T14:30:00+02:00",
        "start_utc": "2021-04-20T11:00:00Z",
        "end_utc": "2021-04-20T12:30:00Z",
        "moved_to": None,
        "session_file": True,
    }
    assert (second["number"], second["date"], second["session_file"]) == (7, "2021-05-18", False)


def test_dates_defaults_to_today_from_the_clock(run_cli: Cli) -> None:
    code, out, _ = run_cli(
        "--config",
        str(REPO / "config.toml"),
        "--now",
        "2021-04-21T09:00:00+02:00",
        "dates",
        "--count",
        "1",
        "--json",
    )
    assert code == 0 and json.loads(out)[0]["date"] == "2021-05-18"


def test_dates_table_shows_skipped_moved_and_cancelled(run_cli: Cli, project_dir: Path) -> None:
    config = project_dir / "config.toml"
    edit(config, "skip = []", "skip = [2021-05-18]")
    edit(
        project_dir / "sessions" / "2021-04-20.toml",
        "[title]",
        "moved_to = { date = 2021-04-27 }\n[title]",
    )
    write(
        project_dir / "sessions" / "2021-06-15.toml",
        """
        status = "cancelled"
        [title]
        fr = "x"
        en = "x"
        es = "x"
    """,
    )
    code, out, _ = run_cli("--config", str(config), "dates", "--from", "2021-04-01", "--count", "4")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "#",
        "date",
        "status",
        "local",
        "time",
        "UTC",
        "start",
        "session",
        "file",
    ]
    assert lines[1].split()[:6] == ["6", "2021-04-20", "moved", "Tue", "2021-04-27", "13:00-14:30"]
    assert lines[2].split()[:3] == ["-", "2021-05-18", "skipped"]
    assert lines[3].split()[:3] == ["7", "2021-06-15", "cancelled"]
    assert lines[4].split()[:3] == ["8", "2021-07-20", "scheduled"]


def test_ics_for_a_date_that_is_not_a_session_suggests_the_nearest(
    run_cli: Cli, project_dir: Path
) -> None:
    code, out, err = run_cli("--config", str(project_dir / "config.toml"), "ics", "2021-04-21")
    assert (code, out) == (2, "")
    assert err.strip() == (
        "Error: no session on 2021-04-21: it is not a date of the series "
        "(nearest: 2021-04-20, 2021-05-18)."
    )


def test_ics_refuses_an_unknown_language_and_ambiguous_arguments(
    run_cli: Cli, project_dir: Path
) -> None:
    config = str(project_dir / "config.toml")
    code, _, err = run_cli("--config", config, "ics", "2021-04-20", "--lang", "de")
    assert code == 2 and "'de' is not a language of the series (choose one of fr, en, es)" in err
    code, _, err = run_cli("--config", config, "ics")
    assert code == 2 and "give either a DATE or --series" in err


def test_ics_writes_the_file_and_the_series(run_cli: Cli, project_dir: Path) -> None:
    config = str(project_dir / "config.toml")
    out = project_dir / "s.ics"
    code, _, err = run_cli("--config", config, "ics", "2021-04-20", "--lang", "es", "-o", str(out))
    assert code == 0 and err == f"Wrote {out}\n"
    assert b"SUMMARY;LANGUAGE=es:" in out.read_bytes()
    code, stdout, _ = run_cli(
        "--config", config, "--now", "2021-04-01T00:00:00Z", "ics", "--series"
    )
    assert code == 0 and "RRULE:FREQ=MONTHLY;BYDAY=+3TU" in stdout


IMPORTED = """
import contextlib, io, sys
from mailer.cli.base import run
import mailer.cli
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = run(sys.argv[1:])
print(code, " ".join(sorted({name.split(".")[0] for name in sys.modules})))
"""
SERVING = {"aiohttp", "apscheduler", "aiosmtplib", "dkim", "dns"}  # sending, serving, signing


@pytest.mark.parametrize(
    "command",
    [["--help"], ["send", "--help"], ["dates"], ["status"], ["recipients"], ["plan"]],
    ids=" ".join,
)
def test_a_command_imports_only_what_it_runs(command: list[str], config_path: Path) -> None:
    """What makes `mailer --help` start in a tenth of a second, and the commands that do not
    send or serve in well under a third: they never import the daemon's, SMTP's or DKIM's
    libraries (bench/startup.py measures the times)."""
    import subprocess
    import sys

    arguments = ["--config", str(config_path), "--now", "2021-04-06T09:00:00+02:00", *command]
    result = subprocess.run(
        [sys.executable, "-c", IMPORTED, *arguments],
        capture_output=True,
        text=True,
        check=True,
        env={"MAILER_UNSUBSCRIBE_KEY": "an-import-test-signing-key", "PATH": ""},
    )
    code, modules = result.stdout.split(" ", 1)
    assert code == "0", result
    imported = set(modules.split())
    assert "mailer" in imported
    assert not imported & SERVING, imported & SERVING
    if command[-1] == "--help" and len(command) == 1:
        heavy = {"jinja2", "icalendar", "babel", "sqlite3", "asyncio", "email_validator"}
        assert not imported & heavy, imported & heavy
