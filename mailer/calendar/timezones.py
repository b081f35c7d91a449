"""VTIMEZONE components computed from the IANA database, correct for the dates they serve.

Outlook reads only DTSTART, RRULE and the two offsets of each observance, ignores RDATE, and
falls back to UTC when a VTIMEZONE has more than one STANDARD block (MS-STANOICAL 2.2.47;
keeper.sh#423). So where the zone's clock changes follow one yearly rule over the dates served
(Europe, North America, Australia...), we emit one STANDARD and one DAYLIGHT observance with an
RRULE, derived from the zone's real transitions and checked against every one of them, and
starting as early as it held (vobject reads rules that start after 2019 as UTC in UTC+0 zones).
"The Sunday on or after the 2nd" (Chile) is a BYDAY with seven BYMONTHDAYs. Where no rule fits
(a zone that changed its rules in the period), we emit one observance per transition until the
rules became regular, which RFC 5545 parsers read exactly.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import itertools
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY = dt.timedelta(days=1)
RULES_FROM = 2000  # where regular rules begin, if they held then (see `_reach_back`)


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


def transitions(
    tz: ZoneInfo, start: dt.datetime, end: dt.datetime, step: dt.timedelta = _DAY
) -> list[Transition]:
    """Every offset change of `tz` between two UTC instants, located to the second (two
    within one `step` that undo each other are not seen)."""
    found = []
    moment, offset = start, _offset_at(tz, start)
    while moment < end:
        following = moment + step
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


def _weekday_rules(onset: dt.datetime) -> list[str]:
    """The yearly rules that give this onset's date: nth weekday, or last weekday of the month
    (the only kind Outlook reads: MS-OXCICAL 2.1.3.1.1.19.2.2)."""
    weekday = _WEEKDAYS[onset.weekday()]
    days_in_month = calendar.monthrange(onset.year, onset.month)[1]
    rules = [f"FREQ=YEARLY;BYMONTH={onset.month};BYDAY={(onset.day - 1) // 7 + 1}{weekday}"]
    if onset.day + 7 > days_in_month:
        rules.append(f"FREQ=YEARLY;BYMONTH={onset.month};BYDAY=-1{weekday}")
    return rules


def _window_rules(onsets: list[dt.datetime]) -> list[str]:
    """'The Sunday on or after the 2nd' (Chile), 'the Friday on or after the 23rd' (Israel): the
    weekday among seven days of the month, which RFC 5545 writes BYDAY with BYMONTHDAY."""
    days = sorted({onset.day for onset in onsets})
    if len({(o.month, o.weekday()) for o in onsets}) != 1 or days[-1] - days[0] > 6:
        return []
    month, weekday = onsets[0].month, _WEEKDAYS[onsets[0].weekday()]
    return [
        f"FREQ=YEARLY;BYMONTH={month};BYDAY={weekday};"
        f"BYMONTHDAY={','.join(str(day) for day in range(low, low + 7))}"
        for low in range(max(days[-1] - 6, 1), days[0] + 1)
    ]


def _rule_observance(
    group: list[Transition], daylight: bool, range_end: dt.datetime
) -> Observance | None:
    """One observance whose RRULE gives exactly the onsets of `group` up to `range_end`.

    Exactly: every transition is produced, and no transition that did not happen (a zone that
    stopped changing its clocks would otherwise be shown changing them for ever after). A single
    transition is no yearly rule: a zone that changed once is written transition by transition.
    An nth-weekday rule is preferred (Outlook reads no other), then a weekday-on-or-after one.
    """
    first = group[0]
    shapes = {(t.before, t.after, t.local_onset.time()) for t in group}
    if len(shapes) != 1 or len(group) < 2:
        return None
    onsets = [t.local_onset for t in group]
    nth = sorted(
        set.intersection(*(set(_weekday_rules(o)) for o in onsets)),
        key=lambda text: ("-1" in text, text),
    )  # prefer "2SU" to "-1SU"
    for rule in (*nth, *_window_rules(onsets)):
        expanded = rrulestr(rule, dtstart=onsets[0]).between(
            onsets[0], range_end.replace(tzinfo=None), inc=True
        )
        if expanded == onsets:
            return Observance(
                daylight, first.local_onset, first.before, first.after, first.name, rule
            )
    return None


def _rule_pair(changes: list[Transition], end: dt.datetime) -> tuple[Observance, ...] | None:
    """A STANDARD and a DAYLIGHT observance whose rules give exactly `changes` (None: none do)."""
    offsets = {t.after for t in changes}
    if len(offsets) != 2 or changes[0].before not in offsets:
        return None
    if any(a.after == b.after for a, b in itertools.pairwise(changes)):
        return None
    summer = max(offsets)
    forward = [t for t in changes if t.after == summer]
    daylight = _rule_observance(forward, daylight=True, range_end=end)
    if daylight is None:
        return None
    backward = [t for t in changes if t.after != summer]
    standard = _rule_observance(backward, daylight=False, range_end=end)
    return None if standard is None else (standard, daylight)


def _reach_back(
    tz: ZoneInfo, pair: tuple[Observance, ...], start: dt.datetime
) -> tuple[Observance, ...]:
    """The rules, starting as early as they gave the zone's real transitions (back to
    RULES_FROM): vobject, and so Radicale, compares a VTIMEZONE with UTC over 2000-2019, and
    reads one whose rules start later as UTC (Europe/London is UTC+0 in winter)."""
    if start.year <= RULES_FROM:
        return pair
    # (by the week: these years are before any date served, and only vobject looks at them)
    earlier = transitions(tz, dt.datetime(RULES_FROM, 1, 1, tzinfo=dt.UTC), start, _DAY * 7)
    predicted = sorted(
        (onset, index)
        for index, observance in enumerate(pair)
        for onset in rrulestr(
            observance.rule or "", dtstart=observance.onset.replace(year=RULES_FROM, month=1, day=1)
        ).between(observance.onset.replace(year=RULES_FROM, month=1, day=1), observance.onset)
    )
    onsets = [observance.onset for observance in pair]
    for real, (onset, index) in zip(reversed(earlier), reversed(predicted), strict=False):
        shape = (pair[index].offset_from, pair[index].offset_to)
        if (real.local_onset, real.before, real.after) != (onset, *shape):
            break
        onsets[index] = onset
    return tuple(replace(o, onset=onset) for o, onset in zip(pair, onsets, strict=True))


def _explicit(tz: ZoneInfo, start: dt.datetime, changes: list[Transition]) -> list[Observance]:
    """One observance per transition, after one for the offset in force at `start`."""
    offset = changes[0].before if changes else _offset_at(tz, start)
    local = start.astimezone(tz)
    initial = Observance(
        bool(local.dst()), start.replace(tzinfo=None) + offset, offset, offset, local.tzname() or ""
    )
    explicit = [Observance(t.dst, t.local_onset, t.before, t.after, t.name) for t in changes]
    return [initial, *explicit]


@functools.lru_cache(maxsize=128)
def observances(zone: str, first: dt.date, last: dt.date) -> tuple[Observance, ...]:
    """The observances that describe `zone` correctly for every date from `first` to `last`:
    a STANDARD and a DAYLIGHT rule where the zone's changes are regular, explicit transitions
    where they are not, and explicit ones up to the year its changes became regular (Chile's
    rules changed in 2022: a series from 2021 gets 2021 and 2022 explicit, then the rules)."""
    tz = ZoneInfo(zone)
    start = dt.datetime(first.year - 1, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(last.year + 1, 12, 31, tzinfo=dt.UTC)
    changes = transitions(tz, start, end)
    # before the rules' first onset a VTIMEZONE says nothing, and parsers guess: the rules
    # alone serve only if they begin before the first date served
    served_from = dt.datetime.combine(first, dt.time(0), tzinfo=dt.UTC) - _DAY
    for index in range(len(changes)):
        pair = _rule_pair(changes[index:], end)
        if pair is None:
            continue
        if index == 0 and changes[0].at <= served_from:
            return _reach_back(tz, pair, start)
        return (*_explicit(tz, start, changes[:index]), *pair)
    return tuple(_explicit(tz, start, changes))


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
