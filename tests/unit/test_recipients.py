"""Mailing lists as spreadsheets export them, segments, and what bad rows cost (nobody else)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mailer.errors import RecipientsError
from mailer.project.lists import check_lists
from mailer.project.load import load_project
from tests.support.lists import messages, resolve_all, use_lists
from tests.support.project import edit, write

EXCEL_FR = (
    "\ufeffE-Mail ; NAME;Language ; Tags;Time Zone;Organisation\r\n"
    'marie@example.org ; Marie Dubois ;fr;"member; museum";Europe/Paris;"Musée; Lyon"\r\n'
    "\r\n"
    'jean@example.org;"Jean\r\nDupont";FR;member;;"Multi\r\nline"\r\n'
    ";;;;;\r\n"
    "ana@example.org;Ana;Español;partner;America/Bogota;Museo\r\n"
)


def test_an_excel_export_in_utf8_with_bom_semicolons_crlf_and_line_breaks_in_cells(
    project_dir: Path,
) -> None:
    write(project_dir / "recipients" / "fr.csv", "")
    (project_dir / "recipients" / "fr.csv").write_bytes(EXCEL_FR.encode("utf-8"))
    edit(
        project_dir / "config.toml", 'file = "recipients/members.csv"', 'file = "recipients/fr.csv"'
    )
    people, reader, _ = resolve_all(load_project(project_dir / "config.toml"), "francophones")
    marie = people[0]
    assert (marie.email, marie.name, marie.language) == ("marie@example.org", "Marie Dubois", "fr")
    assert marie.tags == {"member", "museum"} and marie.timezone == "Europe/Paris"
    assert marie.fields["organisation"] == "Musée; Lyon"
    assert marie.source.endswith("recipients/fr.csv:2")
    # Alt+Enter in two cells of a whole row: the person is kept, the breaks read as spaces
    jean = next(p for p in people if p.email == "jean@example.org")
    assert jean.name == "Jean Dupont" and jean.fields["organisation"] == "Multi line"
    assert jean.source.endswith("fr.csv:4")
    everyone, _, _ = resolve_all(load_project(project_dir / "config.toml"))
    ana = next(p for p in everyone if p.email == "ana@example.org")
    assert ana.language == "es" and ana.source.endswith("fr.csv:8")
    problems = messages(reader.report.all_problems())
    assert not any("fr.csv:4" in p for p in problems), problems  # nothing to say about Jean


def test_a_utf16_file_is_reported(project_dir: Path) -> None:
    path = project_dir / "recipients" / "members.csv"
    path.write_bytes("email,name\nluc@example.org,Luc\n".encode("utf-16"))
    with pytest.raises(RecipientsError, match="members"):
        resolve_all(load_project(project_dir / "config.toml"))


def test_invalid_rows_are_skipped_and_reported_and_the_rest_goes(project_dir: Path) -> None:
    write(
        project_dir / "recipients" / "members.csv",
        """
        email,name,language
        good.one@example.org,One,en
        not-an-address,Two,en
        ,Three,en
        bad@@example.org,Four,fr
        good.two@example.org,Five,fr,extra,fields
        good.three@example.org,Six,es
    """,
    )
    people, reader, _ = resolve_all(load_project(project_dir / "config.toml"), "everyone")
    members = [p.email for p in people if "members.csv" in p.source]
    assert members == ["good.one@example.org", "good.three@example.org"]
    problems = messages(reader.report.problems)
    assert any(
        "members.csv:3: warning: 'not-an-address' is not a valid email address: An email "
        "address must have an @-sign; the row is skipped" in p
        for p in problems
    )
    assert any(
        "members.csv:4: warning: '(empty)' is not a valid email address" in p for p in problems
    )
    assert any("members.csv:5:" in p and "bad@@example.org" in p for p in problems)
    assert any("members.csv:6: warning: 5 fields where the header has 3" in p for p in problems)


def test_duplicates_get_one_email_with_the_first_rows_data_and_are_reported(
    project_dir: Path,
) -> None:
    write(
        project_dir / "recipients" / "a.csv",
        """
        email,name,language,tags
        Marie@Example.org,Marie (first),fr,member
        luc@example.org,Luc,fr,member
        MARIE@example.ORG,Marie (again),en,member
    """,
    )
    write(
        project_dir / "recipients" / "b.csv",
        """
        email;name;language;tags
        marie@EXAMPLE.org;Marie (list b);es;partner
        new@example.org;New;en;partner
    """,
    )
    config = use_lists(project_dir, {"a": "recipients/a.csv", "b": "recipients/b.csv"})
    people, _, resolution = resolve_all(load_project(config))
    assert [(p.email, p.name, p.language) for p in people] == [
        ("Marie@example.org", "Marie (first)", "fr"),
        ("luc@example.org", "Luc", "fr"),
        ("new@example.org", "New", "en"),
    ]
    merges = messages(resolution.merged)
    assert len(merges) == 2
    assert merges[0].endswith(
        "a.csv:4: warning: MARIE@example.org is also at "
        f"{project_dir}/recipients/a.csv:2: one email, with the data of "
        "that first row."
    )
    # check says both, as recipients and send do (it said the one within a file only)
    warnings = messages(check_lists(load_project(config))[1])
    assert any("a.csv:4" in w for w in warnings) and any("b.csv:2" in w for w in warnings)


def test_case_sensitive_local_parts_can_be_asked_for(project_dir: Path) -> None:
    write(project_dir / "recipients" / "a.csv", "email\nJean@example.org\njean@example.org\n")
    config = use_lists(project_dir, {"a": "recipients/a.csv"})
    assert len(resolve_all(load_project(config))[0]) == 1
    text = config.read_text(encoding="utf-8")
    config.write_text(text + '\n[recipients]\nlocal_part_case = "sensitive"\n', encoding="utf-8")
    assert len(resolve_all(load_project(config))[0]) == 2


def test_language_falls_back_to_the_default_and_says_so(project_dir: Path) -> None:
    write(
        project_dir / "recipients" / "a.csv",
        """
        email,language
        a@example.org,
        b@example.org,de
        c@example.org,English
        d@example.org,es-MX
        e@example.org,francés
        f@example.org,
    """,
    )
    config = use_lists(project_dir, {"a": "recipients/a.csv"})
    people, reader, _ = resolve_all(load_project(config))
    assert [p.language for p in people] == ["fr", "fr", "en", "es", "fr", "fr"]
    problems = messages(reader.report.fallback_problems())
    assert any(
        "a.csv: warning: 2 recipients have no language: they get 'fr', the series' "
        "default (lines 2, 7)" in p
        for p in problems
    )
    assert any(
        "1 recipient has the language 'de', not offered: it gets 'fr'" in p for p in problems
    )


def test_headers_match_whatever_their_case_and_spacing_but_email_is_required(
    project_dir: Path,
) -> None:
    write(project_dir / "recipients" / "a.csv", " E_MAIL ,Full Name\nx@example.org,X\n")
    config = use_lists(project_dir, {"a": "recipients/a.csv"})
    people, _, _ = resolve_all(load_project(config))
    assert people[0].fields == {"fullname": "X"}
    write(project_dir / "recipients" / "a.csv", "mail,name\nx@example.org,X\n")
    with pytest.raises(RecipientsError) as caught:
        check_lists(load_project(config))
    assert "the header has no 'email' column (found 'mail', 'name'" in str(caught.value.problems[0])


def test_an_unknown_time_zone_is_a_warning_not_a_lost_email(project_dir: Path) -> None:
    write(project_dir / "recipients" / "a.csv", "email,timezone\nx@example.org,Mars/Olympus\n")
    config = use_lists(project_dir, {"a": "recipients/a.csv"})
    people, reader, _ = resolve_all(load_project(config))
    assert people[0].timezone is None
    assert "'Mars/Olympus' is not an IANA time zone" in str(reader.report.problems[0])


SEGMENTS = """
[segments.museums]
tags_any = ["museum", "gallery"]
exclude_tags = ["staff"]

