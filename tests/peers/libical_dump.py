"""Parse .ics files with libical (C; the library of Evolution and GNOME, through its GObject
bindings, Debian's gir1.2-ical-3.0) and print what it understood, as JSON: like icaljs_dump.mjs.

Run with Debian's own python3 (which has python3-gi), not the project's virtualenv. Times are
converted to UTC through the zone libical resolved for the TZID: the file's own VTIMEZONE.

usage: /usr/bin/python3 libical_dump.py [--until=YYYYMMDDTHHMMSSZ] FILE.ics [FILE.ics...]
(prints a list, in order). With --until, each file's "occurrences" are the instances libical
expands (icalcomponent_foreach_recurrence, as Evolution does), each replaced by the event whose
RECURRENCE-ID names it, if any.
"""

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import gi

gi.require_version("ICalGLib", "3.0")
from gi.repository import ICalGLib as ICal  # noqa: E402


def _utc(time: Any) -> str:
    zone = time.get_timezone()
    seconds = time.as_timet_with_zone(zone) if zone is not None else time.as_timet()
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(component: Any, kind: Any) -> str | None:
    prop = component.get_first_property(kind)
    return None if prop is None else str(prop.get_value_as_string())


def _attendees(event: Any) -> list[dict[str, Any]]:
    found = []
    prop = event.get_first_property(ICal.PropertyKind.ATTENDEE_PROPERTY)
    while prop is not None:
        cn = prop.get_first_parameter(ICal.ParameterKind.CN_PARAMETER)
        rsvp = prop.get_first_parameter(ICal.ParameterKind.RSVP_PARAMETER)
        found.append(
            {
                "value": prop.get_attendee(),
                "cn": cn.get_cn() if cn is not None else None,
                "rsvp": rsvp.get_rsvp() == ICal.ParameterRsvp.TRUE if rsvp is not None else None,
            }
        )
        prop = event.get_next_property(ICal.PropertyKind.ATTENDEE_PROPERTY)
    return found


def _stamp(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _recurrence_id(root: Any, event: Any) -> str:
    """The RECURRENCE-ID in UTC (the time libical returns has lost its TZID)."""
    prop = event.get_first_property(ICal.PropertyKind.RECURRENCEID_PROPERTY)
    time = prop.get_recurrenceid()
    tzid = prop.get_first_parameter(ICal.ParameterKind.TZID_PARAMETER)
    if tzid is not None:
        time.set_timezone(root.get_timezone(tzid.get_tzid()))
    return _utc(time)


def _occurrences(root: Any, until: str) -> list[dict[str, Any]]:
    masters, overrides, single = [], {}, []
    event = root.get_first_component(ICal.ComponentKind.VEVENT_COMPONENT)
    while event is not None:
        if event.get_first_property(ICal.PropertyKind.RECURRENCEID_PROPERTY) is not None:
            overrides[_recurrence_id(root, event)] = event
        elif event.get_first_property(ICal.PropertyKind.RRULE_PROPERTY) is not None:
            masters.append(event)
        else:
            single.append(event)
        event = root.get_next_component(ICal.ComponentKind.VEVENT_COMPONENT)
    found = []
    for event in single:
        found.append((_utc(event.get_dtstart()), _utc(event.get_dtend()), event))
    end = ICal.Time.new_from_string(until)
    for master in masters:
        spans: list[tuple[str, str]] = []
        master.foreach_recurrence(
            ICal.Time.new_from_string("19700101T000000Z"),
            end,
            lambda _c, span, _d, spans=spans: spans.append(
                (_stamp(span.get_start()), _stamp(span.get_end()))
            ),
            None,
        )
        for start, stop in spans:
            event = overrides.get(start)
            if event is None:
                found.append((start, stop, master))
            else:
                found.append((_utc(event.get_dtstart()), _utc(event.get_dtend()), event))
    return [
        {"start": start, "end": stop, "status": _text(event, ICal.PropertyKind.STATUS_PROPERTY)}
        for start, stop, event in sorted(found, key=lambda item: item[0])
    ]


def dump(path: str, until: str | None = None) -> dict[str, Any]:
    root = ICal.Component.new_from_string(Path(path).read_text(encoding="utf-8"))
    method = root.get_method()
    events = []
    event = root.get_first_component(ICal.ComponentKind.VEVENT_COMPONENT)
    while event is not None:
        organizer = event.get_first_property(ICal.PropertyKind.ORGANIZER_PROPERTY)
        recurrence = event.get_first_property(ICal.PropertyKind.RECURRENCEID_PROPERTY)
        events.append(
            {
                "uid": event.get_uid(),
                "start": _utc(event.get_dtstart()),
                "end": _utc(event.get_dtend()),
                "tzid": event.get_dtstart().get_tzid(),
                "sequence": event.get_sequence(),
                "status": _text(event, ICal.PropertyKind.STATUS_PROPERTY),
                "summary": event.get_summary(),
                "organizer": organizer.get_organizer() if organizer is not None else None,
                "attendees": _attendees(event),
                "recurrenceId": _recurrence_id(root, event) if recurrence else None,
            }
        )
        event = root.get_next_component(ICal.ComponentKind.VEVENT_COMPONENT)
    names = {}
    for kind in ("NAME", "X-WR-CALNAME"):
        prop = root.get_first_property(ICal.PropertyKind.ANY_PROPERTY)
        while prop is not None:
            if prop.get_property_name() == kind:
                names[kind] = prop.get_value_as_string()
            prop = root.get_next_property(ICal.PropertyKind.ANY_PROPERTY)
    return {
        "method": method.value_nick.upper().replace("-", "") if method else None,
        "names": names,
        "events": events,
        "occurrences": _occurrences(root, until) if until else [],
    }


_until = next((a.removeprefix("--until=") for a in sys.argv[1:] if a.startswith("--until=")), None)
print(json.dumps([dump(p, _until) for p in sys.argv[1:] if not p.startswith("--until=")]))
