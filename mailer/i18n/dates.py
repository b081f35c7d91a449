"""Dates and times written the way each language writes them (Babel, CLDR data).

"mardi 20 avril 2021, 13 h – 14 h 30 (heure de Paris)", "Tuesday 20 April 2021,
13:00–14:30 (Paris time)" (British English, as the shipped project sets it), "martes 20 de
abril de 2021, 13:00–14:30 (hora de París)". The labels of a language may name the Babel
locale to use (`locale = "en_GB"`) and override its patterns (`date_pattern`,
`short_date_pattern`, `time_pattern`, `whole_hour_pattern`): see docs/configuration.md.

CLDR separates times with thin and narrow no-break spaces (U+2009, U+202F). Some mail clients'
fonts show those as boxes, so they become a plain space and a no-break space (U+00A0).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Sequence

from babel import Locale, UnknownLocaleError
from babel.dates import (
    format_date,
    format_datetime,
    format_interval,
    format_skeleton,
    format_time,
    get_timezone_location,
)
from babel.lists import format_list

from mailer.i18n.labels import Labels, base_language

_SPACES = str.maketrans({"\u202f": "\u00a0", "\u2009": " "})


def babel_locale(language: str) -> Locale:
    """The Babel locale of a language code as written in config (`pt-BR` -> `pt_BR`)."""
    return _locale(language.replace("-", "_"))


@functools.lru_cache(maxsize=64)
def _locale(code: str) -> Locale:
    return Locale.parse(code)


def dates_locale(language: str, labels: Labels) -> Locale:
    """The locale dates and times of `language` are written in (`[labels] locale`)."""
    return babel_locale(labels.locale or language)


def _clean(text: str) -> str:
    return text.translate(_SPACES)


def long_date(day: dt.date, language: str, labels: Labels) -> str:
    """`mardi 20 avril 2021`, `Tuesday 20 April 2021`, `martes 20 de abril de 2021`."""
    locale = dates_locale(language, labels)
    return _clean(format_date(day, labels.date_pattern or "full", locale=locale))


def short_date(day: dt.date, language: str, labels: Labels) -> str:
    """`mar. 20 avr.`, `Tue 20 Apr`, `mar 20 abr`: for subjects and headings."""
    locale = dates_locale(language, labels)
    if labels.short_date_pattern:
        return _clean(format_date(day, labels.short_date_pattern, locale=locale))
    return _clean(format_skeleton("MMMEd", day, locale=locale))


def clock_time(moment: dt.datetime, language: str, labels: Labels) -> str:
    """`13 h`, `13 h 30`, `13:00`, `1:00 PM`."""
    locale = dates_locale(language, labels)
    pattern = labels.time_pattern or "short"
    if moment.minute == 0 and labels.whole_hour_pattern:
        pattern = labels.whole_hour_pattern
    return _clean(format_time(moment, pattern, tzinfo=moment.tzinfo, locale=locale))


def _twelve_hour(locale: Locale) -> bool:
    return any(letter in str(locale.time_formats["short"].pattern) for letter in "hK")


def time_range(start: dt.datetime, end: dt.datetime, language: str, labels: Labels) -> str:
    """`13 h – 14 h 30`, `13:00–14:30`, `1:00 – 2:30 PM` (both in the zone of `start`)."""
    end = end.astimezone(start.tzinfo)
    if labels.time_pattern:
        return f"{clock_time(start, language, labels)} – {clock_time(end, language, labels)}"
    locale = dates_locale(language, labels)
    skeleton = "hm" if _twelve_hour(locale) else "Hm"
    text = format_interval(start, end, skeleton, tzinfo=start.tzinfo, locale=locale)
    return _clean(text).replace("–", " – ").replace("  ", " ")


def zone_name(tz: dt.tzinfo, language: str, labels: Labels) -> str:
    """`heure de Paris`, `Paris time`, `hora de París`."""
    city = get_timezone_location(tz, locale=babel_locale(language), return_city=True)
    return labels.zone.replace("{city}", str(city))


def when(start: dt.datetime, end: dt.datetime, language: str, labels: Labels) -> str:
    """The full date, times and zone of a session, in the zone of `start`.

    `mardi 20 avril 2021, 13 h – 14 h 30 (heure de Paris)`; a session that ends on another
    local day (seen from far away) gives both dates.
    """
    assert start.tzinfo is not None, "times are always aware"
    end = end.astimezone(start.tzinfo)
    zone = zone_name(start.tzinfo, language, labels)
    if end.date() == start.date():
        span = f"{long_date(start.date(), language, labels)}, "
        span += time_range(start, end, language, labels)
    else:
        span = (
            f"{long_date(start.date(), language, labels)}, {clock_time(start, language, labels)}"
            f" – {long_date(end.date(), language, labels)}, {clock_time(end, language, labels)}"
        )
    return f"{span} ({zone})"


def day_word(day: dt.date, today: dt.date, language: str) -> str | None:
    """`aujourd’hui`, `tomorrow`, `mañana` when `day` is today or tomorrow, else None: what a
    reminder says instead of a countdown, which would be wrong whenever it is read."""
    relative = babel_locale(language)._data["date_fields"]["day"]["relative"]
    distance = (day - today).days
    word = relative.get(distance) if distance in (0, 1) else None
    return str(word) if word else None


_FRENCH_BEFORE = re.compile(r" +(?=[?!:;»])")
_FRENCH_AFTER = re.compile(r"(?<=«) +")


def typography(text: str, language: str) -> str:
    """Text as the language sets it: in French, a no-break space before ? ! : ; » and after «,
    so that punctuation never starts a line."""
    if base_language(language) != "fr":
        return text
    return _FRENCH_AFTER.sub("\u00a0", _FRENCH_BEFORE.sub("\u00a0", text))


def language_name(code: str, in_language: str) -> str:
    """`en` written in French: `anglais` (a code Babel does not know: as written)."""
    try:
        locale = babel_locale(code)
    except (UnknownLocaleError, ValueError):
        return code
    name = babel_locale(in_language).languages.get(str(locale.language))
    return str(name) if name else code


def language_list(codes: Sequence[str], in_language: str) -> str:
    """`français, anglais et espagnol`."""
    names = [language_name(code, in_language) for code in codes]
    return _clean(format_list(names, locale=babel_locale(in_language)))


def short_day(day: dt.date, language: str) -> str:
    """A day as a chart's axis says it: "20 Apr", "20 avr."."""
    return _clean(format_date(day, "d MMM", locale=babel_locale(language)))


