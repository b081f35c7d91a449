"""The session editor's form, and the session file it is saved as (pure).

Every field is named by the key path `mailer check` reports problems at (`title.en`,
`speakers[1].role.es`, `moved_to.date`), so that a problem is shown at its field. The file
stays the source of truth: what the page does not edit (a Zoom override, `held_in`) is kept
as it was, and the text written is read back by the same validator as `mailer check`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import tomli_w

from mailer.errors import Problem
from mailer.i18n.dates import language_name
from mailer.model import AFTERWARDS

EDITED = (
    "title",
    "questions",
    "note",
    "status",
    "moved_to",
    "speakers",
    "moderator",
    *AFTERWARDS,
    "capacity",
)
BLANK_SPEAKERS = 2  # empty rows offered below the speakers (to add one without scripts)
_ROW = re.compile(r"^speakers\[(\d+)\]\.")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


@dataclass
class PersonForm:
    name: dict[str, str] = field(default_factory=dict)
    role: dict[str, str] = field(default_factory=dict)
    to_be_confirmed: bool = False

    def is_empty(self) -> bool:
        return not any([*self.name.values(), *self.role.values()])


@dataclass
class SessionForm:
    """What the page shows and sends back (texts as typed)."""

    title: dict[str, str] = field(default_factory=dict)
    questions: dict[str, str] = field(default_factory=dict)  # one question per line
    note: dict[str, str] = field(default_factory=dict)
    speakers: list[PersonForm] = field(default_factory=list)
    moderator: PersonForm = field(default_factory=PersonForm)
    status: str = "scheduled"
    moved_to: dict[str, str] = field(default_factory=dict)  # date, start, end as typed
    afterwards: dict[str, str] = field(default_factory=dict)  # the recording's link...
    capacity: str = ""  # as typed ("": no limit)
    version: str = ""  # the digest of the file the form was made from ("" when new)
    kept: dict[str, Any] = field(default_factory=dict)  # the file's keys the page leaves alone

    def rows(self) -> list[PersonForm]:
        """The speakers to show: those given, then blank rows to add more."""
        return [*self.speakers, *(PersonForm() for _ in range(BLANK_SPEAKERS))]


def file_version(text: str | None) -> str:
    """The digest the form carries, to notice that the file changed meanwhile."""
    return "" if text is None else hashlib.sha256(text.encode()).hexdigest()[:20]


# -- from the file ------------------------------------------------------------------------------


def _texts(value: Any, languages: Sequence[str]) -> dict[str, str]:
    if isinstance(value, str):  # a name written once for every language
        return dict.fromkeys(languages, value)
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if isinstance(v, str)}
    return {}


def _person(value: Any, languages: Sequence[str]) -> PersonForm:
    data = value if isinstance(value, dict) else {}
    return PersonForm(
        _texts(data.get("name"), languages),
        _texts(data.get("role"), languages),
        data.get("to_be_confirmed") is True,
    )


def _clock(value: Any) -> str:
    return value.strftime("%H:%M") if isinstance(value, dt.time) else str(value or "")


def form_from_data(data: Mapping[str, Any], languages: Sequence[str], version: str) -> SessionForm:
    """The form of a session file's parsed TOML."""
    questions = data.get("questions")
    per_language = questions if isinstance(questions, dict) else {}
    moved_value, speakers_value = data.get("moved_to"), data.get("speakers")
    moved: dict[str, Any] = moved_value if isinstance(moved_value, dict) else {}
    speakers: list[Any] = speakers_value if isinstance(speakers_value, list) else []
    return SessionForm(
        title=_texts(data.get("title"), languages),
        questions={
            code: "\n".join(str(q) for q in items)
            for code, items in per_language.items()
            if isinstance(items, list)
        },
        note=_texts(data.get("note"), languages),
        speakers=[_person(s, languages) for s in speakers],
        moderator=_person(data.get("moderator"), languages),
        status=str(data.get("status", "scheduled")),
        moved_to={
            "date": str(moved.get("date", "")),
            "start": _clock(moved.get("start")),
            "end": _clock(moved.get("end")),
        },
        afterwards={name: str(data[name]) for name in AFTERWARDS if name in data},
        capacity=str(data.get("capacity", "")),
        version=version,
        kept=kept_keys(data),
    )


