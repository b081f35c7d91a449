"""Validating `[series]`, `[organiser]`, `[zoom]` and `[labels.LANG]` of config.toml."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

from mailer.config.durations import parse_duration
from mailer.config.tables import TableReader, did_you_mean
from mailer.config.values import address_problem, language_problem, zone_problem
from mailer.i18n.dates import label_problems
from mailer.i18n.labels import BUILT_IN, LABEL_KEYS, REQUIRED_LABEL_KEYS, Labels, labels_with
from mailer.model import Logo, Organiser, Series, Zoom
from mailer.recurrence import (
    DEFAULT_RULE,
    is_rule_date,
    nearest_rule_dates,
    rule_problem,
    schedule_problem,
)

SERIES_ID = re.compile(r"^[a-z0-9][a-z0-9.-]{1,62}$")
_HTTPS_URL = re.compile(r"^https://[^\s/$.?#][^\s]*$")


def read_languages(table: TableReader, key: str, *, required: bool) -> tuple[str, ...]:
    codes = table.string_list(key, required=required) or []
    valid: list[str] = []
    for index, code in enumerate(codes):
        if problem := language_problem(code):
            table.log.error((*table.path, key, index), problem)
        elif code in valid:
            table.log.error((*table.path, key, index), f"'{code}' is listed twice")
        else:
            valid.append(code)
    if required and key in table.data and not codes:
        table.error(key, "needs at least one language", 'Write it like ["fr", "en", "es"].')
    return tuple(valid)


def read_series(root: TableReader) -> Series | None:
    """`[series]`: the recurrence, the times, the languages, the per-language texts."""
    table = root.table("series", required=True)
    if table is None:
        return None
    series_id = table.string("id", required=True)
    if series_id is not None and not SERIES_ID.match(series_id):
        table.error(
            "id",
            f"'{series_id}' is not a valid series id",
            "Use 2-63 lowercase letters, digits, dots or hyphens, such as "
            "'icom-france-solidarites'; it goes into calendar UIDs, so never change it.",
        )
        series_id = None
    zone_name = table.string("timezone", required=True)
    tz = None
    if zone_name is not None:
        if problem := zone_problem(zone_name):
            table.error("timezone", *problem)
        else:
            tz = zoneinfo.ZoneInfo(zone_name)
    rule = table.string("rule", default=DEFAULT_RULE) or DEFAULT_RULE
    if rule_error := rule_problem(rule):
        table.error(
            "rule",
            rule_error,
            f"See RFC 5545 section 3.3.10; the default is {DEFAULT_RULE} (every third Tuesday).",
        )
        rule = ""
    first = table.date("first", required=True)
    until = table.date("until")
    start = table.clock_time("start", required=True)
    end = table.clock_time("end", required=True)
    if start is not None and end is not None and end <= start:
        table.error(
            "end",
            f"the session ends ({end:%H:%M}) before it starts ({start:%H:%M})",
            "Set end after start; sessions that run past midnight are not supported.",
        )
        end = None
    languages = read_languages(table, "languages", required=True)
    held_in = read_languages(table, "held_in", required=False)
    skip = set(table.date_list("skip"))
    sessions_dir = table.string("sessions_dir", default="sessions") or "sessions"
    title = table.per_language("title", languages, required=True)
    description = table.per_language("description", languages, required=True, multiline=True)
    partners = table.per_language("partners", languages, multiline=True)
    alarm = _read_alarm(table)
    table.finish()
    if None in (series_id, tz, first, start, end, title, description) or not rule or not languages:
        return None
    assert series_id and tz and first and start and end and title and description  # for mypy
    series = Series(
        id=series_id,
        timezone=tz,
        rule=rule,
        first=first,
        until=until,
        start=start,
        end=end,
        languages=languages,
        held_in=held_in,
        skip=frozenset(skip),
        sessions_dir=sessions_dir,
        title=title,
        description=description,
        partners=partners,
        alarm=alarm,
    )
    _check_dates(table, series)
    return series


def _read_alarm(table: TableReader) -> dt.timedelta | None:
    table.ignore("alarm")
    value = table.data.get("alarm", "PT15M")
    if value is False:
        return None
    if not isinstance(value, str):
        table.error("alarm", 'expected a duration like "PT15M", or false for no alarm')
        return None
    try:
        return parse_duration(value)
    except ValueError as error:
        table.error("alarm", str(error))
        return None


def _check_dates(table: TableReader, series: Series) -> None:
    if series.until is not None and series.until < series.first:
        table.error("until", f"the series ends ({series.until}) before it begins ({series.first})")
        return
    if not is_rule_date(dataclasses.replace(series, until=None), series.first):
        _, after = nearest_rule_dates(series, series.first)
        table.error(
            "first",
            f"{series.first} is not a date of the rule {series.rule}",
            f"The first date of the rule after it is {after}." if after else None,
        )
    for day in sorted(series.skip):
        if not is_rule_date(series, day):
            before, after = nearest_rule_dates(series, day)
            nearby = " or ".join(str(d) for d in (before, after) if d)
            table.error(
                "skip",
                f"{day} is not a date of the series, so it cannot be skipped",
                f"Did you mean {nearby}?" if nearby else None,
            )
    if (problem := schedule_problem(series)) is not None:
        table.error(
            "start",
            f"a session of the rule is at a local time that is not one instant: {problem}",
            "Choose start and end times that every session day has once (clocks change "
            "between 01:00 and 03:00 in most zones), or skip that date.",
        )


LOGO_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_LOGO_WIDTH = 540  # the email's column less its margins


def read_organiser(root: TableReader) -> Organiser | None:
    """`[organiser]`: who the emails and calendar events come from."""
    table = root.table("organiser", required=True)
    if table is None:
        return None
    name = table.string("name", required=True)
    email = table.string("email", required=True)
    reply_to = table.string("reply_to")
    for key, address in (("email", email), ("reply_to", reply_to)):
        if address is not None and (problem := address_problem(address)):
            table.error(key, problem)
    logo = table.string("logo")
    logo_alt = table.string("logo_alt")
    logo_width = table.integer("logo_width", minimum=16)
    if logo_width is not None and logo_width > MAX_LOGO_WIDTH:
        table.error("logo_width", f"{logo_width} is wider than the email ({MAX_LOGO_WIDTH})")
        logo_width = None
    if logo is not None and not logo.lower().endswith(LOGO_SUFFIXES):
        table.error("logo", f"'{logo}' is not a .png or .jpg file", "Give a PNG or JPEG image.")
        logo = None
    table.finish()
    if name is None or email is None or address_problem(email):
        return None
    if reply_to is not None and address_problem(reply_to):
        return None
    shown = None
    if logo is not None:
        shown = Logo(logo, logo_alt if logo_alt is not None else name, logo_width or 120)
    return Organiser(name=name, email=email, reply_to=reply_to, logo=shown)


def read_https(table: TableReader, key: str, *, required: bool = False) -> str | None:
    """An https:// link (None when absent or wrong, and said)."""
    url = table.string(key, required=required)
    if url is not None and not _HTTPS_URL.match(url):
        table.error(key, f"'{url}' is not an https:// link")
        return None
    return url


