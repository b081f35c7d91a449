"""Emails that people read and act on: what, when and the Join action first; short subjects that
start with the date, one per kind; a time, never a countdown; a text part that is not a wall of
URLs; sentences that still read when a session has no moderator."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from mailer.project.load import Project
from tests.support.emails import (
    SHIPPED,
    START,
    body,
    composer,
    emails_as_sent,
    parsed,
    person,
    session,
)

LANGUAGES = ("fr", "en", "es")
ZOOM_URL = "https://us02web.zoom.us/j/85720559693?pwd=WFA1bUEwNFdNcll0bW5zcWRFS3BWUT09"
MEETING_ID = "857 2055 9693"
FIRST_QUESTION = {
    "fr": "Quels réseaux les musées ont-ils conçus",
    "en": "What networks have museums designed",
    "es": "¿Qué redes han diseñado los museos",
}
# How each language writes "Tuesday 20 April" short, and "today" / "tomorrow", in a subject
SHORT_DATE = {"fr": "20 avr.", "en": "Tue 20 Apr", "es": "20 abr"}
MOVED_DATE = {"fr": "27 avr.", "en": "Tue 27 Apr", "es": "27 abr"}
DAY_WORDS = {"fr": ("Demain", "Aujourd’hui"), "en": ("Tomorrow", "Today"), "es": ("Mañana", "Hoy")}
COUNTDOWN = re.compile(
    r"\b(starts? in|in \d+ (minutes?|hours?|days?)|dans \d+|d’ici \d+"
    r"|en \d+ (minutos?|horas?|días?)|faltan|comienza en|commence dans)\b",
    re.IGNORECASE,
)
URL = re.compile(r"(?:https?|webcal)://\S+")


def without_base_url() -> Project:
    http = dataclasses.replace(SHIPPED.config.http, base_url=None)
    return dataclasses.replace(SHIPPED, config=dataclasses.replace(SHIPPED.config, http=http))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_join_link_and_meeting_id_come_before_the_first_question(language: str) -> None:
    for name, (_, text, html) in emails_as_sent(language).items():
        if name == "cancellation":
            assert ZOOM_URL not in text and ZOOM_URL not in html  # nothing to join
            continue
        if name == "reminder:PT1H":  # short: the questions are in the invitation
            assert FIRST_QUESTION[language] not in text + html
            assert ZOOM_URL in text and MEETING_ID in text and "662299" in text
            continue
        for part in (text, html.replace("&nbsp;", "\u00a0")):
            question = part.index(FIRST_QUESTION[language])
            assert part.index(ZOOM_URL) < question, (name, part[:question])
            assert part.index(MEETING_ID) < question, name
            assert part.index("662299") < question, name


def test_in_html_the_join_button_comes_straight_after_the_date() -> None:
    """What comes before the button: the series, the title, the date (twice with the
    recipient's zone), never the greeting or the speakers."""
    _, _, html = emails_as_sent("en")["reminder:PT1H"]
    before = html[: html.index(f'href="{ZOOM_URL}"')]
    assert "Today at 13:00 (Paris time)" in before
    assert "Tuesday 20 April 2021, 13:00&nbsp;–&nbsp;14:30 (Paris time)" in before
    assert "Chloé" not in before and "Bruno Maquart" not in before


@pytest.mark.parametrize("language", LANGUAGES)
def test_subjects_are_short_start_with_the_date_and_differ_by_kind(language: str) -> None:
    emails = emails_as_sent(language)
    subjects = {name: subject for name, (subject, _, _) in emails.items()}
    assert len(set(subjects.values())) == len(subjects), subjects
    tomorrow, today = DAY_WORDS[language]
    for name, subject in subjects.items():
        assert len(subject) < 80, subject
        day = MOVED_DATE[language] if name == "update:moved" else SHORT_DATE[language]
        marker = {"reminder:P1D": tomorrow, "reminder:PT1H": today}.get(name, day)
        assert marker in subject, subject
        assert subject.index(marker) < len(subject) / 2, subject
        assert "Session 6" not in subject  # the number says nothing a phone has room for


def test_a_long_title_is_cut_at_a_word_and_marked() -> None:
    subject, _, _ = emails_as_sent("en")["invitation"]
    assert subject == "Tue 20 Apr, 13:00 · Invitation: Are professional networks instruments of…"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_relative_countdown_whenever_the_email_is_read(language: str) -> None:
    for _, (subject, text, html) in emails_as_sent(language).items():
        for part in (subject, text, html):
            assert not COUNTDOWN.search(part), COUNTDOWN.search(part)
    recipient = person(language)
    early, late = (
        composer("reminder", now=START - dt.timedelta(minutes=minutes)).render(recipient)
        for minutes in (61, 55)
    )
    assert early == late  # a reminder says the time, not how long until it


@pytest.mark.parametrize("project", [SHIPPED, without_base_url()], ids=["daemon", "no-daemon"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_urls_are_under_a_third_of_the_text_part(language: str, project: Project) -> None:
    for name, (_, text, _) in emails_as_sent(language, project).items():
        urls = sum(len(url) for url in URL.findall(text))
        if name == "reminder:PT1H":  # a few lines: join, answer, unsubscribe are most of it
            assert len(URL.findall(text)) <= 5, name
        else:
            assert urls < len(text) / 3, (name, urls, len(text))
        assert max(len(url) for url in URL.findall(text)) <= 120, name


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_hour_before_reminder_is_short(language: str) -> None:
    """What, when, join, the codes: well under the day-before reminder, which has the
    questions and the speakers again."""
    emails = emails_as_sent(language)
    for part in (1, 2):  # the text, the HTML
        short, long = emails["reminder:PT1H"][part], emails["reminder:P1D"][part]
        assert len(short) < len(long) * (0.6 if part == 1 else 0.8), (part, len(short), len(long))
        assert FIRST_QUESTION[language] in long and FIRST_QUESTION[language] not in short


def test_without_a_daemon_the_text_part_points_to_the_html_links() -> None:
    _, text, html = emails_as_sent("en", without_base_url())["invitation"]
    assert "/c/20210420/" not in text and "/c/20210420/" not in html
    assert "the HTML version of this email also has Google and Outlook links" in text
    assert "calendar.google.com/calendar/render" in html


@pytest.mark.parametrize(
    ("language", "chaired", "languages"),
    [
        ("fr", "Modération", "La séance se tient en français, anglais et espagnol"),
        ("en", "Chaired by", "The session is held in French, English and Spanish"),
        ("es", "Modera", "La sesión se celebra en francés, inglés y español"),
    ],
)
def test_a_session_without_moderator_still_reads(
    language: str, chaired: str, languages: str
) -> None:
    here = session()
    assert here.content is not None
    alone = dataclasses.replace(here, content=dataclasses.replace(here.content, moderator=None))
    message = parsed(composer("invitation", alone).compose(person(language)))
    for part in (body(message, "plain"), body(message, "html")):
        assert chaired not in part
        assert f"{languages}, " in part.replace("&nbsp;", "\u00a0")


@pytest.mark.parametrize(
    ("language", "french_in_disguise"),
    [
        ("en", ("meeting-discussion", "of the cycle", "held simultaneously", "Eastern Time")),
        ("es", ("el martes,", "celebrada simultáneamente")),
        ("fr", ("13 h 00", "14 h 00", " :", " ?")),  # a plain space before ":" or "?" breaks
    ],
)
def test_each_language_reads_as_its_writers_write_it(
    language: str, french_in_disguise: tuple[str, ...]
) -> None:
    for name, (subject, text, _) in emails_as_sent(language).items():
        for wrong in french_in_disguise:
            assert wrong not in subject and wrong not in text, (name, wrong)
