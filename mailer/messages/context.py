"""What email templates see: the session in one language, and the recipient.

Pure. `session_context` is the same for every recipient of a language; `recipient_context` adds
the recipient, either with real values (checks, previews) or with slots (mass sending, see
`mailer.messages.slots`). The variables are documented in docs/templates.md.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from mailer.calendar.describe import held_in, person_line, summary, zoom_of
from mailer.calendar.links import calendar_links, feed_for, short_links
from mailer.config.settings import Config
from mailer.errors import InvalidInput
from mailer.i18n.dates import (
    clock_time,
    day_word,
    language_list,
    long_date,
    short_date,
    time_range,
    typography,
    when,
    zone_name,
)
from mailer.messages.changes import session_changes, told_content
from mailer.messages.mime import logo_cid, organiser_domain
from mailer.messages.slots import SlotPool
from mailer.model import MessageKind, Occurrence, Person, Recipient


def _person(person: Person, language: str, config: Config) -> dict[str, Any]:
    def typeset(text: str) -> str:
        return typography(text, language)

    return {
        "name": typeset(person.name[language]),
        "role": typeset(person.role[language]) if person.role is not None else None,
        "to_be_confirmed": person.to_be_confirmed,
        "line": typeset(person_line(person, language, config)),
    }


def moment(
    start: dt.datetime, end: dt.datetime, language: str, config: Config, now: dt.datetime
) -> dict[str, str | int | None]:
    """A session's time as templates show it, in the zone of `start`. `day_word` is "today" or
    "tomorrow" (in the language) as of `now` there, else None: never a countdown, which would
    be wrong whenever the email is read."""
    labels = config.labels[language]
    assert start.tzinfo is not None
    return {
        "text": when(start, end, language, labels),
        "date": long_date(start.date(), language, labels),
        "short_date": short_date(start.date(), language, labels),
        "time": time_range(start, end, language, labels),
        "start_time": clock_time(start, language, labels),
        "zone": zone_name(start.tzinfo, language, labels),
        "day_word": day_word(start.date(), now.astimezone(start.tzinfo).date(), language),
        "days_ahead": _days_ahead(start.date(), now.astimezone(start.tzinfo).date()),
    }


def _days_ahead(day: dt.date, today: dt.date) -> int | None:
    """0 when `day` is today, 1 tomorrow, else None (what `day_word` says)."""
    distance = (day - today).days
    return distance if distance in (0, 1) else None


SUBJECT_TITLE = 44  # characters of the title a subject holds (subjects stay under ~80)


def shortened(text: str, limit: int = SUBJECT_TITLE) -> str:
    """`text`, cut at a word before `limit` characters with an ellipsis if it is longer."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:–—-\u00a0")
    return cut + "…"


