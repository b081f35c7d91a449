"""A CSV file uploaded into a list kept in the state (pure): which of its columns hold what
(as `[lists.NAME] columns` would say), and what writing it would change, row by row, before
anything is written.

The plan has a digest: the page that applies it sends the digest back, and the plan is
written only if it is still the same (the file, and the list it is compared with), so what is
written is exactly what the organiser saw.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mailer.audience.csv_source import header_name, raw_headers, read_table
from mailer.audience.recipients import KNOWN_COLUMNS, LanguageMatcher, ListReport, read_recipients
from mailer.errors import Problem
from mailer.model import Recipient

MAX_UPLOAD = 5 * 2**20  # bytes: a list of some 50,000 people
# what mailer reads, and the headers that hold it in exports (compared as `header_name` does)
ALIASES: Mapping[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "mail", "courriel", "adresseemail", "correo"),
    "name": ("name", "fullname", "nom", "nomcomplet", "nombre"),
    "language": ("language", "lang", "langue", "idioma", "preferredlanguage"),
    "tags": ("tags", "tag", "labels", "etiquettes"),
    "timezone": ("timezone", "tz", "fuseauhoraire", "zonahoraria"),
}
FIRST_NAMES = ("firstname", "givenname", "prenom", "prénom")
LAST_NAMES = ("lastname", "surname", "familyname", "nomdefamille", "apellido")


@dataclass(frozen=True)
class Change:
    """One person of the file, and what writing her does: add, update (what changes) or
    nothing."""

    line: int
    recipient: Recipient
    kind: str  # added, updated, unchanged
    changed: tuple[str, ...] = ()


@dataclass(frozen=True)
class UploadPlan:
    columns: tuple[tuple[str, str], ...]  # (the file's column, what mailer reads it as)
    ignored: tuple[str, ...]  # the file's columns a kept list does not keep
    changes: tuple[Change, ...]
    problems: tuple[Problem, ...]  # rows not read (with their lines), and warnings
    skipped: int = 0  # rows not read
    digest: str = field(default="")

    def count(self, kind: str) -> int:
        return sum(1 for change in self.changes if change.kind == kind)

    @property
    def writes(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind != "unchanged")


def guess_columns(headers: Sequence[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Which headers hold email, name, language, tags and time zone; a first and a last name
    column make the name."""
    by_name = {header_name(h): h for h in headers if h.strip()}
    found: list[tuple[str, tuple[str, ...]]] = []
    for target, aliases in ALIASES.items():
        match = next((by_name[a] for a in aliases if a in by_name), None)
        if match is not None:
            found.append((target, (match,)))
    if "name" not in dict(found):
        parts = [
            next((by_name[a] for a in names if a in by_name), None)
            for names in (FIRST_NAMES, LAST_NAMES)
        ]
        if any(parts):
            found.append(("name", tuple(p for p in parts if p)))
    return tuple(found)


@dataclass(frozen=True)
class Known:
    """What the list holds of a person now (to compare a row with)."""

    name: str
    language: str
    timezone: str | None
    tags: frozenset[str]


def plan_upload(
    text: str,
    source: str,
    *,
    languages: Sequence[str],
    existing: Mapping[str, Known],
    case_sensitive_local: bool = False,
) -> UploadPlan:
    """What writing `text` into a list holding `existing` (key -> Known) would do."""
    report = ListReport(languages[0])
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        columns = guess_columns(raw_headers(first))
        table = read_table(io.StringIO(text, newline=""), source, None, columns)
    except ValueError as error:
        problem = Problem(source, str(error), line=1, hint="The first line names the columns.")
        return UploadPlan((), (), (), (problem,))
    mapped = {header_name(s) for _, sources in columns for s in sources}
    shown = tuple((s, target) for target, sources in columns for s in sources)
    ignored = tuple(h for h in table.headers if h and h not in mapped and h not in KNOWN_COLUMNS)
    changes: list[Change] = []
    seen: set[str] = set()
    duplicates = 0
    matcher = LanguageMatcher(languages)
    for person in read_recipients(
        table, source, matcher, report, case_sensitive_local=case_sensitive_local
    ):
        line = int(person.source.rsplit(":", 1)[1])
        if person.key in seen:
            duplicates += 1
            report.problems.append(
                Problem(
                    source,
                    f"{person.email} is on an earlier row: this row is skipped",
                    line=line,
                    severity="warning",
                )
            )
            continue
        seen.add(person.key)
        changes.append(_change(line, person, existing.get(person.key)))
    skipped = report.skipped_by_source.get(source, 0) + duplicates
    problems = tuple(report.all_problems())
    return _with_digest(UploadPlan(shown, ignored, tuple(changes), problems, skipped))


def _change(line: int, person: Recipient, known: Known | None) -> Change:
    if known is None:
        return Change(line, person, "added")
    now = Known(person.name, person.language, person.timezone, person.tags)
    changed = tuple(
        name
        for name in ("name", "language", "timezone", "tags")
        if getattr(now, name) != getattr(known, name)
    )
    return Change(line, person, "updated" if changed else "unchanged", changed)


def _with_digest(plan: UploadPlan) -> UploadPlan:
    digest = hashlib.sha256()
    for change in plan.writes:
        person = change.recipient
        fields = (
            person.key,
            person.email,
            person.name,
            person.language,
            person.timezone or "",
            ";".join(sorted(person.tags)),
        )
        digest.update(("\0".join(fields) + "\n").encode())
    return UploadPlan(
        plan.columns,
        plan.ignored,
        plan.changes,
        plan.problems,
        plan.skipped,
        digest.hexdigest()[:32],
    )
