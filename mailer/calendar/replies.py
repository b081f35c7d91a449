"""iMIP replies (RFC 5546 3.2.3, RFC 6047): what an attendee answered to a meeting invitation.

A REPLY carries the event's UID, its SEQUENCE, and one ATTENDEE with a PARTSTAT. Pure: it
reads the bytes of a text/calendar part and says which session of which series it answers.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from icalendar import Calendar

from mailer.model import Answer  # the words iCalendar uses (PARTSTAT)

ANSWERS: dict[str, Answer] = {
    "ACCEPTED": "accepted",
    "TENTATIVE": "tentative",
    "DECLINED": "declined",
}
UID = re.compile(r"^(?P<series>.+)-(?P<date>[0-9]{8})$")


@dataclass(frozen=True)
class CalendarReply:
    series: str
    session: dt.date
    attendee: str  # the address, without mailto:
    answer: Answer
    sequence: int
    stamp: dt.datetime | None  # DTSTAMP: when the attendee answered
    organizer: str | None = None  # the ORGANIZER address it answers (without mailto:)


def read_reply(data: bytes) -> CalendarReply | None:
    """The reply a text/calendar part holds, or None if it is not an iMIP REPLY to one of the
    sessions of a series of ours (a UID `<series>-<YYYYMMDD>`), with a known PARTSTAT."""
    try:
        calendar = Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError):
        return None
    if str(calendar.get("method", "")).upper() != "REPLY":
        return None
    events = calendar.walk("VEVENT")
    if len(events) != 1:
        return None
    event = events[0]
    found = UID.match(str(event.get("uid", "")))
    attendees = event.get("attendee")
    if found is None or attendees is None or isinstance(attendees, list):
        return None  # a REPLY names exactly one attendee (RFC 5546 3.2.3)
    answer = ANSWERS.get(str(attendees.params.get("PARTSTAT", "")).upper())
    address = str(attendees)
    if answer is None or not address.lower().startswith("mailto:"):
        return None
    try:
        date = found["date"]
        session = dt.date(int(date[:4]), int(date[4:6]), int(date[6:]))
        sequence = int(event.get("sequence", 0))
    except ValueError:
        return None
    try:
        stamp = event.get("dtstamp")
        moment = stamp.dt if stamp is not None else None
    except ValueError:  # a broken DTSTAMP (icalendar's BrokenCalendarProperty): no stamp
        moment = None
    organizer = str(event.get("organizer", ""))
    return CalendarReply(
        series=found["series"],
        session=session,
        attendee=address[len("mailto:") :],
        answer=answer,
        sequence=sequence,
        stamp=moment if isinstance(moment, dt.datetime) else None,
        organizer=organizer[len("mailto:") :] if organizer.lower().startswith("mailto:") else None,
    )
