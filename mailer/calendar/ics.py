"""iCalendar files for one session or the whole series (RFC 5545, icalendar).

Every VEVENT carries: a UID stable for the session for ever (series id + scheduled date), the
revision's DTSTAMP and SEQUENCE, DTSTART/DTEND with TZID and a VTIMEZONE valid for its dates,
SUMMARY and DESCRIPTION in one language, LOCATION and URL with the Zoom link (RFC 7986's
CONFERENCE is shown by none of Thunderbird, Outlook or Apple: nextcloud/calendar#5381), ORGANIZER,
STATUS, and a VALARM unless cancelled. icalendar writes CRLF line endings, folds lines at 75
octets without splitting a UTF-8 character, and escapes text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Literal

from icalendar import Alarm, Calendar, Event, vCalAddress, vDuration, vRecur, vText

from mailer.calendar.describe import description, series_description, summary, zoom_of
from mailer.calendar.revisions import SERIES_KEY, Revision, session_key
from mailer.calendar.timezones import vtimezone
from mailer.config.settings import Config
from mailer.model import Occurrence, Series

Method = Literal["PUBLISH", "REQUEST", "CANCEL"]
Layout = Literal["recurring", "sessions"]
PRODID = "-//mailer//Meeting series mailer//EN"
DEFAULT_REFRESH = dt.timedelta(hours=12)
RECURRING_HORIZON_YEARS = 30


def session_uid(series: Series, scheduled: dt.date) -> str:
    """The UID of a session's event: the same in every email, file and feed, for ever."""
    return f"{series.id}-{scheduled:%Y%m%d}"


def series_uid(series: Series) -> str:
    """The UID of the recurring event that stands for the whole series."""
    return f"{series.id}-series"


