"""Who gets a send: list files opened and streamed into segment resolution (the I/O edge).

A list file that cannot be read at all (missing, not UTF-8, no email column) is a
`RecipientsError`: nobody on it would get the email, so nothing is sent until it is fixed. A bad
row is a warning, and the rest of the list goes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mailer.audience.addresses import parse_address
from mailer.audience.csv_source import encoding_problem, header_name, read_table
from mailer.audience.recipients import KNOWN_COLUMNS, LanguageMatcher, ListReport, read_recipients
from mailer.audience.segments import Resolution, merged_problem, resolve
from mailer.config.settings import Config
from mailer.errors import InvalidAddress, Problem, RecipientsError
from mailer.model import MailingList, Recipient, Segment, SessionFacts
from mailer.project.load import Project
from mailer.store.members import Preferences, all_preferences, members
from mailer.store.state import State

_CHUNK = 1 << 16


def organizer_key(config: Config) -> str | None:
    """In request mode, the key of the events' ORGANIZER ([calendar] organizer, or the
    organiser's address). On a list, that address would get an invitation naming it both the
    meeting's organizer and its attendee, which calendars refuse or mangle (Outlook: "you are
    the organizer"): it is left out of every send, and `check` says so."""
    if config.calendar.method != "request":
        return None
    try:
        address = parse_address(
            config.calendar_organizer, case_sensitive_local=config.mailing.case_sensitive_local
        )
    except InvalidAddress:
        return None  # config validation names it
    return address.key


class ListReader:
    """Streams the recipients of the project's lists, collecting problems in one report."""

    def __init__(self, project: Project, state: State | None) -> None:
        """`state`: where the kept lists and people's preferences are (None: a check of the
        files alone, where kept lists read as empty)."""
        self.project = project
        series = project.config.series
        self.matcher = LanguageMatcher(series.languages)
        self.report = ListReport(series.default_language)
        self._lists = {m.name: m for m in project.config.mailing.lists}
        self._read_before: set[str] = set()
        self.organizer = organizer_key(project.config)
        self.state = state
        self._preferences: Mapping[str, Preferences] | None = None

    def source(self, mailing_list: MailingList) -> str:
        if mailing_list.kept:
            return f"{KEPT_SOURCE}{mailing_list.name}"
        return str(self.project.path(mailing_list.file))

    def read(self, name: str) -> Iterator[Recipient]:
        """Stream a list's valid recipients, with what each changed on her preferences page;
        a file's row problems are reported on its first read."""
        if self.state is None:
            return self._read(name)
        if self._preferences is None:
            self._preferences = all_preferences(self.state)
        if not self._preferences:
            return self._read(name)
        chosen, match = self._preferences, self.matcher.match
        return (_preferred(r, chosen.get(r.key), match) for r in self._read(name))

    def _read(self, name: str) -> Iterator[Recipient]:
        mailing_list = self._lists[name]
        if mailing_list.kept:
            if self.state is not None:
                default = self.project.config.series.default_language
                yield from kept_recipients(self.state, name, self.matcher, default)
            return
        report = (
            self.report
            if name not in self._read_before
            else ListReport(self.report.default_language)
        )
        self._read_before.add(name)
        path = self.project.path(mailing_list.file)
        source = self.source(mailing_list)
        try:
            if mailing_list.encoding is None:  # UTF-8, checked before a row is read
                with path.open("rb") as raw:
                    problem = encoding_problem(iter(lambda: raw.read(_CHUNK), b""), source)
                if problem is not None:
                    raise RecipientsError(f"cannot read the list '{name}'", [problem])
            with _open_list(path, mailing_list) as text:
                try:
                    table = read_table(text, source, mailing_list.delimiter, mailing_list.columns)
                except ValueError as error:
                    raise RecipientsError(
                        f"cannot read the list '{name}'",
                        [
                            Problem(
                                source,
                                str(error),
                                line=1,
                                hint="The first line must name the columns, one of them email.",
                            )
                        ],
                    ) from None
                yield from read_recipients(
                    table,
                    source,
                    self.matcher,
                    report,
                    case_sensitive_local=self.project.config.mailing.case_sensitive_local,
                )
        except FileNotFoundError:
            raise RecipientsError(
                f"cannot read the list '{name}'",
                [
                    Problem(
                        source,
                        "this list file does not exist",
                        key=f"lists.{name}.file",
                        hint="Check [lists] in config.toml, or create the file.",
                    )
                ],
            ) from None
        except OSError as error:
            raise RecipientsError(
                f"cannot read the list '{name}'",
                [Problem(source, f"this list file cannot be read: {error.strerror}")],
            ) from None
        except UnicodeDecodeError as error:  # only with an explicit `encoding`
            raise RecipientsError(
                f"cannot read the list '{name}'",
                [
                    Problem(
                        source,
                        f"byte {error.object[error.start : error.start + 1]!r} at offset "
                        f"{error.start:,} is not {mailing_list.encoding}",
                        key=f"lists.{name}.encoding",
                        hint="Check the file's real character set (file -i FILE tells).",
                    )
                ],
            ) from None


KEPT_SOURCE = "state:"  # the source of a kept list's people ("state:signups:3")


def kept_recipients(
    state: State, name: str, matcher: LanguageMatcher, default: str
) -> Iterator[Recipient]:
    """The people of a kept list as recipients (a language since dropped from the series
    reads as its nearest one)."""
    for line, member in enumerate(members(state, name), start=1):
        yield Recipient(
            member.email,
            member.key,
            matcher.match(member.language) or default,
            member.name,
            member.tags,
            member.timezone,
            source=f"{KEPT_SOURCE}{name}:{line}",
        )


