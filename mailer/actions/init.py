"""`mailer init DIR`: a working project for a new series (config, one session file, the
templates of its languages, an example list), which passes `mailer check` as written. What
the organiser gives (title, zone, rule, times, languages, organiser, meeting) is written in;
what they do not is a placeholder that `mailer check` warns about and SMTP refuses."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from mailer.config import placeholders
from mailer.config.values import address_problem
from mailer.errors import InvalidInput, Problem
from mailer.i18n.dates import clock_time, zone_name
from mailer.i18n.labels import built_in_labels
from mailer.i18n.rules import PRESET_EXAMPLES, describe_rule, preset_rule
from mailer.model import Series
from mailer.recurrence import DEFAULT_RULE, nearest_rule_dates, rule_problem

STARTER = Path(__file__).resolve().parent.parent / "starter_templates"


def shipped_languages() -> tuple[str, ...]:
    """The languages whose templates come with mailer."""
    if not STARTER.is_dir():
        return ()
    return tuple(sorted(p.name for p in STARTER.iterdir() if p.is_dir()))


@dataclass(frozen=True)
class NewSeries:
    """What `mailer init` asks (the defaults: placeholders, and the example's schedule)."""

    title: str = placeholders.SERIES_TITLE
    timezone: str = "Europe/Paris"
    rule: str = "third tuesday"  # a preset, or an RFC 5545 RRULE
    start: dt.time = dt.time(13)
    end: dt.time = dt.time(14, 30)
    languages: tuple[str, ...] = ("en",)
    organiser_name: str = placeholders.ORGANISER_NAME
    organiser_email: str = placeholders.ORGANISER_EMAIL
    meeting_url: str = placeholders.MEETING_URL
    meeting_id: str = placeholders.MEETING_ID
    passcode: str = placeholders.PASSCODE
    problems: list[Problem] = field(default_factory=list, compare=False)


def rule_of(text: str) -> str:
    """The RRULE of a preset or of an RRULE itself; InvalidInput otherwise."""
    rule = preset_rule(text) or text.strip().upper().removeprefix("RRULE:")
    if problem := rule_problem(rule):
        raise InvalidInput(
            f"'{text}' is neither a preset ({', '.join(PRESET_EXAMPLES)}) nor a rule: {problem}"
        )
    return rule


def validate(new: NewSeries) -> list[Problem]:
    """What is wrong with the answers, each at its option."""
    problems = []

    def wrong(option: str, message: str) -> None:
        problems.append(Problem(f"--{option}", message))

    try:
        ZoneInfo(new.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        wrong("timezone", f"'{new.timezone}' is not an IANA time zone (e.g. Europe/Paris)")
    try:
        rule_of(new.rule)
    except InvalidInput as error:
        wrong("rule", str(error))
    if new.end <= new.start:
        wrong("end", "the session must end after it starts")
    shipped = shipped_languages()
    for language in new.languages:
        if language not in shipped:
            wrong(
                "languages",
                f"mailer ships no templates for '{language}' (it has {', '.join(shipped)}): "
                f"start with those, then `mailer language add {language} --from en`",
            )
    if not new.languages:
        wrong("languages", "give at least one language")
    if problem := address_problem(new.organiser_email):
        wrong("organiser-email", problem)
    if not new.meeting_url.startswith("https://"):
        wrong("meeting-url", f"'{new.meeting_url}' is not an https:// link")
    return problems


_ABOUT = {  # the series' description: where it happens, the rule, the times, the zone
    "en": ("A discussion {where} {rule}, from {start} to {end} ({zone}).", "on Zoom", "online"),
    "fr": ("Une rencontre {where} {rule}, de {start} à {end} ({zone}).", "sur Zoom", "en ligne"),
    "es": ("Un encuentro {where} {rule}, de {start} a {end} ({zone}).", "en Zoom", "en línea"),
    "de": ("Ein Gespräch {where} {rule}, von {start} bis {end} ({zone}).", "auf Zoom", "online"),
    "it": ("Un incontro {where} {rule}, dalle {start} alle {end} ({zone}).", "su Zoom", "online"),
    "pt": ("Um encontro {where} {rule}, das {start} às {end} ({zone}).", "no Zoom", "online"),
}
_SESSION = {  # the first session file's placeholders: title, a question, a role
    "en": ("What shall we talk about?", "Their role"),
    "fr": ("De quoi allons-nous parler ?", "Sa fonction"),
    "es": ("¿De qué vamos a hablar?", "Su función"),
    "de": ("Worüber wollen wir sprechen?", "Ihre Funktion"),
    "it": ("Di che cosa parleremo?", "Il suo ruolo"),
    "pt": ("Sobre o que vamos falar?", "A sua função"),
}


def description(new: NewSeries, language: str, rule: str) -> str:
    """The series' description in `language`: what the rule says, the times, the zone."""
    sentence, zoom, online = _ABOUT[language]
    labels = built_in_labels(language)
    assert labels is not None, "the shipped languages have built-in labels"
    zone = ZoneInfo(new.timezone)
    day = dt.date(2021, 1, 1)
    start = dt.datetime.combine(day, new.start, tzinfo=zone)
    end = dt.datetime.combine(day, new.end, tzinfo=zone)
    said = describe_rule(rule, language)
    text = sentence.format(
        where=zoom if "zoom.us" in new.meeting_url else online,
        rule=said or f"({rule})",
        start=clock_time(start, language, labels),
        end=clock_time(end, language, labels),
        zone=zone_name(zone, language, labels),
    )
    return text.replace(" ,", ",")


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string


def _per_language(languages: Sequence[str], text: dict[str, str]) -> str:
    return "".join(f"{code} = {_toml(text[code])}\n" for code in languages)


def config_text(new: NewSeries, series_id: str, first: dt.date) -> str:
    rule = rule_of(new.rule)
    languages = new.languages
    said = describe_rule(rule, "en") or rule
    return f"""\
# mailer: a new series. Every key is documented in docs/configuration.md; `mailer check`
# validates this file (and warns while one of mailer init's placeholders is left).

[series]
id = {_toml(series_id)}
timezone = {_toml(new.timezone)}
# RFC 5545 RRULE: {said}
rule = {_toml(rule)}
first = {first.isoformat()}
start = {new.start.isoformat(timespec="seconds")}
end = {new.end.isoformat(timespec="seconds")}
languages = [{", ".join(_toml(code) for code in languages)}]
sessions_dir = "sessions"

[series.title]
{_per_language(languages, dict.fromkeys(languages, new.title))}
[series.description]
{_per_language(languages, {code: description(new, code, rule) for code in languages})}
[organiser]
name = {_toml(new.organiser_name)}
email = {_toml(new.organiser_email)}

[zoom]
url = {_toml(new.meeting_url)}
meeting_id = {_toml(new.meeting_id)}
passcode = {_toml(new.passcode)}

[lists.members]
file = "recipients/members.csv"

[unsubscribe]
url = {_toml(placeholders.UNSUBSCRIBE_URL)}
mailto = {_toml(placeholders.UNSUBSCRIBE_MAILTO)}
key_env = "MAILER_UNSUBSCRIBE_KEY"

[state]
database = "state/mailer.db"
keep_deliveries = "P400D"

[[cadence]]
kind = "invitation"
before = "P14D"
segments = ["everyone"]

[[cadence]]
kind = "reminder"
before = "P1D"
segments = ["everyone"]
"""


def session_text(day: dt.date, languages: Sequence[str]) -> str:
    titles = {code: placeholders.SESSION_TITLES[code] for code in languages}
    questions = "".join(f"{code} = [{_toml(_SESSION[code][0])}]\n" for code in languages)
    roles = ", ".join(f"{code} = {_toml(_SESSION[code][1])}" for code in languages)
    return f"""\
# The session of {day} (this file's name). To move it:
#   moved_to = {{ date = {day}, start = 14:00:00, end = 15:30:00 }}
# To cancel it: status = "cancelled"

[title]
{_per_language(languages, titles)}
[questions]
{questions}
[[speakers]]
name = "A speaker"
role = {{ {roles} }}

[moderator]
name = "A moderator"
role = {{ {roles} }}
"""


def first_session(today: dt.date, rule: str = DEFAULT_RULE, zone: str = "Europe/Paris") -> dt.date:
    """The first date of `rule` after `today` (the series' own recurrence)."""
    probe = Series(
        id="new",
        timezone=ZoneInfo(zone),
        rule=rule,
        first=today - dt.timedelta(days=400),
        start=dt.time(13),
        end=dt.time(14, 30),
        languages=("en",),
        title={"en": ""},
        description={"en": ""},
    )
    day = nearest_rule_dates(probe, today)[1]  # after today: its emails have time to go
    assert day is not None  # the rule has no end
    return day


def init_project(folder: Path, today: dt.date, new: NewSeries | None = None) -> list[Path]:
    """Write a new project in `folder` (which must be empty or not exist); the files written.
    InvalidInput lists every wrong answer, and nothing is written."""
    new = new or NewSeries()
    if folder.exists() and any(folder.iterdir()):
        raise InvalidInput(f"{folder} is not empty: give a new folder, mailer overwrites nothing")
    if not STARTER.is_dir():
        raise InvalidInput(f"the starter templates are missing from this install ({STARTER})")
    if problems := validate(new):
        raise InvalidInput("nothing was written", problems)
    rule = rule_of(new.rule)
    day = first_session(today, rule, new.timezone)
    name = "".join(c if c.isalnum() else "-" for c in folder.resolve().name.lower()).strip("-")
    files = {
        "config.toml": config_text(new, name or "my-series", day),
        f"sessions/{day.isoformat()}.toml": session_text(day, new.languages),
        "recipients/members.csv": (
            "email,name,language,tags,timezone\n"
            f"{placeholders.MEMBER},Someone,{new.languages[0]},member,{new.timezone}\n"
        ),
    }
    written = []
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    others = [code for code in shipped_languages() if code not in new.languages]
    shutil.copytree(STARTER, folder / "templates", ignore=shutil.ignore_patterns(*others))
    written.append(folder / "templates")
    return written
