"""People on mailing lists: CSV records made into validated, header-safe recipients.

A bad row costs nobody else their email: it is reported as `file:line: reason` and skipped, and
the rest of the list goes. Pure: works on the records `mailer.audience.csv_source` streams.
"""

from __future__ import annotations

import csv
import email.errors
import email.header
import functools
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from babel import Locale

from mailer.audience.addresses import clean_text, excerpt, parse_address
from mailer.audience.csv_source import Record, Table
from mailer.errors import InvalidAddress, Problem
from mailer.model import Recipient

KNOWN_COLUMNS = ("email", "name", "language", "tags", "timezone")


@dataclass
class ListReport:
    """What reading lists found: problems to show, and language fall-backs counted by cause."""

    default_language: str
    problems: list[Problem] = field(default_factory=list)
    fallbacks: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    rows: int = 0
    rows_by_source: dict[str, int] = field(default_factory=dict)  # data rows, skipped included
    skipped_by_source: dict[str, int] = field(default_factory=dict)  # rows nobody is read from

    def count(self, source: str, *, skipped: bool) -> None:
        self.rows_by_source[source] = self.rows_by_source.get(source, 0) + 1
        if skipped:
            self.skipped_by_source[source] = self.skipped_by_source.get(source, 0) + 1

    def fallback(self, source: str, cause: str, line: int) -> None:
        self.fallbacks.setdefault((source, cause), []).append(line)

    def fallback_problems(self) -> list[Problem]:
        """One warning per list and cause: how many people get the default language, and where."""
        problems = []
        for (source, cause), lines in self.fallbacks.items():
            shown = ", ".join(str(line) for line in lines[:8]) + (", ..." if len(lines) > 8 else "")
            count = len(lines)
            plural = count != 1
            problems.append(
                Problem(
                    source,
                    f"{count} recipient{'s' * plural} {'have' if plural else 'has'} {cause}: "
                    f"{'they get' if plural else 'it gets'} '{self.default_language}', the "
                    f"series' default (line{'s' * plural} {shown})",
                    severity="warning",
                    hint="Fill in the language column with one of the series' languages.",
                )
            )
        return problems

    def all_problems(self) -> list[Problem]:
        return [*self.problems, *self.fallback_problems()]


class LanguageMatcher:
    """Maps what people write in a language column (`FR`, `fr-CA`, `Français`) to a language
    of the series."""

    def __init__(self, languages: Sequence[str]) -> None:
        self.languages = tuple(languages)
        self._names: dict[str, str] = {}
        for code in languages:
            self._names[code.casefold()] = code
            base = code.replace("_", "-").split("-")[0].casefold()
            self._names.setdefault(base, code)
            for shown_in in languages:
                locale = Locale.parse(shown_in.replace("-", "_"))
                name = locale.languages.get(base)
                if name:
                    self._names.setdefault(str(name).casefold(), code)
            english = Locale.parse("en").languages.get(base)
            if english:
                self._names.setdefault(str(english).casefold(), code)

    def match(self, value: str) -> str | None:
        """The series language `value` means, or None."""
        folded = value.strip().replace("_", "-").casefold()
        if folded in self._names:
            return self._names[folded]
        return self._names.get(folded.split("-")[0])


@functools.lru_cache(maxsize=1024)
def read_tags(text: str) -> frozenset[str]:
    """The tags of a cell: `member; museum`, or Mailchimp's `"webinar","donor"` (each tag
    quoted, separated by commas), compared without case."""
    stripped = text.strip()
    if stripped.startswith('"') and stripped.endswith('"'):
        items = next(csv.reader([stripped], skipinitialspace=True), [])
    else:
        items = stripped.split(";")
    return frozenset(item.strip().casefold() for item in items if item.strip())


def valid_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _decoded_words(value: str) -> str:
    """A value with its RFC 2047 encoded-words decoded (a CRM that exported a header as is);
    the value itself when it holds none that decode."""
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeDecodeError, email.errors.HeaderParseError):
        return value


def read_recipients(
    table: Table,
    source: str,
    matcher: LanguageMatcher,
    report: ListReport,
    *,
    case_sensitive_local: bool = False,
) -> Iterator[Recipient]:
    """Stream the valid recipients of a list; every skipped or altered row goes to `report`."""
    for item in table.records:
        if isinstance(item, Problem):
            report.problems.append(
                Problem(
                    item.source, item.message, line=item.line, hint=item.hint, severity="warning"
                )
            )
            report.count(source, skipped=True)
            continue
        report.rows += 1
        recipient = _recipient(item, source, matcher, report, case_sensitive_local)
        report.count(source, skipped=recipient is None)
        if recipient is not None:
            yield recipient


def _recipient(
    record: Record,
    source: str,
    matcher: LanguageMatcher,
    report: ListReport,
    case_sensitive_local: bool,
) -> Recipient | None:
    values = record.values
    line = record.line

    def warn(message: str, hint: str | None = None) -> None:
        report.problems.append(Problem(source, message, line=line, hint=hint, severity="warning"))

    raw_email = values.get("email", "")
    try:
        address = parse_address(raw_email, case_sensitive_local=case_sensitive_local)
    except InvalidAddress as error:
        shown = excerpt(raw_email) or "(empty)"
        warn(
            f"{shown!r} is not a valid email address: {str(error).rstrip('.')}; the row is skipped",
            "Correct the address; the other rows are sent.",
        )
        return None
    cleaned: dict[str, str] = {}
    altered = []
    for name, value in values.items():
        decoded = _decoded_words(value) if "=?" in value else value
        if decoded != value:
            warn(
                f"the {name} is MIME-encoded ({value[:40]!r}...); it is read as "
                f"{clean_text(decoded)[0]!r}",
                "Export the list with plain text; mailer encodes names itself.",
            )
        text, changed = clean_text(decoded)
        cleaned[name] = text
        if changed:
            altered.append(name)
    if altered:
        warn(
            f"line breaks or control characters in {', '.join(altered)} were replaced by spaces",
            "Nothing from a list can reach an email header unescaped.",
        )
    language = matcher.match(cleaned.get("language", ""))
    if language is None:
        raw = cleaned.get("language", "")
        cause = "no language" if not raw else f"the language {raw!r}, not offered"
        report.fallback(source, cause, line)
        language = report.default_language
    zone = cleaned.get("timezone") or None
    if zone is not None and not valid_zone(zone):
        warn(
            f"{zone!r} is not an IANA time zone; the time is shown in the series' zone only",
            "Use names like Europe/Paris or America/New_York.",
        )
        zone = None
    tags = read_tags(cleaned.get("tags", ""))
    if odd := sorted(tag for tag in tags if any(c in tag for c in '",;')):
        warn(
            f"the tag {odd[0]!r} holds a quote or a delimiter: segments will not match it",
            'Separate tags with ";" (or write them as Mailchimp does: "webinar","donor").',
        )
    extra = {name: value for name, value in cleaned.items() if name not in KNOWN_COLUMNS}
    return Recipient(
        email=address.email,
        key=address.key,
        language=language,
        name=cleaned.get("name", ""),
        tags=tags,
        timezone=zone,
        fields=extra,
        source=f"{source}:{line}",
        ascii_email=address.ascii_email,
    )