def _calendar(config: Config, language: str, method: Method | None, *, feed: bool) -> Calendar:
    """A VCALENDAR. Only a feed has a name (NAME, X-WR-CALNAME): Microsoft's MS-OXCICAL says a
    single appointment must not, and Outlook desktop opens a named file as a new calendar,
    where updates and cancellations never find the event."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method is not None:
        calendar.add("method", method)
    if feed:  # TEXT, escaped (vobject and Radicale cut a name at a bare comma), and said to be
        # TEXT, or icalendar and ical.js keep the backslashes of a property they do not know
        text = {"VALUE": "TEXT"}
        calendar.add("name", vText(config.series.title[language]), parameters=text)
        calendar.add("x-wr-calname", vText(config.series.title[language]), parameters=text)
    return calendar


_QUOTED = re.compile(r'"([^"]*)"')


def shown_name(name: str) -> str:
    """A name as a CN parameter that every calendar shows as written. RFC 6868 writes a double
    quote as ^' and a caret as ^^, which Outlook and Gmail show literally (Jean ^'JJ^'
    Dupont): quotes become typographic ones (Jean “JJ” Dupont), a caret its modifier letter."""
    name = _QUOTED.sub("“\\1”", name).replace('"', "”")
    return name.replace("^", "\u02c6")


def _organiser(config: Config, address: str | None = None) -> vCalAddress:
    organizer = vCalAddress(f"mailto:{address or config.calendar_organizer}")
    organizer.params["CN"] = vText(shown_name(config.organiser.name))
    return organizer


def organizer_line(config: Config, address: str | None = None) -> bytes:
    """The ORGANIZER content line of the events (with `address` instead of the configured
    one: a meeting invitation's signed ORGANIZER), folded as the events write it."""
    holder = Event()
    holder.add("organizer", _organiser(config, address))
    data = bytes(holder.to_ical())
    return data.removeprefix(b"BEGIN:VEVENT\r\n").removesuffix(b"END:VEVENT\r\n")


ATTENDEE_SLOT = b"X-MAILER-ATTENDEE:slot\r\n"  # where each recipient's ATTENDEE line goes


def attendee_line(address: str, name: str, *, rsvp: bool) -> bytes:
    """The ATTENDEE content line of one recipient (RFC 5545 3.8.4.1), folded at 75 octets."""
    attendee = vCalAddress(f"mailto:{address}")
    if name:
        attendee.params["CN"] = vText(shown_name(name))
    attendee.params["CUTYPE"] = "INDIVIDUAL"
    attendee.params["ROLE"] = "REQ-PARTICIPANT"
    attendee.params["PARTSTAT"] = "NEEDS-ACTION"
    attendee.params["RSVP"] = "TRUE" if rsvp else "FALSE"
    holder = Event()  # icalendar writes (escapes, quotes, folds) the line
    holder.add("attendee", attendee)
    data = bytes(holder.to_ical())
    return data.removeprefix(b"BEGIN:VEVENT\r\n").removesuffix(b"END:VEVENT\r\n")


def _common(event: Event, config: Config, revision: Revision) -> None:
    event.add("dtstamp", revision.stamp)
    event.add("last-modified", revision.stamp)
    event.add("sequence", revision.sequence)
    event.add("organizer", _organiser(config))
    event.add("transp", "OPAQUE")
    event.add("class", "PUBLIC")


def _alarm(config: Config, language: str) -> Alarm | None:
    if config.series.alarm is None:
        return None
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("trigger", -config.series.alarm)
    alarm.add("description", config.labels[language].alarm)
    return alarm


def session_event(
    config: Config, occurrence: Occurrence, language: str, revision: Revision
) -> Event:
    """The VEVENT of one session, in one language."""
    if occurrence.status == "skipped":
        raise ValueError("a skipped date has no event")
    zoom = zoom_of(config, occurrence)
    event = Event()
    event.add("uid", session_uid(config.series, occurrence.scheduled))
    event.add("summary", summary(config, occurrence, language), parameters={"LANGUAGE": language})
    event.add("dtstart", occurrence.start)
    event.add("dtend", occurrence.end)
    _common(event, config, revision)
    event.add(
        "description", description(config, occurrence, language), parameters={"LANGUAGE": language}
    )
    event.add("location", zoom.url)
    event.add("url", zoom.url)
    cancelled = occurrence.status == "cancelled"
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if not cancelled and (alarm := _alarm(config, language)) is not None:
        event.add_component(alarm)
    return event


def _timezones(calendar: Calendar, config: Config, first: dt.date, last: dt.date) -> None:
    calendar.add_component(vtimezone(config.series.timezone.key, first, last))


def _ordered(calendar: Calendar) -> bytes:
    """VTIMEZONE first, as RFC 5545 recommends and Outlook expects."""
    calendar.subcomponents.sort(key=lambda component: component.name != "VTIMEZONE")
    return bytes(calendar.to_ical())


def session_calendar(
    config: Config,
    occurrence: Occurrence,
    language: str,
    revision: Revision,
    *,
    method: Method | None = "PUBLISH",
    with_attendee: bool = False,
) -> bytes:
    """An .ics with one session's event. `method` CANCEL marks the session cancelled.

    `with_attendee`: the event has an `ATTENDEE_SLOT` line, to be replaced by each recipient's
    `attendee_line` (a meeting invitation, METHOD:REQUEST or CANCEL).
    """
    calendar = _calendar(config, language, method, feed=False)
    if method == "CANCEL" and occurrence.status != "cancelled":
        occurrence = _as_cancelled(occurrence)
    event = session_event(config, occurrence, language, revision)
    if with_attendee:
        event.add("x-mailer-attendee", "slot")
    calendar.add_component(event)
    _timezones(calendar, config, occurrence.date, occurrence.date)
    return _ordered(calendar)


def _as_cancelled(occurrence: Occurrence) -> Occurrence:
    return replace(occurrence, status="cancelled")


def series_calendar(
    config: Config,
    occurrences: Iterable[Occurrence],
    language: str,
    revisions: Mapping[str, Revision],
    *,
    layout: Layout = "recurring",
    refresh: dt.timedelta = DEFAULT_REFRESH,
) -> bytes:
    """A subscribable calendar of the series in one language.

    `recurring`: one event with the series' RRULE, EXDATE for skipped dates, and an overridden
    instance (RECURRENCE-ID) for every session that has its own content, moved, was cancelled,
    or straddles a clock change (libical, node-ical and Radicale give every repeat the first
    one's real duration, ical.js adds it to the wall clock: such a session is an hour off in
    one or the other; if the first straddles one, every session is an override).
    `sessions`: one event per session given, with the same UIDs as the emailed invitations.
    `revisions` holds the revision of each session (by scheduled date) and of the series.
    """
    calendar = _calendar(config, language, "PUBLISH", feed=True)
    calendar.add("description", config.series.description[language])
    calendar.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(refresh))  # a DURATION (PT12H), as clients read it
    sessions = [o for o in occurrences if o.status != "skipped"]
    first, last = config.series.first, config.series.until or config.series.first
    if sessions:
        first = min(first, *(o.date for o in sessions))
        last = max(last, *(o.date for o in sessions))
    if layout == "recurring":
        if config.series.until is None:  # the RRULE goes on: so must the VTIMEZONE's validity
            last = max(last, dt.date(first.year + RECURRING_HORIZON_YEARS, 12, 31))
        calendar.add_component(_master(config, language, revisions[SERIES_KEY]))
        lasts = _first_duration(config.series)  # None: the first straddles a clock change
        sessions = [
            o
            for o in sessions
            if o.content is not None or o.status != "scheduled" or o.end_utc - o.start_utc != lasts
        ]
    for occurrence in sessions:
        event = session_event(config, occurrence, language, revisions[session_key(occurrence)])
        if layout == "recurring":
            event["uid"] = vText(series_uid(config.series))
            original = dt.datetime.combine(
                occurrence.scheduled, config.series.start, tzinfo=config.series.timezone
            )
            event.add("recurrence-id", original)
        calendar.add_component(event)
    _timezones(calendar, config, first, max(last, first))
    return _ordered(calendar)


