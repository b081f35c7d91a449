"""Mailing-list problems and segments as the CLI reports them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mailer.errors import ConfigError, RecipientsError
from mailer.project.lists import check_lists
from mailer.project.load import load_project
from tests.support.project import REPO, edit

Cli = Callable[..., tuple[int, str, str]]


def test_a_latin1_file_is_reported_with_its_line_not_misread(
    project_dir: Path, run_cli: Cli
) -> None:
    path = project_dir / "recipients" / "members.csv"
    path.write_bytes("email,name\nluc@example.org,Luc\nchloe@example.org,Chloé\n".encode("cp1252"))
    with pytest.raises(RecipientsError) as caught:
        check_lists(load_project(project_dir / "config.toml"))
    (problem,) = [p for p in caught.value.problems if p.is_error]
    assert problem.line == 3 and "not UTF-8: byte 0xE9 ('é' in Windows-1252/Latin-1)" in str(
        problem
    )
    code, out, err = run_cli("--config", str(project_dir / "config.toml"), "check")
    assert code == 2 and out == "" and "members.csv:3: this file is not UTF-8" in err
    assert "iconv -f WINDOWS-1252 -t UTF-8" in err and "Traceback" not in err


def test_a_segment_naming_an_unknown_list_fails_check(project_dir: Path, run_cli: Cli) -> None:
    edit(project_dir / "config.toml", 'lists = ["partners"]', 'lists = ["partner"]')
    with pytest.raises(ConfigError) as caught:
        load_project(project_dir / "config.toml")
    assert (
        "at 'segments.partners.lists[0]': there is no list 'partner'. Did you mean "
        "'partners'?" in str(caught.value.problems[0])
    )
    code, _, err = run_cli("--config", str(project_dir / "config.toml"), "check")
    assert code == 2 and "there is no list 'partner'" in err


def test_a_missing_list_file_fails_check_naming_it(project_dir: Path, run_cli: Cli) -> None:
    (project_dir / "recipients" / "partners.csv").unlink()
    code, _, err = run_cli("--config", str(project_dir / "config.toml"), "check")
    assert (
        code == 2 and "partners.csv: at 'lists.partners.file': this list file does not exist" in err
    )


def test_recipients_cli_summary_and_segment_json(run_cli: Cli) -> None:
    config = str(REPO / "config.toml")
    code, out, _ = run_cli("--config", config, "recipients", "--json", "--date", "2021-04-20")
    assert code == 0
    summary = {s["segment"]: s for s in json.loads(out)["segments"]}
    assert summary["everyone"]["recipients"] == 20
    assert summary["speakers"]["languages"] == {"en": 3, "fr": 2}
    assert summary["audience"]["recipients"] == 14
    code, out, _ = run_cli("--config", config, "recipients", "partners", "--json")
    data = json.loads(out)
    assert data["recipients"][0]["email"] == "aino.virtanen@example.org"
    assert data["recipients"][0]["fields"] == {"organisation": "ICOM Finland (example)"}
    code, _, err = run_cli("--config", config, "recipients", "nobody")
    assert code == 2 and "there is no segment 'nobody' (known: everyone, audience," in err
