"""When the sessions of a series take place: rule dates, numbers, statuses, local and UTC times.

Dates come from the series' RFC 5545 rule, expanded by python-dateutil from a time-zone aware
start (never naive). A local time that does not exist (the hour skipped when clocks go forward)
is read with the offset before the gap, and an ambiguous one (the hour repeated when clocks go
back) as its first occurrence, as RFC 5545 section 3.3.5 says calendars must; the result is then
written as the real wall-clock time it designates.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Mapping
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from mailer.errors import NotFound
from mailer.model import Occurrence, OccurrenceStatus, Series, SessionContent

DEFAULT_RULE = "FREQ=MONTHLY;BYDAY=+3TU"
_FORBIDDEN_PARTS = {
    "DTSTART": "the series starts at [series] first",
    "UNTIL": "use [series] until instead",
}
_TOO_FREQUENT = ("SECONDLY", "MINUTELY", "HOURLY")


def rule_problem(rule: str) -> str | None:
    """Why `rule` is not a usable RRULE value, or None when it is."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    parts = {
        name.strip().upper(): value.strip().upper()
        for name, _, value in (part.partition("=") for part in text.split(";") if part.strip())
    }
    names = list(parts)
    if "FREQ" not in names:
        return "the rule has no FREQ (for example FREQ=MONTHLY;BYDAY=+3TU)"
    if parts["FREQ"] in _TOO_FREQUENT:
        return (
            f"FREQ={parts['FREQ']} is not a rule for meetings: sessions happen at most once a "
            "day (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)"
        )
    for name, reason in _FORBIDDEN_PARTS.items():
        if name in names:
            return f"the rule must not contain {name}: {reason}"
    try:
        _compile(text, dt.datetime(2000, 1, 1, tzinfo=dt.UTC), None)
    except (ValueError, TypeError) as error:
        return f"the rule is not a valid RFC 5545 RRULE ({error})"
    return None


def _compile(text: str, start: dt.datetime, until: dt.datetime | None) -> rrule:
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    compiled = rrulestr(text, dtstart=start, forceset=False, cache=True)
    if not isinstance(compiled, rrule):  # pragma: no cover - forceset=False gives an rrule
        raise TypeError("expected a single rule")
    if until is not None:
        compiled = compiled.replace(until=until)
    return compiled


@functools.lru_cache(maxsize=64)
def _series_rule(series_key: tuple[str, str, dt.date, dt.date | None, dt.time]) -> rrule:
    rule, zone, first, until, start = series_key
    tz = ZoneInfo(zone)
    until_at = None if until is None else dt.datetime.combine(until, start, tzinfo=tz)
    return _compile(rule, dt.datetime.combine(first, start, tzinfo=tz), until_at)


def _rule_for(series: Series) -> rrule:
    return _series_rule(
        (series.rule, series.timezone.key, series.first, series.until, series.start)
    )


def rule_dates(series: Series) -> Iterator[dt.date]:
    """Every date the rule gives, from `first` (and up to `until`), skipped ones included."""
    for start in _rule_for(series):
        yield start.date()


def is_rule_date(series: Series, day: dt.date) -> bool:
    """Whether the series' rule gives `day` (between `first` and `until`)."""
    if day < series.first or (series.until is not None and day > series.until):
        return False
    for candidate in rule_dates(series):
        if candidate >= day:
            return candidate == day
    return False


def nearest_rule_dates(series: Series, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The rule dates just before and just after `day`, to suggest a correction."""
    before: dt.date | None = None
    for candidate in rule_dates(series):
        if candidate >= day:
            return before, candidate
        before = candidate
    return before, None


def neighbours(series: Series, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The rule dates just before and just after `day` (not `day` itself), skipped ones
    left out."""
    before: dt.date | None = None
    for candidate in rule_dates(series):
        if candidate in series.skip or candidate == day:
            continue
        if candidate > day:
            return before, candidate
        before = candidate
    return before, None


def wall_time_problem(day: dt.date, time: dt.time, tz: ZoneInfo) -> str | None:
    """Why `time` on `day` is not one instant in `tz` (None when it is): it does not exist
    (the clocks go forward over it) or it occurs twice (they go back over it). Calendars place
    such times differently, and a session there would be shorter, longer, or an hour off."""
    naive = dt.datetime.combine(day, time)
    first, second = naive.replace(tzinfo=tz, fold=0), naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return None
    if first.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) != naive:
        return f"{time:%H:%M} on {day} does not exist in {tz.key}: the clocks go forward then"
    return f"{time:%H:%M} on {day} occurs twice in {tz.key}: the clocks go back then"


def schedule_problem(series: Series, years: int = 20) -> str | None:
    """The first session the rule places at a time that does not exist or occurs twice (see
    `wall_time_problem`), over the series or its next `years` years."""
    last = series.until or dt.date(series.first.year + years, 12, 31)
    for day in rule_dates(series):
        if day > last:
            return None
        if day in series.skip:
            continue
        for time in (series.start, series.end):
            if (problem := wall_time_problem(day, time, series.timezone)) is not None:
                return problem
    return None