[segments.english_partners]
lists = ["b"]
languages = ["en"]
tags_all = ["partner", "board"]

[segments.speakers]
lists = ["a"]
tags_any = ["session-{date}"]
"""


def test_segments_filter_by_list_language_and_tags(project_dir: Path) -> None:
    write(
        project_dir / "recipients" / "a.csv",
        """
        email,language,tags
        m1@example.org,fr,museum
        m2@example.org,en,gallery;staff
        s1@example.org,en,speaker;session-2021-04-20
        s2@example.org,fr,speaker;session-2021-05-18
    """,
    )
    write(
        project_dir / "recipients" / "b.csv",
        """
        email,language,tags
        p1@example.org,en,partner;board
        p2@example.org,en,partner
        p3@example.org,fr,partner;board;museum
    """,
    )
    config = use_lists(project_dir, {"a": "recipients/a.csv", "b": "recipients/b.csv"}, SEGMENTS)
    project = load_project(config)

    def emails(*segments: str, date: dt.date | None = None) -> list[str]:
        return [p.email.split("@")[0] for p in resolve_all(project, *segments, date=date)[0]]

    assert emails("museums") == ["m1", "p3"]
    assert emails("english_partners") == ["p1"]
    assert emails("speakers", date=dt.date(2021, 4, 20)) == ["s1"]
    assert emails("speakers") == []
    assert emails("museums", "english_partners") == ["m1", "p1", "p3"]
    assert len(emails("everyone")) == 7


def test_mailchimp_tags_are_read_as_tags_and_odd_ones_said(project_dir: Path) -> None:
    (project_dir / "recipients" / "mailchimp.csv").write_text(
        "Email Address,First Name,TAGS\n"
        'ana@example.org,Ana,"""webinar"",""donor"""\n'
        "luc@example.org,Luc,member; museum\n"
        'eve@example.org,Eve,"odd""tag"\n',
        encoding="utf-8",
    )
    edit(
        project_dir / "config.toml",
        'file = "recipients/members.csv"',
        'file = "recipients/mailchimp.csv"\n'
        'columns = { email = "Email Address", name = "First Name", tags = "TAGS" }',
    )
    people, reader, _ = resolve_all(load_project(project_dir / "config.toml"))
    by = {p.email: p for p in people}
    assert by["ana@example.org"].tags == {"webinar", "donor"}  # was one tag, with its quotes
    assert by["luc@example.org"].tags == {"member", "museum"}
    problems = messages(reader.report.all_problems())
    assert any("mailchimp.csv:4: warning: the tag 'odd\"tag' holds a quote" in p for p in problems)