def table_day(day: dt.date, language: str) -> str:
    """A day as the organisers' tables show it: "Tue 20 Apr 2021", "mar. 20 avr. 2021"."""
    return _clean(format_date(day, "EEE d MMM y", locale=babel_locale(language)))


def table_moment(moment: dt.datetime, language: str) -> str:
    """An instant as a table of the organisers' pages shows it, in its own zone: "Tue 20 Apr
    2021 13:00 CEST", "mar. 20 avr. 2021 13:00 CEST"."""
    text = format_datetime(
        moment, "EEE d MMM y HH:mm", tzinfo=moment.tzinfo, locale=babel_locale(language)
    )
    return _clean(f"{text} {moment.tzname() or ''}".strip())


_SAMPLE = dt.datetime(2021, 4, 20, 13, 30, tzinfo=dt.UTC)


def label_problems(language: str, labels: Labels) -> list[tuple[str, str]]:
    """(key, why) for each of `locale` and the date and time patterns of a language's labels
    that Babel cannot use: a locale it does not know, a pattern it cannot write."""
    try:
        dates_locale(language, labels)
    except (ValueError, TypeError, UnknownLocaleError):  # not a code, or one Babel lacks
        key = "locale" if labels.locale else "language"
        return [(key, f"'{labels.locale or language}' is not a locale Babel knows (e.g. en_GB)")]
    checks: dict[str, Callable[[], str]] = {
        "date_pattern": lambda: long_date(_SAMPLE.date(), language, labels),
        "short_date_pattern": lambda: short_date(_SAMPLE.date(), language, labels),
        "time_pattern": lambda: clock_time(_SAMPLE, language, labels),
        "whole_hour_pattern": lambda: clock_time(_SAMPLE.replace(minute=0), language, labels),
    }
    problems = []
    for key, write in checks.items():
        try:
            write()
        except Exception as error:  # Babel raises many kinds on a pattern it cannot write
            problems.append((key, f"Babel cannot write this pattern ({error})"))
    return problems