def kept_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a session file the page leaves alone (a Zoom override, held_in)."""
    return {key: value for key, value in data.items() if key not in EDITED}


# -- from the page ------------------------------------------------------------------------------


def form_from_post(
    get: Callable[[str], str], languages: Sequence[str], rows: int, kept: Mapping[str, Any]
) -> SessionForm:
    """The form as posted (`get(name)` gives a field's text, "" when absent); blank speaker
    rows are dropped, so that indexes match the file that will be written."""

    def texts(prefix: str) -> dict[str, str]:
        """A text per language; a title or a role is one line, however it was typed."""
        return {
            code: _LINE_BREAKS.sub(" ", text)
            for code in languages
            if (text := get(f"{prefix}.{code}").strip())
        }

    def person(prefix: str) -> PersonForm:
        once = _LINE_BREAKS.sub(" ", get(f"{prefix}.name").strip())  # typed once: for all
        return PersonForm(
            dict.fromkeys(languages, once) if once else texts(f"{prefix}.name"),
            texts(f"{prefix}.role"),
            get(f"{prefix}.to_be_confirmed") == "on",
        )

    def place(index: int) -> tuple[int, int]:
        """Where the speaker of row `index` goes: the position chosen (1, 2...), then the row."""
        try:
            return int(get(f"speakers[{index}].position")), index
        except ValueError:
            return rows + 1, index

    order = sorted(range(rows), key=place)
    speakers = [person(f"speakers[{index}]") for index in order]
    return SessionForm(
        title=texts("title"),
        questions={code: text for code in languages if (text := get(f"questions.{code}").strip())},
        note={code: text for code in languages if (text := get(f"note.{code}").strip())},
        speakers=[s for s in speakers if not s.is_empty()],
        moderator=person("moderator"),
        status=get("status") or "scheduled",
        moved_to={part: get(f"moved_to.{part}").strip() for part in ("date", "start", "end")},
        afterwards={name: link for name in AFTERWARDS if (link := get(name).strip())},
        capacity=get("capacity").strip(),
        version=get("version"),
        kept=dict(kept),
    )


# -- to the file --------------------------------------------------------------------------------


def _name(texts: Mapping[str, str], languages: Sequence[str]) -> str | dict[str, str]:
    """A name the same in every language given (and missing in none or the others) is
    written once; names that differ stay per language (the check names the missing ones)."""
    if len(set(texts.values())) == 1:
        return next(iter(texts.values()))
    return {code: texts[code] for code in languages if code in texts}


def _person_data(person: PersonForm, languages: Sequence[str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if person.to_be_confirmed:
        data["to_be_confirmed"] = True
    if person.name:
        data["name"] = _name(person.name, languages)
    if person.role:
        data["role"] = {code: person.role[code] for code in languages if code in person.role}
    return data


def form_data(form: SessionForm, languages: Sequence[str]) -> tuple[dict[str, Any], list[Problem]]:
    """The session file's TOML data, and what cannot even be written (a date or a time that
    is not one), located at its field."""
    problems: list[Problem] = []
    data: dict[str, Any] = {}

    def per_language(texts: Mapping[str, str]) -> dict[str, str]:
        return {code: texts[code] for code in languages if code in texts}

    if form.title:
        data["title"] = per_language(form.title)
    if form.questions:
        data["questions"] = {
            code: [line.strip() for line in text.splitlines() if line.strip()]
            for code, text in per_language(form.questions).items()
        }
    if form.note:
        data["note"] = per_language(form.note)
    if form.status != "scheduled":
        data["status"] = form.status
    moved = _moved_to(form.moved_to, problems)
    if moved:
        data["moved_to"] = moved
    data.update(form.afterwards)
    if form.capacity:
        try:
            data["capacity"] = int(form.capacity)
        except ValueError:
            problems.append(Problem("", f"'{form.capacity}' is not a number", key="capacity"))
    data.update(form.kept)
    if form.speakers:
        data["speakers"] = [_person_data(s, languages) for s in form.speakers]
    if not form.moderator.is_empty():
        data["moderator"] = _person_data(form.moderator, languages)
    return data, problems


def _moved_to(typed: Mapping[str, str], problems: list[Problem]) -> dict[str, Any]:
    moved: dict[str, Any] = {}
    if day := typed.get("date", ""):
        try:
            moved["date"] = dt.date.fromisoformat(day)
        except ValueError:
            problems.append(Problem("", f"'{day}' is not a date", key="moved_to.date"))
    for part in ("start", "end"):
        if text := typed.get(part, ""):
            try:
                moved[part] = dt.time.fromisoformat(text)
            except ValueError:
                problems.append(Problem("", f"'{text}' is not a time", key=f"moved_to.{part}"))
    return moved


def session_text(data: Mapping[str, Any], scheduled: dt.date) -> str:
    """The session file's text."""
    header = (
        f"# The session scheduled on {scheduled:%A %d %B %Y} (this file's name), saved by the "
        "organisers' page.\n"
        f"# To move it:   moved_to = {{ date = {scheduled + dt.timedelta(days=7)}, "
        "start = 14:00:00, end = 15:30:00 }\n"
        '# To cancel it: status = "cancelled"\n\n'
    )
    return header + tomli_w.dumps(dict(data))


