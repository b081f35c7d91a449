"""`mailer init`: a series of one's own from a few answers (prompts or options), a project that
passes `mailer check` and says in its description what its rule says; its placeholders are
warned about and never go out by SMTP."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from mailer.i18n.rules import describe_rule, preset_rule

Cli = Callable[..., tuple[int, str, str]]
KEY = "init-tests-signing-key-0123456789"


@pytest.mark.parametrize(
    ("preset", "rule", "english", "french"),
    [
        ("third tuesday", "FREQ=MONTHLY;BYDAY=+3TU", "on the third Tuesday of every month",
         "le troisième mardi de chaque mois"),
        ("First Thursday", "FREQ=MONTHLY;BYDAY=+1TH", "on the first Thursday of every month",
         "le premier jeudi de chaque mois"),
        ("last friday", "FREQ=MONTHLY;BYDAY=-1FR", "on the last Friday of every month",
         "le dernier vendredi de chaque mois"),
        ("every wednesday", "FREQ=WEEKLY;BYDAY=WE", "every Wednesday", "chaque mercredi"),
        ("every other monday", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", "every other Monday",
         "un lundi sur deux"),
    ],
)  # fmt: skip
def test_presets_are_rules_and_rules_are_said_in_each_language(
    preset: str, rule: str, english: str, french: str
) -> None:
    assert preset_rule(preset) == rule
    assert describe_rule(rule, "en") == english and describe_rule(rule, "fr") == french
    for language in ("es", "de", "it", "pt"):
        assert describe_rule(rule, language)
    assert describe_rule("FREQ=MONTHLY;BYMONTHDAY=1", "en") is None
    assert preset_rule("fifth monday") is None and preset_rule("every day") is None
    assert describe_rule("FREQ=MONTHLY;BYDAY=+1SU", "it") == "la prima domenica di ogni mese"
    assert describe_rule("FREQ=MONTHLY;BYDAY=+2SA", "pt") == "no segundo sábado de cada mês"


def test_init_asks_and_writes_a_series_of_one_s_own(tmp_path: Path) -> None:
    folder = tmp_path / "musees-en-reseau"
    answers = [
        "Musées en réseau",
        "America/Toronto",
        "last friday",
        "17:00",
        "18:30",
        "fr,en",
        "Claire Dupont",
        "claire@musees.example.net",
        "https://zoom.us/j/84512345678",
        "845 1234 5678",
        "4455",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "mailer", "--now", "2026-12-02T10:00:00-05:00", "init",
         str(folder), "--ask"],
        input="\n".join(answers) + "\n",
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Time zone [Europe/Paris]:" in done.stdout  # asked, with the default shown
    config = tomllib.loads((folder / "config.toml").read_text(encoding="utf-8"))
    series = config["series"]
    assert series["rule"] == "FREQ=MONTHLY;BYDAY=-1FR"
    assert series["languages"] == ["fr", "en"] and series["timezone"] == "America/Toronto"
    assert str(series["first"]) == "2026-12-25"  # the last Friday after that day
    assert series["description"]["fr"].replace("\u00a0", " ") == (
        "Une rencontre sur Zoom le dernier vendredi de chaque mois, de 17 h à 18 h 30 "
        "(heure de Toronto)."
    )
    assert "on the last Friday of every month" in series["description"]["en"]
    assert config["zoom"]["passcode"] == "4455"
    assert config["organiser"] == {"name": "Claire Dupont", "email": "claire@musees.example.net"}
    assert sorted(p.name for p in (folder / "templates").iterdir() if p.is_dir()) == ["en", "fr"]
    check = subprocess.run(
        [sys.executable, "-m", "mailer", "--config", str(folder / "config.toml"), "check"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MAILER_UNSUBSCRIBE_KEY": KEY},
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
    warned = check.stderr
    assert "zoom.url" not in warned and "organiser.email" not in warned  # given
    assert "'unsubscribe.url': the unsubscribe page is still mailer init's placeholder" in warned


def test_a_wrong_answer_writes_nothing_and_says_each(run_cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "wrong"
    code, _, err = run_cli(
        "init", str(folder), "--no-ask", "--timezone", "Europe/Pari", "--rule", "fifth monday",
        "--languages", "fr,nl", "--start", "14:00", "--end", "13:00",
    )  # fmt: skip
    assert code == 2
    for expected in (
        "--timezone: 'Europe/Pari' is not an IANA time zone",
        "--rule: 'fifth monday' is neither a preset",
        "--languages: mailer ships no templates for 'nl'",
        "--end: the session must end after it starts",
    ):
        assert expected in err, err
    assert not folder.exists()


def test_init_s_placeholders_are_warned_and_never_go_out_by_smtp(
    run_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", KEY)
    folder = tmp_path / "fresh"
    assert run_cli("--now", "2026-12-02T10:00:00+01:00", "init", str(folder))[0] == 0
    config = str(folder / "config.toml")
    code, _, err = run_cli("--config", config, "check")
    assert code == 0
    for key in ("zoom.url", "zoom.passcode", "organiser.email", "unsubscribe.mailto", "title"):
        assert f"warning: at '{key}': " in err and "still mailer init's placeholder" in err
    send = ("--now", "2026-12-02T10:00:00+01:00", "send", "2026-12-15", "--kind", "invitation")
    code, _, err = run_cli("--config", config, *send, "--yes")
    assert code == 0, err  # the outbox takes them: to look at
    with (folder / "config.toml").open("a", encoding="utf-8") as file:
        file.write('\n[transport]\nkind = "smtp"\n\n[smtp]\nhost = "127.0.0.1"\nport = 2525\n')
        file.write('security = "none"\n')
    code, _, err = run_cli("--config", config, "--real-mail", *send, "--yes")
    assert code == 2 and "nothing goes out by SMTP with them" in err
    assert "at 'zoom.url': the meeting link is still mailer init's placeholder" in err
    once = ("--now", "2026-12-01T10:00:00+01:00", "--real-mail", "daemon", "--once")
    code, _, err = run_cli("--config", config, *once)
    assert code == 2 and "nothing goes out by SMTP with them" in err


def test_every_shipped_language_set_renders_and_is_its_own(run_cli: Cli, tmp_path: Path) -> None:
    """de, it and pt besides en, fr and es: a project in all six passes check; no template of
    one language includes another's, nor keeps an English sentence."""
    folder = tmp_path / "six"
    languages = "de,it,pt,en,fr,es"
    assert run_cli("init", str(folder), "--languages", languages)[0] == 0
    code, out, err = run_cli("--config", str(folder / "config.toml"), "check", "--offline")
    assert code == 0, err
    assert "templates for 6 languages" in out
    english = set()
    for path in (folder / "templates" / "en").iterdir():
        text = re.sub(r"\{[%{#].*?[%}#]\}|<[^>]+>", "\n", path.read_text(encoding="utf-8"))
        english |= {part.strip() for part in text.split("\n") if len(part.split()) >= 4}
    assert len(english) > 30
    for language in ("de", "it", "pt"):
        for path in (folder / "templates" / language).iterdir():
            text = path.read_text(encoding="utf-8")
            assert '"en/' not in text, path
            kept = [sentence for sentence in english if sentence in text]
            assert kept == [], (path, kept)


