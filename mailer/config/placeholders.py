"""The placeholders `mailer init` writes where it cannot know the real value (the meeting's
link and passcode, addresses at example.org, a session's title), and finding those still
there: `mailer check` warns, and nothing goes through SMTP with them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from mailer.config.settings import Config
from mailer.errors import Problem
from mailer.model import SessionContent

MEETING_URL = "https://zoom.us/j/00000000000"
MEETING_ID = "000 0000 0000"
PASSCODE = "000000"
ORGANISER_NAME = "The organisers"
ORGANISER_EMAIL = "organisers@example.org"
UNSUBSCRIBE_URL = "https://lists.example.org/unsubscribe"
UNSUBSCRIBE_MAILTO = "unsubscribe@example.org"
MEMBER = "someone@example.org"
SERIES_TITLE = "Our meeting series"
# the first session's title, in each language init writes
SESSION_TITLES = {
    "en": "The first session",
    "fr": "La première séance",
    "es": "La primera sesión",
    "de": "Die erste Sitzung",
    "it": "Il primo incontro",
    "pt": "O primeiro encontro",
}


def placeholder_problems(
    config: Config, sessions: Mapping[dt.date, SessionContent]
) -> list[Problem]:
    """Every init placeholder still in the project, located at its key (warnings)."""
    source = config.source
    found: list[tuple[str, str, str]] = []  # (key, what, hint)
    zoom = config.zoom
    meeting = "Put your meeting's own link, ID and passcode."
    if zoom.url == MEETING_URL:
        found.append(("zoom.url", "the meeting link", meeting))
    if zoom.meeting_id == MEETING_ID:
        found.append(("zoom.meeting_id", "the meeting ID", meeting))
    if zoom.passcode == PASSCODE:
        found.append(("zoom.passcode", "the passcode", meeting))
    address = "Put an address of yours, whose mailbox someone reads."
    if config.organiser.email == ORGANISER_EMAIL:
        found.append(("organiser.email", "the organiser's address", address))
    if config.unsubscribe.url == UNSUBSCRIBE_URL:
        found.append(
            ("unsubscribe.url", "the unsubscribe page", "Put the address of your daemon's page.")
        )
    if config.unsubscribe.mailto == UNSUBSCRIBE_MAILTO:
        found.append(("unsubscribe.mailto", "the unsubscribe mailbox", address))
    if SERIES_TITLE in config.series.title.values():
        found.append(("series.title", "the series' title", "Give the series its title."))
    problems = [
        Problem(
            source,
            f"{what} is still mailer init's placeholder",
            key=key,
            hint=hint,
            severity="warning",
        )
        for key, what, hint in found
    ]
    for content in sessions.values():
        if set(content.title.values()) & set(SESSION_TITLES.values()):
            problems.append(
                Problem(
                    content.source,
                    "the session's title is still mailer init's placeholder",
                    key="title",
                    hint="Write the session's title, questions and speakers.",
                    severity="warning",
                )
            )
    return problems
