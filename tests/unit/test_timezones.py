"""Generated VTIMEZONEs must not shift events, in icalendar or in ical.js.

Each test renames the TZID (X-TEST/...) so that no parser can fall back on its own copy of the
IANA database: the instant must come from our VTIMEZONE data alone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import icalendar
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mailer.calendar.timezones import observances, vtimezone

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


@given(
    zone=st.sampled_from(ALL_ZONES),
    day=st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)),
    hour=st.integers(0, 23),
)
# found by hypothesis: a zone that changed its clocks once (in 2004) was written as a yearly
# rule starting then, so 2003 fell before every observance and parsers guessed
@example(zone="America/Argentina/La_Rioja", day=dt.date(2003, 1, 1), hour=0)
def test_icalendar_reading_only_our_vtimezone_gets_every_zones_offset(
    zone: str, day: dt.date, hour: int
) -> None:
    data = calendar_with_event(zone, day, dt.time(hour), "X-TEST/zone")
    parsed = icalendar.Calendar.from_ical(data)
    tz = parsed.timezones[0].to_tz(lookup_tzid=False)
    moment = dt.datetime.combine(day, dt.time(hour))
    expected = moment.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    if expected.astimezone(dt.UTC).astimezone(expected.tzinfo).replace(tzinfo=None) != moment:
        return  # a wall time that does not exist: covered by the recurrence tests
    assert moment.replace(tzinfo=tz).utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "zone",
    ["Europe/Paris", "America/New_York", "Australia/Sydney", "America/Chicago", "Europe/London"],
)
def test_regular_zones_get_one_standard_and_one_daylight_block_with_rrule(zone: str) -> None:
    """Outlook falls back to UTC when a VTIMEZONE has more than one STANDARD block."""
    timezone = vtimezone(zone, dt.date(2020, 11, 17), dt.date(2100, 1, 1))
    names = [block.name for block in timezone.subcomponents]
    assert sorted(names) == ["DAYLIGHT", "STANDARD"]
    assert all("RRULE" in block for block in timezone.subcomponents)


def test_a_zone_without_daylight_saving_has_a_single_observance() -> None:
    (only,) = observances("Asia/Tokyo", dt.date(2021, 4, 20), dt.date(2021, 4, 20))
    assert (only.offset_from, only.offset_to, only.rule) == (dt.timedelta(hours=9),) * 2 + (None,)


def test_a_zone_that_stopped_changing_clocks_gets_no_invented_transitions() -> None:
    """Samoa abolished daylight saving in 2021: a yearly rule would invent September 2021."""
    blocks = observances("Pacific/Apia", dt.date(2021, 4, 20), dt.date(2021, 4, 20))
    assert all(block.rule is None for block in blocks)
    data = calendar_with_event("Pacific/Apia", dt.date(2021, 12, 21), dt.time(13), "X-TEST/apia")
    tz = icalendar.Calendar.from_ical(data).timezones[0].to_tz(lookup_tzid=False)
    assert dt.datetime(2021, 12, 21, 13, tzinfo=tz).utcoffset() == dt.timedelta(hours=13)


def test_a_weekday_on_or_after_rule_is_one_block_not_one_per_year() -> None:
    """Israel: 'the Friday before the last Sunday' of March is the 4th Friday, except in 2024:
    an nth-weekday rule where it fits the years served (Outlook reads no other), 'the Friday
    on or after the 23rd' (BYDAY=FR;BYMONTHDAY=23..29) where it does not: never 34 blocks."""
    assert observances("Asia/Jerusalem", dt.date(2021, 4, 20), dt.date(2021, 4, 20))[1].rule == (
        "FREQ=YEARLY;BYMONTH=3;BYDAY=4FR"
    )
    blocks = observances("Asia/Jerusalem", dt.date(2024, 3, 20), dt.date(2054, 3, 20))
    assert [block.daylight for block in blocks] == [False, True]
    assert blocks[1].rule == "FREQ=YEARLY;BYMONTH=3;BYDAY=FR;BYMONTHDAY=23,24,25,26,27,28,29"
    data = calendar_with_event("Asia/Jerusalem", dt.date(2024, 3, 28), dt.time(13), "X-TEST/il")
    tz = icalendar.Calendar.from_ical(data).timezones[0].to_tz(lookup_tzid=False)
    assert dt.datetime(2024, 3, 28, 13, tzinfo=tz).utcoffset() == dt.timedelta(hours=2)
    assert dt.datetime(2024, 3, 29, 13, tzinfo=tz).utcoffset() == dt.timedelta(hours=3)


def test_a_zone_whose_rules_became_regular_is_explicit_only_until_then() -> None:
    """Chile moved its September 2022 change by a week; from 2023 it is 'the Sunday on or after
    the 2nd', April and September: a series from 2021 gets 2021-2022 explicit, then rules."""
    blocks = observances("America/Santiago", dt.date(2021, 1, 19), dt.date(2051, 12, 31))
    assert [block.rule is not None for block in blocks].count(True) == 2
    assert len(blocks) <= 10  # it was 67, 33 of them STANDARD
    assert min(block.onset for block in blocks if block.rule).year == 2023


def test_regular_rules_start_before_2020_for_vobject() -> None:
    """vobject (Radicale) compares a VTIMEZONE with UTC over 2000-2019: London's rules starting
    in 2020 read as UTC, an hour off all summer. They start where they began to hold."""
    standard, daylight = observances("Europe/London", dt.date(2021, 4, 20), dt.date(2021, 4, 20))
    assert (standard.onset.year, daylight.onset.year) == (2000, 2000)
    standard, daylight = observances("America/New_York", dt.date(2021, 4, 20), dt.date(2021, 4, 20))
    # the US rules of 2007, not those before
    assert (standard.onset.isoformat(), daylight.onset.isoformat()) == (
        "2007-11-04T02:00:00",
        "2007-03-11T02:00:00",
    )