def _preferred(
    recipient: Recipient, preferences: Preferences | None, match: Callable[[str], str | None]
) -> Recipient:
    """A recipient with what she chose on her preferences page."""
    if preferences is None:
        return recipient
    return recipient._replace(
        name=preferences.name if preferences.name is not None else recipient.name,
        language=match(preferences.language or "") or recipient.language,
        timezone=preferences.timezone or recipient.timezone,
    )


def _open_list(path: Path, mailing_list: MailingList) -> TextIO:
    """A list file as text: UTF-8 (a BOM is fine), or the encoding config.toml names."""
    return path.open(encoding=mailing_list.encoding or "utf-8-sig", newline="")


def list_columns(project: Project) -> frozenset[str]:
    """The extra columns (beyond email, name, language, tags, timezone) of every readable list:
    what templates may use as recipient.fields.NAME."""
    columns: set[str] = set()
    for mailing_list in project.config.mailing.lists:
        if mailing_list.kept:
            continue
        try:
            with _open_list(project.path(mailing_list.file), mailing_list) as text:
                table = read_table(
                    text, mailing_list.file, mailing_list.delimiter, mailing_list.columns
                )
        except (OSError, UnicodeDecodeError, ValueError):
            continue  # `mailer check` reports unreadable lists on their own
        mapped = {header_name(s) for _, sources in mailing_list.columns for s in sources}
        columns.update(name for name in table.headers if name and name not in mapped)
    return frozenset(columns - set(KNOWN_COLUMNS))


def segments_named(project: Project, names: Sequence[str]) -> list[Segment]:
    """The segments called `names`; RecipientsError for an unknown one."""
    mailing = project.config.mailing
    found = []
    for name in names:
        segment = mailing.segment(name)
        if segment is None:
            known = ", ".join(s.name for s in mailing.segments)
            raise RecipientsError(f"there is no segment '{name}' (known: {known})")
        found.append(segment)
    return found


def audience(
    reader: ListReader,
    segments: Sequence[Segment],
    suppressed: Container[str],
    resolution: Resolution,
    session: dt.date | None = None,
    *,
    facts: SessionFacts | None = None,
    skip: frozenset[str] = frozenset(),
) -> Iterator[Recipient]:
    """Stream each person of `segments` once, suppressed addresses excluded (and those whose
    answer or attendance leaves them out: `facts`, `skip`)."""
    return resolve(
        segments,
        reader.project.config.mailing.list_names,
        reader.read,
        suppressed,
        resolution,
        session=session,
        organizer=reader.organizer,
        facts=facts,
        skip=skip,
    )


@dataclass(frozen=True)
class ListCount:
    """What one list file holds: its data rows, the people read from them, the rows skipped."""

    name: str
    source: str
    rows: int
    people: int
    skipped: int


def check_lists(project: Project) -> tuple[list[ListCount], list[Problem]]:
    """Read every list: RecipientsError naming every unreadable one, else what each holds and
    the rows' warnings.

    Each list is resolved on its own (its count is its people); a person on two rows, of one
    file or of two lists, is worth a warning, as `recipients` and `send` give it (one email
    goes, with the first row's data).
    """
    reader = ListReader(project, None)  # the files: kept lists have none
    fatal: list[Problem] = []
    counts = []
    merged: list[Problem] = []
    everything = Segment("(all lists)", project.config.mailing.list_names)
    report = reader.report
    first_rows: dict[str, str] = {}  # every person's first row ("file:line"), across lists
    for mailing_list in project.config.mailing.lists:
        if mailing_list.kept:
            continue
        resolution = Resolution()
        try:
            for person in resolve([everything], [mailing_list.name], reader.read, (), resolution):
                if (first := first_rows.setdefault(person.key, person.source)) != person.source:
                    merged.append(merged_problem(person, first))
                if person.key == reader.organizer:
                    merged.append(_organizer_problem(person))
        except RecipientsError as error:
            fatal.extend(error.problems)
            continue
        source = reader.source(mailing_list)
        merged.extend(resolution.merged)
        counts.append(
            ListCount(
                mailing_list.name,
                source,
                report.rows_by_source.get(source, 0),
                resolution.selected,
                report.skipped_by_source.get(source, 0),
            )
        )
    warnings = [*report.all_problems(), *merged]
    if fatal:
        raise RecipientsError("some mailing lists cannot be read", [*fatal, *warnings])
    return counts, warnings


def _organizer_problem(person: Recipient) -> Problem:
    source, line = person.source.rsplit(":", 1)
    return Problem(
        source,
        f'{person.email} is the calendar\'s ORGANIZER: with method = "request" its invitation '
        "would make it its own meeting's attendee, so no email goes to it",
        line=int(line),
        severity="warning",
        hint="Remove the row, or set [calendar] organizer to another address (replies go there).",
    )


@dataclass
class SegmentSummary:
    """How many people a segment reaches, by language, and how many are suppressed."""

    name: str
    per_language: dict[str, int]
    suppressed: int
    uses_date: bool

    @property
    def total(self) -> int:
        return sum(self.per_language.values())


def summarize(
    reader: ListReader, suppressed: Container[str], session: dt.date | None = None
) -> tuple[list[SegmentSummary], list[Problem]]:
    """Every segment's counts, each resolved exactly as a send to it would be; and the merges."""
    summaries = []
    merged: dict[tuple[str, int | None, str], Problem] = {}
    for segment in reader.project.config.mailing.segments:
        resolution = Resolution()
        for _ in audience(reader, [segment], suppressed, resolution, session):
            pass
        summaries.append(
            SegmentSummary(
                segment.name,
                dict(sorted(resolution.per_language.items())),
                resolution.suppressed,
                segment.uses_date,
            )
        )
        for problem in resolution.merged:
            merged.setdefault((problem.source, problem.line, problem.message), problem)
    return summaries, list(merged.values())