def _first_duration(series: Series) -> dt.timedelta | None:
    """The real time the master event lasts (its DTEND - DTSTART in UTC), which engines give
    its repeats; None if it is not its wall-clock time too (no repeat is read right then)."""
    start = dt.datetime.combine(series.first, series.start, tzinfo=series.timezone)
    end = dt.datetime.combine(series.first, series.end, tzinfo=series.timezone)
    lasts = end.astimezone(dt.UTC) - start.astimezone(dt.UTC)
    return lasts if lasts == end.replace(tzinfo=None) - start.replace(tzinfo=None) else None


def _master(config: Config, language: str, revision: Revision) -> Event:
    series = config.series
    zoom = config.zoom
    event = Event()
    event.add("uid", series_uid(series))
    event.add("summary", series.title[language], parameters={"LANGUAGE": language})
    start = dt.datetime.combine(series.first, series.start, tzinfo=series.timezone)
    event.add("dtstart", start)
    event.add("dtend", dt.datetime.combine(series.first, series.end, tzinfo=series.timezone))
    rule = vRecur.from_ical(series.rule.removeprefix("RRULE:"))
    if series.until is not None:
        until = dt.datetime.combine(series.until, series.start, tzinfo=series.timezone)
        rule["UNTIL"] = [until.astimezone(dt.UTC)]
    event.add("rrule", rule)
    if series.skip:
        event.add(
            "exdate",
            [
                dt.datetime.combine(day, series.start, tzinfo=series.timezone)
                for day in sorted(series.skip)
            ],
        )
    _common(event, config, revision)
    event.add(
        "description", series_description(config, language), parameters={"LANGUAGE": language}
    )
    event.add("location", zoom.url)
    event.add("url", zoom.url)
    event.add("status", "CONFIRMED")
    if (alarm := _alarm(config, language)) is not None:
        event.add_component(alarm)
    return event
