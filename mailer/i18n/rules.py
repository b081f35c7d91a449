"""Recurrence rules in people's words: the presets `mailer init` understands ("third tuesday",
"last friday", "every thursday") and what a rule says, in each language mailer has words for
("le troisième mardi de chaque mois", "every third Tuesday of the month")."""

from __future__ import annotations

import re
from dataclasses import dataclass

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_ENGLISH_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_PRESET = re.compile(
    r"^(?:(?P<ordinal>first|second|third|fourth|last)|(?P<every>every|weekly)"
    r"(?P<other> other)?)\s+(?P<day>[a-z]+?)s?$"
)
_MONTHLY = re.compile(r"^FREQ=MONTHLY;BYDAY=(?P<n>[+-]?\d)(?P<day>MO|TU|WE|TH|FR|SA|SU)$")
_WEEKLY = re.compile(r"^FREQ=WEEKLY(?:;INTERVAL=(?P<interval>[12]))?;BYDAY=(?P<day>[A-Z]{2})$")

PRESET_EXAMPLES = ("third tuesday", "first thursday", "last friday", "every wednesday")


def preset_rule(text: str) -> str | None:
    """The RRULE of a preset ("third tuesday", "last friday", "every thursday", "every other
    monday"), or None when `text` is not one."""
    found = _PRESET.match(" ".join(text.lower().replace("-", " ").split()))
    if found is None or found["day"] not in _ENGLISH_DAYS:
        return None
    day = WEEKDAYS[_ENGLISH_DAYS.index(found["day"])]
    if found["ordinal"]:
        number = _ORDINALS[found["ordinal"]]
        return f"FREQ=MONTHLY;BYDAY={'+' if number > 0 else ''}{number}{day}"
    interval = ";INTERVAL=2" if found["other"] else ""
    return f"FREQ=WEEKLY{interval};BYDAY={day}"


@dataclass(frozen=True)
class _Words:
    """A language's weekdays (Monday first), their gender (m/f) where ordinals agree, the
    ordinals (1 to 4, -1) by gender, and the sentences."""

    days: tuple[str, ...]
    genders: str
    ordinals: dict[str, tuple[str, ...]]
    monthly: str
    weekly: str
    fortnightly: str


_WORDS: dict[str, _Words] = {
    "en": _Words(
        days=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        genders="mmmmmmm",
        ordinals={"m": ("first", "second", "third", "fourth", "last")},
        monthly="on the {ordinal} {day} of every month",
        weekly="every {day}",
        fortnightly="every other {day}",
    ),
    "fr": _Words(
        days=("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
        genders="mmmmmmm",
        ordinals={"m": ("premier", "deuxième", "troisième", "quatrième", "dernier")},
        monthly="le {ordinal} {day} de chaque mois",
        weekly="chaque {day}",
        fortnightly="un {day} sur deux",
    ),
    "es": _Words(
        days=("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
        genders="mmmmmmm",
        ordinals={"m": ("primer", "segundo", "tercer", "cuarto", "último")},
        monthly="el {ordinal} {day} de cada mes",
        weekly="cada {day}",
        fortnightly="un {day} de cada dos",
    ),
    "de": _Words(
        days=("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
        genders="mmmmmmm",
        ordinals={"m": ("ersten", "zweiten", "dritten", "vierten", "letzten")},
        monthly="am {ordinal} {day} jedes Monats",
        weekly="jeden {day}",
        fortnightly="jeden zweiten {day}",
    ),
    "it": _Words(
        days=("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"),
        genders="mmmmmmf",
        ordinals={
            "m": ("il primo", "il secondo", "il terzo", "il quarto", "l’ultimo"),
            "f": ("la prima", "la seconda", "la terza", "la quarta", "l’ultima"),
        },
        monthly="{ordinal} {day} di ogni mese",
        weekly="ogni {day}",
        fortnightly="ogni due settimane, di {day}",
    ),
    "pt": _Words(
        days=(
            "segunda-feira",
            "terça-feira",
            "quarta-feira",
            "quinta-feira",
            "sexta-feira",
            "sábado",
            "domingo",
        ),
        genders="fffffmm",
        ordinals={
            "f": ("na primeira", "na segunda", "na terceira", "na quarta", "na última"),
            "m": ("no primeiro", "no segundo", "no terceiro", "no quarto", "no último"),
        },
        monthly="{ordinal} {day} de cada mês",
        weekly="todas as semanas, {article} {day}",
        fortnightly="de duas em duas semanas, {article} {day}",
    ),
}
_ARTICLES = {"pt": {"f": "à", "m": "ao"}}


def describe_rule(rule: str, language: str) -> str | None:
    """What a rule says, in `language` ("every third Tuesday of the month"), for the rules
    of the presets; None for any other rule, or a language without these words."""
    words = _WORDS.get(language.split("-", maxsplit=1)[0].lower())
    text = rule.strip().upper().removeprefix("RRULE:")
    if words is None:
        return None
    days, genders, ordinals = words.days, words.genders, words.ordinals
    if (monthly := _MONTHLY.match(text)) is not None:
        number = int(monthly["n"])
        if number not in (1, 2, 3, 4, -1):
            return None
        index = WEEKDAYS.index(monthly["day"])
        gender = genders[index]
        ordinal = ordinals.get(gender, ordinals["m"])[number - 1 if number > 0 else 4]
        return words.monthly.format(ordinal=ordinal, day=days[index])
    if (weekly := _WEEKLY.match(text)) is not None and weekly["day"] in WEEKDAYS:
        index = WEEKDAYS.index(weekly["day"])
        article = _ARTICLES.get(language, {}).get(genders[index], "")
        sentence = words.fortnightly if weekly["interval"] == "2" else words.weekly
        return sentence.format(day=days[index], article=article)
    return None
