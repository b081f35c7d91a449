"""The session editor's form and the file it writes: a round trip keeps the session, the
posted form drops blank rows, and every problem `mailer check` reports lands at its field."""

from __future__ import annotations

import datetime as dt
import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from mailer.config.sessions import read_session
from mailer.errors import Problem
from mailer.project.load import load_project
from mailer.web.session_form import (
    SessionForm,
    field_label,
    field_names,
    file_version,
    form_data,
    form_from_data,
    form_from_post,
    missing_translations,
    place_problems,
    session_text,
)
from mailer.web.words import words_for
from tests.support.project import REPO

DAY = dt.date(2021, 4, 20)
PROJECT = load_project(REPO / "config.toml")
SERIES, ZOOM = PROJECT.config.series, PROJECT.config.zoom
LANGUAGES = SERIES.languages
SHIPPED = (REPO / "sessions" / f"{DAY}.toml").read_text(encoding="utf-8")


def saved(form: SessionForm) -> tuple[str, list[Problem]]:
    data, problems = form_data(form, LANGUAGES)
    text = session_text(data, DAY)
    _, more = read_session(text, "s.toml", DAY, SERIES, ZOOM)
    return text, problems + more


def posted(fields: dict[str, str], rows: int = 3) -> SessionForm:
    return form_from_post(lambda name: fields.get(name, ""), LANGUAGES, rows, {})


def test_the_shipped_session_makes_the_same_session_once_written_back() -> None:
    form = form_from_data(tomllib.loads(SHIPPED), LANGUAGES, file_version(SHIPPED))
    text, problems = saved(form)
    assert problems == []
    content, _ = read_session(text, "s.toml", DAY, SERIES, ZOOM)
    original = PROJECT.sessions[DAY]
    assert content is not None
    for part in ("title", "questions", "speakers", "moderator", "cancelled", "moved_to"):
        assert getattr(content, part) == getattr(original, part), part
    assert 'name = "Bruno Maquart"' in text  # a name the same in every language, once


def test_what_the_page_does_not_edit_is_kept() -> None:
    data = {**tomllib.loads(SHIPPED), "held_in": ["fr"], "zoom": {"passcode": "123456"}}
    form = form_from_data(data, LANGUAGES, "")
    written = tomllib.loads(saved(form)[0])
    assert written["held_in"] == ["fr"] and written["zoom"] == {"passcode": "123456"}


def test_blank_speaker_rows_are_dropped_and_indexes_follow_the_file() -> None:
    form = posted(
        {
            "title.fr": "T",
            "title.en": "T",
            "title.es": "T",
            "speakers[1].name.fr": "Ana",  # row 0 left blank
            "speakers[1].role.fr": "Rôle",
            "speakers[1].to_be_confirmed": "on",
        }
    )
    assert len(form.speakers) == 1 and form.speakers[0].to_be_confirmed
    text, problems = saved(form)
    assert tomllib.loads(text)["speakers"][0]["name"] == "Ana"
    at, elsewhere = place_problems(problems, field_names(form, LANGUAGES))
    assert elsewhere == []
    assert set(at) == {"speakers[0].role.en", "speakers[0].role.es"}  # where she now is
    assert missing_translations(form, LANGUAGES) == {"speakers[0].role.en", "speakers[0].role.es"}


def test_a_name_typed_once_is_every_language_s_and_speakers_go_where_they_are_put() -> None:
    form = posted(
        {
            "title.fr": "T",
            "title.en": "T",
            "title.es": "T",
            "speakers[0].name": "Ana García",
            "speakers[0].position": "2",
            "speakers[1].name": "Bruno\r\nMaquart",  # a name is one line
            "speakers[1].position": "1",
            "moderator.name": "Chloé",
        }
    )
    assert [s.name for s in form.speakers] == [
        dict.fromkeys(LANGUAGES, "Bruno Maquart"),
        dict.fromkeys(LANGUAGES, "Ana García"),
    ]
    data = tomllib.loads(saved(form)[0])
    assert [s["name"] for s in data["speakers"]] == ["Bruno Maquart", "Ana García"]
    assert data["moderator"]["name"] == "Chloé"  # written once
    names = field_names(form, LANGUAGES)
    assert "speakers[0].name" in names and "speakers[0].name.fr" not in names
    at, _ = place_problems([Problem("s.toml", "too long", key="speakers[1].name")], names)
    assert list(at) == ["speakers[1].name"]


def test_the_error_summary_names_each_field_in_the_page_s_words() -> None:
    french = words_for("fr")
    assert field_label("title.es", french) == "Titre (espagnol)"
    assert field_label("speakers[1].role.fr", french) == "Intervenant(e) 2 : Fonction (français)"
    assert field_label("moderator.name", french) == "Modérateur ou modératrice : Nom"
    assert field_label("moved_to.end", words_for("en")) == "to"


def test_a_date_or_time_that_is_not_one_is_shown_at_its_field() -> None:
    form = posted(
        {"title.fr": "T", "title.en": "T", "title.es": "T", "moved_to.date": "2021-13-01"}
    )
    _, problems = form_data(form, LANGUAGES)
    at, _ = place_problems(problems, field_names(form, LANGUAGES))
    assert list(at) == ["moved_to.date"]


def test_a_missing_title_is_at_the_title_and_a_whole_file_problem_at_the_top() -> None:
    form = posted({"title.fr": "Seul"})
    _, problems = saved(form)
    problems.append(Problem("sessions/x.toml", "not a date of the series"))
    at, elsewhere = place_problems(problems, field_names(form, LANGUAGES))
    assert set(at) == {"title.en", "title.es"}
    assert [p.message for p in elsewhere] == ["not a date of the series"]


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(LANGUAGES),
        st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1)
        .map(str.strip)
        .filter(bool),
        min_size=1,
    )
)
def test_any_title_goes_through_the_file_unchanged(titles: dict[str, str]) -> None:
    form = posted({f"title.{code}": text for code, text in titles.items()})
    text, _ = saved(form)
    assert tomllib.loads(text).get("title") == {c: titles[c] for c in LANGUAGES if c in titles}


def test_the_links_of_after_the_session_and_the_places_are_saved_and_read_back() -> None:
    typed = {
        "title.fr": "Titre",
        "title.en": "Title",
        "title.es": "Título",
        "recording": " https://example.org/recording ",
        "survey": "https://example.org/survey",
        "capacity": "80",
    }
    form = form_from_post(lambda name: typed.get(name, ""), SERIES.languages, 0, {})
    data, problems = form_data(form, SERIES.languages)
    assert problems == []
    text = session_text(data, DAY)
    content, found = read_session(text, "sessions/2021-04-20.toml", DAY, SERIES, ZOOM)
    assert content is not None and not found
    assert (content.recording, content.slides, content.survey, content.capacity) == (
        "https://example.org/recording",
        None,
        "https://example.org/survey",
        80,
    )
    again = form_from_data(tomllib.loads(text), SERIES.languages, file_version(text))
    assert again.afterwards == form.afterwards and again.capacity == "80"
    typed.update(capacity="eighty", slides="ftp://example.org/slides")
    form = form_from_post(lambda name: typed.get(name, ""), SERIES.languages, 0, {})
    data, problems = form_data(form, SERIES.languages)
    assert [(p.key, p.message) for p in problems] == [("capacity", "'eighty' is not a number")]
    _, found = read_session(session_text(data, DAY), "s.toml", DAY, SERIES, ZOOM)
    assert [p.key for p in found] == ["slides"]  # what mailer check says, at its field
    at, _ = place_problems(found, field_names(form, SERIES.languages))
    assert list(at) == ["slides"]