def read_zoom(table: TableReader, *, required: bool) -> Zoom | None:
    """A `[zoom]` table: the join link, the meeting ID and the passcode."""
    url = read_https(table, "url", required=required)
    meeting_id = _digits_or_text(table, "meeting_id", required)
    passcode = _digits_or_text(table, "passcode", required)
    table.finish()
    if url is None or meeting_id is None or passcode is None:
        return None
    return Zoom(url=url, meeting_id=meeting_id, passcode=passcode)


def _digits_or_text(table: TableReader, key: str, required: bool) -> str | None:
    if isinstance(table.data.get(key), int) and not isinstance(table.data.get(key), bool):
        table.ignore(key)
        return str(table.data[key])
    return table.string(key, required=required)


def read_labels(root: TableReader, languages: Sequence[str] | None) -> dict[str, Labels]:
    """The labels of every language of the series: built in, overridden by `[labels.LANG]`.

    `languages` None means the series is invalid: the tables are not checked against it.
    """
    tables = root.sub_tables("labels")
    labels: dict[str, Labels] = {}
    for language in languages or ():
        table = tables.pop(language, None)
        overrides: Mapping[str, Any] = {}
        if table is not None:
            overrides = {key: table.string(key) for key in LABEL_KEYS if table.has(key)}
            table.finish()
        merged = labels_with(language, {k: v for k, v in overrides.items() if v is not None})
        checked = overrides or language not in BUILT_IN  # the built-in ones are tested
        if merged is not None and checked and (found := label_problems(language, merged)):
            for key, problem in found:
                if table is not None and key in overrides:
                    table.error(key, problem, "See docs/configuration.md, [labels.LANG].")
                else:
                    root.log.error(("labels", language), problem)
            continue
        if merged is None:
            missing = [key for key in REQUIRED_LABEL_KEYS if key not in overrides]
            root.log.error(
                ("labels", language),
                f"mailer has no built-in labels for '{language}' "
                f"(it has {', '.join(sorted(BUILT_IN))})",
                f"Add a [labels.{language}] table with: {', '.join(missing)}.",
            )
            continue
        labels[language] = merged
    for language, table in tables.items():
        if languages is not None:
            table.error(
                None,
                f"'{language}' is not a language of the series",
                did_you_mean(language, languages),
            )
    return labels
