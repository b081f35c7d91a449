"""Template mistakes are found by `mailer check` (file, line, what to do), never in a sent email."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.project import edit

Cli = Callable[..., tuple[int, str, str]]


def check(run_cli: Cli, project_dir: Path) -> tuple[int, str]:
    code, _, err = run_cli("--config", str(project_dir / "config.toml"), "check", "--offline")
    assert "Traceback" not in err
    return code, err


def test_the_shipped_templates_pass(
    run_cli: Cli, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", "a-key-for-the-template-tests")
    code, err = check(run_cli, project_dir)
    assert code == 0
    # the one warning the shipped project has is its lists' (a person on two of them)
    assert [line for line in err.splitlines() if "is also at" not in line] == []


def test_a_syntax_error_names_file_and_line(run_cli: Cli, project_dir: Path) -> None:
    edit(project_dir / "templates" / "es" / "_details.html", "{% endfor %}", "{% endfro %}")
    code, err = check(run_cli, project_dir)
    assert code == 2
    assert f"{project_dir}/templates/es/_details.html:9: Encountered unknown tag 'endfro'" in err


def test_a_send_compiles_what_it_uses_before_sending_anything(
    run_cli: Cli, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Templates are compiled when first used (a send compiles its own, not the whole set):
    a broken partial of a language the series has stops the send before the first email, at
    its file and line; a broken template of a language the series does not have stops only
    `check`."""
    from tests.support.sending import send

    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", "a-key-for-the-template-tests")
    config = project_dir / "config.toml"
    edit(project_dir / "templates" / "de" / "_details.html", "{% endfor %}", "{% endfro %}")
    code, err = check(run_cli, project_dir)
    assert code == 2 and "templates/de/_details.html:" in err
    edit(project_dir / "templates" / "es" / "_details.html", "{% endfor %}", "{% endfro %}")
    code, out, err = send(run_cli, config)
    assert code == 2, out
    assert f"{project_dir}/templates/es/_details.html:9: Encountered unknown tag 'endfro'" in err
    assert not list((project_dir / "outbox").rglob("*.eml"))
    edit(project_dir / "templates" / "es" / "_details.html", "{% endfro %}", "{% endfor %}")
    code, out, err = send(run_cli, config)
    assert code == 0, err
    assert len(list((project_dir / "outbox").rglob("*.eml"))) == 20


def test_a_misspelt_variable_is_an_error_not_a_blank(run_cli: Cli, project_dir: Path) -> None:
    edit(
        project_dir / "templates" / "en" / "_essentials.html",
        "{{ zoom.passcode }}",
        "{{ zoom.pascode }}",
    )
    code, err = check(run_cli, project_dir)
    assert code == 2
    assert (
        f"{project_dir}/templates/en/_essentials.html:10: 'dict object' has no attribute "
        "'pascode' (a variable or attribute the template uses does not exist)" in err
    )


def test_computing_with_a_per_recipient_value_is_refused(run_cli: Cli, project_dir: Path) -> None:
    edit(
        project_dir / "templates" / "fr" / "invitation.txt",
        "Bonjour {{ recipient.name }},",
        "Bonjour {{ recipient.name|upper }},",
    )
    code, err = check(run_cli, project_dir)
    assert code == 2
    assert (
        f"{project_dir}/templates/fr/invitation.txt:9: recipient.name is a per-recipient "
        "value: templates may print recipient.name or test it with 'if', not compute with it."
        in err
    )


def test_a_missing_template_is_named(run_cli: Cli, project_dir: Path) -> None:
    (project_dir / "templates" / "es" / "reminder.subject.txt").unlink()
    code, err = check(run_cli, project_dir)
    assert code == 2 and "templates/es/reminder.subject.txt: this template is missing" in err


def test_templates_cannot_reach_python(run_cli: Cli, project_dir: Path) -> None:
    edit(
        project_dir / "templates" / "en" / "invitation.txt",
        "Hello,",
        "Hello {{ ''.__class__.__mro__ }},",
    )
    code, err = check(run_cli, project_dir)
    assert code == 2 and "unsafe" in err.lower()


def test_preview_writes_eml_html_and_ics(run_cli: Cli, project_dir: Path) -> None:
    out = project_dir / "out"
    code, stdout, err = run_cli(
        "--config",
        str(project_dir / "config.toml"),
        "--now",
        "2021-04-19T10:00:00+02:00",
        "preview",
        "2021-04-20",
        "--kind",
        "reminder",
        "--all-languages",
        "--out",
        str(out),
    )
    assert code == 0 and "sample key" in err
    assert [line.split(":")[0] for line in stdout.splitlines()] == ["fr", "en", "es"]
    eml = out / "2021-04-20-reminder-en.eml"
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.strict)
    assert str(message["Subject"]).startswith("Tomorrow, Tue 20 Apr, 13:00 · ")
    html = (out / "2021-04-20-reminder-en.html").read_text(encoding="utf-8")
    assert "Tomorrow at 13:00" in html and "starts in" not in html
    assert (out / "2021-04-20-reminder-es.ics").read_bytes().startswith(b"BEGIN:VCALENDAR\r\n")


def test_preview_of_a_session_without_file_says_so(run_cli: Cli, project_dir: Path) -> None:
    code, _, err = run_cli("--config", str(project_dir / "config.toml"), "preview", "2021-05-18")
    assert code == 2 and "the session of 2021-05-18 has no file yet" in err
