"""Running it for real (issue 14): a person's history, export and erasure; suppressions
imported in bulk; lists from other tools; private files; --json; notices to the organiser;
`mailer init`. Through the CLI, on a real state file and the real outbox."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.support.sending import NOW, Cli, ledger, send

MARIE = "marie.dubois@example.org"


@pytest.fixture(autouse=True)
def signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", "operations-tests-signing-key-0123456789")


def test_person_answers_did_marie_get_it(run_cli: Cli, config_path: Path) -> None:
    assert send(run_cli, config_path, "--segment", "audience")[0] == 0
    code, out, _ = run_cli("--config", str(config_path), "--now", NOW, "person", MARIE)
    assert code == 0
    assert "  lists: members (" in out and "recipients/members.csv:2), partners (" in out
    assert "segments (for the session of 2021-04-20): everyone, audience, francophones" in out
    assert "suppressed: no" in out
    assert "2021-04-20  invitation  sent   fr" in out and "@icom-france.example.org>" in out
    code, out, _ = run_cli("--config", str(config_path), "person", MARIE, "--json")
    record = json.loads(out)
    (email,) = record["emails"]
    assert email["state"] == "sent" and email["message_id"].startswith("<")
    assert [row["list"] for row in record["lists"]] == ["members", "partners"]


def test_export_then_erase_keeps_only_a_hash_and_never_mails_them(
    run_cli: Cli, config_path: Path, tmp_path: Path
) -> None:
    assert send(run_cli, config_path, "--segment", "audience")[0] == 0
    export = tmp_path / "marie.json"
    code, _, _ = run_cli("--config", str(config_path), "person", MARIE, "--export", str(export))
    assert code == 0 and stat.S_IMODE(export.stat().st_mode) == 0o600
    held = json.loads(export.read_text(encoding="utf-8"))
    assert held["lists"][0]["name"] == "Marie Dubois" and "Marie Dubois" in str(held["snapshots"])
    code, _, err = run_cli("--config", str(config_path), "person", MARIE, "--erase", "--yes")
    assert code == 0 and "members.csv:2: warning: still on this list" in err
    database = config_path.parent / "state" / "mailer.db"
    dump = "\n".join(sqlite3.connect(database).iterdump())
    assert "marie" not in dump.lower() and "Dubois" not in dump
    code, out, _ = run_cli("--config", str(config_path), "suppressed")
    assert "(erased " in out and "erased on request" in out
    # still on the lists: the reminder leaves her out, everyone else gets it
    assert send(run_cli, config_path, "--segment", "audience", kind="reminder")[0] == 0
    assert ledger(config_path)["sent"] == 13 + 13  # the invitation's 13 others, the reminder's 13


def test_a_bulk_suppression_import_is_all_or_nothing(
    run_cli: Cli, config_path: Path, tmp_path: Path
) -> None:
    mailchimp = tmp_path / "unsubscribed.csv"
    mailchimp.write_text(
        '"Email Address","First Name","UNSUB_TIME","UNSUB_REASON"\n'
        f'"{MARIE}","Marie","2020-01-02","too many emails"\n'
        '"luc.martin@example.org","Luc","2020-02-03",""\n',
        encoding="utf-8",
    )
    broken = tmp_path / "bounces.txt"
    broken.write_text("ana@example.org\nnot an address\n", encoding="utf-8")
    code, _, err = run_cli("--config", str(config_path), "suppress", "--from-file", str(broken))
    assert code == 2 and f"{broken}:2: 'not an address' is not a valid email address" in err
    code, out, _ = run_cli("--config", str(config_path), "suppressed", "--json")
    assert json.loads(out) == []
    args = ("suppress", "--from-file", str(mailchimp), "--kind", "unsubscribed")
    code, out, _ = run_cli("--config", str(config_path), *args)
    assert code == 0 and "2 addresses: 2 now suppressed, 0 already were" in out
    code, out, _ = run_cli("--config", str(config_path), *args)
    assert "0 now suppressed, 2 already were" in out
    code, out, _ = run_cli("--config", str(config_path), "recipients", "--json")
    everyone = next(s for s in json.loads(out)["segments"] if s["segment"] == "everyone")
    assert everyone["suppressed"] == 2
    # since when and why, as the export says (it was the time of the import, and no reason)
    code, out, _ = run_cli("--config", str(config_path), "suppressed", "--json")
    marie = next(entry for entry in json.loads(out) if entry["address"] == MARIE)
    assert marie["since"].startswith("2020-01-02"), marie
    assert marie["reason"] == "imported from unsubscribed.csv (too many emails)", marie


def test_a_list_exported_from_another_tool_in_a_legacy_encoding(
    run_cli: Cli, config_path: Path
) -> None:
    folder = config_path.parent
    (folder / "recipients" / "members.csv").write_bytes(
        "Email Address;First Name;Last Name;Language\nhelene@example.org;Hélène;Léger;fr\n".encode(
            "cp1252"
        )
    )
    config = config_path.read_text(encoding="utf-8").replace(
        'file = "recipients/members.csv"\n',
        'file = "recipients/members.csv"\nencoding = "windows-1252"\n'
        'columns = { email = "Email Address", name = ["First Name", "Last Name"] }\n',
    )
    config_path.write_text(config, encoding="utf-8")
    code, out, err = run_cli("--config", str(config_path), "recipients", "everyone", "--json")
    assert code == 0, err
    helene = next(r for r in json.loads(out)["recipients"] if r["email"] == "helene@example.org")
    assert helene["name"] == "Hélène Léger" and helene["language"] == "fr"
    config_path.write_text(config.replace('"Last Name"]', '"Surname"]'), encoding="utf-8")
    code, _, err = run_cli("--config", str(config_path), "check", "--offline")
    assert code == 2 and "the column 'Surname' (columns.name in config.toml)" in err


def test_unknown_encodings_and_columns_are_located(run_cli: Cli, config_path: Path) -> None:
    config_path.write_text(
        config_path.read_text(encoding="utf-8").replace(
            'file = "recipients/members.csv"\n',
            'file = "recipients/members.csv"\nencoding = "latin-9x"\ncolumns = { mail = "E" }\n',
        ),
        encoding="utf-8",
    )
    code, _, err = run_cli("--config", str(config_path), "check", "--offline")
    assert code == 2 and "Traceback" not in err
    assert "at 'lists.members.encoding': 'latin-9x' is not a character set" in err
    assert "at 'lists.members.columns.mail': 'mail' is not a column mailer reads" in err


def test_the_state_file_and_the_outbox_are_private(run_cli: Cli, config_path: Path) -> None:
    previous = os.umask(0o022)  # what a login shell has: the files are private all the same
    try:
        assert send(run_cli, config_path, "--segment", "speakers", "--limit", "1")[0] == 0
    finally:
        os.umask(previous)
    folder = config_path.parent
    assert stat.S_IMODE((folder / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "state" / "mailer.db").stat().st_mode) == 0o600
    for sub in ("", "new", "tmp", "cur"):
        assert stat.S_IMODE((folder / "outbox" / sub).stat().st_mode) == 0o700
    (email,) = (folder / "outbox" / "new").iterdir()
    assert stat.S_IMODE(email.stat().st_mode) == 0o600


def test_json_on_check_send_and_preview(run_cli: Cli, config_path: Path) -> None:
    base = ("--config", str(config_path), "--now", NOW)
    code, out, _ = run_cli(*base, "check", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["sessions"] == 1
    assert all(problem["severity"] == "warning" for problem in report["problems"])
    code, out, _ = run_cli(*base, "send", "2021-04-20", "--kind", "invitation", "--json")
    assert code == 2 and "--json does not ask for confirmation" in _
    code, out, _ = run_cli(*base, "send", "2021-04-20", "--kind", "invitation", "--json", "--yes")
    record = json.loads(out)
    assert record["plan"]["to_send"] == 20 and record["run"]["sent"] == 20
    assert record["ledger"] == {"sent": 20}
    code, out, _ = run_cli(*base, "preview", "2021-04-20", "--kind", "reminder", "--json")
    assert [item["language"] for item in json.loads(out)] == ["fr"]
    config_path.write_text(
        config_path.read_text(encoding="utf-8").replace("Europe/Paris", "Europe/Pari", 1)
    )
    code, out, _ = run_cli(*base, "check", "--json")
    report = json.loads(out)
    assert code == 2 and not report["ok"]
    assert report["problems"][0]["key"] == "series.timezone" and report["problems"][0]["line"]


def test_a_preview_without_a_calendar_part_writes_no_empty_ics(
    run_cli: Cli, config_path: Path, tmp_path: Path
) -> None:
    """A meeting invitation's reminder has no calendar part: its preview said it wrote an
    .ics of 0 bytes, which calendars refuse to open; an earlier preview's .ics is not left."""
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace('method = "publish"', 'method = "request"'), "utf-8")
    base = ("--config", str(config_path), "--now", NOW, "preview", "2021-04-20", "--lang", "en")
    folder = ("--out", str(tmp_path / "previews"))
    code, out, err = run_cli(*base, *folder, "--kind", "invitation", "--json")
    assert code == 0, err
    (invitation,) = json.loads(out)
    assert Path(invitation["ics"]).read_bytes().startswith(b"BEGIN:VCALENDAR")
    stale = Path(invitation["ics"].replace("invitation", "reminder"))
    stale.write_bytes(b"BEGIN:VCALENDAR\r\n")
    code, out, err = run_cli(*base, *folder, "--kind", "reminder")
    assert code == 0, err
    assert "(no calendar part: the invitation put the meeting in calendars)" in out
    assert not stale.exists()
    assert sorted(p.suffix for p in (tmp_path / "previews").glob("*reminder*")) == [".eml", ".html"]
    code, out, _ = run_cli(*base, *folder, "--kind", "reminder", "--json")
    assert json.loads(out)[0]["ics"] is None


