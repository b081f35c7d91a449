"""VTIMEZONE components computed from the IANA database, correct for the dates they serve.

Outlook reads only DTSTART, RRULE and the two offsets of each observance, ignores RDATE, and
falls back to UTC when a VTIMEZONE has more than one STANDARD block (MS-STANOICAL 2.2.47;
keeper.sh#423). So where the zone's clock changes follow one yearly rule over the dates served
(Europe, North America, Australia...), we emit one STANDARD and one DAYLIGHT observance with an
RRULE, derived from the zone's real transitions and checked against every one of them. Where no
single rule fits (a zone that changed its rules in the period, or one whose changes are not on a
weekday rule), we emit one observance per transition, which RFC 5545 parsers read exactly.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import itertools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Transition:
    """A change of UTC offset: at `at` (UTC) clocks go from `before` to `after`."""

    at: dt.datetime
    before: dt.timedelta
    after: dt.timedelta
    name: str
    dst: bool

    @property
    def local_onset(self) -> dt.datetime:
        """The naive local time of the change, in the offset before it (RFC 5545 DTSTART)."""
        return (self.at + self.before).replace(tzinfo=None)


@dataclass(frozen=True)
class Observance:
    """One STANDARD or DAYLIGHT block."""

    daylight: bool
    onset: dt.datetime
    offset_from: dt.timedelta
    offset_to: dt.timedelta
    name: str
    rule: str | None = None  # "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"


def _offset_at(tz: ZoneInfo, moment: dt.datetime) -> dt.timedelta:
    offset = moment.astimezone(tz).utcoffset()
    assert offset is not None
    return offset


def transitions(tz: ZoneInfo, start: dt.datetime, end: dt.datetime) -> list[Transition]:
    """Every offset change of `tz` between two UTC instants, located to the second."""
    found = []
    moment, offset = start, _offset_at(tz, start)
    while moment < end:
        following = moment + _DAY
        next_offset = _offset_at(tz, following)
        if next_offset != offset:
            low, high = moment, following
            while high - low > dt.timedelta(seconds=1):
                middle = low + (high - low) / 2
                if _offset_at(tz, middle) == offset:
                    low = middle
                else:
                    high = middle
            at = high.replace(microsecond=0)
            local = at.astimezone(tz)
            found.append(
                Transition(at, offset, next_offset, local.tzname() or "", bool(local.dst()))
            )
        moment, offset = following, next_offset
    return found


def _weekday_rules(onset: dt.datetime) -> set[str]:
    """The yearly rules that give this onset's date: nth weekday, or last weekday of the month."""
    weekday = _WEEKDAYS[onset.weekday()]
    days_in_month = calendar.monthrange(onset.year, onset.month)[1]
    rules = {f"FREQ=YEARLY;BYMONTH={onset.month};BYDAY={(onset.day - 1) // 7 + 1}{weekday}"}
    if onset.day + 7 > days_in_month:
        rules.add(f"FREQ=YEARLY;BYMONTH={onset.month};BYDAY=-1{weekday}")
    return rules


def _rule_observance(
    group: list[Transition], daylight: bool, range_end: dt.datetime
) -> Observance | None:
    """One observance whose RRULE gives exactly the onsets of `group` up to `range_end`.

    Exactly: every transition is produced, and no transition that did not happen (a zone that
    stopped changing its clocks would otherwise be shown changing them for ever after). A single
    transition is no yearly rule: a zone that changed once is written transition by transition.
    """
    first = group[0]
    shapes = {(t.before, t.after, t.local_onset.time()) for t in group}
    if len(shapes) != 1 or len(group) < 2:
        return None
    onsets = [t.local_onset for t in group]
    for rule in sorted(
        set.intersection(*(_weekday_rules(o) for o in onsets)),
        key=lambda text: ("-1" in text, text),
    ):  # prefer "2SU" to "-1SU"
        expanded = rrulestr(rule, dtstart=onsets[0]).between(
            onsets[0], range_end.replace(tzinfo=None), inc=True
        )
        if expanded == onsets:
            return Observance(
                daylight, first.local_onset, first.before, first.after, first.name, rule
            )
    return None


@functools.lru_cache(maxsize=128)
def observances(zone: str, first: dt.date, last: dt.date) -> tuple[Observance, ...]:
    """The observances that describe `zone` correctly for every date from `first` to `last`."""
    tz = ZoneInfo(zone)
    start = dt.datetime(first.year - 1, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(last.year + 1, 12, 31, tzinfo=dt.UTC)
    changes = transitions(tz, start, end)
    if not changes:
        local = start.astimezone(tz)
        offset = _offset_at(tz, start)
        return (
            Observance(
                bool(local.dst()),
                start.replace(tzinfo=None) + offset,
                offset,
                offset,
                local.tzname() or "",
            ),
        )
    offsets = {t.after for t in changes}
    if len(offsets) == 2:
        summer = max(offsets)
        forward = [t for t in changes if t.after == summer]
        backward = [t for t in changes if t.after != summer]
        alternating = all(a.after != b.after for a, b in itertools.pairwise(changes))
        daylight = _rule_observance(forward, daylight=True, range_end=end)
        standard = _rule_observance(backward, daylight=False, range_end=end) if backward else None
        # the rules must also reach back to the first date served: before their first onset a
        # VTIMEZONE says nothing, and parsers guess
        served_from = dt.datetime.combine(first, dt.time(0), tzinfo=dt.UTC) - _DAY
        if alternating and daylight and standard and changes[0].at <= served_from:
            return (standard, daylight)
    first_offset = changes[0].before
    local = start.astimezone(tz)
    explicit = [
        Observance(
            bool(local.dst()),
            start.replace(tzinfo=None) + first_offset,
            first_offset,
            first_offset,
            local.tzname() or "",
        )
    ]
    explicit += [Observance(t.dst, t.local_onset, t.before, t.after, t.name) for t in changes]
    return tuple(explicit)


def vtimezone(zone: str, first: dt.date, last: dt.date) -> Timezone:
    """A VTIMEZONE for `zone`, valid for events from `first` to `last` (a new component)."""
    component = Timezone()
    component.add("tzid", zone)
    for observance in observances(zone, first, last):
        block = TimezoneDaylight() if observance.daylight else TimezoneStandard()
        block.add("dtstart", observance.onset)
        if observance.rule:
            block.add("rrule", vRecur.from_ical(observance.rule))
        block.add("tzoffsetfrom", observance.offset_from)
        block.add("tzoffsetto", observance.offset_to)
        if observance.name:
            block.add("tzname", observance.name)
        component.add_component(block)
    return component