def local_interval(
    day: dt.date, start: dt.time, end: dt.time, tz: dt.tzinfo
) -> tuple[dt.datetime, dt.datetime]:
    """The aware start and end of a session held from `start` to `end` local time on `day`."""
    begins = _real_wall_time(dt.datetime.combine(day, start, tzinfo=tz), tz)
    ends = _real_wall_time(dt.datetime.combine(day, end, tzinfo=tz), tz)
    if ends <= begins:  # both ends straddle a clock change: keep the nominal length
        nominal = dt.datetime.combine(day, end) - dt.datetime.combine(day, start)
        ends = (begins.astimezone(dt.UTC) + nominal).astimezone(tz)
    return begins, ends


def _real_wall_time(moment: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The same instant, written as a wall time that exists (fold=0 semantics of RFC 5545)."""
    return moment.astimezone(dt.UTC).astimezone(tz)


def _occurrence(
    series: Series, day: dt.date, number: int | None, content: SessionContent | None
) -> Occurrence:
    status: OccurrenceStatus
    if day in series.skip:
        status, number, content = "skipped", None, None
    elif content is not None and content.cancelled:
        status = "cancelled"
    elif content is not None and content.moved_to is not None:
        status = "moved"
    else:
        status = "scheduled"
    move = content.moved_to if content is not None else None
    if move is not None:
        start, end = local_interval(move.date, move.start, move.end, series.timezone)
    else:
        start, end = local_interval(day, series.start, series.end, series.timezone)
    return Occurrence(day, number, status, start, end, content)


def all_occurrences(
    series: Series, contents: Mapping[dt.date, SessionContent]
) -> Iterator[Occurrence]:
    """Every date of the series in rule order, numbered. Infinite for a series without end."""
    number = 0
    for day in rule_dates(series):
        if day in series.skip:
            yield _occurrence(series, day, None, None)
            continue
        number += 1
        yield _occurrence(series, day, number, contents.get(day))


def occurrences(
    series: Series,
    contents: Mapping[dt.date, SessionContent],
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    limit: int | None = None,
) -> list[Occurrence]:
    """The occurrences taking place from `start` to `end` (inclusive), in order of start time.

    A moved session counts where it now takes place. With `limit`, the first `limit` of them.
    """
    if end is None and limit is None and series.until is None:
        raise ValueError("an open-ended series needs an end date or a limit")
    moved_sources = [
        day
        for day, content in contents.items()
        if content.moved_to is not None and (start is None or content.moved_to.date >= start)
    ]
    must_reach = max(moved_sources, default=dt.date.min)
    found: list[Occurrence] = []
    for occurrence in all_occurrences(series, contents):
        day = occurrence.scheduled
        window_done = (end is not None and day > end) or (limit is not None and len(found) >= limit)
        if window_done and day > must_reach:
            break
        actual = occurrence.date
        if (start is None or actual >= start) and (end is None or actual <= end):
            found.append(occurrence)
    found.sort(key=lambda occurrence: occurrence.start_utc)
    return found[:limit] if limit is not None else found


def find_occurrence(
    series: Series, contents: Mapping[dt.date, SessionContent], day: dt.date
) -> Occurrence:
    """The session scheduled on `day`, or else the one moved to `day`. Raises NotFound."""
    if not is_rule_date(series, day):
        moved_here = [
            scheduled
            for scheduled, content in contents.items()
            if content.moved_to is not None and content.moved_to.date == day
        ]
        if not moved_here:
            before, after = nearest_rule_dates(series, day)
            nearby = ", ".join(str(d) for d in (before, after) if d is not None)
            raise NotFound(
                f"no session on {day}: it is not a date of the series"
                + (f" (nearest: {nearby})" if nearby else "")
            )
        day = moved_here[0]
    for occurrence in all_occurrences(series, contents):
        if occurrence.scheduled == day:
            return occurrence
    raise AssertionError("unreachable: a rule date is always reached")  # pragma: no cover


FEED_HORIZON = dt.timedelta(days=366)


def calendar_window(
    series: Series, contents: Mapping[dt.date, SessionContent], now: dt.datetime
) -> list[Occurrence]:
    """The sessions a series calendar lists: all of a finite series; else up to a year ahead."""
    horizon = now.astimezone(series.timezone).date() + FEED_HORIZON
    latest = max([horizon, *contents])
    return occurrences(series, contents, start=series.first, end=series.until or latest)


def next_occurrence(
    series: Series, contents: Mapping[dt.date, SessionContent], after: Occurrence
) -> Occurrence | None:
    """The first session taking place after `after` (what a cancellation points to)."""
    found = occurrences(series, contents, start=after.scheduled + dt.timedelta(days=1), limit=1)
    return found[0] if found else None
