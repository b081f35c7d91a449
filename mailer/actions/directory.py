"""Everyone mailer knows, for the organisers' people pages: the people of every list (one
entry per person, with the lists she is on), and the suppressed addresses on no list; found
by part of a name or address, and filtered by list, segment, language, tag, suppression and
answer to the next session. Then, for one person of a kept list: adding, editing, removing,
and uploading a CSV file into such a list (planned, then written as planned).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from mailer.audience.addresses import Address
from mailer.audience.segments import Resolution
from mailer.audience.upload import Change, Known, UploadPlan, plan_upload
from mailer.errors import InvalidInput
from mailer.model import Segment
from mailer.project.lists import ListReader, audience
from mailer.project.load import Project
from mailer.recurrence import occurrences
from mailer.store.answers import session_facts
from mailer.store.members import Entry, members, put_members
from mailer.store.state import State
from mailer.store.suppression import ERASED, suppressions

STATUSES = ("mailed", "suppressed", "reminders")  # what the status filter offers
ANSWERS = ("yes", "maybe", "no", "waiting", "none")


@dataclass
class PersonEntry:
    """One person as the people page lists her."""

    key: str
    email: str
    name: str
    language: str
    tags: frozenset[str]
    lists: list[str] = field(default_factory=list)
    suppression: str | None = None  # its kind (unsubscribed, bounced, manual), or None
    scope: str = "all"  # a suppression of the reminders only
    answer: str = "none"  # to the next session

    @property
    def status(self) -> str:
        if self.suppression is None:
            return "mailed"
        return "reminders" if self.scope == "reminders" else "suppressed"


@dataclass(frozen=True)
class Filters:
    """What the page asks; empty strings ask nothing."""

    text: str = ""
    list_name: str = ""
    segment: str = ""
    language: str = ""
    tag: str = ""
    status: str = ""
    answer: str = ""

    def matches(self, person: PersonEntry, in_segment: frozenset[str] | None) -> bool:
        folded = self.text.casefold()
        return (
            (not folded or folded in person.email.casefold() or folded in person.name.casefold())
            and (not self.list_name or self.list_name in person.lists)
            and (in_segment is None or person.key in in_segment)
            and (not self.language or person.language == self.language)
            and (not self.tag or self.tag.casefold() in person.tags)
            and (not self.status or person.status == self.status)
            and (not self.answer or person.answer == self.answer)
        )


@dataclass(frozen=True)
class Directory:
    people: list[PersonEntry]  # the page's, in order
    total: int  # how many match
    session: dt.date | None  # the session the answers and segments are of


def next_session(project: Project, now: dt.datetime) -> dt.date | None:
    config = project.config
    today = now.astimezone(config.series.timezone).date()
    coming = occurrences(config.series, project.sessions, start=today, limit=1)
    return coming[0].scheduled if coming else None


def everyone(project: Project, state: State, session: dt.date | None) -> list[PersonEntry]:
    """Every person of every list (her first row's data), then the suppressed addresses that
    are on no list; in address order."""
    reader = ListReader(project, state)
    found: dict[str, PersonEntry] = {}
    for name in project.config.mailing.list_names:
        for recipient in reader.read(name):
            entry = found.get(recipient.key)
            if entry is None:
                entry = found[recipient.key] = PersonEntry(
                    recipient.key,
                    recipient.email,
                    recipient.name,
                    recipient.language,
                    recipient.tags,
                )
            if name not in entry.lists:
                entry.lists.append(name)
    for suppression in suppressions(state):
        if suppression.key.startswith(ERASED):
            continue  # nothing is known of an erased person but a hash
        entry = found.get(suppression.key)
        if entry is None:
            entry = found[suppression.key] = PersonEntry(
                suppression.key, suppression.address, "", "", frozenset()
            )
        entry.suppression, entry.scope = suppression.kind, suppression.scope
    if session is not None:
        facts = session_facts(state, project.config.series.id, session)
        for entry in found.values():
            entry.answer = facts.said(entry.key)
    return sorted(found.values(), key=lambda e: e.email.casefold())


def segment_keys(
    project: Project, state: State, segment: Segment, session: dt.date | None
) -> frozenset[str]:
    """Who a segment reaches for `session` (suppressed people included: the page shows them)."""
    reader = ListReader(project, state)
    return frozenset(r.key for r in audience(reader, [segment], (), Resolution(), session))


def directory(
    project: Project,
    state: State,
    filters: Filters,
    *,
    now: dt.datetime,
    offset: int = 0,
    limit: int = 200,
) -> Directory:
    """The page of people matching `filters`."""
    session = next_session(project, now)
    in_segment = None
    if filters.segment:
        segment = project.config.mailing.segment(filters.segment)
        if segment is None:
            raise InvalidInput(f"there is no segment '{filters.segment}'")
        in_segment = segment_keys(project, state, segment, session)
    matching = [p for p in everyone(project, state, session) if filters.matches(p, in_segment)]
    return Directory(matching[offset : offset + limit], len(matching), session)


# -- lists kept in the state --------------------------------------------------------------------


def kept_list(project: Project, name: str) -> str:
    """`name` if it is a list kept in the state (InvalidInput otherwise)."""
    found = next((m for m in project.config.mailing.lists if m.name == name), None)
    if found is None or not found.kept:
        raise InvalidInput(f"'{name}' is not a list kept in the state")
    return name


def _known(state: State, list_name: str) -> dict[str, Known]:
    return {m.key: Known(m.name, m.language, m.timezone, m.tags) for m in members(state, list_name)}


def plan_list_upload(
    project: Project, state: State, list_name: str, text: str, filename: str
) -> UploadPlan:
    """What writing the uploaded `text` into the kept list would change (nothing written)."""
    config = project.config
    return plan_upload(
        text,
        filename,
        languages=config.series.languages,
        existing=_known(state, kept_list(project, list_name)),
        case_sensitive_local=config.mailing.case_sensitive_local,
    )


def apply_list_upload(
    project: Project,
    state: State,
    list_name: str,
    text: str,
    filename: str,
    *,
    digest: str,
    by: str,
    now: dt.datetime,
) -> tuple[UploadPlan, bool]:
    """Write the upload if its plan is still the one shown (`digest`): (the plan, written).
    Not written: the list (or the file) changed since, and the new plan is to be shown."""
    plan = plan_list_upload(project, state, list_name, text, filename)
    if plan.digest != digest:
        return plan, False
    put_members(state, list_name, _entries(plan.writes), origin="upload", by=by, now=now)
    return plan, True


def _entries(changes: Iterable[Change]) -> Iterator[Entry]:
    for change in changes:
        person = change.recipient
        address = Address(person.email, person.ascii_email, person.key)
        yield Entry(address, person.name, person.language, person.timezone, person.tags)