def test_a_language_copied_by_hand_is_caught_and_language_add_makes_its_own(
    run_cli: Cli, tmp_path: Path
) -> None:
    """Copying templates/en to templates/de gave German readers English partials, and check
    passed; `mailer language add de` writes the German set."""
    folder = tmp_path / "series"
    assert run_cli("init", str(folder), "--languages", "en")[0] == 0
    config = folder / "config.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace('languages = ["en"]', 'languages = ["en", "de"]')
    text = text.replace('en = "Our meeting series"\n', 'en = "Our meeting series"\nde = "Reihe"\n')
    text = re.sub(r'(\[series.description\]\nen = ".*"\n)', r'\1de = "Gespräche"\n', text)
    config.write_text(text, encoding="utf-8")
    (session,) = (folder / "sessions").iterdir()
    lines = session.read_text(encoding="utf-8").replace('en = "The first session"\n',
        'en = "The first session"\nde = "Die erste Sitzung"\n')  # fmt: skip
    lines = lines.replace('en = ["What shall we talk about?"]\n',
        'en = ["What shall we talk about?"]\nde = ["Worüber?"]\n')  # fmt: skip
    lines = lines.replace('{ en = "Their role" }', '{ en = "Their role", de = "Ihre Rolle" }')
    session.write_text(lines, encoding="utf-8")
    shutil.copytree(folder / "templates" / "en", folder / "templates" / "de")
    code, _, err = run_cli("--config", str(config), "check", "--offline")
    assert code == 2, err
    assert "templates/de/invitation.html:6: the 'de' template uses 'en/_essentials.html'" in err
    shutil.rmtree(folder / "templates" / "de")
    code, out, err = run_cli("--config", str(config), "language", "add", "de")
    assert code == 0 and "mailer's de templates" in out, err
    code, out, err = run_cli("--config", str(config), "check", "--offline")
    assert code == 0, err
    code, out, err = run_cli("--config", str(config), "language", "add", "nl")
    assert code == 0 and "a copy of the en templates" in out and "[labels.nl]" in out
    assert '"nl/_essentials.html"' in (folder / "templates" / "nl" / "invitation.html").read_text()
