"""Parse .ics files with libical (C; the library of Evolution and GNOME, through its GObject
bindings, Debian's gir1.2-ical-3.0) and print what it understood, as JSON: like icaljs_dump.mjs.

Run with Debian's own python3 (which has python3-gi), not the project's virtualenv. Times are
converted to UTC through the zone libical resolved for the TZID: the file's own VTIMEZONE.

usage: /usr/bin/python3 libical_dump.py FILE.ics [FILE.ics...]  (prints a list, in order)
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


def dump(path: str) -> dict[str, Any]:
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
                "recurrenceId": _utc(event.get_recurrenceid()) if recurrence else None,
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
    }


print(json.dumps([dump(path) for path in sys.argv[1:]]))