def test_the_daemon_tells_the_organiser_once_in_the_series_language(
    run_cli: Cli, config_path: Path
) -> None:
    """The invitation of 2021-05-18 is due and its session file is missing: BLOCKED, and
    the organiser is told, in French, once, across restarts."""
    outbox = config_path.parent / "outbox" / "new"
    for _ in range(3):  # three separate daemons, one round each
        code, _, err = run_cli(
            "--config", str(config_path), "--now", "2021-05-04T13:05:00+02:00", "daemon", "--once"
        )
        assert code == 0, err
    notices = [
        message_from_bytes(path.read_bytes(), policy=policy.default) for path in outbox.iterdir()
    ]
    blocked = [n for n in notices if "bloqué" in str(n["Subject"])]
    assert len(blocked) == 1
    (notice,) = blocked
    assert notice["Content-Language"] == "fr" and notice["Auto-Submitted"] == "auto-generated"
    assert notice["To"] == "rencontres@icom-france.example.org"
    body = notice.get_content()
    assert "L’envoi « invitation » de la séance 7 (2021-05-18) est dû" in body
    assert "no session file" in body  # the technical detail, as the log says it


def test_init_writes_a_project_that_passes_check(run_cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "new-series"
    code, out, _ = run_cli("--now", "2026-12-02T10:00:00+01:00", "init", str(folder))
    assert code == 0 and "sessions/2026-12-15.toml" in out
    code, out, err = run_cli("--config", str(folder / "config.toml"), "check")
    assert code == 0, err
    assert "OK: " in out and "1 session file, 1 mailing list" in out
    code, _, err = run_cli("init", str(folder))
    assert code == 2 and "is not empty" in err


def test_the_daemon_forgets_deliveries_past_the_retention(run_cli: Cli, config_path: Path) -> None:
    """`[state] keep_deliveries`: a daemon round deletes the delivery rows of the sessions
    older than that, and only those; `person` then holds no email of theirs."""
    assert send(run_cli, config_path, "--segment", "audience")[0] == 0
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(
        text.replace("[state]\n", '[state]\nkeep_deliveries = "P30D"\n', 1), encoding="utf-8"
    )
    once = ("--config", str(config_path), "daemon", "--once")
    assert run_cli("--now", "2021-05-19T09:00:00+02:00", *once)[0] == 0  # 29 days after
    assert ledger(config_path)["sent"] == 14
    code, _, err = run_cli("--now", "2021-05-21T09:00:00+02:00", *once)  # 31 days after
    assert code == 0, err
    assert "retention: deleted 14 delivery rows" in err
    assert "sent" not in ledger(config_path)
    code, out, _ = run_cli("--config", str(config_path), "person", MARIE, "--json")
    assert code == 0 and json.loads(out)["emails"] == []


def test_an_export_is_private_from_the_start_and_a_bad_path_is_said(
    run_cli: Cli, config_path: Path, tmp_path: Path
) -> None:
    assert send(run_cli, config_path, "--segment", "audience")[0] == 0
    export = tmp_path / "marie.json"
    export.write_text("old", encoding="utf-8")
    export.chmod(0o644)  # a file that was there: it becomes private too
    person = ("--config", str(config_path), "person", MARIE, "--export")
    code, _, err = run_cli(*person, str(export))
    assert code == 0, err
    assert stat.S_IMODE(export.stat().st_mode) == 0o600 and "Marie" in export.read_text("utf-8")
    code, _, err = run_cli(*person, str(tmp_path / "no-such-folder" / "marie.json"))
    assert code == 1 and "cannot write" in err and "No such file or directory" in err
    assert "Traceback" not in err