# -- what the page shows at each field ----------------------------------------------------------


def missing_translations(form: SessionForm, languages: Sequence[str]) -> set[str]:
    """The fields left empty while the same text is given in another language."""
    groups: list[tuple[str, Mapping[str, str]]] = [
        ("title", form.title),
        ("questions", form.questions),
        ("note", form.note),
        ("moderator.name", form.moderator.name),
        ("moderator.role", form.moderator.role),
    ]
    for index, speaker in enumerate(form.speakers):
        groups += [(f"speakers[{index}].name", speaker.name)]
        groups += [(f"speakers[{index}].role", speaker.role)]
    missing = set()
    for prefix, texts in groups:
        names = prefix.endswith(".name") and len(set(texts.values())) == 1  # written once
        if texts and not names:
            missing |= {f"{prefix}.{code}" for code in languages if code not in texts}
    return missing


def named_once(person: PersonForm) -> bool:
    """Whether the page shows one name field for a person (her name is the same in every
    language, or not given yet) rather than one per language."""
    return len(set(person.name.values())) <= 1


def field_names(form: SessionForm, languages: Sequence[str]) -> list[str]:
    """Every field of the form, in page order."""
    names = [f"title.{c}" for c in languages] + [f"questions.{c}" for c in languages]
    people = [(f"speakers[{i}]", p) for i, p in enumerate(form.rows())]
    for prefix, person in [*people, ("moderator", form.moderator)]:
        once = named_once(person)
        names += [f"{prefix}.name"] if once else [f"{prefix}.name.{c}" for c in languages]
        names += [f"{prefix}.role.{c}" for c in languages]
        if prefix != "moderator":
            names.append(f"{prefix}.to_be_confirmed")
    names += [f"note.{c}" for c in languages]
    dates = ["status", "moved_to.date", "moved_to.start", "moved_to.end"]
    return [*names, *dates, *AFTERWARDS, "capacity"]


def place_problems(
    problems: Iterable[Problem], names: Sequence[str]
) -> tuple[dict[str, list[Problem]], list[Problem]]:
    """Each problem at the first field its key path leads to; the others for the top of the
    page (a problem of the whole file, or of another file)."""
    at: dict[str, list[Problem]] = {}
    elsewhere: list[Problem] = []
    for problem in problems:
        key = problem.key or ""
        target = next((n for n in names if key and (n == key or n.startswith(key + "."))), None)
        if target is None and key.rsplit(".", 1)[0] in names:  # a name shown once
            target = key.rsplit(".", 1)[0]
        if target is None and (row := _ROW.match(key)):  # a speaker's own problem
            first = f"speakers[{row.group(1)}].name"
            target = first if first in names else f"{first}.{names[0].rsplit('.', 1)[-1]}"
        if target is None:
            elsewhere.append(problem)
        else:
            at.setdefault(target, []).append(problem)
    return at, elsewhere


_FIELDS = {
    "title": "Title",
    "questions": "Guiding questions (one per line)",
    "note": "Note (optional)",
    "status": "Status",
    "moved_to.date": "Moved to",
    "moved_to.start": "from",
    "moved_to.end": "to",
    "recording": "Recording (link)",
    "slides": "Slides (link)",
    "survey": "Survey (link)",
    "capacity": "Places (empty: no limit)",
    "name": "Name",
    "role": "Role",
    "to_be_confirmed": "to be confirmed",
}
_LANGUAGE = re.compile(r"^(?P<field>.+)\.(?P<code>[a-z]{2,3}(?:-[A-Za-z0-9]+)?)$")


def field_label(name: str, words: Callable[[str], str]) -> str:
    """What the error summary calls a field: "Titre (espagnol)", "Intervenant 2 : rôle"."""
    code = None
    found = _LANGUAGE.match(name)
    if found and found["field"] not in ("moved_to",):
        name, code = found["field"], found["code"]
    who = None
    if row := _ROW.match(name):
        who = words("Speaker {number}").format(number=int(row.group(1)) + 1)
        name = name[row.end() :]
    elif name.startswith("moderator."):
        who, name = words("Moderator"), name[len("moderator.") :]
    label = words(_FIELDS.get(name, name))
    if who is not None:
        label = words("{who}: {what}").format(who=who, what=label)
    if code is not None:
        label = f"{label} ({language_name(code, words('en'))})"
    return label
