"""Our VTIMEZONEs alone, read by ical.js and by vobject (Radicale's parser), place events right
in every zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import icalendar
import pytest

from mailer.calendar.timezones import vtimezone
from tests.support.peers import icaljs_many, libical_many

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


def test_vobject_reading_only_our_vtimezone_places_events_right_in_every_zone() -> None:
    """vobject (Radicale, Xandikos' ancestor) takes a VTIMEZONE that matches UTC over 2000-2019
    for UTC: London's, Dublin's and Lisbon's summers were an hour off while their rules began
    the year before the session."""
    import vobject

    wrong = []
    for index, zone in enumerate(ALL_ZONES):
        for day in (dt.date(2021, 1, 19), dt.date(2021, 7, 20), dt.date(2037, 11, 17)):
            tzid = f"X-VOBJECT/{index}/{day}"  # vobject keeps every TZID it read: one each
            data = calendar_with_event(zone, day, dt.time(13), tzid)
            start = vobject.readOne(data.decode("utf-8")).vevent.dtstart.value
            if start.tzinfo is None:  # what vobject makes of a zone it takes for UTC
                start = start.replace(tzinfo=dt.UTC)
            if start.astimezone(dt.UTC) != expected_utc(zone, day, dt.time(13)):
                wrong.append((zone, day.isoformat(), str(start)))
    assert wrong == []


@pytest.mark.node
@pytest.mark.parametrize(
    "zone", ["America/Santiago", "Asia/Jerusalem", "Europe/London", "Europe/Dublin"]
)
def test_thirty_years_of_one_zone_read_alike_by_icaljs_libical_and_vobject(
    tmp_path: Path, zone: str
) -> None:
    """A feed's VTIMEZONE serves 30 years: weekday-on-or-after rules (BYDAY with BYMONTHDAY),
    explicit years then rules (Chile), rules reaching back to 2000 (London): one event every
    two weeks, 2021-2050, placed right by three engines."""
    import vobject

    first, last = dt.date(2021, 1, 5), dt.date(2050, 12, 31)
    timezone = vtimezone(zone, first, last)
    timezone["TZID"] = icalendar.vText(f"X-LONG/{zone}")
    days = [first + dt.timedelta(days=14 * n) for n in range((last - first).days // 14)]
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:{day}\r\nDTSTAMP:20200101T000000Z\r\n"
        f"DTSTART;TZID=X-LONG/{zone}:{day:%Y%m%d}T130000\r\nEND:VEVENT\r\n"
        for day in days
    )
    data = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\n"
        + timezone.to_ical()
        + events.encode()
        + b"END:VCALENDAR\r\n"
    )
    assert data.count(b"BEGIN:STANDARD") <= 4  # was 33 for Chile: Outlook reads one
    path = tmp_path / "long.ics"
    path.write_bytes(data)
    expected = [expected_utc(zone, day, dt.time(13)) for day in days]
    (seen,) = icaljs_many([path])
    assert [e["start"] for e in seen["events"]] == [
        moment.strftime("%Y-%m-%dT%H:%M:%S.000Z") for moment in expected
    ]
    (read,) = libical_many([path])
    assert [e["start"] for e in read["events"]] == [
        moment.strftime("%Y-%m-%dT%H:%M:%SZ") for moment in expected
    ]
    parsed = vobject.readOne(data.decode("utf-8"))
    assert [e.dtstart.value.astimezone(dt.UTC) for e in parsed.vevent_list] == expected
