"""Session dates, numbers and instants: properties over 2000-2100 and exact DST cases."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailer.errors import NotFound
from mailer.model import Move, Series, SessionContent
from mailer.recurrence import find_occurrence, is_rule_date, local_interval, occurrences, rule_dates

UTC = dt.UTC


def make_series(**changes: object) -> Series:
    base = Series(
        id="test-series",
        timezone=ZoneInfo("Europe/Paris"),
        rule="FREQ=MONTHLY;BYDAY=+3TU",
        first=dt.date(2020, 11, 17),
        start=dt.time(13, 0),
        end=dt.time(14, 30),
        languages=("fr", "en"),
        title={"fr": "t", "en": "t"},
        description={"fr": "d", "en": "d"},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def third_tuesday(year: int, month: int) -> dt.date:
    first_weekday = dt.date(year, month, 1).weekday()
    first_tuesday = 1 + (1 - first_weekday) % 7
    return dt.date(year, month, first_tuesday + 14)


def content(day: dt.date, **changes: object) -> SessionContent:
    return replace(SessionContent(day, f"{day}.toml", {"fr": "t", "en": "t"}), **changes)  # type: ignore[arg-type]


# -- the default rule: every third Tuesday ------------------------------------------------------


@given(year=st.integers(2000, 2099), month=st.integers(1, 12), months=st.integers(1, 60))
def test_default_rule_gives_one_tuesday_between_15_and_21_each_month(
    year: int, month: int, months: int
) -> None:
    first = third_tuesday(year, month)
    series = make_series(first=first)
    end_year, end_month = divmod(month - 1 + months, 12)
    end = dt.date(year + end_year, end_month + 1, 1) - dt.timedelta(days=1)
    found = occurrences(series, {}, start=first, end=min(end, dt.date(2100, 12, 31)))
    per_month: dict[tuple[int, int], int] = {}
    for occurrence in found:
        day = occurrence.scheduled
        assert day.weekday() == calendar.TUESDAY
        assert 15 <= day.day <= 21
        per_month[day.year, day.month] = per_month.get((day.year, day.month), 0) + 1
    assert set(per_month.values()) == {1}
    assert len(per_month) == len(found) == min(months, (2100 - year) * 12 + 13 - month)


def test_every_month_of_2000_to_2100_has_its_third_tuesday() -> None:
    series = make_series(first=third_tuesday(2000, 1))
    found = [o.scheduled for o in occurrences(series, {}, end=dt.date(2100, 12, 31))]
    expected = [third_tuesday(y, m) for y in range(2000, 2101) for m in range(1, 13)]
    assert found == expected


def test_session_six_of_the_seed_series_is_20_april_2021() -> None:
    series = make_series()
    sixth = occurrences(series, {}, start=series.first, limit=6)[-1]
    assert (sixth.number, sixth.scheduled) == (6, dt.date(2021, 4, 20))
    assert sixth.start == dt.datetime(2021, 4, 20, 13, tzinfo=ZoneInfo("Europe/Paris"))
    assert sixth.start_utc == dt.datetime(2021, 4, 20, 11, tzinfo=UTC)
    assert sixth.end_utc == dt.datetime(2021, 4, 20, 12, 30, tzinfo=UTC)


# -- instants across DST, against the published rules (not zoneinfo) ---------------------------


def _nth_sunday(year: int, month: int, nth: int) -> dt.date:
    sundays = [
        d
        for d in range(1, 32 if month != 2 else 29)
        if d <= calendar.monthrange(year, month)[1]
        and dt.date(year, month, d).weekday() == calendar.SUNDAY
    ]
    return dt.date(year, month, sundays[nth if nth < 0 else nth - 1])


def _between(moment: dt.datetime, start: dt.datetime, end: dt.datetime) -> bool:
    return start <= moment < end


def published_offset(zone: str, moment: dt.datetime) -> dt.timedelta:
    """The UTC offset at a UTC instant, from each country's published DST law."""
    hours = dt.timedelta(hours=1)
    year = moment.year
    if zone == "Europe/Paris":  # EU since 1996: last Sundays of March and October, 01:00 UTC
        start = dt.datetime.combine(_nth_sunday(year, 3, -1), dt.time(1), UTC)
        end = dt.datetime.combine(_nth_sunday(year, 10, -1), dt.time(1), UTC)
        return 2 * hours if _between(moment, start, end) else hours
    if zone == "America/New_York":  # US since 2007: 2nd Sunday March, 1st Sunday November
        start = dt.datetime.combine(_nth_sunday(year, 3, 2), dt.time(7), UTC)
        end = dt.datetime.combine(_nth_sunday(year, 11, 1), dt.time(6), UTC)
        return -4 * hours if _between(moment, start, end) else -5 * hours
    if zone == "Australia/Sydney":  # NSW since 2008: 1st Sunday April to 1st Sunday October
        end = dt.datetime.combine(_nth_sunday(year, 4, 1), dt.time(16), UTC) - 24 * hours
        start = dt.datetime.combine(_nth_sunday(year, 10, 1), dt.time(16), UTC) - 24 * hours
        return 10 * hours if _between(moment, end, start) else 11 * hours
    raise AssertionError(zone)


