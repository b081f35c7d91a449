"""Hostile mailing lists: a stray quote, a field far beyond any name, a crafted name. A bad
row is a located problem, never data, and costs nobody else their email."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mailer.audience.imports import read_addresses
from mailer.errors import RecipientsError
from mailer.project.load import load_project
from tests.support.lists import messages, resolve_all, use_lists


def _rows(count: int) -> list[str]:
    return [f"person.{n}@example.org,Person {n},fr" for n in range(count)]


@pytest.mark.parametrize("people", [600, 3000])
def test_a_stray_quote_swallows_no_row(project_dir: Path, people: int) -> None:
    rows = _rows(people)
    rows[10] = 'person.10@example.org,"Jean Stray,fr'  # a quote opened, never closed
    (project_dir / "recipients" / "big.csv").write_text(
        "email,name,language\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    config = use_lists(project_dir, {"big": "recipients/big.csv"})
    everyone, reader, _ = resolve_all(load_project(config))
    assert len(everyone) == people - 1  # the row with the stray quote, and only it
    assert "person.10@example.org" not in {p.email for p in everyone}
    assert max(len(p.name) for p in everyone) < 20  # nobody holds anybody else's row
    (problem,) = [p for p in messages(reader.report.all_problems()) if "double quote" in p]
    assert "big.csv:12: warning: a double quote opens a field that runs over lines 12-" in problem


def test_a_field_far_beyond_any_real_name_is_a_located_error(project_dir: Path) -> None:
    (project_dir / "recipients" / "odd.csv").write_text(
        "email,name,language,notes\n"
        f"long.name@example.org,{'X' * 300},fr,\n"
        f"long.notes@example.org,Lou,fr,{'y' * 5000}\n"
        "fine@example.org,Fine,fr,short\n",
        encoding="utf-8",
    )
    config = use_lists(project_dir, {"odd": "recipients/odd.csv"})
    everyone, reader, _ = resolve_all(load_project(config))
    assert [p.email for p in everyone] == ["fine@example.org"]
    problems = messages(reader.report.all_problems())
    for expected in (
        "odd.csv:2: warning: the name column is 300 characters long",
        "odd.csv:3: warning: the notes column is 5,000 characters long",
    ):
        assert any(expected in problem for problem in problems), problems


def test_a_field_beyond_the_csv_modules_limit_stops_nothing(project_dir: Path) -> None:
    field = "z" * (csv.field_size_limit() + 10)
    (project_dir / "recipients" / "huge.csv").write_text(
        f'email,name\na@example.org,"{field}\nb@example.org,Bea\n', encoding="utf-8"
    )
    config = use_lists(project_dir, {"huge": "recipients/huge.csv"})
    everyone, reader, _ = resolve_all(load_project(config))
    assert [p.email for p in everyone] == ["b@example.org"]
    assert any("huge.csv:2:" in p for p in messages(reader.report.all_problems()))


def test_a_line_or_a_header_of_a_megabyte_is_said_as_such_and_quoted_short(
    project_dir: Path,
) -> None:
    """A megabyte on one line (a file pasted into a cell) is skipped with its length, and what
    the messages quote of it is cut short (it was an "Internal error" as a header)."""
    megabyte = "x" * 1_000_000
    (project_dir / "recipients" / "wide.csv").write_text(
        f"email,name\n{megabyte}@example.org,Big\nb@example.org,Bea\n", encoding="utf-8"
    )
    config = use_lists(project_dir, {"wide": "recipients/wide.csv"})
    everyone, reader, _ = resolve_all(load_project(config))
    assert [p.email for p in everyone] == ["b@example.org"]
    problems = messages(reader.report.all_problems())
    (problem,) = [p for p in problems if "wide.csv:2:" in p]
    assert "wide.csv:2: warning: this line is 1,000,017 characters long" in problem
    assert all(len(p) < 300 for p in problems), problems


def test_a_header_of_a_megabyte_is_a_located_problem(project_dir: Path) -> None:
    megabyte = "x" * 1_000_000
    (project_dir / "recipients" / "head.csv").write_text(
        f"email,name,{megabyte}\nc@example.org,Cy,\n", encoding="utf-8"
    )
    config = use_lists(project_dir, {"head": "recipients/head.csv"})
    with pytest.raises(RecipientsError) as caught:
        resolve_all(load_project(config))
    (found,) = messages(caught.value.problems)
    assert "head.csv:1: the header line is 1,000,012 characters long: not a header" in found
    assert len(found) < 400


def test_an_address_quoted_in_a_message_is_cut_short() -> None:
    imported = read_addresses("a@example.org\n" + "y" * 100_000 + "@example.org\n", "big.txt")
    (problem,) = messages(imported.problems)
    assert "big.txt:2: 'yyyy" in problem and "... (100,012 characters)' is not a valid" in problem
    assert len(problem) < 400


def test_a_quote_that_closes_rows_later_swallows_nobody(project_dir: Path) -> None:
    """A stray quote closed by another stray quote three rows below: the rows between are
    people, read as such; only the rows of the two quotes are reported. A cell with line
    breaks in a whole row (Excel's Alt+Enter) is a person."""
    rows = _rows(20)
    rows[5] = 'person.5@example.org,"Odd,fr'
    rows[8] = 'person.8@example.org,Odd",fr'
    rows[12] = 'person.12@example.org,"Address\nline two\nline three",fr'
    (project_dir / "recipients" / "odd.csv").write_text(
        "email,name,language\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    config = use_lists(project_dir, {"odd": "recipients/odd.csv"})
    everyone, reader, _ = resolve_all(load_project(config))
    emails = {p.email for p in everyone}
    assert {"person.6@example.org", "person.7@example.org"} <= emails  # not swallowed
    assert "person.12@example.org" in emails
    assert next(p for p in everyone if p.email == "person.12@example.org").name == (
        "Address line two line three"
    )
    assert "person.5@example.org" not in emails
    assert len(everyone) >= 18
    reported = " ".join(messages(reader.report.all_problems()))
    assert "odd.csv:7:" in reported and "odd.csv:14" not in reported