def session_context(
    config: Config,
    occurrence: Occurrence,
    language: str,
    kind: MessageKind,
    *,
    now: dt.datetime,
    ics_filename: str,
    proof: Proof | None = None,
    restored: bool = False,
    next_session: Occurrence | None = None,
    told: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything about the session a template may show, in `language`.

    `proof`: this is a proof (`mailer send --to`), and who the real send goes to.
    `restored`: this update undoes a cancellation its recipients were sent (back on).
    `next_session`: the session after this one (a cancellation names it).
    `told`: what the emails before this one told of the session (an update says what changed).
    """
    content = occurrence.content
    if content is None:
        raise InvalidInput(
            f"the session of {occurrence.scheduled} has no file "
            f"({config.series.sessions_dir}/{occurrence.scheduled}.toml): emails are never sent "
            "with blanks"
        )
    series = config.series
    zoom = zoom_of(config, occurrence)
    title = summary(config, occurrence, language)
    links = calendar_links(config, occurrence, language, title)
    short = short_links(config, occurrence, language)
    original_start, original_end = occurrence.start, occurrence.end
    if content.moved_to is not None:
        original_start = dt.datetime.combine(occurrence.scheduled, series.start, series.timezone)
        original_end = dt.datetime.combine(occurrence.scheduled, series.end, series.timezone)

    def typeset(text: str) -> str:
        return typography(text, language)

    return {
        "kind": kind,
        "language": language,
        "series": {
            "id": series.id,
            "title": typeset(series.title[language]),
            "description": typeset(series.description[language]),
            "partners": typeset(series.partners[language]) if series.partners else None,
        },
        "session": {
            "number": occurrence.number,
            "title": typeset(content.title[language]),
            "short_title": typeset(shortened(content.title[language])),
            "summary": typeset(title),
            "questions": [typeset(q) for q in content.questions.get(language, ())],
            "speakers": [_person(p, language, config) for p in content.speakers],
            "moderator": _person(content.moderator, language, config)
            if content.moderator is not None
            else None,
            "note": typeset(content.note[language]) if content.note is not None else None,
            "status": occurrence.status,
            "cancelled": occurrence.status == "cancelled",
            "moved": content.moved_to is not None,
            "restored": restored and occurrence.takes_place,
            "languages": language_list(
                held_in(config, occurrence), config.labels[language].locale or language
            ),
            "language_count": len(held_in(config, occurrence)),
            "capacity": content.capacity,
            # links that exist once the session took place (None until they are set)
            "recording": content.recording,
            "slides": content.slides,
            "survey": content.survey,
        },
        "when": moment(occurrence.start, occurrence.end, language, config, now),
        "original_when": moment(original_start, original_end, language, config, now),
        "changes": session_changes(told, told_content(config, occurrence), language)
        if told is not None
        else [],
        "next_session": {
            "number": next_session.number,
            "when": moment(next_session.start, next_session.end, language, config, now),
        }
        if next_session is not None
        else None,
        "zoom": {"url": zoom.url, "meeting_id": zoom.meeting_id, "passcode": zoom.passcode},
        "organiser": {
            "name": config.organiser.name,
            "email": config.organiser.email,
            "logo": _logo(config),
        },
        "links": {
            "google": links.google,
            "outlook": links.outlook,
            "office365": links.office365,
            "ics_filename": ics_filename,
            # the same, short, served by the daemon (for the text part); None without one
            "short": short._asdict() if short is not None else None,
        },
        "labels": config.labels[language],
        "feed": feed_for(config, language),
        "proof": _proof(config, language, proof),
        "calendar": {
            "method": config.calendar.method,
            # a real meeting invitation: the calendar applies updates and cancellations itself
            "invitation": config.calendar.method == "request",
        },
    }


def _logo_src(config: Config) -> str:
    return f"cid:{logo_cid(organiser_domain(config))}"


def _logo(config: Config) -> dict[str, str | int] | None:
    """The organiser's logo as the HTML shows it: carried inside the email (`cid:`)."""
    logo = config.organiser.logo
    if logo is None or not logo.data:
        return None
    return {"src": _logo_src(config), "alt": logo.alt, "width": logo.width}


def logo_shown_in_a_page(html: str, config: Config) -> str:
    """An email's HTML shown by a browser (the organisers' preview), its logo in it as a
    data: URL (a `cid:` means nothing outside the email)."""
    logo = config.organiser.logo
    if logo is None or not logo.data:
        return html
    data = base64.b64encode(logo.data).decode()
    return html.replace(
        f'src="{_logo_src(config)}"', f'src="data:image/{logo.subtype};base64,{data}"'
    )


class Proof(NamedTuple):
    """A proof (`mailer send --to`): who the real send goes to."""

    segments: tuple[str, ...]  # () for those already sent an email about the session
    people: int

    def __str__(self) -> str:
        """`everyone (20 people)`, for headers and logs."""
        who = ", ".join(self.segments) or "everyone already sent an email about the session"
        return f"{who} ({self.people} {'person' if self.people == 1 else 'people'})"


def _proof(config: Config, language: str, proof: Proof | None) -> dict[str, str] | None:
    """What a proof says of itself: its marker, and who the real send goes to."""
    if proof is None:
        return None
    labels = config.labels[language]
    segments = ", ".join(labels.quoted(segment) for segment in proof.segments)
    note = labels.proof_note.replace("{segments}", segments or labels.proof_served)
    note = note.replace("{count}", str(proof.people))
    return {"label": labels.proof, "note": typography(note, language)}


class Shape(NamedTuple):
    """What changes how a template renders for a recipient, besides the slot values."""

    language: str
    timezone: str | None  # the recipient's zone, when it shows a different time
    has_name: bool
    filled_fields: frozenset[str]


def recipient_zone(recipient: Recipient, occurrence: Occurrence) -> str | None:
    """The recipient's zone if the session's time there differs from the series' zone."""
    if recipient.timezone is None:
        return None
    there = occurrence.start.astimezone(ZoneInfo(recipient.timezone))
    return recipient.timezone if there.utcoffset() != occurrence.start.utcoffset() else None


def shape_of(recipient: Recipient, occurrence: Occurrence) -> Shape:
    filled = frozenset(name for name, value in recipient.fields.items() if value)
    return Shape(
        recipient.language, recipient_zone(recipient, occurrence), bool(recipient.name), filled
    )


def recipient_values(
    recipient: Recipient, unsubscribe_url: str, answer_url: str = ""
) -> dict[str, str]:
    """The per-recipient values slots stand for."""
    values = {
        "name": recipient.name,
        "email": recipient.email,
        "unsubscribe": unsubscribe_url,
        "answer": answer_url,
    }
    values.update({f"field:{name}": value for name, value in recipient.fields.items()})
    return values


def recipient_context(
    shape: Shape,
    occurrence: Occurrence,
    config: Config,
    values: Mapping[str, str] | SlotPool,
    field_names: frozenset[str],
    *,
    now: dt.datetime,
    answering: bool = False,
) -> dict[str, Any]:
    """The recipient part of the context: real `values`, or slots from a pool. `answering`:
    the email has one-click answer links (`answer_url`, to which `?a=yes`, `maybe` or `no`
    is added)."""

    def value(key: str, label: str, present: bool) -> str:
        if not present:
            return ""
        if isinstance(values, SlotPool):
            return values.slot(key, label)
        return values[key]

    local = None
    if shape.timezone is not None:
        zone = ZoneInfo(shape.timezone)
        local = moment(
            occurrence.start.astimezone(zone),
            occurrence.end.astimezone(zone),
            shape.language,
            config,
            now,
        )
    fields = {
        name: value(f"field:{name}", f"recipient.fields.{name}", name in shape.filled_fields)
        for name in sorted(field_names)
    }
    return {
        "recipient": {
            "name": value("name", "recipient.name", shape.has_name),
            "email": value("email", "recipient.email", True),
            "fields": fields,
        },
        "local_when": local,
        "unsubscribe_url": value("unsubscribe", "unsubscribe_url", True),
        "answer_url": value("answer", "answer_url", answering) or None,
    }