def rfc5545_instant(zone: str, day: dt.date, wall: dt.time) -> dt.datetime:
    """RFC 5545 3.3.5: a repeated local time is its first occurrence; a skipped one takes the
    offset before the gap."""
    naive = dt.datetime.combine(day, wall, UTC)
    offsets = sorted(
        {published_offset(zone, naive - dt.timedelta(hours=h)) for h in range(-30, 31, 6)}
    )
    standard, summer = offsets[0], offsets[-1]
    if published_offset(zone, naive - summer) == summer:
        return naive - summer
    return naive - standard


ZONES = st.sampled_from(["Europe/Paris", "America/New_York", "Australia/Sydney"])
QUARTER_HOURS = st.integers(0, 95).map(lambda q: dt.time(q // 4, q % 4 * 15))


@given(
    zone=ZONES,
    day=st.dates(dt.date(2008, 1, 1), dt.date(2100, 12, 31)),
    start=QUARTER_HOURS,
    minutes=st.integers(15, 180),
)
def test_local_times_map_to_the_instants_rfc_5545_prescribes(
    zone: str, day: dt.date, start: dt.time, minutes: int
) -> None:
    end_naive = dt.datetime.combine(day, start) + dt.timedelta(minutes=minutes)
    if end_naive.date() != day:
        return
    begins, ends = local_interval(day, start, end_naive.time(), ZoneInfo(zone))
    expected_start = rfc5545_instant(zone, day, start)
    expected_end = rfc5545_instant(zone, day, end_naive.time())
    if expected_end <= expected_start:
        expected_end = expected_start + dt.timedelta(minutes=minutes)
    assert begins.astimezone(UTC) == expected_start
    assert ends.astimezone(UTC) == expected_end
    assert begins.tzinfo is not None and ends > begins
    assert begins.utcoffset() == published_offset(zone, expected_start)


@given(zone=ZONES, year=st.integers(2008, 2100), month=st.integers(1, 12))
def test_third_tuesday_session_is_at_1300_local_in_every_zone_and_season(
    zone: str, year: int, month: int
) -> None:
    series = make_series(timezone=ZoneInfo(zone), first=third_tuesday(year, month))
    occurrence = occurrences(series, {}, start=series.first, limit=1)[0]
    expected = rfc5545_instant(zone, occurrence.scheduled, dt.time(13))
    assert occurrence.start_utc == expected
    assert occurrence.end_utc == expected + dt.timedelta(minutes=90)
    assert (occurrence.start.hour, occurrence.start.minute) == (13, 0)


@pytest.mark.parametrize(
    ("zone", "day", "wall", "utc"),
    [
        # the hour that does not exist: read with the offset before the gap
        (
            "Europe/Paris",
            dt.date(2021, 3, 28),
            dt.time(2, 30),
            dt.datetime(2021, 3, 28, 1, 30, tzinfo=UTC),
        ),
        # the hour that happens twice: its first occurrence (still summer time)
        (
            "Europe/Paris",
            dt.date(2021, 10, 31),
            dt.time(2, 30),
            dt.datetime(2021, 10, 31, 0, 30, tzinfo=UTC),
        ),
        (
            "America/New_York",
            dt.date(2021, 3, 14),
            dt.time(2, 30),
            dt.datetime(2021, 3, 14, 7, 30, tzinfo=UTC),
        ),
        (
            "America/New_York",
            dt.date(2021, 11, 7),
            dt.time(1, 30),
            dt.datetime(2021, 11, 7, 5, 30, tzinfo=UTC),
        ),
        (
            "Australia/Sydney",
            dt.date(2021, 10, 3),
            dt.time(2, 30),
            dt.datetime(2021, 10, 2, 16, 30, tzinfo=UTC),
        ),
        (
            "Australia/Sydney",
            dt.date(2021, 4, 4),
            dt.time(2, 30),
            dt.datetime(2021, 4, 3, 15, 30, tzinfo=UTC),
        ),
    ],
)
def test_gap_and_fold_times_exactly(
    zone: str, day: dt.date, wall: dt.time, utc: dt.datetime
) -> None:
    begins, _ = local_interval(day, wall, dt.time(23), ZoneInfo(zone))
    assert begins.astimezone(UTC) == utc


def test_new_york_and_paris_change_clocks_on_different_sundays() -> None:
    """In the weeks between the US and EU changes, Paris is 5 hours ahead of New York, not 6."""
    paris = make_series(first=dt.date(2021, 3, 16), rule="FREQ=DAILY")
    new_york = replace(paris, timezone=ZoneInfo("America/New_York"))
    day = dt.date(2021, 3, 16)
    in_paris = occurrences(paris, {}, start=day, limit=1)[0]
    in_new_york = occurrences(new_york, {}, start=day, limit=1)[0]
    assert in_new_york.start_utc - in_paris.start_utc == dt.timedelta(hours=5)


# -- numbers and statuses -----------------------------------------------------------------------


@given(skipped=st.sets(st.integers(0, 23), max_size=10))
def test_skipped_dates_get_no_number_and_the_others_count_from_one(skipped: set[int]) -> None:
    series = make_series()
    dates = [o.scheduled for o in occurrences(series, {}, start=series.first, limit=24)]
    series = replace(series, skip=frozenset(dates[i] for i in skipped))
    found = occurrences(series, {}, start=series.first, limit=24)
    numbers = [o.number for o in found if o.status != "skipped"]
    assert numbers == list(range(1, 25 - len(skipped)))
    assert all(o.number is None for o in found if o.status == "skipped")
    assert {o.scheduled for o in found if o.status == "skipped"} == series.skip


def test_moved_and_cancelled_sessions_keep_their_numbers() -> None:
    series = make_series(skip=frozenset({dt.date(2020, 12, 15)}))
    moved = content(
        dt.date(2021, 2, 16), moved_to=Move(dt.date(2021, 2, 23), dt.time(10), dt.time(11))
    )
    cancelled = content(dt.date(2021, 3, 16), cancelled=True)
    sessions = {moved.scheduled: moved, cancelled.scheduled: cancelled}
    found = occurrences(series, sessions, start=series.first, end=dt.date(2021, 4, 30))
    summary = [(o.number, o.scheduled.isoformat(), o.status, o.date.isoformat()) for o in found]
    assert summary == [
        (1, "2020-11-17", "scheduled", "2020-11-17"),
        (None, "2020-12-15", "skipped", "2020-12-15"),
        (2, "2021-01-19", "scheduled", "2021-01-19"),
        (3, "2021-02-16", "moved", "2021-02-23"),
        (4, "2021-03-16", "cancelled", "2021-03-16"),
        (5, "2021-04-20", "scheduled", "2021-04-20"),
    ]
    assert found[3].start == dt.datetime(2021, 2, 23, 10, tzinfo=ZoneInfo("Europe/Paris"))


def test_a_session_moved_after_the_window_end_into_it_is_found() -> None:
    series = make_series()
    moved = content(
        dt.date(2021, 5, 18), moved_to=Move(dt.date(2021, 4, 27), dt.time(13), dt.time(14))
    )
    found = occurrences(
        series, {moved.scheduled: moved}, start=dt.date(2021, 4, 21), end=dt.date(2021, 4, 30)
    )
    assert [(o.number, o.status) for o in found] == [(7, "moved")]


def test_find_occurrence_by_scheduled_or_moved_date() -> None:
    series = make_series()
    moved = content(
        dt.date(2021, 4, 20), moved_to=Move(dt.date(2021, 4, 27), dt.time(13), dt.time(14))
    )
    sessions = {moved.scheduled: moved}
    assert find_occurrence(series, sessions, dt.date(2021, 4, 20)).number == 6
    assert find_occurrence(series, sessions, dt.date(2021, 4, 27)).scheduled == moved.scheduled
    with pytest.raises(NotFound, match=r"2021-04-21.*nearest: 2021-04-20, 2021-05-18"):
        find_occurrence(series, sessions, dt.date(2021, 4, 21))


def test_until_ends_the_series() -> None:
    series = make_series(until=dt.date(2021, 6, 15))
    assert list(rule_dates(series))[-1] == dt.date(2021, 6, 15)
    assert not is_rule_date(series, dt.date(2021, 7, 20))
    assert is_rule_date(series, dt.date(2021, 6, 15))


def test_an_open_ended_series_needs_a_bound() -> None:
    with pytest.raises(ValueError, match="open-ended"):
        occurrences(make_series(), {})
