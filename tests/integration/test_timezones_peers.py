"""Our VTIMEZONEs alone, read by ical.js, place events right in every zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import icalendar
import pytest

from mailer.calendar.timezones import vtimezone
from tests.support.peers import icaljs_many

ALL_ZONES = sorted(zoneinfo.available_timezones() - {"Factory", "localtime"})


def calendar_with_event(zone: str, day: dt.date, wall: dt.time, tzid: str) -> bytes:
    """A calendar with our VTIMEZONE for `zone` (renamed `tzid`) and one event at `wall`."""
    timezone = vtimezone(zone, day, day)
    timezone["TZID"] = icalendar.vText(tzid)
    stamp = dt.datetime.combine(day, wall).strftime("%Y%m%dT%H%M%S")
    event = (
        "BEGIN:VEVENT\r\nUID:x\r\nDTSTAMP:20200101T000000Z\r\n"
        f"DTSTART;TZID={tzid}:{stamp}\r\nDTEND;TZID={tzid}:{stamp}\r\nEND:VEVENT\r\n"
    )
    return bytes(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\n"
        + timezone.to_ical()
        + event.encode()
        + b"END:VCALENDAR\r\n"
    )


def expected_utc(zone: str, day: dt.date, wall: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, wall, zoneinfo.ZoneInfo(zone)).astimezone(dt.UTC)


@pytest.mark.node
def test_icaljs_reading_only_our_vtimezone_places_events_right_in_every_zone(
    tmp_path: Path,
) -> None:
    cases = [
        (zone, day)
        for zone in ALL_ZONES
        for day in (dt.date(2021, 1, 19), dt.date(2021, 7, 20), dt.date(2037, 11, 17))
    ]
    paths = []
    for index, (zone, day) in enumerate(cases):
        path = tmp_path / f"{index}.ics"
        path.write_bytes(calendar_with_event(zone, day, dt.time(13), f"X-TEST/{index}"))
        paths.append(path)
    results = icaljs_many(paths)
    wrong = [
        (zone, day.isoformat(), result["events"][0]["start"])
        for (zone, day), result in zip(cases, results, strict=True)
        if result["events"][0]["start"]
        != expected_utc(zone, day, dt.time(13)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    ]
    assert wrong == []
    assert len(results) == len(cases) > 1000
