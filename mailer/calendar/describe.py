"""A session told in plain text, per language: the calendar SUMMARY and DESCRIPTION.

The same text goes into the .ics and the "add to calendar" links, so every way of adding a
session to a calendar carries the questions, the people and the Zoom details.
"""

from __future__ import annotations

from mailer.config.settings import Config
from mailer.i18n.dates import language_list, when
from mailer.i18n.labels import Labels
from mailer.model import Occurrence, Person, Zoom


def zoom_of(config: Config, occurrence: Occurrence) -> Zoom:
    """The Zoom details of a session: its own if its file overrides them, else the series'."""
    content = occurrence.content
    return content.zoom if content is not None and content.zoom is not None else config.zoom


def held_in(config: Config, occurrence: Occurrence) -> tuple[str, ...]:
    """The languages a session is held in."""
    content = occurrence.content
    if content is not None and content.held_in:
        return content.held_in
    return config.series.session_languages


def person_line(person: Person, language: str, config: Config) -> str:
    """`Emma Nardi, Présidente du SAREC`, with `(sous réserve)` when not confirmed."""
    text = person.name[language]
    if person.role is not None:
        text += f", {person.role[language]}"
    if person.to_be_confirmed:
        text += f" ({config.labels[language].to_be_confirmed})"
    return text


def summary(config: Config, occurrence: Occurrence, language: str) -> str:
    """A calendar entry's title: the session's title first, then the series and the number."""
    labels = config.labels[language]
    series_title = config.series.title[language]
    number = f"{labels.session} {occurrence.number}"
    if occurrence.content is not None:
        text = f"{occurrence.content.title[language]} — {series_title} ({number})"
    else:
        text = f"{series_title} — {number}"
    if occurrence.status == "cancelled":
        text = f"{labels.heading(labels.cancelled)} {text}"
    return text


def description(config: Config, occurrence: Occurrence, language: str) -> str:
    """Everything a participant needs, as plain text: when, what, who, how to join."""
    labels = config.labels[language]
    content = occurrence.content
    zoom = zoom_of(config, occurrence)
    heading = f"{config.series.title[language]}\n{labels.session} {occurrence.number}"
    if content is not None:
        heading += f" — {content.title[language]}"
    blocks = [heading, when(occurrence.start, occurrence.end, language, labels)]
    if occurrence.status == "cancelled":
        blocks[0] = f"{labels.cancelled}\n{blocks[0]}"
    if content is not None and content.note is not None:
        blocks.append(content.note[language])
    if content is None:
        blocks.append(config.series.description[language])
    else:
        if content.questions.get(language):
            blocks.append(_bullets(labels.heading(labels.questions), content.questions[language]))
        if content.speakers:
            lines = [person_line(person, language, config) for person in content.speakers]
            blocks.append(_bullets(labels.heading(labels.speakers), lines))
        if content.moderator is not None:
            moderator = person_line(content.moderator, language, config)
            blocks.append(f"{labels.heading(labels.moderator)} {moderator}")
    if occurrence.status != "cancelled":
        blocks.append(zoom_block(zoom, labels))
    blocks += _closing(config, held_in(config, occurrence), language)
    return "\n\n".join(blocks)


def series_description(config: Config, language: str) -> str:
    """The description of the series as a whole (the recurring event of the series calendar)."""
    blocks = [config.series.description[language], zoom_block(config.zoom, config.labels[language])]
    blocks += _closing(config, config.series.session_languages, language)
    return "\n\n".join(blocks)


def zoom_block(zoom: Zoom, labels: Labels) -> str:
    """The join link, meeting ID and passcode, one per line."""
    return (
        f"{labels.heading(labels.join)} {zoom.url}\n"
        f"{labels.heading(labels.meeting_id)} {zoom.meeting_id}\n"
        f"{labels.heading(labels.passcode)} {zoom.passcode}"
    )


def _closing(config: Config, languages: tuple[str, ...], language: str) -> list[str]:
    labels = config.labels[language]
    listed = language_list(languages, labels.locale or language)
    blocks = [f"{labels.heading(labels.held_in)} {listed}"]
    if config.series.partners is not None:
        blocks.append(config.series.partners[language])
    return blocks


def _bullets(label: str, lines: tuple[str, ...] | list[str]) -> str:
    return f"{label}\n" + "\n".join(f"• {line}" for line in lines)
